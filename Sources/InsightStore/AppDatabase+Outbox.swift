import Foundation
import GRDB
import InsightCore

/// Where one outbox row stands.
public enum DeliveryStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Waiting for its next attempt (`nextAttempt`).
    case pending
    /// A digest member that went out inside its digest (`parentId`).
    case batched
    case sent
    /// Its retries ran out; `POST /v1/deliveries/{id}/retry` sends it again.
    case dead
    /// Its receiver target answered 410 Gone and is disabled; re-enabling the target sends it.
    case held
    /// Not needed any more (an escalation for a lead someone already acknowledged).
    case cancelled
}

public enum DeliveryPurpose: String, Sendable, Hashable, Codable, CaseIterable {
    /// One lead, alone or as a digest member.
    case lead
    /// One message listing a manager's pending digest members.
    case digest
    /// A high or urgent lead nobody acknowledged in time, to the route's escalation receivers.
    case escalation
    /// A lead whose primary delivery died, to the route's fallback receiver.
    case fallback
    /// One message listing a client's leads that fell due for a receiver together (`delivery.group_window`).
    case group
}

/// What routing decided for one lead and one receiver, as the outbox stores it.
public struct DeliveryPlan: Sendable, Hashable {
    public var receiver: String
    /// Index of the route in `routes:`; -1 for the unassigned-lead receivers.
    public var route: Int
    public var purpose: DeliveryPurpose
    /// Why it goes when it goes: `immediate`, `afterQuietHours`, `digest`, `overCap`, `unassigned`, `escalation`.
    public var timing: String
    public var notBefore: Date
    /// Digest members wait for their digest instead of going alone.
    public var inDigest: Bool
    /// Counts against the route's per-manager daily cap (a lead that goes alone).
    public var countsAgainstCap: Bool
    public var fallback: String?

    public init(receiver: String, route: Int, purpose: DeliveryPurpose = .lead, timing: String, notBefore: Date,
                inDigest: Bool = false, countsAgainstCap: Bool = false, fallback: String? = nil) {
        self.receiver = receiver
        self.route = route
        self.purpose = purpose
        self.timing = timing
        self.notBefore = notBefore
        self.inDigest = inDigest
        self.countsAgainstCap = countsAgainstCap
        self.fallback = fallback
    }
}

/// One outbox row.
public struct OutboxDelivery: Sendable, Hashable {
    public var id: String
    public var leadId: String?
    public var receiver: String
    /// The target's manager ("" when the lead has none).
    public var managerId: String
    public var route: Int
    public var purpose: DeliveryPurpose
    public var timing: String
    public var status: DeliveryStatus
    public var parentId: String?
    /// A digest's leads.
    public var members: [String]
    public var fallback: String?
    /// Attempts made in the current round of the retry schedule.
    public var attempts: Int
    public var notBefore: Date
    public var nextAttempt: Date
    public var createdAt: Date
    public var updatedAt: Date
    public var sentAt: Date?
    public var lastError: String?

    public init(id: String, leadId: String?, receiver: String, managerId: String, route: Int, purpose: DeliveryPurpose,
                timing: String, status: DeliveryStatus, parentId: String?, members: [String], fallback: String?, attempts: Int,
                notBefore: Date, nextAttempt: Date, createdAt: Date, updatedAt: Date, sentAt: Date?, lastError: String?) {
        self.id = id
        self.leadId = leadId
        self.receiver = receiver
        self.managerId = managerId
        self.route = route
        self.purpose = purpose
        self.timing = timing
        self.status = status
        self.parentId = parentId
        self.members = members
        self.fallback = fallback
        self.attempts = attempts
        self.notBefore = notBefore
        self.nextAttempt = nextAttempt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.sentAt = sentAt
        self.lastError = lastError
    }

    /// The lead ids this delivery carries: a digest's members (also when a digest's fallback carries them),
    /// else its lead.
    public var leadIds: [String] {
        !members.isEmpty || purpose == .digest || purpose == .group ? members : leadId.map { [$0] } ?? []
    }
}

public struct DeliveryAttempt: Sendable, Hashable {
    public var attempt: Int
    public var at: Date
    public var durationMs: Int
    public var httpStatus: Int?
    public var outcome: String
    public var error: String?
}

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

public struct DisabledTarget: Sendable, Hashable {
    public var receiver: String
    public var managerId: String
    public var disabledAt: Date
    public var reason: String
}

extension AppDatabase {
    public static let routerConsumer = "router"
    /// The route index of deliveries to the compliance queue (`delivery.compliance`).
    public static let complianceRoute = -2

