import Foundation
import InsightCore
import InsightStore

/// The outcome of one attempt, as the outbox worker reports it.
public struct DeliveryResult: Sendable {
    public enum Outcome: Sendable, Hashable {
        case sent
        /// Try again at `next`; nil: the schedule is exhausted, the delivery is dead.
        case failed(next: Date?)
        /// 410 Gone: the target is disabled until an operator re-enables it.
        case gone
        /// Not sent, and never will be (the reason goes in `error`).
        case cancelled
    }

    public var delivery: OutboxDelivery
    public var at: Date
    public var durationMs: Int
    public var httpStatus: Int?
    public var outcome: Outcome
    public var error: String?
    /// The leads the message actually carried, when it left some of its leads out (acted on, snoozed or held
    /// back while it waited); nil: all of `delivery.leadIds`.
    public var sentLeadIds: [String]?

    public init(delivery: OutboxDelivery, at: Date, durationMs: Int, httpStatus: Int?, outcome: Outcome, error: String?,
                sentLeadIds: [String]? = nil) {
        self.delivery = delivery
        self.at = at
        self.durationMs = durationMs
        self.httpStatus = httpStatus
        self.outcome = outcome
        self.error = error
        self.sentLeadIds = sentLeadIds
    }
}

/// A batch of due deliveries for one receiver, with what sending them needs.
public struct DueDeliveries: Sendable {
    public var deliveries: [OutboxDelivery] = []
    /// The leads they carry (status from the ledger).
    public var leads: [String: Lead] = [:]
    /// Leads someone already acknowledged (feedback, an interaction, or a status past notified).
    public var acknowledged: Set<String> = []
    /// Leads already sent elsewhere that an inhibit rule now holds back (lead id → the open lead): their
    /// waiting messages leave them out.
    public var withheld: [String: String] = [:]
    public var managers: [String: ManagerState] = [:]
}

/// The outbox's rules for sending, over any ``OutboxStore``: which due rows go, gathered into digests and client
/// groups first; which of their leads are held back since they were routed (an inhibit rule, a snooze) or already
/// acknowledged; and what an attempt's outcome does (a sent message notifies its leads, a dead one starts its
/// fallback, a 410 Gone disables its target and holds the target's waiting rows).
public enum OutboxRules {
    /// The activity kinds that acknowledge a lead: someone acted on it, so escalations and reminders about it stop.
    public static let acknowledgingActivities = ["feedback", "interaction", "decision"]
    /// The statuses past notified that acknowledge a lead.
    public static let acknowledgedStatuses: Set<LeadStatus> = [.contacted, .converted, .dismissed, .expired]

    /// The receiver's deliveries due at `now` (at most `limit`), with their leads and managers. Digest members that
    /// are due are first gathered into one digest delivery per manager, in the same transaction, so a digest's id
    /// (its webhook-id) is fixed before its first attempt.
    ///   - group: a client's due single-lead messages go as one group message (`delivery.group_window` > 0).
    ///   - claim: who takes them, and until when no other instance may (it must outlast sending them). Their results
    ///     end it; if they never come (the instance died), another instance takes the rows once it has passed and sends
    ///     them with the same delivery ids.
    public static func claimDue(in store: some OutboxStore, receiver: String, now: Date, limit: Int,
                                compliance: ComplianceHooks = .none, group: Bool = false,
                                claim: DeliveryClaim) async throws -> DueDeliveries {
        try await store.outboxTransaction { outbox in
            try claimDue(outbox, receiver: receiver, now: now, limit: limit, compliance: compliance, group: group, claim: claim)
        }
    }

