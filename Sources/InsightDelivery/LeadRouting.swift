import Foundation
import InsightCore
import InsightStore

/// What one routing pass did.
public struct RoutingPass: Sendable {
    public var leads = 0
    /// Held back by a snooze.
    public var suppressed = 0
    /// Held back by an inhibit rule (an open AML lead for the client).
    public var inhibited = 0
    public var deliveries = 0
    /// Receivers with new rows, to wake.
    public var receivers: Set<String> = []

    public init() {}
}

/// The router's rules, over any ``OutboxStore``: which new leads an inhibit rule or a snooze holds back, which
/// outbox rows the others get (the decision itself is ``RoutePlanner``'s, passed in as `decide`), when a lead waits
/// to go together with a client's other messages, and the per-manager daily counts.
public enum LeadRouting {
    /// The ledger consumer whose position is the last lead routed.
    public static let consumer = Outbox.routerConsumer

    /// Routes the leads the router has not seen yet, in ledger order: in one transaction it records each
    /// lead's routing decision (its outbox rows, or its suppression by a snooze) and the router's position.
    /// A crash before the commit routes the same leads again; after it, their deliveries are durable.
    ///
    /// - Parameters:
    ///   - localDate: the bank's local date of an instant, for the per-manager daily counts.
    ///   - decide: the routing decision for a lead, given how many leads a route (by index) sends alone to its
    ///     manager on a local date (`YYYY-MM-DD`); a lead counts on the day it goes out.
    ///   - compliance: inhibit rules (checked first) and the kinds a manager's snooze never holds back.
    ///   - groupWindowMs: a lead that goes at once to a receiver which got (or is about to get) a message about the
    ///     same client within this window waits for it, so they go as one message.
    public static func routeNewLeads(in store: some OutboxStore, limit: Int, now: Date,
                                     localDate: @escaping @Sendable (Date) -> String,
                                     compliance: ComplianceHooks = .none, groupWindowMs: Int64 = 0,
                                     decide: @escaping @Sendable (Lead, (Int, String) -> Int) -> [DeliveryPlan]) async throws -> RoutingPass {
        return try await store.outboxTransaction { outbox in
            try route(outbox, limit: limit, now: now, localDate: localDate, compliance: compliance,
                      groupWindowMs: groupWindowMs, decide: decide)
        }
    }

    static func route(_ outbox: any OutboxTransaction, limit: Int, now: Date, localDate: (Date) -> String,
                      compliance: ComplianceHooks, groupWindowMs: Int64,
                      decide: (Lead, (Int, String) -> Int) -> [DeliveryPlan]) throws -> RoutingPass {
        // One instance at a time routes: two routing the same leads at once would count them twice.
        try outbox.serialize("route")
        let stored = try outbox.leads(after: try outbox.position(of: consumer), limit: limit)
        guard let last = stored.last else { return RoutingPass() }
        var pass = RoutingPass()
        var leads: [Lead] = []
        for entry in stored {
            switch entry.lead {
            case .success(let lead): leads.append(lead)
            case .failure(let error):
                // A body that no longer decodes is recorded and skipped; it must not stop the other leads.
                if let id = entry.id {
                    try outbox.addActivity(lead: id, at: now, kind: "unrouted", outcome: nil,
                                           note: "the stored lead does not decode: \(error)", actor: "router")
                }
            }
        }
        let earliest = leads.map { Date(milliseconds: $0.createdAt.milliseconds) }.min() ?? Date(milliseconds: 0)
        let snoozes = try outbox.snoozes(endingAfter: earliest)
        let disabled = try outbox.disabledTargets()
        for lead in leads {
            pass.leads += 1
            if lead.status == .new, try outbox.applyInhibition(lead: lead, hooks: compliance, now: now, actor: "router") {
                pass.inhibited += 1
                continue
            }
            if let snooze = snoozes.first(where: { $0.suppresses(lead, protectedKinds: compliance.protectedKinds) }) {
                // A lead a manager already acted on (feedback before it was routed) is neither held back nor sent.
                if try outbox.suppress(lead: lead.id, at: now) {
                    try outbox.addActivity(lead: lead.id, at: now, kind: "suppressed", outcome: nil,
                                           note: "snooze #\(snooze.id) until \(snooze.until)", actor: "router")
                    pass.suppressed += 1
                }
                continue
            }
            let managerId = lead.manager?.id ?? ""
            var readFailure: (any Error)?
            let plans = decide(lead) { route, day in
                guard !managerId.isEmpty else { return 0 }
                do {
                    return try outbox.sentAlone(managerId: managerId, route: route, localDate: day)
                } catch {
                    readFailure = error
                    return 0
                }
            }
            if let readFailure { throw readFailure }
            for plan in plans {
                let target = DeliveryTarget(receiver: plan.receiver, managerId: managerId)
                var due = plan.notBefore
                if groupWindowMs > 0, plan.purpose == .lead, !plan.inDigest,
                   due.milliseconds <= now.milliseconds, let client = lead.client?.id {
                    due = try groupedDue(outbox, receiver: plan.receiver, managerId: managerId, clientId: client,
                                         route: plan.route, urgent: lead.priority == .urgent, now: now, windowMs: groupWindowMs)
                }
                let inserted = try outbox.insert(NewDelivery(
                    id: Outbox.deliveryId(lead.id, plan.receiver, "\(plan.route)", plan.purpose.rawValue),
                    leadId: lead.id, receiver: plan.receiver, managerId: managerId, route: plan.route, purpose: plan.purpose,
                    timing: plan.inDigest ? "digest:" + plan.timing : plan.timing,
                    status: disabled.contains(target) ? .held : .pending, fallback: plan.fallback, due: due, createdAt: now))
                if inserted { pass.deliveries += 1 }
                pass.receivers.insert(plan.receiver)
            }
            var counted = Set<Int>()
            for plan in plans where plan.countsAgainstCap && !managerId.isEmpty && counted.insert(plan.route).inserted {
                try outbox.countSentAlone(managerId: managerId, route: plan.route, localDate: localDate(plan.notBefore))
            }
            if plans.isEmpty {
                try outbox.addActivity(lead: lead.id, at: now, kind: "unrouted", outcome: nil,
                                       note: lead.manager == nil
                                           ? "no manager, and delivery.unassigned names no receiver"
                                           : "no route matches", actor: "router")
            }
        }
        try outbox.setPosition(of: consumer, to: last.seq, at: now)
        return pass
    }

