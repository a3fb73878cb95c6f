import Foundation
import InsightCore

/// `plugins-config/rules.yaml`.
public struct RulesConfiguration: PluginConfiguration {
    public var enabled: Bool
    public var rules: [Rule]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, rules
    }

    public init(enabled: Bool = true, rules: [Rule]) {
        self.enabled = enabled
        self.rules = rules
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        rules = try container.decodeIfPresent([Rule].self, forKey: .rules) ?? []
    }
}

/// One rule: when an event matches, emit a lead.
public struct Rule: Sendable, Decodable {
    public var id: String
    public var description: String?
    public var when: RuleTrigger
    public var lead: RuleLead
    /// How often the rule may fire: once per event (default), or once per client per local day.
    public var once: RuleDedupe
    /// A Mustache template for the dedupe key (after `<rule id>:`), e.g. `{{clientId}}:{{data.loanId}}`;
    /// replaces `once`.
    public var key: String?
    /// After a lead for a client, the rule stays quiet for that client this long (`7d`, `12h`, `30m`).
    public var cooldown: TimeInterval?
    /// Labels the rule's leads carry (`marketing`), for routes and `inhibit:` rules in the main config.
    public var tags: [String]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, description, when, lead, once, key, cooldown, tags
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: container,
                debugDescription: "rule id must be letters, digits, - or _ (it becomes part of the lead key)")
        }
        description = try container.decodeIfPresent(String.self, forKey: .description)
        when = try container.decode(RuleTrigger.self, forKey: .when)
        lead = try container.decode(RuleLead.self, forKey: .lead)
        once = try container.decodeIfPresent(RuleDedupe.self, forKey: .once) ?? .perEvent
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
        for tag in tags where tag.isEmpty || !tag.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
            throw DecodingError.dataCorruptedError(forKey: .tags, in: container,
                debugDescription: "a tag is letters, digits, - or _ (such as marketing), got \"\(tag)\"")
        }
        key = try container.decodeIfPresent(String.self, forKey: .key)
        if key != nil, container.contains(.once) {
            throw DecodingError.dataCorruptedError(forKey: .key, in: container,
                                                   debugDescription: "set either key (a template) or once, not both")
        }
        if let text = try container.decodeIfPresent(String.self, forKey: .cooldown) {
            guard let seconds = Self.duration(text), seconds > 0 else {
                throw DecodingError.dataCorruptedError(forKey: .cooldown, in: container,
                    debugDescription: "expected a duration such as 7d, 12h or 30m, got \"\(text)\"")
            }
            cooldown = seconds
        }
    }

    /// `7d`, `12h`, `30m`, `45s` in seconds.
    static func duration(_ text: String) -> TimeInterval? {
        guard let unit = text.last, let amount = Double(text.dropLast()), amount.isFinite else { return nil }
        switch unit {
        case "d": return amount * 86_400
        case "h": return amount * 3600
        case "m": return amount * 60
        case "s": return amount
        default: return nil
        }
    }

    func lead(for event: Event, context: PluginContext, keyTemplate: MustacheKey?) -> LeadDraft {
        let key: String
        if let keyTemplate {
            // A template naming a field the event lacks falls back to one lead per event.
            let rendered = keyTemplate.render(event: event, client: context.client, timeZone: context.timeZone)
            key = "\(id):" + (rendered ?? "\(event.source):\(event.id)")
        } else {
            switch once {
            case .perEvent: key = "\(id):\(event.source):\(event.id)"
            case .perClientPerDay: key = "\(id):\(event.clientId ?? "-"):\(LocalDate(event.time, in: context.timeZone))"
            }
        }
        var evidence = [Evidence(label: "rule", value: id), Evidence(label: "event", value: "\(event.type) \(event.id)")]
        for condition in when.conditions.flatMap(\.fieldConditions) {
            let value = RuleCondition.value(of: condition.field, event: event, client: context.client)
            let shown = value.map { Masking.field(condition.field, value: Self.show($0)) } ?? "(absent)"
            evidence.append(Evidence(label: condition.field, value: shown))
        }
        return LeadDraft(key: key, kind: lead.kind, priority: lead.priority, clientId: event.clientId, title: lead.title,
                         summary: lead.summary ?? description ?? "", suggestedAction: lead.suggestedAction ?? "",
                         evidence: evidence, sourceEvents: [event.id], tags: tags.isEmpty ? nil : tags)
    }

    private static func show(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .number(let literal): literal
        case .bool(let flag): String(flag)
        default: JSONWriter.string(value)
        }
    }
}

public enum RuleDedupe: String, Sendable, Decodable {
    case perEvent = "event"
    case perClientPerDay = "client_day"

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = RuleDedupe(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "must be event or client_day, got \"\(text)\""))
        }
        self = value
    }
}

/// The event side of a rule: a type pattern plus `all` / `any` conditions.
public struct RuleTrigger: Sendable, Decodable {
    public var type: EventPattern
    public var all: [RuleCondition]
    public var any: [RuleCondition]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, all, any
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(EventPattern.self, forKey: .type)
        all = try container.decodeIfPresent([RuleCondition].self, forKey: .all) ?? []
        any = try container.decodeIfPresent([RuleCondition].self, forKey: .any) ?? []
    }

    var conditions: [RuleCondition] { all + any }

    func matches(_ event: Event, client: ClientState? = nil) -> Bool {
        all.allSatisfy { $0.matches(event, client: client) } && (any.isEmpty || any.contains { $0.matches(event, client: client) })
    }
}

/// What a matching rule emits.
public struct RuleLead: Sendable, Decodable {
    public var kind: String
    public var priority: LeadPriority
    public var title: String
    public var summary: String?
    public var suggestedAction: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, priority, title, summary
        case suggestedAction = "suggested_action"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(String.self, forKey: .kind)
        priority = try container.decodeIfPresent(LeadPriority.self, forKey: .priority) ?? .normal
        title = try container.decode(String.self, forKey: .title)
        summary = try container.decodeIfPresent(String.self, forKey: .summary)
        suggestedAction = try container.decodeIfPresent(String.self, forKey: .suggestedAction)
    }
}