    static func claimDue(_ outbox: any OutboxTransaction, receiver: String, now: Date, limit: Int,
                         compliance: ComplianceHooks, group: Bool, claim: DeliveryClaim) throws -> DueDeliveries {
        // One instance at a time forms a receiver's digests and groups: two forming them from the same members at once
        // would put a lead in two messages.
        try outbox.serialize("lane:" + receiver)
        try formDigests(outbox, receiver: receiver, now: now)
        var due = DueDeliveries()
        due.deliveries = try outbox.claimDueDeliveries(receiver: receiver, now: now, limit: limit, claim: claim)
        if group { due.deliveries = try formGroups(outbox, receiver: receiver, deliveries: due.deliveries, now: now, claim: claim) }
        let leadIds = Set(due.deliveries.flatMap(\.leadIds))
        let snoozes = leadIds.isEmpty ? [] : try outbox.snoozes(endingAfter: now)
        for id in leadIds {
            // Gone or undecodable: its delivery is cancelled, the lane goes on.
            guard var lead = try outbox.lead(id: id) else { continue }
            // An AML lead that came after this lead was routed holds it back: a lead nobody was told of yet is
            // suppressed; one already sent elsewhere is left out of its messages still waiting.
            if lead.status == .new, try outbox.applyInhibition(lead: lead, hooks: compliance, now: now, actor: "outbox") {
                lead.status = .suppressed
            } else if [.notified, .contacted].contains(lead.status),
                      let inhibition = try outbox.inhibition(of: lead, hooks: compliance, now: now) {
                due.withheld[id] = inhibition.sourceId
            }
            // A snooze that came after the lead was routed still holds back a lead nobody was told of yet.
            if lead.status == .new,
               let snooze = snoozes.first(where: { $0.suppresses(lead, protectedKinds: compliance.protectedKinds) }) {
                if try outbox.suppress(lead: id, at: now) {
                    try outbox.addActivity(lead: id, at: now, kind: "suppressed", outcome: nil,
                                           note: "snooze #\(snooze.id) until \(snooze.until)", actor: "outbox")
                    lead.status = .suppressed
                } else if let moved = try outbox.lead(id: id) {
                    lead.status = moved.status  // acted on meanwhile: as it stands now
                }
            }
            due.leads[id] = lead
            if try outbox.hasActivity(lead: id, ofKinds: acknowledgingActivities) || acknowledgedStatuses.contains(lead.status) {
                due.acknowledged.insert(id)
            }
        }
        for managerId in Set(due.deliveries.map(\.managerId)) where !managerId.isEmpty {
            if let manager = try outbox.manager(id: managerId) { due.managers[managerId] = manager }
        }
        return due
    }

    /// Due single-lead messages about the same client (same manager) become one group message listing the
    /// leads, its members marked batched, in the same transaction, so the group's id is fixed before it is sent.
    static func formGroups(_ outbox: any OutboxTransaction, receiver: String, deliveries: [OutboxDelivery],
                           now: Date, claim: DeliveryClaim) throws -> [OutboxDelivery] {
        // A row taken over from a claim that ended without a result may have gone out: it keeps its own id.
        let candidates = deliveries.filter {
            $0.purpose == .lead && $0.attempts == 0 && $0.leadId != nil && $0.members.isEmpty && !$0.takenOver
        }
        guard candidates.count > 1 else { return deliveries }
        // Each due lead's client, in one read.
        let clientOfLead = try outbox.clients(ofLeads: candidates.compactMap(\.leadId))
        var groups: [String: [OutboxDelivery]] = [:]
        for delivery in candidates {
            guard let leadId = delivery.leadId, let client = clientOfLead[leadId] else { continue }
            // Members share the group's fallback: rows with different fallbacks go as different groups.
            // The compliance queue's copies never share a message with a manager's (they outlive feedback).
            let queue = delivery.route == Outbox.complianceRoute ? "queue" : ""
            groups["\(delivery.managerId)|\(client)|\(delivery.fallback ?? "")|\(queue)", default: []].append(delivery)
        }
        var replaced: [String: OutboxDelivery] = [:]
        var absorbed = Set<String>()
        for (_, members) in groups.sorted(by: { $0.key < $1.key }) where members.count > 1 {
            let first = members[0]
            let id = Outbox.deliveryId("group", receiver, first.managerId, members.map(\.id).joined(separator: ","))
            try outbox.insertMessage(id: id, purpose: .group, receiver: receiver, managerId: first.managerId, route: first.route,
                                     timing: first.timing, leadIds: members.compactMap(\.leadId), fallback: first.fallback,
                                     memberIds: members.map(\.id), at: now, claim: claim)
            absorbed.formUnion(members.map(\.id))
            if let message = try outbox.delivery(id: id) { replaced[first.id] = message }
        }
        return deliveries.compactMap { delivery in
            if let group = replaced[delivery.id] { return group }
            return absorbed.contains(delivery.id) ? nil : delivery
        }
    }

