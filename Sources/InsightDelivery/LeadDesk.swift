import Foundation
import InsightCore
import InsightStore

/// What managers, compliance and operators do to leads, with the ledger's rules, on either store (the leads API's
/// writes): feedback moves a lead forward only, the first compliance decision stands, a snooze ends only with the
/// scope it was made with, and only dead, held or cancelled deliveries are sent again. Each call is one transaction.
public struct LeadDesk: Sendable {
    public let store: any LeadsStore

    public init(store: any LeadsStore) {
        self.store = store
    }

    /// Feedback moves a lead forward only: new → notified → contacted → converted | dismissed (a contacted lead may
    /// still be dismissed).
    public static func canMove(from current: LeadStatus, to next: LeadStatus) -> Bool {
        let order: [LeadStatus: Int] = [.new: 0, .suppressed: 0, .notified: 1, .contacted: 2, .converted: 3, .dismissed: 3,
                                        .expired: 3]
        return (order[next] ?? 0) > (order[current] ?? 0) || (current == .contacted && next == .dismissed)
    }

    /// The deliveries an operator may send again.
    public static let retryable: Set<DeliveryStatus> = [.dead, .held, .cancelled]

    /// Records a manager's feedback on a lead and moves its status (never back: a converted lead reported
    /// contacted stays converted). `snoozed` with `until` also snoozes the lead's client for its plugin.
    /// Returns the lead as it now stands, or nil when no lead has that id.
    public func recordFeedback(leadId: String, outcome: FeedbackOutcome, note: String?, until: Date?, actor: String,
                               snoozeScope: String = "feedback", now: Date) async throws -> Lead? {
        try await store.writeLeads { ledger in
            guard let lead = try ledger.lead(id: leadId) else { return nil }
            if let status = outcome.status, Self.canMove(from: lead.status, to: status) {
                try ledger.setStatus(ofLead: leadId, to: status, at: now)
            }
            let untilText = until.map { "until \(RFC3339.format($0, timeZone: TimeZone(secondsFromGMT: 0) ?? .current))" }
            try ledger.addActivity(lead: leadId, at: now, kind: "feedback", outcome: outcome.rawValue, note: note ?? untilText,
                                   actor: actor)
            if outcome == .snoozed, let until {
                _ = try ledger.insertSnooze(SnoozeEntry(id: 0, clientId: lead.client?.id, plugin: lead.plugin, kind: nil,
                                                        until: until, createdAt: now, note: note, leadId: leadId, actor: actor,
                                                        scope: snoozeScope))
            }
            return try ledger.lead(id: leadId)
        }
    }

    /// Records a compliance decision on a lead, with who and when, in its history. The first decision stands.
    public func recordDecision(leadId: String, decision: ComplianceDecision, reference: String?, note: String?, actor: String,
                               now: Date) async throws -> DecisionOutcome {
        try await store.writeLeads { ledger in
            guard try ledger.lead(id: leadId) != nil else { return .notFound }
            if let existing = try ledger.decision(leadId: leadId) { return .alreadyDecided(existing) }
            let entry = LeadDecisionEntry(leadId: leadId, decision: decision, reference: reference, note: note, actor: actor, at: now)
            try ledger.insertDecision(entry)
            let text = [reference.map { "reference \($0)" }, note].compactMap { $0 }.joined(separator: "; ")
            try ledger.addActivity(lead: leadId, at: now, kind: "decision", outcome: decision.rawValue,
                                   note: text.isEmpty ? nil : text, actor: actor)
            return .recorded(entry)
        }
    }

    @discardableResult
    public func addSnooze(clientId: String?, plugin: String?, kind: String?, until: Date, note: String?, actor: String,
                          scope: String = "feedback", now: Date) async throws -> SnoozeEntry {
        try await store.writeLeads { ledger in
            try ledger.insertSnooze(SnoozeEntry(id: 0, clientId: clientId, plugin: plugin, kind: kind, until: until, createdAt: now,
                                                note: note, leadId: nil, actor: actor, scope: scope))
        }
    }

    /// Ends a snooze now, when the caller holds the scope it was made with.
    public func removeSnooze(id: Int64, callerScopes: Set<String>) async throws -> SnoozeRemoval {
        try await store.writeLeads { ledger in
            guard let scope = try ledger.snoozeScope(id: id) else { return .notFound }
            guard callerScopes.contains(scope) else { return .needsScope(scope) }
            return try ledger.deleteSnooze(id: id) ? .removed : .notFound
        }
    }

    /// Sends a dead, held or cancelled delivery again, from the start of the retry schedule. Returns the
    /// delivery and whether it was queued again (false: it is pending or sent), or nil when there is none
    /// with that id.
    public func retryDelivery(id: String, now: Date) async throws -> (delivery: OutboxDelivery, retried: Bool)? {
        try await store.writeLeads { ledger in
            let retried = try ledger.requeue(delivery: id, from: Self.retryable, at: now)
            return try ledger.delivery(id: id).map { ($0, retried) }
        }
    }

    /// Re-enables a receiver target that answered 410 (every manager's when `managerId` is nil): its held
    /// deliveries go out again. Returns how many were released.
    public func enableTarget(receiver: String, managerId: String?, now: Date) async throws -> Int {
        try await store.writeLeads { ledger in try ledger.enable(receiver: receiver, managerId: managerId, at: now) }
    }
}