    /// The stable delivery id (and `webhook-id`) of one lead's message to one receiver.
    public static func deliveryId(_ parts: String...) -> String {
        "dl_" + StableHash.hex(parts.joined(separator: "|"))
    }

    // MARK: - Routing

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
    public func routeNewLeads(limit: Int, now: Date, localDate: @Sendable (Date) -> String, compliance: ComplianceHooks = .none,
                              groupWindowMs: Int64 = 0,
                              decide: @Sendable (Lead, (Int, String) -> Int) -> [DeliveryPlan]) async throws -> RoutingPass {
        let nowMs = now.milliseconds
        return try await pool.write { db in
            let position = try Int64.fetchOne(db, sql: "SELECT position FROM consumer WHERE name = ?",
                                              arguments: [Self.routerConsumer]) ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT seq, key, status, body FROM lead WHERE seq > ? ORDER BY seq LIMIT ?
                """, arguments: [position, limit])
            guard let last = rows.last else { return RoutingPass() }
            var pass = RoutingPass()
            var leads: [Lead] = []
            for row in rows {
                do {
                    leads.append(try Self.lead(row: row))
                } catch {
                    // A body that no longer decodes is recorded and skipped; it must not stop the other leads.
                    if let id = try String.fetchOne(db, sql: "SELECT id FROM lead WHERE seq = ?", arguments: [row["seq"] as Int64]) {
                        try Self.addActivity(db, lead: id, atMs: nowMs, kind: "unrouted", outcome: nil,
                                             note: "the stored lead does not decode: \(error)", actor: "router")
                    }
                }
            }
            let snoozes = try Snooze.fetchActive(db, afterMs: leads.map(\.createdAt.milliseconds).min() ?? 0)
            let disabled = Set(try Row.fetchAll(db, sql: "SELECT receiver, manager_id FROM disabled_target")
                .map { "\($0["receiver"] as String)|\($0["manager_id"] as String)" })
            let insert = try db.cachedStatement(sql: """
                INSERT INTO delivery (id, lead_id, receiver, manager_id, route, purpose, timing, status, fallback, attempts,
                                      not_before_ms, next_attempt_ms, created_ms, updated_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """)
            for lead in leads {
                pass.leads += 1
                if lead.status == .new, try Self.applyInhibition(db, lead: lead, hooks: compliance, now: now, actor: "router") {
                    pass.inhibited += 1
                    continue
                }
                if let snooze = snoozes.first(where: { $0.suppresses(lead, protectedKinds: compliance.protectedKinds) }) {
                    try db.execute(sql: "UPDATE lead SET status = 'suppressed', status_ms = ? WHERE id = ?",
                                   arguments: [nowMs, lead.id])
                    try Self.addActivity(db, lead: lead.id, atMs: nowMs, kind: "suppressed", outcome: nil,
                                         note: "snooze #\(snooze.id) until \(Date(milliseconds: snooze.untilMs))", actor: "router")
                    pass.suppressed += 1
                    continue
                }
                let managerId = lead.manager?.id ?? ""
                let counts = try db.cachedStatement(sql: """
                    SELECT sent FROM route_count WHERE manager_id = ? AND route = ? AND local_date = ?
                    """)
                var readFailure: (any Error)?
                let plans = decide(lead) { route, day in
                    guard !managerId.isEmpty else { return 0 }
                    do {
                        return try Int.fetchOne(counts, arguments: [managerId, route, day]) ?? 0
                    } catch {
                        readFailure = error
                        return 0
                    }
                }
                if let readFailure { throw readFailure }
                for plan in plans {
                    let id = Self.deliveryId(lead.id, plan.receiver, "\(plan.route)", plan.purpose.rawValue)
                    let status: DeliveryStatus = disabled.contains("\(plan.receiver)|\(managerId)") ? .held : .pending
                    var dueMs = plan.notBefore.milliseconds
                    if groupWindowMs > 0, plan.purpose == .lead, !plan.inDigest, dueMs <= nowMs, let client = lead.client?.id {
                        dueMs = try Self.groupedDue(db, receiver: plan.receiver, managerId: managerId, clientId: client,
                                                    route: plan.route,
                                                    urgent: lead.priority == .urgent, nowMs: nowMs, windowMs: groupWindowMs)
                    }
                    try insert.execute(arguments: [
                        id, lead.id, plan.receiver, managerId, plan.route, plan.purpose.rawValue,
                        plan.inDigest ? "digest:" + plan.timing : plan.timing, status.rawValue, plan.fallback,
                        dueMs, dueMs, nowMs, nowMs,
                    ])
                    pass.deliveries += db.changesCount
                    pass.receivers.insert(plan.receiver)
                }
                var counted = Set<Int>()
                for plan in plans where plan.countsAgainstCap && !managerId.isEmpty && counted.insert(plan.route).inserted {
                    try db.execute(sql: """
                        INSERT INTO route_count (manager_id, route, local_date, sent) VALUES (?, ?, ?, 1)
                        ON CONFLICT DO UPDATE SET sent = sent + 1
                        """, arguments: [managerId, plan.route, localDate(plan.notBefore)])
                }
                if plans.isEmpty {
                    try Self.addActivity(db, lead: lead.id, atMs: nowMs, kind: "unrouted", outcome: nil,
                                         note: lead.manager == nil
                                             ? "no manager, and delivery.unassigned names no receiver"
                                             : "no route matches", actor: "router")
                }
            }
            try ConsumerRecord(name: Self.routerConsumer, position: last["seq"], updatedMs: nowMs).upsert(db)
            return pass
        }
    }

    /// When a lead due now for `receiver` should go so that a client's leads go together: with a pending
    /// message about the client that is due within the window; after the window when one went out within it
    /// (so a burst becomes two messages, not one a second); now otherwise. An urgent lead goes now and takes
    /// the client's waiting messages with it.
    static func groupedDue(_ db: Database, receiver: String, managerId: String, clientId: String, route: Int, urgent: Bool,
                           nowMs: Int64, windowMs: Int64) throws -> Int64 {
        // A lead that went inside a group message is `batched`: its group (the parent) says when it went.
        // From the client's leads (few) to their deliveries (CROSS JOIN keeps that order), never across the
        // receiver's whole history.
        // What counts: messages not yet tried (they can still take this lead along), and messages sent within the
        // window (whenever they were made). Rows waiting for a retry are not grouped, so they do not count.
        let rows = try Row.fetchAll(try db.cachedStatement(sql: """
            SELECT d.id, d.status, d.timing, d.attempts, d.next_attempt_ms, COALESCE(d.sent_ms, p.sent_ms) AS sent_ms
            FROM lead l CROSS JOIN delivery d ON d.lead_id = l.id LEFT JOIN delivery p ON p.id = d.parent_id
            WHERE l.client_id = ? AND d.receiver = ? AND d.manager_id = ? AND d.purpose = 'lead' AND d.timing NOT LIKE 'digest:%'
              AND (d.route = ?) = ? AND ((d.status = 'pending' AND d.attempts = 0)
                                   OR (d.status IN ('sent', 'batched') AND COALESCE(d.sent_ms, p.sent_ms) >= ?))
            """), arguments: [clientId, receiver, managerId, complianceRoute, route == complianceRoute, nowMs - windowMs])
        if urgent {
            // Only messages the window itself holds (due within it, sent as soon as possible otherwise), never ones
            // held by quiet hours or waiting for a retry.
            let waiting = rows.filter {
                ($0["status"] as String) == "pending" && ($0["next_attempt_ms"] as Int64) > nowMs
                    && ($0["next_attempt_ms"] as Int64) <= nowMs + windowMs && ($0["attempts"] as Int) == 0
                    && ["immediate", "unassigned", "compliance"].contains($0["timing"] as String)
            }
            for row in waiting {
                try db.execute(sql: "UPDATE delivery SET next_attempt_ms = ?, not_before_ms = ? WHERE id = ?",
                               arguments: [nowMs, nowMs, row["id"] as String])
            }
            return nowMs
        }
        let pending = rows.filter { ($0["status"] as String) == "pending" }.map { $0["next_attempt_ms"] as Int64 }
            .filter { $0 <= nowMs + windowMs }
        if let due = pending.max() { return max(nowMs, due) }
        let lastSent = rows.compactMap { $0["sent_ms"] as Int64? }.max()
        if let lastSent, lastSent > nowMs - windowMs { return lastSent + windowMs }
        return nowMs
    }

    // MARK: - Sending

    /// The receiver's deliveries due at `now` (at most `limit`), with
    /// their leads and managers. Digest members that are due are first gathered into one digest delivery per
    /// manager, in the same transaction, so a digest's id (its webhook-id) is fixed before its first attempt.
    ///   - group: a client's due single-lead messages go as one group message (`delivery.group_window` > 0).
    public func claimDue(receiver: String, now: Date, limit: Int, compliance: ComplianceHooks = .none,
                         group: Bool = false) async throws -> DueDeliveries {
        let nowMs = now.milliseconds
        return try await pool.write { db in
            try Self.formDigests(db, receiver: receiver, nowMs: nowMs)
            var due = DueDeliveries()
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM delivery
                WHERE status = 'pending' AND receiver = ? AND next_attempt_ms <= ? AND timing NOT LIKE 'digest:%'
                ORDER BY next_attempt_ms, id LIMIT ?
                """, arguments: [receiver, nowMs, limit])
            due.deliveries = try rows.map(Self.delivery(row:))
            if group { due.deliveries = try Self.formGroups(db, receiver: receiver, deliveries: due.deliveries, nowMs: nowMs) }
            let leadIds = Set(due.deliveries.flatMap(\.leadIds))
            let snoozes = leadIds.isEmpty ? [] : try Snooze.fetchActive(db, afterMs: nowMs)
            for id in leadIds {
                guard let row = try Row.fetchOne(db, sql: "SELECT key, status, body FROM lead WHERE id = ?", arguments: [id]),
                      var lead = try? Self.lead(row: row)
                else { continue }  // gone or undecodable: its delivery is cancelled, the lane goes on
                // An AML lead that came after this lead was routed holds it back: a lead nobody was told of yet is
                // suppressed; one already sent elsewhere is left out of its messages still waiting.
                if lead.status == .new, try Self.applyInhibition(db, lead: lead, hooks: compliance, now: now, actor: "outbox") {
                    lead.status = .suppressed
                } else if [.notified, .contacted].contains(lead.status),
                          let inhibition = try Self.inhibition(db, of: lead, hooks: compliance, now: now) {
                    due.withheld[id] = inhibition.sourceId
                }
                // A snooze that came after the lead was routed still holds back a lead nobody was told of yet.
                if lead.status == .new,
                   let snooze = snoozes.first(where: { $0.suppresses(lead, protectedKinds: compliance.protectedKinds) }) {
                    try db.execute(sql: "UPDATE lead SET status = 'suppressed', status_ms = ? WHERE id = ?", arguments: [nowMs, id])
                    try Self.addActivity(db, lead: id, atMs: nowMs, kind: "suppressed", outcome: nil,
                                         note: "snooze #\(snooze.id) until \(Date(milliseconds: snooze.untilMs))", actor: "outbox")
                    lead.status = .suppressed
                }
                due.leads[id] = lead
                let acknowledged = try Bool.fetchOne(db, sql: """
                    SELECT 1 FROM lead_activity WHERE lead_id = ? AND kind IN ('feedback', 'interaction', 'decision') LIMIT 1
                    """, arguments: [id]) ?? false
                if acknowledged || [.contacted, .converted, .dismissed, .expired].contains(lead.status) {
                    due.acknowledged.insert(id)
                }
            }
            for managerId in Set(due.deliveries.map(\.managerId)) where !managerId.isEmpty {
                if let text = try String.fetchOne(db, sql: "SELECT profile FROM manager WHERE id = ?", arguments: [managerId]) {
                    due.managers[managerId] = try? Self.jsonDecoder.decode(ManagerState.self, from: Data(text.utf8))
                }
            }
            return due
        }
    }

