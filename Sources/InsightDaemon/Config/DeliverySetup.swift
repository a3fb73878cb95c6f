import AsyncHTTPClient
import Foundation
import InsightCore
import InsightDelivery
import NIOCore

/// The delivery side of a configuration: routes, retry policy, templates and receivers.
extension LoadedConfiguration {
    /// `routes:` as the router reads them, plus `delivery.unassigned` for leads without a manager.
    public var router: Router {
        let routes = config.routes.enumerated().map { index, route in
            Route(index: index,
                  match: Route.Match(plugins: route.match.plugin.map(Set.init), kinds: route.match.kind.map(Set.init),
                                     priorities: route.match.priority.map(Set.init), branches: route.match.branch.map(Set.init),
                                     segments: route.match.segment.map(Set.init)),
                  receivers: route.receivers, mode: route.mode == .digest ? .digest : .immediate, digestAt: route.digestAt,
                  quietHours: route.quietHours.map { Route.Window(start: $0.start, end: $0.end) },
                  maxPerManagerPerDay: route.maxPerManagerPerDay, continue: route.continue, fallback: route.fallback,
                  escalateAfter: route.escalateAfter?.seconds, escalation: route.escalation ?? [])
        }
        return Router(routes: routes, timeZone: config.timeZone, unassigned: config.delivery.unassigned)
    }

    /// `inhibit:`, `delivery.compliance`, `delivery.aml_manager_notice` and `delivery.aml_kinds`.
    public var compliancePolicy: CompliancePolicy {
        func matcher(_ match: InhibitConfig.Match) -> LeadMatcher {
            LeadMatcher(plugins: match.plugin.map(Set.init), kinds: match.kind.map(Set.init),
                        priorities: match.priority.map(Set.init), tags: match.tags.map(Set.init))
        }
        let rules = config.inhibit.enumerated().map { index, rule in
            InhibitRule(index: index, source: matcher(rule.source), target: matcher(rule.target),
                        equal: rule.equal.map { $0 == .client ? InhibitRule.Field.client : .manager },
                        duration: rule.duration?.seconds)
        }
        return CompliancePolicy(inhibitRules: rules, amlKinds: Set(config.delivery.amlKinds), receivers: config.delivery.compliance,
                                managerNotice: config.delivery.amlManagerNotice == .none ? .none : .neutral,
                                locale: config.locale.rawValue)
    }

    /// The router and the compliance policy together, as the outbox plans deliveries.
    public var deliveryPlanner: DeliveryPlanner {
        DeliveryPlanner(router: router, compliance: compliancePolicy, groupWindow: config.delivery.groupWindow.seconds)
    }

    public var retryPolicy: RetryPolicy {
        RetryPolicy(schedule: config.delivery.retrySchedule.map(\.seconds))
    }

    public func messageTemplates() throws -> MessageTemplates {
        try MessageTemplates(locale: config.locale.rawValue, timeZone: config.timeZone, directory: templatesDirectory)
    }

    /// One receiver per `receivers:` entry. HTTP receivers share `client`.
    public func receivers(client: HTTPClient, templates: MessageTemplates,
                          console: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) })
        throws -> [any Receiver] {
        try config.receivers.enumerated().map { index, receiver -> any Receiver in
            let secret = secrets["receivers[\(index)].secret"]?.value
            let timeout = TimeAmount.milliseconds(Int64((receiver.timeout ?? config.delivery.timeout).seconds * 1000))
            let concurrency = receiver.concurrency ?? config.delivery.concurrency
            let rate = (receiver.maxPerMinute ?? receiver.defaultMaxPerMinute).flatMap { $0 > 0 ? $0 : nil }
            switch receiver.kind {
            case .console:
                return ConsoleReceiver(name: receiver.name, templates: templates, write: console)
            case .file:
                return FileReceiver(name: receiver.name, path: absolutePath(receiver.path ?? "\(receiver.name).jsonl"),
                                    timeZone: config.timeZone)
            case .webhook: return try http(.webhook)
            case .wecom: return try http(.wecom)
            case .dingtalk: return try http(.dingtalk)
            case .feishu: return try http(.feishu)
            case .slack: return try http(.slack)
            }
            func http(_ kind: HTTPReceiver.Kind) throws -> any Receiver {
                try HTTPReceiver(name: receiver.name, kind: kind, url: receiver.url ?? "", secret: secret, timeout: timeout,
                                 concurrency: concurrency, maxPerMinute: rate, client: client, templates: templates)
            }
        }
    }
}