    /// When a lead due now for `receiver` should go so that a client's leads go together: with a pending
    /// message about the client that is due within the window; after the window when one went out within it
    /// (so a burst becomes two messages, not one a second); now otherwise. An urgent lead goes now and takes
    /// the client's waiting messages with it.
    static func groupedDue(_ outbox: any OutboxTransaction, receiver: String, managerId: String, clientId: String, route: Int,
                           urgent: Bool, now: Date, windowMs: Int64) throws -> Date {
        let nowMs = now.milliseconds
        // What counts: messages not yet tried (they can still take this lead along), and messages sent within the
        // window (whenever they were made). Rows waiting for a retry are not grouped, so they do not count.
        let messages = try outbox.messages(aboutClient: clientId, receiver: receiver, managerId: managerId,
                                           complianceQueue: route == Outbox.complianceRoute,
                                           sentSince: Date(milliseconds: nowMs - windowMs))
        if urgent {
            // Only messages the window itself holds (due within it, sent as soon as possible otherwise), never ones
            // held by quiet hours or waiting for a retry.
            let waiting = messages.filter {
                $0.status == .pending && $0.nextAttempt.milliseconds > nowMs && $0.nextAttempt.milliseconds <= nowMs + windowMs
                    && $0.attempts == 0 && ["immediate", "unassigned", "compliance"].contains($0.timing)
            }
            for message in waiting { try outbox.reschedule(delivery: message.id, to: now) }
            return Date(milliseconds: nowMs)
        }
        let pending = messages.filter { $0.status == .pending }.map { $0.nextAttempt.milliseconds }.filter { $0 <= nowMs + windowMs }
        if let due = pending.max() { return Date(milliseconds: max(nowMs, due)) }
        let lastSent = messages.compactMap { $0.sentAt?.milliseconds }.max()
        if let lastSent, lastSent > nowMs - windowMs { return Date(milliseconds: lastSent + windowMs) }
        return Date(milliseconds: nowMs)
    }
}

extension Snooze {
    /// Whether the snooze holds `lead` back: it matches the lead's client, plugin and kind (those it names), the
    /// lead was made before it ends, and a protected (AML) kind is held back only by a `compliance` snooze.
    public func suppresses(_ lead: Lead, protectedKinds: Set<String>) -> Bool {
        guard lead.createdAt.milliseconds < until.milliseconds else { return false }
        if protectedKinds.contains(lead.kind), scope != "compliance" { return false }
        if let clientId, clientId != lead.client?.id { return false }
        if let plugin, plugin != lead.plugin { return false }
        if let kind, kind != lead.kind { return false }
        return true
    }
}