    /// Due single-lead messages about the same client (same manager) become one group message listing the
    /// leads, its members marked batched, in the same transaction, so the group's id is fixed before it is sent.
    private static func formGroups(_ db: Database, receiver: String, deliveries: [OutboxDelivery], nowMs: Int64) throws -> [OutboxDelivery] {
        let candidates = deliveries.filter { $0.purpose == .lead && $0.attempts == 0 && $0.leadId != nil && $0.members.isEmpty }
        guard candidates.count > 1 else { return deliveries }
        // Each due lead's client, in one read.
        let leadIds = candidates.compactMap(\.leadId)
        var clientOfLead: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, client_id FROM lead WHERE id IN (\(databaseQuestionMarks(count: leadIds.count)))",
                                    arguments: StatementArguments(leadIds)) {
            if let client = row["client_id"] as String? { clientOfLead[row["id"]] = client }
        }
        var clientOf: [String: String] = [:]
        for delivery in candidates {
            if let leadId = delivery.leadId, let client = clientOfLead[leadId] { clientOf[delivery.id] = client }
        }
        var groups: [String: [OutboxDelivery]] = [:]
        for delivery in candidates {
            guard let client = clientOf[delivery.id] else { continue }
            // Members share the group's fallback: rows with different fallbacks go as different groups.
            // The compliance queue's copies never share a message with a manager's (they outlive feedback).
            let queue = delivery.route == complianceRoute ? "queue" : ""
            groups["\(delivery.managerId)|\(client)|\(delivery.fallback ?? "")|\(queue)", default: []].append(delivery)
        }
        var replaced: [String: OutboxDelivery] = [:]
        var absorbed = Set<String>()
        for (_, members) in groups.sorted(by: { $0.key < $1.key }) where members.count > 1 {
            let first = members[0]
            let leadIds = members.compactMap(\.leadId)
            let id = deliveryId("group", receiver, first.managerId, members.map(\.id).joined(separator: ","))
            try db.execute(sql: """
                INSERT INTO delivery (id, lead_id, receiver, manager_id, route, purpose, timing, status, members, fallback,
                                      attempts, not_before_ms, next_attempt_ms, created_ms, updated_ms)
                VALUES (?, NULL, ?, ?, ?, 'group', ?, 'pending', ?, ?, 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """, arguments: [id, receiver, first.managerId, first.route, first.timing,
                                 JSONWriter.string(.array(leadIds.map(JSONValue.string))), first.fallback,
                                 nowMs, nowMs, nowMs, nowMs])
            for member in members {
                try db.execute(sql: "UPDATE delivery SET status = 'batched', parent_id = ?, updated_ms = ? WHERE id = ?",
                               arguments: [id, nowMs, member.id])
                absorbed.insert(member.id)
            }
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM delivery WHERE id = ?", arguments: [id]) {
                replaced[first.id] = try delivery(row: row)
            }
        }
        return deliveries.compactMap { delivery in
            if let group = replaced[delivery.id] { return group }
            return absorbed.contains(delivery.id) ? nil : delivery
        }
    }

    /// Gathers the receiver's due digest members: one digest per manager (and route), members marked batched.
    private static func formDigests(_ db: Database, receiver: String, nowMs: Int64) throws {
        let members = try Row.fetchAll(db, sql: """
            SELECT id, lead_id, manager_id, route, fallback FROM delivery
            WHERE status = 'pending' AND receiver = ? AND next_attempt_ms <= ? AND timing LIKE 'digest:%'
            ORDER BY manager_id, route, created_ms, id
            """, arguments: [receiver, nowMs])
        guard !members.isEmpty else { return }
        var groups: [String: [Row]] = [:]
        for row in members {
            groups["\(row["manager_id"] as String)|\(row["route"] as Int)", default: []].append(row)
        }
        for (_, rows) in groups.sorted(by: { $0.key < $1.key }) {
            let memberIds = rows.map { $0["id"] as String }
            let leadIds = rows.compactMap { $0["lead_id"] as String? }
            let first = rows[0]
            let id = deliveryId("digest", receiver, first["manager_id"], memberIds.joined(separator: ","))
            try db.execute(sql: """
                INSERT INTO delivery (id, lead_id, receiver, manager_id, route, purpose, timing, status, members, fallback,
                                      attempts, not_before_ms, next_attempt_ms, created_ms, updated_ms)
                VALUES (?, NULL, ?, ?, ?, 'digest', 'digest', 'pending', ?, ?, 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """, arguments: [id, receiver, first["manager_id"] as String, first["route"] as Int,
                                 JSONWriter.string(.array(leadIds.map(JSONValue.string))), first["fallback"] as String?,
                                 nowMs, nowMs, nowMs, nowMs])
            for memberId in memberIds {
                try db.execute(sql: "UPDATE delivery SET status = 'batched', parent_id = ?, updated_ms = ? WHERE id = ?",
                               arguments: [id, nowMs, memberId])
            }
        }
    }

    /// When the receiver's next pending delivery (or digest) is due; nil when it has none.
    public func nextDue(receiver: String) throws -> Date? {
        try pool.read { db in
            try Int64.fetchOne(db, sql: """
                SELECT MIN(next_attempt_ms) FROM delivery WHERE status = 'pending' AND receiver = ?
                """, arguments: [receiver]).map(Date.init(milliseconds:))
        }
    }

    /// Records a batch of attempts in one transaction. A sent delivery marks its leads notified; a dead one
    /// starts its fallback delivery, if its route has one; a 410 disables the target and holds its pending rows.
    /// Returns the receivers that got new rows (fallbacks), to wake.
    @discardableResult
    public func recordResults(_ results: [DeliveryResult]) async throws -> Set<String> {
        guard !results.isEmpty else { return [] }
        return try await pool.write { db in
            var woken: Set<String> = []
            let attempt = try db.cachedStatement(sql: """
                INSERT INTO delivery_attempt (delivery_id, attempt, at_ms, duration_ms, http_status, outcome, error)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            for result in results {
                let delivery = result.delivery
                let atMs = result.at.milliseconds
                let number = delivery.attempts + 1
                let error = result.error.map { String($0.prefix(1000)) }
                let outcome: String
                switch result.outcome {
                case .sent: outcome = "sent"
                case .failed(let next): outcome = next == nil ? "dead" : "failed"
                case .gone: outcome = "gone"
                case .cancelled: outcome = "cancelled"
                }
                try attempt.execute(arguments: [delivery.id, number, atMs, result.durationMs, result.httpStatus, outcome, error])
                switch result.outcome {
                case .sent:
                    try db.execute(sql: """
                        UPDATE delivery SET status = 'sent', attempts = ?, sent_ms = ?, updated_ms = ?, last_error = NULL
                        WHERE id = ?
                        """, arguments: [number, atMs, atMs, delivery.id])
                    for leadId in result.sentLeadIds ?? delivery.leadIds {
                        try db.execute(sql: "UPDATE lead SET status = 'notified', status_ms = ? WHERE id = ? AND status = 'new'",
                                       arguments: [atMs, leadId])
                        // The compliance queue's copy is recorded apart: a manager's app does not see it.
                        try Self.addActivity(db, lead: leadId, atMs: atMs,
                                             kind: delivery.route == Self.complianceRoute ? "compliance_delivered" : "delivered", outcome: nil,
                                        note: "\(delivery.purpose.rawValue) via \(delivery.receiver) (\(delivery.id))",
                                        actor: "outbox")
                    }
                case .failed(let next?):
                    try db.execute(sql: """
                        UPDATE delivery SET attempts = ?, next_attempt_ms = ?, updated_ms = ?, last_error = ? WHERE id = ?
                        """, arguments: [number, next.milliseconds, atMs, error, delivery.id])
                case .failed(nil):
                    try db.execute(sql: """
                        UPDATE delivery SET status = 'dead', attempts = ?, updated_ms = ?, last_error = ? WHERE id = ?
                        """, arguments: [number, atMs, error, delivery.id])
                    if let fallback = delivery.fallback, delivery.purpose != .fallback {
                        let id = Self.deliveryId(delivery.id, "fallback", fallback)
                        try db.execute(sql: """
                            INSERT INTO delivery (id, lead_id, receiver, manager_id, route, purpose, timing, status, members,
                                                  attempts, not_before_ms, next_attempt_ms, created_ms, updated_ms)
                            VALUES (?, ?, ?, ?, ?, 'fallback', 'fallback',
                                    CASE WHEN EXISTS (SELECT 1 FROM disabled_target WHERE receiver = ?3 AND manager_id = ?4)
                                         THEN 'held' ELSE 'pending' END,
                                    ?, 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                            """, arguments: [id, delivery.leadId, fallback, delivery.managerId, delivery.route,
                                             delivery.members.isEmpty ? nil : JSONWriter.string(.array(delivery.members.map(JSONValue.string))),
                                             atMs, atMs, atMs, atMs])
                        woken.insert(fallback)
                    }
                    for leadId in delivery.leadIds {
                        try Self.addActivity(db, lead: leadId, atMs: atMs,
                                             kind: delivery.route == Self.complianceRoute ? "compliance_delivery_dead" : "delivery_dead", outcome: nil,
                                        note: "\(delivery.receiver) (\(delivery.id)): \(error ?? "failed")"
                                            + (delivery.fallback.map { ", fallback \($0)" } ?? ""), actor: "outbox")
                    }
                case .gone:
                    try db.execute(sql: """
                        INSERT INTO disabled_target (receiver, manager_id, disabled_ms, reason) VALUES (?, ?, ?, ?)
                        ON CONFLICT DO NOTHING
                        """, arguments: [delivery.receiver, delivery.managerId, atMs, error ?? "410 Gone"])
                    try db.execute(sql: """
                        UPDATE delivery SET status = 'held', updated_ms = ?, last_error = ?
                        WHERE receiver = ? AND manager_id = ? AND status = 'pending'
                        """, arguments: [atMs, error, delivery.receiver, delivery.managerId])
                    try db.execute(sql: "UPDATE delivery SET status = 'held', attempts = ? WHERE id = ?",
                                   arguments: [number, delivery.id])
                case .cancelled:
                    try db.execute(sql: """
                        UPDATE delivery SET status = 'cancelled', attempts = ?, updated_ms = ?, last_error = ? WHERE id = ?
                        """, arguments: [number, atMs, error, delivery.id])
                }
            }
            return woken
        }
    }

    // MARK: - Operators

    /// Sends a dead, held or cancelled delivery again, from the start of the retry schedule. Returns the
    /// delivery and whether it was queued again (false: it is pending or sent), or nil when there is none
    /// with that id.
    public func retryDelivery(id: String, now: Date) throws -> (delivery: OutboxDelivery, retried: Bool)? {
        let nowMs = now.milliseconds
        return try pool.write { db in
            try db.execute(sql: """
                UPDATE delivery SET status = 'pending', attempts = 0, next_attempt_ms = MAX(not_before_ms, ?), updated_ms = ?
                WHERE id = ? AND status IN ('dead', 'held', 'cancelled')
                """, arguments: [nowMs, nowMs, id])
            let retried = db.changesCount == 1
            return try Row.fetchOne(db, sql: "SELECT * FROM delivery WHERE id = ?", arguments: [id])
                .map { (try Self.delivery(row: $0), retried) }
        }
    }

    /// Re-enables a receiver target that answered 410 (every manager's when `managerId` is nil): its held
    /// deliveries go out again. Returns how many were released.
    public func enableTarget(receiver: String, managerId: String?, now: Date) throws -> Int {
        let nowMs = now.milliseconds
        return try pool.write { db in
            if let managerId {
                try db.execute(sql: "DELETE FROM disabled_target WHERE receiver = ? AND manager_id = ?",
                               arguments: [receiver, managerId])
                try db.execute(sql: """
                    UPDATE delivery SET status = 'pending', attempts = 0, next_attempt_ms = MAX(not_before_ms, ?), updated_ms = ?
                    WHERE receiver = ? AND manager_id = ? AND status = 'held'
                    """, arguments: [nowMs, nowMs, receiver, managerId])
            } else {
                try db.execute(sql: "DELETE FROM disabled_target WHERE receiver = ?", arguments: [receiver])
                try db.execute(sql: """
                    UPDATE delivery SET status = 'pending', attempts = 0, next_attempt_ms = MAX(not_before_ms, ?), updated_ms = ?
                    WHERE receiver = ? AND status = 'held'
                    """, arguments: [nowMs, nowMs, receiver])
            }
            return db.changesCount
        }
    }

    public func disabledTargets() throws -> [DisabledTarget] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM disabled_target ORDER BY receiver, manager_id").map {
                DisabledTarget(receiver: $0["receiver"], managerId: $0["manager_id"],
                               disabledAt: Date(milliseconds: $0["disabled_ms"]), reason: $0["reason"])
            }
        }
    }

    /// Outbox rows, newest first, filtered by status and receiver; `before` is a cursor (an `updated_ms|id`
    /// pair from the previous page).
    public func deliveries(status: DeliveryStatus?, receiver: String?, limit: Int) throws -> [OutboxDelivery] {
        try pool.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let status {
                conditions.append("status = ?")
                _ = arguments.append(contentsOf: [status.rawValue])
            }
            if let receiver {
                conditions.append("receiver = ?")
                _ = arguments.append(contentsOf: [receiver])
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            _ = arguments.append(contentsOf: [limit])
            return try Row.fetchAll(db, sql: "SELECT * FROM delivery \(filter) ORDER BY updated_ms DESC, id LIMIT ?",
                                    arguments: arguments).map(Self.delivery(row:))
        }
    }

    public func delivery(id: String) throws -> OutboxDelivery? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM delivery WHERE id = ?", arguments: [id]).map(Self.delivery(row:))
        }
    }

    /// Every delivery that carries the lead (alone, in a digest, as an escalation or fallback), oldest first.
    public func deliveries(forLead leadId: String) throws -> [(delivery: OutboxDelivery, attempts: [DeliveryAttempt])] {
        try pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM delivery WHERE lead_id = ?
                UNION SELECT * FROM delivery WHERE id IN (SELECT parent_id FROM delivery WHERE lead_id = ? AND parent_id IS NOT NULL)
                ORDER BY created_ms, id
                """, arguments: [leadId, leadId])
            return try rows.map(Self.delivery(row:)).map { delivery in
                (delivery, try Self.attempts(db, deliveryId: delivery.id))
            }
        }
    }

    /// Outbox rows per receiver and status, and the oldest pending row's due time: depth for operators.
    public func outboxDepth() throws -> [(receiver: String, status: DeliveryStatus, count: Int, oldestMs: Int64?)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT receiver, status, COUNT(*) AS n, MIN(next_attempt_ms) AS oldest FROM delivery
                GROUP BY receiver, status ORDER BY receiver, status
                """).compactMap { row in
                guard let status = DeliveryStatus(rawValue: row["status"]) else { return nil }
                return (row["receiver"], status, row["n"], row["oldest"])
            }
        }
    }

    /// Every attempt's duration in milliseconds for one receiver (benchmarks and operators' percentiles).
    public func attemptDurations(receiver: String) throws -> [Int] {
        try pool.read { db in
            try Int.fetchAll(db, sql: """
                SELECT a.duration_ms FROM delivery_attempt a JOIN delivery d ON d.id = a.delivery_id WHERE d.receiver = ?
                """, arguments: [receiver])
        }
    }

    // MARK: - Rows

    private static func attempts(_ db: Database, deliveryId: String) throws -> [DeliveryAttempt] {
        try Row.fetchAll(db, sql: "SELECT * FROM delivery_attempt WHERE delivery_id = ? ORDER BY id",
                         arguments: [deliveryId]).map {
            DeliveryAttempt(attempt: $0["attempt"], at: Date(milliseconds: $0["at_ms"]), durationMs: $0["duration_ms"],
                            httpStatus: $0["http_status"], outcome: $0["outcome"], error: $0["error"])
        }
    }

    static func delivery(row: Row) throws -> OutboxDelivery {
        let id: String = row["id"]
        guard let status = DeliveryStatus(rawValue: row["status"]), let purpose = DeliveryPurpose(rawValue: row["purpose"]) else {
            throw StoreError.corruptRow(table: "delivery", key: id, reason: "unknown status or purpose")
        }
        var members: [String] = []
        if let text = row["members"] as String? {
            members = (try? JSONParser.parse(Array(text.utf8)))?.arrayValue?.compactMap(\.stringValue) ?? []
        }
        return OutboxDelivery(
            id: id, leadId: row["lead_id"], receiver: row["receiver"], managerId: row["manager_id"], route: row["route"],
            purpose: purpose, timing: row["timing"], status: status, parentId: row["parent_id"], members: members,
            fallback: row["fallback"], attempts: row["attempts"], notBefore: Date(milliseconds: row["not_before_ms"]),
            nextAttempt: Date(milliseconds: row["next_attempt_ms"]), createdAt: Date(milliseconds: row["created_ms"]),
            updatedAt: Date(milliseconds: row["updated_ms"]), sentAt: (row["sent_ms"] as Int64?).map(Date.init(milliseconds:)),
            lastError: row["last_error"])
    }

    /// A lead from a row with `key`, `status` and `body`: the status column is the lead's current status.
    static func lead(row: Row) throws -> Lead {
        let key: String = row["key"]
        do {
            var lead = try storedLead(row["body"])
            if let status = LeadStatus(rawValue: row["status"]) { lead.status = status }
            return lead
        } catch {
            throw StoreError.corruptRow(table: "lead", key: key, reason: "\(error)")
        }
    }

    static func addActivity(_ db: Database, lead: String, atMs: Int64, kind: String, outcome: String?, note: String?,
                            actor: String?) throws {
        try db.execute(sql: """
            INSERT INTO lead_activity (lead_id, at_ms, kind, outcome, note, actor) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [lead, atMs, kind, outcome, note.map { String($0.prefix(2000)) }, actor])
    }
}

