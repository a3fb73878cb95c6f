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
    /// What the rule is for; the lead summary when `lead.summary` is absent. A text, or one per locale.
    public var description: LocalizedText?
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
        description = try container.decodeIfPresent(LocalizedText.self, forKey: .description)
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
        let locale = context.locale
        var evidence = [
            Evidence(key: "rule", label: LeadFormat.text("规则", "rule", locale: locale), value: id),
            Evidence(key: "event", label: LeadFormat.text("触发事件", "event", locale: locale),
                     value: "\(LeadFormat.eventType(event.type, locale: locale)) \(event.id)"),
        ]
        for condition in when.conditions.flatMap(\.fieldConditions) {
            let value = RuleCondition.value(of: condition.field, event: event, client: context.client)
            let shown = value.map { Masking.field(condition.field, value: RuleFields.show($0, field: condition.field, locale: locale)) }
                ?? LeadFormat.text("无", "(absent)", locale: locale)
            evidence.append(Evidence(key: condition.field, label: RuleFields.label(condition.field, locale: locale), value: shown))
        }
        return LeadDraft(key: key, kind: lead.kind, priority: lead.priority, clientId: event.clientId,
                         title: lead.title.text(for: locale),
                         summary: (lead.summary ?? description)?.text(for: locale) ?? "",
                         suggestedAction: lead.suggestedAction?.text(for: locale) ?? "",
                         evidence: evidence, sourceEvents: [event.id], tags: tags.isEmpty ? nil : tags)
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
    public var title: LocalizedText
    public var summary: LocalizedText?
    public var suggestedAction: LocalizedText?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, priority, title, summary
        case suggestedAction = "suggested_action"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(String.self, forKey: .kind)
        priority = try container.decodeIfPresent(LeadPriority.self, forKey: .priority) ?? .normal
        title = try container.decode(LocalizedText.self, forKey: .title)
        summary = try container.decodeIfPresent(LocalizedText.self, forKey: .summary)
        suggestedAction = try container.decodeIfPresent(LocalizedText.self, forKey: .suggestedAction)
    }
}

/// How a rule's evidence names the fields its conditions read, and shows their values, in the lead's locale.
/// Codes with a display text (direction, channel, segment, status, …) are shown in words; other values as
/// they are.
enum RuleFields {
    static func label(_ field: String, locale: String) -> String {
        guard let entry = labels[field] else { return field }
        return locale == "en" ? entry.en : entry.zh
    }

    /// Money fields: shown as amounts (`¥1,200,000`), whether the event sent a number or a decimal string.
    static let amountFields: Set<String> = ["data.amount", "data.balanceAfter", "data.principal", "data.outstanding",
                                            "client.aum"]

    static func show(_ value: JSONValue, field: String, locale: String) -> String {
        if amountFields.contains(field), let amount = value.decimalValue {
            return LeadFormat.amount(amount, locale: locale)
        }
        switch value {
        case .string(let text):
            switch field {
            case "data.direction": return LeadFormat.direction(text, locale: locale)
            case "data.channel": return LeadFormat.channel(text, locale: locale)
            case "client.segment": return LeadFormat.segment(text, locale: locale)
            case "client.birthCalendar": return LeadFormat.birthCalendar(text, locale: locale)
            case "data.product": return LeadFormat.loanProduct(text, locale: locale)
            case "data.status", "client.status": return LeadFormat.status(text, locale: locale)
            case "type": return LeadFormat.eventType(text, locale: locale)
            default: return text
            }
        case .number(let literal): return literal
        case .bool(let flag): return LeadFormat.yesNo(flag, locale: locale)
        case .array(let items): return LeadFormat.list(items.map { show($0, field: field, locale: locale) }, locale: locale)
        default: return JSONWriter.string(value)
        }
    }

    private static let labels: [String: (zh: String, en: String)] = [
        "id": ("事件编号", "event id"), "source": ("来源系统", "source"), "type": ("事件类型", "event type"),
        "clientId": ("客户号", "client id"), "time": ("事件时间", "time"), "date": ("日期", "date"),
        "data.amount": ("金额", "amount"), "data.direction": ("收支方向", "direction"), "data.channel": ("交易渠道", "channel"),
        "data.counterparty": ("交易对手", "counterparty"), "data.accountId": ("账户", "account"), "data.currency": ("币种", "currency"),
        "data.balanceAfter": ("交易后余额", "balance after"), "data.status": ("状态", "status"),
        "data.product": ("产品", "product"), "data.productId": ("产品代码", "product code"), "data.action": ("交易类型", "action"),
        "data.loanId": ("贷款账号", "loan"), "data.principal": ("贷款本金", "principal"), "data.outstanding": ("贷款余额", "outstanding"),
        "data.maturityDate": ("到期日", "maturity date"), "data.overdueDays": ("逾期天数", "overdue days"),
        "data.policyId": ("保单号", "policy"), "data.period": ("报告期", "period"),
        "client.segment": ("客户分层", "segment"), "client.riskLevel": ("风险等级", "risk level"),
        "client.tags": ("客户标签", "client tags"), "client.aum": ("金融资产", "AUM"), "client.managerId": ("客户经理", "manager"),
        "client.branchId": ("网点", "branch"), "client.status": ("客户状态", "client status"),
        "client.marketingConsent": ("同意营销联系", "marketing consent"), "client.birthCalendar": ("生日历法", "birth calendar"),
    ]
}
