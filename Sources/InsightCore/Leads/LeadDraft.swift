import Foundation

/// What a plugin returns. The host completes it into a ``Lead``: it prefixes the key with the plugin id,
/// derives the id from the key, attaches the masked client and manager, and stamps `createdAt` from
/// `context.now`. A plugin therefore cannot forge another plugin's key or leak an unmasked name.
public struct LeadDraft: Sendable, Hashable {
    /// The plugin's part of the dedupe key, e.g. `C000123:2026`. It must be deterministic.
    public var key: String
    public var kind: String
    public var priority: LeadPriority
    public var clientId: String?
    /// Set for leads addressed to a manager rather than a client (e.g. a holiday greeting list).
    public var managerId: String?
    public var title: String
    public var summary: String
    public var suggestedAction: String
    public var evidence: [Evidence]
    public var products: [ProductSuggestion]?
    public var dueAt: Date?
    public var sourceEvents: [String]
    /// Labels for routes and inhibit rules (a rule's `tags: [marketing]`); nil when there are none.
    public var tags: [String]?

    public init(key: String, kind: String, priority: LeadPriority = .normal, clientId: String?, managerId: String? = nil,
                title: String, summary: String = "", suggestedAction: String = "", evidence: [Evidence] = [],
                products: [ProductSuggestion]? = nil, dueAt: Date? = nil, sourceEvents: [String] = [], tags: [String]? = nil) {
        self.key = key
        self.kind = kind
        self.priority = priority
        self.clientId = clientId
        self.managerId = managerId
        self.title = title
        self.summary = summary
        self.suggestedAction = suggestedAction
        self.evidence = evidence
        self.products = products
        self.dueAt = dueAt
        self.sourceEvents = sourceEvents
        self.tags = tags
    }

    /// Completes the draft into a lead for `plugin`, as of `now`.
    public func complete(plugin: String, client: ClientState?, manager: ManagerState?, now: Date) -> Lead {
        let fullKey = plugin + ":" + key
        let managerId = manager?.id ?? self.managerId ?? client?.profile.managerId
        return Lead(
            id: Lead.id(forKey: fullKey), key: fullKey, plugin: plugin, kind: kind, priority: priority,
            client: client.map { ClientReference(id: $0.id, name: $0.profile.name.map(Masking.name), segment: $0.profile.segment) }
                ?? clientId.map { ClientReference(id: $0, name: nil, segment: nil) },
            manager: managerId.map { id in
                ManagerReference(id: id, name: manager?.name.map(Masking.name),
                                 branchId: manager?.branchId ?? client?.profile.branchId)
            },
            title: title, summary: summary, suggestedAction: suggestedAction, evidence: evidence, products: products,
            dueAt: dueAt, createdAt: now, sourceEvents: sourceEvents, status: .new,
            tags: tags.flatMap { $0.isEmpty ? nil : $0 })
    }
}