/// A snooze as routing reads it.
struct Snooze {
    var id: Int64
    var clientId: String?
    var plugin: String?
    var kind: String?
    var untilMs: Int64
    /// The scope it was made with: only a `compliance` snooze holds back the protected (AML) kinds.
    var scope: String

    func suppresses(_ lead: Lead, protectedKinds: Set<String>) -> Bool {
        let at = lead.createdAt.milliseconds
        guard at < untilMs else { return false }
        if protectedKinds.contains(lead.kind), scope != "compliance" { return false }
        if let clientId, clientId != lead.client?.id { return false }
        if let plugin, plugin != lead.plugin { return false }
        if let kind, kind != lead.kind { return false }
        return true
    }

    static func fetchActive(_ db: Database, afterMs: Int64) throws -> [Snooze] {
        try Row.fetchAll(db, sql: "SELECT * FROM snooze WHERE until_ms > ? ORDER BY id", arguments: [afterMs]).map {
            Snooze(id: $0["id"], clientId: $0["client_id"], plugin: $0["plugin"], kind: $0["kind"], untilMs: $0["until_ms"],
                   scope: $0["scope"])
        }
    }
}

extension AppDatabase {
    /// A lead from its stored body (``LeadJSON/storedLead(_:)``; ``JSONDecoder/decodeStoredLead(_:)`` is the
    /// reference it is tested against).
    static func storedLead(_ body: String) throws -> Lead {
        try LeadJSON.storedLead(try JSONParser.parse(body))
    }
}

extension JSONDecoder {
    /// The reference reading of a stored lead, through `Codable`.
    func decodeStoredLead(_ data: Data) throws -> Lead {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(Lead.self, from: data)
    }
}
