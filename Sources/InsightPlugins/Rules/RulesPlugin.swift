import Foundation
import InsightCore

/// Bank-defined lead rules written in YAML: conditions on the event, no code.
public struct RulesPlugin: Plugin {
    public static let id = "rules"
    public static let summary = "bank-defined lead rules in YAML: conditions on event fields"

    public let configuration: RulesConfiguration
    public let subscriptions: [EventPattern]

    public init(configuration: RulesConfiguration) throws(PluginConfigurationError) {
        var seen = Set<String>()
        for (index, rule) in configuration.rules.enumerated() {
            guard seen.insert(rule.id).inserted else {
                throw PluginConfigurationError(path: ["rules", "\(index)", "id"],
                                               message: "rule id \"\(rule.id)\" is used twice; give each rule its own id")
            }
        }
        self.configuration = configuration
        let patterns = Set(configuration.rules.map(\.when.type))
        self.subscriptions = patterns.sorted { $0.pattern < $1.pattern }
    }

    public func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft] {
        var drafts: [LeadDraft] = []
        for rule in configuration.rules where rule.when.type.matches(event.type) && rule.when.matches(event) {
            drafts.append(rule.lead(for: event, context: context))
        }
        return drafts
    }
}
