import Foundation
import InsightCore

/// Bank-defined lead rules written in YAML: conditions on the event and the client's state, no code.
public struct RulesPlugin: Plugin {
    public static let id = "rules"
    public static let summary = "bank-defined lead rules in YAML: conditions on event and client fields"

    public let configuration: RulesConfiguration
    public let subscriptions: [EventPattern]
    private let keyTemplates: [String: MustacheKey]
    /// Cooldowns by rule id.
    private let cooldowns: [String: TimeInterval]

    public init(configuration: RulesConfiguration) throws(PluginConfigurationError) {
        var seen = Set<String>()
        var templates: [String: MustacheKey] = [:]
        for (index, rule) in configuration.rules.enumerated() {
            guard seen.insert(rule.id).inserted else {
                throw PluginConfigurationError(path: ["rules", "\(index)", "id"],
                                               message: "rule id \"\(rule.id)\" is used twice; give each rule its own id")
            }
            if let key = rule.key {
                do {
                    templates[rule.id] = try MustacheKey(key)
                } catch {
                    throw PluginConfigurationError(path: ["rules", "\(index)", "key"], message: "not a valid Mustache template: \(error)")
                }
            }
        }
        self.configuration = configuration
        keyTemplates = templates
        cooldowns = Dictionary(configuration.rules.compactMap { rule in rule.cooldown.map { (rule.id, $0) } },
                               uniquingKeysWith: { first, _ in first })
        let patterns = Set(configuration.rules.map(\.when.type))
        self.subscriptions = patterns.sorted { $0.pattern < $1.pattern }
    }

    public var publishedTexts: [PublishedText] {
        configuration.rules.enumerated().flatMap { index, rule in
            let fields: [([String], LocalizedText?)] = [
                (["lead", "title"], rule.lead.title), (["lead", "summary"], rule.lead.summary),
                (["lead", "suggested_action"], rule.lead.suggestedAction), (["description"], rule.description),
            ]
            return fields.flatMap { path, text in
                (text?.variants ?? []).map { locale, text in
                    PublishedText(path: ["rules", "\(index)"] + path + (locale.map { [$0] } ?? []), text: text)
                }
            }
        }
    }

    public func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft] {
        var memory = RulesMemory()
        return try handle(event, context: context, memory: &memory)
    }

    public func handle(_ event: Event, context: PluginContext, memory: inout RulesMemory) throws -> [LeadDraft] {
        var drafts: [LeadDraft] = []
        for rule in configuration.rules where rule.when.type.matches(event.type) && rule.when.matches(event, client: context.client) {
            if let cooldown = rule.cooldown, event.clientId != nil {
                if let last = memory.lastLeads[rule.id], context.now.timeIntervalSince(last) < cooldown { continue }
                memory.lastLeads[rule.id] = context.now
            }
            drafts.append(rule.lead(for: event, context: context, keyTemplate: keyTemplates[rule.id]))
        }
        // Forget cooldowns that have run out, and rules that no longer exist: the memory stays bounded.
        if !memory.lastLeads.isEmpty {
            memory.lastLeads = memory.lastLeads.filter { id, last in
                cooldowns[id].map { context.now.timeIntervalSince(last) < $0 } ?? false
            }
        }
        return drafts
    }
}

/// When each rule with a cooldown last fired for this client.
public struct RulesMemory: PluginMemory {
    var lastLeads: [String: Date] = [:]

    public init() {}

    public init(json: JSONValue) throws {
        guard case .object(let fields) = json else { throw PluginMemoryError("rules memory is not an object") }
        for (rule, value) in fields {
            guard let ms = value.decimalValue else { continue }
            lastLeads[rule] = Date(timeIntervalSince1970: NSDecimalNumber(decimal: ms).doubleValue / 1000)
        }
    }

    public var json: JSONValue {
        .object(lastLeads.mapValues { .number(String(Int64(($0.timeIntervalSince1970 * 1000).rounded()))) })
    }

    public var isEmpty: Bool { lastLeads.isEmpty }
}
