import Foundation
import InsightCore
import InsightStore

/// Which leads a rule of `inhibit:` names, on either side: each list is one condition (any of its values);
/// an absent list matches everything. `tags` matches a lead carrying any of the tags.
public struct LeadMatcher: Sendable, Hashable {
    public var plugins: Set<String>?
    public var kinds: Set<String>?
    public var priorities: Set<LeadPriority>?
    public var tags: Set<String>?

    public init(plugins: Set<String>? = nil, kinds: Set<String>? = nil, priorities: Set<LeadPriority>? = nil,
                tags: Set<String>? = nil) {
        self.plugins = plugins
        self.kinds = kinds
        self.priorities = priorities
        self.tags = tags
    }

    public func matches(plugin: String, kind: String, priority: LeadPriority, tags leadTags: [String]) -> Bool {
        if let plugins, !plugins.contains(plugin) { return false }
        if let kinds, !kinds.contains(kind) { return false }
        if let priorities, !priorities.contains(priority) { return false }
        if let tags, !leadTags.contains(where: tags.contains) { return false }
        return true
    }

    public func matches(_ lead: Lead) -> Bool {
        matches(plugin: lead.plugin, kind: lead.kind, priority: lead.priority, tags: lead.tags ?? [])
    }

    public func matches(_ header: LeadHeader) -> Bool {
        matches(plugin: header.plugin, kind: header.kind, priority: header.priority, tags: header.tags)
    }
}

/// One entry of `inhibit:`, shaped like Alertmanager's `inhibit_rules`: while a lead matching `source` is
/// open, new leads matching `target` that share the `equal` fields with it are held back (stored as
/// `suppressed`, with `inhibitedBy`, never sent). A source stays open for `duration` after it was made
/// (forever when nil) and ends early when compliance records a decision on it.
public struct InhibitRule: Sendable, Hashable {
    public enum Field: String, Sendable, Hashable, CaseIterable {
        case client, manager
    }

    /// Its position in `inhibit:` (0-based), for explanations.
    public var index: Int
    public var source: LeadMatcher
    public var target: LeadMatcher
    public var equal: [Field]
    public var duration: TimeInterval?

    public init(index: Int, source: LeadMatcher, target: LeadMatcher, equal: [Field] = [.client], duration: TimeInterval? = nil) {
        self.index = index
        self.source = source
        self.target = target
        self.equal = equal
        self.duration = duration
    }

    /// Whether `source` (a lead in the ledger) holds `lead` back at `now`.
    public func inhibits(_ lead: Lead, with source: LeadHeader, at now: Date) -> Bool {
        guard source.id != lead.id, target.matches(lead), self.source.matches(source) else { return false }
        for field in equal {
            switch field {
            case .client:
                guard let client = lead.client?.id, client == source.clientId else { return false }
            case .manager:
                guard let manager = lead.manager?.id, manager == source.managerId else { return false }
            }
        }
        guard source.createdAt <= now else { return false }
        if let duration, now >= source.createdAt.addingTimeInterval(duration) { return false }
        if let decided = source.decidedAt, decided <= now { return false }
        return true
    }
}

/// Why a lead was held back: the rule and the open lead.
public struct Inhibition: Sendable, Hashable {
    public var rule: Int
    public var sourceId: String
    public var sourceKind: String
}

/// The compliance side of delivery (issue 12): AML leads go to the compliance queue in full; the client's
/// own manager gets a neutral task (or nothing); inhibit rules keep selling away from money under review.
public struct CompliancePolicy: Sendable {
    public enum ManagerNotice: String, Sendable, Hashable, CaseIterable {
        /// The manager gets nothing of an AML lead.
        case none
        /// The manager gets a task to verify the transaction background per the AML procedure, with no word
        /// of a suspicion, its evidence or a report.
        case neutral
    }

    public var inhibitRules: [InhibitRule]
    public var amlKinds: Set<String>
    /// `delivery.compliance`: the AML team's receivers; they get AML leads in full.
    public var receivers: [String]
    public var managerNotice: ManagerNotice
    public var locale: String

    public init(inhibitRules: [InhibitRule] = [], amlKinds: Set<String> = AMLNotice.defaultKinds, receivers: [String] = [],
                managerNotice: ManagerNotice = .neutral, locale: String = "zh-CN") {
        self.inhibitRules = inhibitRules
        self.amlKinds = amlKinds
        self.receivers = receivers
        self.managerNotice = managerNotice
        self.locale = locale
    }

    public func isAML(_ lead: Lead) -> Bool { amlKinds.contains(lead.kind) }
    public func isAML(kind: String) -> Bool { amlKinds.contains(kind) }

    /// The first open source lead that holds `lead` back at `now`, by rule order then by the source's age. An
    /// AML lead is never held back, whatever a rule's target says: it must reach the compliance queue.
    public func inhibition(of lead: Lead, among candidates: [LeadHeader], at now: Date) -> Inhibition? {
        guard !isAML(lead) else { return nil }
        for rule in inhibitRules where rule.target.matches(lead) {
            let sources = candidates.filter { rule.inhibits(lead, with: $0, at: now) }
                .sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
            if let source = sources.first {
                return Inhibition(rule: rule.index, sourceId: source.id, sourceKind: source.kind)
            }
        }
        return nil
    }

    /// Whether any rule could hold `lead` back (so the ledger is asked for candidates only then).
    public func mayInhibit(_ lead: Lead) -> Bool { !isAML(lead) && inhibitRules.contains { $0.target.matches(lead) } }

    /// What the ledger is asked for: the kinds and plugins the rules' sources name, the longest window, and
    /// whether a rule pairs by manager.
    public var sources: ComplianceHooks.Sources {
        let matchers = inhibitRules.map(\.source)
        let kinds = matchers.contains { $0.kinds == nil } ? nil : Set(matchers.flatMap { $0.kinds ?? [] })
        let plugins = matchers.contains { $0.plugins == nil } ? nil : Set(matchers.flatMap { $0.plugins ?? [] })
        let lookback = inhibitRules.contains { $0.duration == nil } ? nil : inhibitRules.compactMap(\.duration).max()
        return ComplianceHooks.Sources(kinds: kinds, plugins: plugins, lookback: lookback,
                                       byManager: inhibitRules.contains { !$0.equal.contains(.client) })
    }

    /// What a receiver outside the compliance queue shows of an AML lead (``AMLNotice``).
    public func neutral(_ lead: Lead) -> Lead { AMLNotice.neutral(lead, locale: locale) }

    /// The leads of a message as `receiver` may show them: AML leads in full to the compliance queue, neutral
    /// elsewhere.
    /// One neutral task per client in a message: two AML leads from one transfer (快进快出 and velocity) are
    /// one thing for the manager to verify.
    public func shown(_ leads: [Lead], to receiver: String) -> [Lead] {
        guard !receivers.contains(receiver) else { return leads }
        var tasked = Set<String>()
        return leads.compactMap { lead in
            guard isAML(lead) else { return lead }
            guard tasked.insert(lead.client?.id ?? lead.id).inserted else { return nil }
            return neutral(lead)
        }
    }
}
