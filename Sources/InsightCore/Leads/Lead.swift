import Foundation

/// An explained suggestion for one manager about one client (DESIGN §5).
public struct Lead: Sendable, Hashable, Codable {
    public let id: String
    /// Deterministic dedupe key, `<plugin>:<plugin's key>`, e.g. `birthday-care:C000123:2026`.
    public let key: String
    public let plugin: String
    public let kind: String
    public var priority: LeadPriority
    public var client: ClientReference?
    public var manager: ManagerReference?
    public var title: String
    public var summary: String
    public var suggestedAction: String
    public var evidence: [Evidence]
    public var products: [ProductSuggestion]?
    public var dueAt: Date?
    public let createdAt: Date
    public var sourceEvents: [String]
    public var status: LeadStatus
    /// Labels a rule gives its leads (`marketing`), for routes and inhibit rules; nil when there are none.
    public var tags: [String]?

    public init(id: String, key: String, plugin: String, kind: String, priority: LeadPriority, client: ClientReference?,
                manager: ManagerReference?, title: String, summary: String, suggestedAction: String,
                evidence: [Evidence], products: [ProductSuggestion]?, dueAt: Date?, createdAt: Date,
                sourceEvents: [String], status: LeadStatus, tags: [String]? = nil) {
        self.id = id
        self.key = key
        self.plugin = plugin
        self.kind = kind
        self.priority = priority
        self.client = client
        self.manager = manager
        self.title = title
        self.summary = summary
        self.suggestedAction = suggestedAction
        self.evidence = evidence
        self.products = products
        self.dueAt = dueAt
        self.createdAt = createdAt
        self.sourceEvents = sourceEvents
        self.status = status
        self.tags = tags
    }

    /// The lead id for a dedupe key: `ld_` and 16 hex digits of a stable 64-bit FNV-1a hash, so the same
    /// key gives the same id on every run and every machine.
    public static func id(forKey key: String) -> String {
        "ld_" + StableHash.hex(key)
    }
}

public enum LeadPriority: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case low, normal, high, urgent

    private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
    public static func < (lhs: LeadPriority, rhs: LeadPriority) -> Bool { lhs.rank < rhs.rank }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = LeadPriority(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "must be one of \(Self.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\""))
        }
        self = value
    }
}

public enum LeadStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case new, notified, contacted, converted, dismissed, expired
    /// Held back by a snooze, or by an inhibit rule while the client has an open AML lead: recorded, never sent.
    case suppressed
}

/// The client as a lead shows it: the name is already masked.
public struct ClientReference: Sendable, Hashable, Codable {
    public let id: String
    public let name: String?
    public let segment: String?

    public init(id: String, name: String?, segment: String?) {
        self.id = id
        self.name = name
        self.segment = segment
    }
}

/// The manager as a lead shows it: the name is already masked.
public struct ManagerReference: Sendable, Hashable, Codable {
    public let id: String
    public let name: String?
    public let branchId: String?

    public init(id: String, name: String?, branchId: String?) {
        self.id = id
        self.name = name
        self.branchId = branchId
    }
}

/// One fact that triggered a lead, shown to the manager and to compliance.
///
/// `key` is the stable machine name integrations match on (`debitTotal`); `label` is its text in the lead's
/// locale (`支出合计`). Leads stored before keys existed decode with the label as the key.
public struct Evidence: Sendable, Hashable, Codable {
    public let key: String
    public let label: String
    public let value: String

    public init(key: String, label: String, value: String) {
        self.key = key
        self.label = label
        self.value = value
    }

    enum CodingKeys: String, CodingKey {
        case key, label, value
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        label = try container.decode(String.self, forKey: .label)
        value = try container.decode(String.self, forKey: .value)
        key = try container.decodeIfPresent(String.self, forKey: .key) ?? label
    }
}

extension Evidence {
    /// Evidence labelled in `locale` from `labels` (key → Chinese and English label); a key without an entry
    /// is its own label.
    public init(_ key: String, _ value: String, labels: [String: (zh: String, en: String)], locale: String) {
        let entry = labels[key]
        self.init(key: key, label: entry.map { locale == "en" ? $0.en : $0.zh } ?? key, value: value)
    }
}

public struct ProductSuggestion: Sendable, Hashable, Codable {
    public let id: String
    public let name: String
    public let riskLevel: String
    public let reason: String

    public init(id: String, name: String, riskLevel: String, reason: String) {
        self.id = id
        self.name = name
        self.riskLevel = riskLevel
        self.reason = reason
    }
}