    /// Gathers the receiver's due digest members: one digest per manager (and route), members marked batched.
    static func formDigests(_ outbox: any OutboxTransaction, receiver: String, now: Date) throws {
        let members = try outbox.dueDigestMembers(receiver: receiver, now: now)
        guard !members.isEmpty else { return }
        var groups: [String: [DigestMember]] = [:]
        for member in members { groups["\(member.managerId)|\(member.route)", default: []].append(member) }
        for (_, rows) in groups.sorted(by: { $0.key < $1.key }) {
            let first = rows[0]
            let memberIds = rows.map(\.id)
            try outbox.insertMessage(id: Outbox.deliveryId("digest", receiver, first.managerId, memberIds.joined(separator: ",")),
                                     purpose: .digest, receiver: receiver, managerId: first.managerId, route: first.route,
                                     timing: "digest", leadIds: rows.compactMap(\.leadId), fallback: first.fallback,
                                     memberIds: memberIds, at: now, claim: nil)
        }
    }

    /// Records a batch of attempts in one transaction. A sent delivery marks its leads notified; a dead one
    /// starts its fallback delivery, if its route has one; a 410 disables the target and holds its pending rows.
    /// Returns the receivers that got new rows (fallbacks), to wake.
    @discardableResult
    public static func recordResults(_ results: [DeliveryResult], in store: some OutboxStore) async throws -> Set<String> {
        guard !results.isEmpty else { return [] }
        return try await store.outboxTransaction { outbox in try record(results, outbox) }
    }

    static func record(_ results: [DeliveryResult], _ outbox: any OutboxTransaction) throws -> Set<String> {
        var woken: Set<String> = []
        for result in results {
            let delivery = result.delivery
            let at = result.at
            let number = delivery.attempts + 1
            let error = result.error.map { String($0.prefix(1000)) }
            let outcome: String
            switch result.outcome {
            case .sent: outcome = "sent"
            case .failed(let next): outcome = next == nil ? "dead" : "failed"
            case .gone: outcome = "gone"
            case .cancelled: outcome = "cancelled"
            }
            try outbox.addAttempt(delivery: delivery.id, attempt: number, at: at, durationMs: result.durationMs,
                                  httpStatus: result.httpStatus, outcome: outcome, error: error)
            // The compliance queue's copy is recorded apart: a manager's app does not see it.
            let toQueue = delivery.route == Outbox.complianceRoute
            switch result.outcome {
            case .sent:
                try outbox.markSent(delivery: delivery.id, attempts: number, at: at)
                for leadId in result.sentLeadIds ?? delivery.leadIds {
                    try outbox.markNotified(lead: leadId, at: at)
                    try outbox.addActivity(lead: leadId, at: at, kind: toQueue ? "compliance_delivered" : "delivered", outcome: nil,
                                           note: "\(delivery.purpose.rawValue) via \(delivery.receiver) (\(delivery.id))", actor: "outbox")
                }
            case .failed(let next?):
                try outbox.scheduleRetry(delivery: delivery.id, attempts: number, next: next, at: at, error: error)
            case .failed(nil):
                try outbox.setStatus(ofDelivery: delivery.id, to: .dead, attempts: number, at: at, error: error)
                if let fallback = delivery.fallback, delivery.purpose != .fallback {
                    // A fallback to a target a 410 Gone disabled is held, as any row to it is.
                    let held = try outbox.isDisabled(DeliveryTarget(receiver: fallback, managerId: delivery.managerId))
                    try outbox.insertFallback(id: Outbox.deliveryId(delivery.id, "fallback", fallback), of: delivery,
                                              receiver: fallback, status: held ? .held : .pending, at: at)
                    woken.insert(fallback)
                }
                for leadId in delivery.leadIds {
                    try outbox.addActivity(lead: leadId, at: at, kind: toQueue ? "compliance_delivery_dead" : "delivery_dead",
                                           outcome: nil,
                                           note: "\(delivery.receiver) (\(delivery.id)): \(error ?? "failed")"
                                               + (delivery.fallback.map { ", fallback \($0)" } ?? ""), actor: "outbox")
                }
            case .gone:
                try outbox.disable(DeliveryTarget(receiver: delivery.receiver, managerId: delivery.managerId), at: at,
                                   reason: error ?? "410 Gone", error: error)
                try outbox.setStatus(ofDelivery: delivery.id, to: .held, attempts: number, at: nil, error: nil)
            case .cancelled:
                try outbox.setStatus(ofDelivery: delivery.id, to: .cancelled, attempts: number, at: at, error: error)
            }
        }
        return woken
    }
}
