import Foundation
import GRDB
import InsightCore

// The outbox as a store concern: records and the reads and writes of them, in one transaction, with no delivery
// rule. Which leads go where, when, together or held back is InsightDelivery's (`LeadRouting`); a second backend
// implements these protocols and runs the same rules.

/// The outbox's names, the same on every backend.
public enum Outbox {
    /// The ledger consumer whose position is the last lead routed.
    public static let routerConsumer = "router"
    /// The route index of deliveries to the compliance queue (`delivery.compliance`).
    public static let complianceRoute = -2

    /// The stable delivery id (and `webhook-id`) of one lead's message to one receiver.
    public static func deliveryId(_ parts: String...) -> String {
        "dl_" + StableHash.hex(parts.joined(separator: "|"))
    }
}

/// A lead in the ledger as routing reads it: its position, its id, and the lead, or why its stored body does not
/// decode (such a lead is recorded and skipped, never allowed to stop the others).
public struct LedgerLead: Sendable {
    public let seq: Int64
    public let id: String?
    public let lead: Result<Lead, Unreadable>

    /// Why a stored lead cannot be read.
    public struct Unreadable: Error, Sendable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public init(seq: Int64, id: String?, lead: Result<Lead, Unreadable>) {
        self.seq = seq
        self.id = id
        self.lead = lead
    }
}

/// A digest member due to go, as digests are formed from them.
public struct DigestMember: Sendable, Hashable {
    public var id: String
    public var leadId: String?
    public var managerId: String
    public var route: Int
    public var fallback: String?

    public init(id: String, leadId: String?, managerId: String, route: Int, fallback: String?) {
        self.id = id
        self.leadId = leadId
        self.managerId = managerId
        self.route = route
        self.fallback = fallback
    }
}

/// A manager's (or a compliance officer's) snooze: leads it matches, made before `until`, are held back.
public struct Snooze: Sendable, Hashable {
    public var id: Int64
    public var clientId: String?
    public var plugin: String?
    public var kind: String?
    public var until: Date
    /// The scope it was made with: only a `compliance` snooze holds back the protected (AML) kinds.
    public var scope: String

    public init(id: Int64, clientId: String?, plugin: String?, kind: String?, until: Date, scope: String) {
        self.id = id
        self.clientId = clientId
        self.plugin = plugin
        self.kind = kind
        self.until = until
        self.scope = scope
    }
}

/// A receiver's target for one manager ("" for none), as 410 Gone disables it.
public struct DeliveryTarget: Sendable, Hashable {
    public var receiver: String
    public var managerId: String

    public init(receiver: String, managerId: String) {
        self.receiver = receiver
        self.managerId = managerId
    }
}

/// A new outbox row; an existing row with its id is left as it is.
public struct NewDelivery: Sendable, Hashable {
    public var id: String
    public var leadId: String
    public var receiver: String
    public var managerId: String
    public var route: Int
    public var purpose: DeliveryPurpose
    public var timing: String
    public var status: DeliveryStatus
    public var fallback: String?
    /// Its first attempt, and the earliest it may go.
    public var due: Date
    public var createdAt: Date

    public init(id: String, leadId: String, receiver: String, managerId: String, route: Int, purpose: DeliveryPurpose,
                timing: String, status: DeliveryStatus, fallback: String?, due: Date, createdAt: Date) {
        self.id = id
        self.leadId = leadId
        self.receiver = receiver
        self.managerId = managerId
        self.route = route
        self.purpose = purpose
        self.timing = timing
        self.status = status
        self.fallback = fallback
        self.due = due
        self.createdAt = createdAt
    }
}

/// A single-lead message about a client to one receiver and manager, as grouping reads it: one not tried yet, or
/// one that went (alone, or inside a group message, whose time it then has) since a given instant.
public struct ClientMessage: Sendable, Hashable {
    public var id: String
    public var status: DeliveryStatus
    public var timing: String
    public var attempts: Int
    public var nextAttempt: Date
    public var sentAt: Date?

    public init(id: String, status: DeliveryStatus, timing: String, attempts: Int, nextAttempt: Date, sentAt: Date?) {
        self.id = id
        self.status = status
        self.timing = timing
        self.attempts = attempts
        self.nextAttempt = nextAttempt
        self.sentAt = sentAt
    }
}

/// Rows taken to be sent: by whom, and until when nobody else may take them. An instance that dies holding a claim
/// leaves its rows to be taken again once the claim has passed, and sent again with the same delivery id.
public struct DeliveryClaim: Sendable, Hashable {
    /// The instance that sends them (``OutboxService``'s `instance`).
    public var claimant: String
    public var until: Date

    public init(claimant: String, until: Date) {
        self.claimant = claimant
        self.until = until
    }
}

/// The outbox's records inside one write transaction.
public protocol OutboxTransaction {
    /// Where a consumer of the ledger stands (0 before its first commit).
    func position(of consumer: String) throws -> Int64
    func setPosition(of consumer: String, to position: Int64, at: Date) throws
    /// The leads after `position` in ledger order, at most `limit`, with their current status.
    func leads(after position: Int64, limit: Int) throws -> [LedgerLead]
    /// The snoozes that end after `instant`, oldest first.
    func snoozes(endingAfter instant: Date) throws -> [Snooze]
    /// The targets a 410 Gone disabled.
    func disabledTargets() throws -> Set<DeliveryTarget>
    func isDisabled(_ target: DeliveryTarget) throws -> Bool
    /// How many leads a route sent alone to a manager on a local date (`YYYY-MM-DD`).
    func sentAlone(managerId: String, route: Int, localDate: String) throws -> Int
    func countSentAlone(managerId: String, route: Int, localDate: String) throws
    /// Inserts the row unless one with its id exists; returns whether it did.
    func insert(_ delivery: NewDelivery) throws -> Bool
    /// Holds back a lead nobody has acted on yet: `new` becomes `suppressed`. False when the lead has moved on (a manager
    /// gave feedback meanwhile): a status never moves back.
    func suppress(lead id: String, at: Date) throws -> Bool
    /// Adds an entry to a lead's history.
    func addActivity(lead: String, at: Date, kind: String, outcome: String?, note: String?, actor: String) throws
    /// A client's single-lead messages (not digest members) to `receiver` and `managerId`, on the compliance queue's
    /// route or off it: those not tried yet, and those sent at or after `sentSince`.
    func messages(aboutClient clientId: String, receiver: String, managerId: String, complianceQueue: Bool,
                  sentSince: Date) throws -> [ClientMessage]
    /// Moves a pending delivery's first attempt (and the earliest it may go) to `instant`.
    func reschedule(delivery id: String, to instant: Date) throws
    /// Holds `lead` back when an inhibit rule of `hooks` says so (status suppressed, the lead that holds it back
    /// recorded in its history); returns whether it did.
    func applyInhibition(lead: Lead, hooks: ComplianceHooks, now: Date, actor: String) throws -> Bool
    /// The open lead that holds `lead` back at `now`, if an inhibit rule of `hooks` says one does.
    func inhibition(of lead: Lead, hooks: ComplianceHooks, now: Date) throws -> InhibitDecision?

    // Sending

    /// Takes a receiver's pending rows due at `now` that go alone (not digest members) and that no unexpired claim
    /// holds, earliest first, at most `limit`, and marks them with `claim`. Rows another transaction is taking at the
    /// same moment are skipped, not waited for.
    func claimDueDeliveries(receiver: String, now: Date, limit: Int, claim: DeliveryClaim) throws -> [OutboxDelivery]
    /// Ends the claims `claimant` holds that end before `endingBy` (an instance starting again: what its previous run had
    /// taken is not being sent any more, and every claim of this run ends later). The rows count as taken over (see
    /// ``OutboxDelivery/takenOver``). Returns how many there were.
    func releaseClaims(of claimant: String, endingBy: Date) throws -> Int
    /// Only one transaction at a time, across every instance on the store, gets past this for `name`; the others wait
    /// here until it ends. (Routing takes "route": two instances must not route the same leads at once.)
    func serialize(_ name: String) throws
    /// A receiver's pending digest members due at `now`, by manager, route and age.
    func dueDigestMembers(receiver: String, now: Date) throws -> [DigestMember]
    /// Inserts a message carrying several leads (a digest or a group), pending and due at `at`, unless one with its
    /// id exists, and marks `memberIds` batched inside it. With `claim`, it is taken at once (a group formed of rows
    /// being sent).
    func insertMessage(id: String, purpose: DeliveryPurpose, receiver: String, managerId: String, route: Int, timing: String,
                       leadIds: [String], fallback: String?, memberIds: [String], at: Date, claim: DeliveryClaim?) throws
    func delivery(id: String) throws -> OutboxDelivery?
    /// The client of each lead that has one.
    func clients(ofLeads ids: [String]) throws -> [String: String]
    /// A lead with its current status; nil when it is gone or its stored body does not decode.
    func lead(id: String) throws -> Lead?
    /// Whether the lead's history has an entry of one of `kinds`.
    func hasActivity(lead: String, ofKinds kinds: [String]) throws -> Bool
    func manager(id: String) throws -> ManagerState?

    // Results

    func addAttempt(delivery id: String, attempt: Int, at: Date, durationMs: Int, httpStatus: Int?, outcome: String,
                    error: String?) throws
    /// The results below also end the row's claim.
    func markSent(delivery id: String, attempts: Int, at: Date) throws
    /// A lead nobody was told of yet (`new`) becomes `notified`.
    func markNotified(lead id: String, at: Date) throws
    func scheduleRetry(delivery id: String, attempts: Int, next: Date, at: Date, error: String?) throws
    /// Sets a row's status with its attempt count; `at` and `error`, when given, update its time and last error.
    func setStatus(ofDelivery id: String, to status: DeliveryStatus, attempts: Int, at: Date?, error: String?) throws
    /// Inserts a fallback row for a dead delivery, unless one with its id exists.
    func insertFallback(id: String, of delivery: OutboxDelivery, receiver: String, status: DeliveryStatus, at: Date) throws
    /// Disables a receiver's target (the first reason stands) and holds its pending rows.
    func disable(_ target: DeliveryTarget, at: Date, reason: String, error: String?) throws
}

/// A store with an outbox.
public protocol OutboxStore: Sendable {
    /// Runs `body` in one write transaction: everything it writes commits together, or nothing does.
    func outboxTransaction<T: Sendable>(_ body: @escaping @Sendable (any OutboxTransaction) throws -> T) async throws -> T
    /// When the receiver's next pending row may go: its next attempt, or when a claim on it ends if that is later.
    func nextDue(receiver: String) async throws -> Date?
    /// Rows by receiver and status, with the earliest next attempt of each.
    func outboxDepth() async throws -> [(receiver: String, status: DeliveryStatus, count: Int, oldestMs: Int64?)]
    /// Leads by plugin and how far they went.
    func conversionCounts() async throws -> [ConversionCounts]
}

extension AppDatabase: OutboxStore {
    public func outboxTransaction<T: Sendable>(_ body: @escaping @Sendable (any OutboxTransaction) throws -> T) async throws -> T {
        try await pool.write { db in try body(SQLiteOutboxTransaction(db: db)) }
    }
}

/// ``OutboxTransaction`` on SQLite.
struct SQLiteOutboxTransaction: OutboxTransaction {
    let db: Database

    func position(of consumer: String) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT position FROM consumer WHERE name = ?", arguments: [consumer]) ?? 0
    }

    func setPosition(of consumer: String, to position: Int64, at: Date) throws {
        try ConsumerRecord(name: consumer, position: position, updatedMs: at.milliseconds).upsert(db)
    }

    func leads(after position: Int64, limit: Int) throws -> [LedgerLead] {
        try Row.fetchAll(db, sql: "SELECT seq, id, key, status, body FROM lead WHERE seq > ? ORDER BY seq LIMIT ?",
                         arguments: [position, limit]).map { row in
            let lead: Result<Lead, LedgerLead.Unreadable>
            do { lead = .success(try AppDatabase.lead(row: row)) } catch { lead = .failure(.init("\(error)")) }
            return LedgerLead(seq: row["seq"], id: row["id"], lead: lead)
        }
    }

    func snoozes(endingAfter instant: Date) throws -> [Snooze] {
        try Row.fetchAll(db, sql: "SELECT * FROM snooze WHERE until_ms > ? ORDER BY id", arguments: [instant.milliseconds]).map {
            Snooze(id: $0["id"], clientId: $0["client_id"], plugin: $0["plugin"], kind: $0["kind"],
                   until: Date(milliseconds: $0["until_ms"]), scope: $0["scope"])
        }
    }

    func disabledTargets() throws -> Set<DeliveryTarget> {
        Set(try Row.fetchAll(db, sql: "SELECT receiver, manager_id FROM disabled_target").map {
            DeliveryTarget(receiver: $0["receiver"], managerId: $0["manager_id"])
        })
    }

    func isDisabled(_ target: DeliveryTarget) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM disabled_target WHERE receiver = ? AND manager_id = ?",
                          arguments: [target.receiver, target.managerId]) ?? false
    }

    func sentAlone(managerId: String, route: Int, localDate: String) throws -> Int {
        try Int.fetchOne(try db.cachedStatement(sql: """
            SELECT sent FROM route_count WHERE manager_id = ? AND route = ? AND local_date = ?
            """), arguments: [managerId, route, localDate]) ?? 0
    }

    func countSentAlone(managerId: String, route: Int, localDate: String) throws {
        try db.cachedStatement(sql: """
            INSERT INTO route_count (manager_id, route, local_date, sent) VALUES (?, ?, ?, 1)
            ON CONFLICT DO UPDATE SET sent = sent + 1
            """).execute(arguments: [managerId, route, localDate])
    }

    func insert(_ delivery: NewDelivery) throws -> Bool {
        let dueMs = delivery.due.milliseconds
        let createdMs = delivery.createdAt.milliseconds
        try db.cachedStatement(sql: """
            INSERT INTO delivery (id, lead_id, receiver, manager_id, route, purpose, timing, status, fallback, attempts,
                                  not_before_ms, next_attempt_ms, created_ms, updated_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """).execute(arguments: [
                delivery.id, delivery.leadId, delivery.receiver, delivery.managerId, delivery.route, delivery.purpose.rawValue,
                delivery.timing, delivery.status.rawValue, delivery.fallback, dueMs, dueMs, createdMs, createdMs,
            ])
        return db.changesCount > 0
    }

    func suppress(lead id: String, at: Date) throws -> Bool {
        try db.execute(sql: "UPDATE lead SET status = 'suppressed', status_ms = ? WHERE id = ? AND status = 'new'",
                       arguments: [at.milliseconds, id])
        return db.changesCount == 1
    }

    func addActivity(lead: String, at: Date, kind: String, outcome: String?, note: String?, actor: String) throws {
        try AppDatabase.addActivity(db, lead: lead, atMs: at.milliseconds, kind: kind, outcome: outcome, note: note, actor: actor)
    }

    func messages(aboutClient clientId: String, receiver: String, managerId: String, complianceQueue: Bool,
                  sentSince: Date) throws -> [ClientMessage] {
        // A lead that went inside a group message is `batched`: its group (the parent) says when it went.
        // From the client's leads (few) to their deliveries (CROSS JOIN keeps that order), never across the
        // receiver's whole history. Rows waiting for a retry are not listed.
        try Row.fetchAll(try db.cachedStatement(sql: """
            SELECT d.id, d.status, d.timing, d.attempts, d.next_attempt_ms, COALESCE(d.sent_ms, p.sent_ms) AS sent_ms
            FROM lead l CROSS JOIN delivery d ON d.lead_id = l.id LEFT JOIN delivery p ON p.id = d.parent_id
            WHERE l.client_id = ? AND d.receiver = ? AND d.manager_id = ? AND d.purpose = 'lead' AND d.timing NOT LIKE 'digest:%'
              AND (d.route = ?) = ? AND ((d.status = 'pending' AND d.attempts = 0)
                                   OR (d.status IN ('sent', 'batched') AND COALESCE(d.sent_ms, p.sent_ms) >= ?))
            """), arguments: [clientId, receiver, managerId, Outbox.complianceRoute, complianceQueue,
                              sentSince.milliseconds]).map { row in
            let id: String = row["id"]
            guard let status = DeliveryStatus(rawValue: row["status"]) else {
                throw StoreError.corruptRow(table: "delivery", key: id, reason: "unknown status")
            }
            return ClientMessage(id: id, status: status, timing: row["timing"],
                          attempts: row["attempts"], nextAttempt: Date(milliseconds: row["next_attempt_ms"]),
                          sentAt: (row["sent_ms"] as Int64?).map(Date.init(milliseconds:)))
        }
    }

    func reschedule(delivery id: String, to instant: Date) throws {
        try db.execute(sql: "UPDATE delivery SET next_attempt_ms = ?, not_before_ms = ? WHERE id = ?",
                       arguments: [instant.milliseconds, instant.milliseconds, id])
    }

    func applyInhibition(lead: Lead, hooks: ComplianceHooks, now: Date, actor: String) throws -> Bool {
        try AppDatabase.applyInhibition(db, lead: lead, hooks: hooks, now: now, actor: actor)
    }

    func inhibition(of lead: Lead, hooks: ComplianceHooks, now: Date) throws -> InhibitDecision? {
        try AppDatabase.inhibition(db, of: lead, hooks: hooks, now: now)
    }

    func claimDueDeliveries(receiver: String, now: Date, limit: Int, claim: DeliveryClaim) throws -> [OutboxDelivery] {
        // SQLite has one writer at a time: nothing else takes rows between the read and the marks.
        let rows = try Row.fetchAll(db, sql: """
            SELECT * FROM delivery
            WHERE status = 'pending' AND receiver = ? AND next_attempt_ms <= ? AND timing NOT LIKE 'digest:%'
              AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?)
            ORDER BY next_attempt_ms, id LIMIT ?
            """, arguments: [receiver, now.milliseconds, now.milliseconds, limit]).map { row in
            var delivery = try AppDatabase.delivery(row: row)
            delivery.takenOver = (row["claimed_until_ms"] as Int64?) != nil
            return delivery
        }
        guard !rows.isEmpty else { return rows }
        // One statement for the round's rows.
        try db.execute(sql: """
            UPDATE delivery SET claimed_by = ?, claimed_until_ms = ? WHERE id IN (\(databaseQuestionMarks(count: rows.count)))
            """, arguments: StatementArguments([claim.claimant, claim.until.milliseconds] as [any DatabaseValueConvertible])
                + StatementArguments(rows.map(\.id)))
        return rows
    }

    func releaseClaims(of claimant: String, endingBy: Date) throws -> Int {
        // A claim that has ended, not no claim: the row is then known to be taken over.
        try db.execute(sql: """
            UPDATE delivery SET claimed_by = NULL, claimed_until_ms = 0
            WHERE claimed_by = ? AND claimed_until_ms < ? AND status = 'pending'
            """, arguments: [claimant, endingBy.milliseconds])
        return db.changesCount
    }

    func serialize(_ name: String) throws {
        // One writer at a time already: a write transaction holds the database's only write lock until it ends.
    }

    func dueDigestMembers(receiver: String, now: Date) throws -> [DigestMember] {
        try Row.fetchAll(db, sql: """
            SELECT id, lead_id, manager_id, route, fallback FROM delivery
            WHERE status = 'pending' AND receiver = ? AND next_attempt_ms <= ? AND timing LIKE 'digest:%'
            ORDER BY manager_id, route, created_ms, id
            """, arguments: [receiver, now.milliseconds]).map {
            DigestMember(id: $0["id"], leadId: $0["lead_id"], managerId: $0["manager_id"], route: $0["route"], fallback: $0["fallback"])
        }
    }

    func insertMessage(id: String, purpose: DeliveryPurpose, receiver: String, managerId: String, route: Int, timing: String,
                       leadIds: [String], fallback: String?, memberIds: [String], at: Date, claim: DeliveryClaim?) throws {
        let atMs = at.milliseconds
        try db.execute(sql: """
            INSERT INTO delivery (id, lead_id, receiver, manager_id, route, purpose, timing, status, members, fallback,
                                  attempts, not_before_ms, next_attempt_ms, created_ms, updated_ms, claimed_by, claimed_until_ms)
            VALUES (?, NULL, ?, ?, ?, ?, ?, 'pending', ?, ?, 0, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """, arguments: [id, receiver, managerId, route, purpose.rawValue, timing,
                             JSONWriter.string(.array(leadIds.map(JSONValue.string))), fallback, atMs, atMs, atMs, atMs,
                             claim?.claimant, claim?.until.milliseconds])
        for memberId in memberIds {
            try db.execute(sql: """
                UPDATE delivery SET status = 'batched', parent_id = ?, updated_ms = ?, claimed_by = NULL, claimed_until_ms = NULL
                WHERE id = ?
                """, arguments: [id, atMs, memberId])
        }
    }

    func delivery(id: String) throws -> OutboxDelivery? {
        try Row.fetchOne(db, sql: "SELECT * FROM delivery WHERE id = ?", arguments: [id]).map(AppDatabase.delivery(row:))
    }

    func clients(ofLeads ids: [String]) throws -> [String: String] {
        guard !ids.isEmpty else { return [:] }
        var clients: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, client_id FROM lead WHERE id IN (\(databaseQuestionMarks(count: ids.count)))",
                                    arguments: StatementArguments(ids)) {
            if let client = row["client_id"] as String? { clients[row["id"]] = client }
        }
        return clients
    }

    func lead(id: String) throws -> Lead? {
        guard let row = try Row.fetchOne(db, sql: "SELECT key, status, body FROM lead WHERE id = ?", arguments: [id]) else { return nil }
        return try? AppDatabase.lead(row: row)
    }

    func hasActivity(lead: String, ofKinds kinds: [String]) throws -> Bool {
        guard !kinds.isEmpty else { return false }
        return try Bool.fetchOne(db, sql: """
            SELECT 1 FROM lead_activity WHERE lead_id = ? AND kind IN (\(databaseQuestionMarks(count: kinds.count))) LIMIT 1
            """, arguments: StatementArguments([lead] + kinds)) ?? false
    }

    func manager(id: String) throws -> ManagerState? {
        guard let text = try String.fetchOne(db, sql: "SELECT profile FROM manager WHERE id = ?", arguments: [id]) else { return nil }
        return try? AppDatabase.jsonDecoder.decode(ManagerState.self, from: Data(text.utf8))
    }

    func addAttempt(delivery id: String, attempt: Int, at: Date, durationMs: Int, httpStatus: Int?, outcome: String,
                    error: String?) throws {
        try db.cachedStatement(sql: """
            INSERT INTO delivery_attempt (delivery_id, attempt, at_ms, duration_ms, http_status, outcome, error)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [id, attempt, at.milliseconds, durationMs, httpStatus, outcome, error])
    }

    /// The results below also end the row's claim.
    func markSent(delivery id: String, attempts: Int, at: Date) throws {
        try db.execute(sql: """
            UPDATE delivery SET status = 'sent', attempts = ?, sent_ms = ?, updated_ms = ?, last_error = NULL,
                                claimed_by = NULL, claimed_until_ms = NULL
            WHERE id = ?
            """, arguments: [attempts, at.milliseconds, at.milliseconds, id])
    }

    func markNotified(lead id: String, at: Date) throws {
        try db.execute(sql: "UPDATE lead SET status = 'notified', status_ms = ? WHERE id = ? AND status = 'new'",
                       arguments: [at.milliseconds, id])
    }

    func scheduleRetry(delivery id: String, attempts: Int, next: Date, at: Date, error: String?) throws {
        try db.execute(sql: """
            UPDATE delivery SET attempts = ?, next_attempt_ms = ?, updated_ms = ?, last_error = ?, claimed_by = NULL,
                                claimed_until_ms = NULL
            WHERE id = ?
            """, arguments: [attempts, next.milliseconds, at.milliseconds, error, id])
    }

    func setStatus(ofDelivery id: String, to status: DeliveryStatus, attempts: Int, at: Date?, error: String?) throws {
        if let at {
            try db.execute(sql: """
                UPDATE delivery SET status = ?, attempts = ?, updated_ms = ?, last_error = ?, claimed_by = NULL, claimed_until_ms = NULL
                WHERE id = ?
                """, arguments: [status.rawValue, attempts, at.milliseconds, error, id])
        } else {
            try db.execute(sql: "UPDATE delivery SET status = ?, attempts = ?, claimed_by = NULL, claimed_until_ms = NULL WHERE id = ?",
                           arguments: [status.rawValue, attempts, id])
        }
    }

    func insertFallback(id: String, of delivery: OutboxDelivery, receiver: String, status: DeliveryStatus, at: Date) throws {
        let atMs = at.milliseconds
        try db.execute(sql: """
            INSERT INTO delivery (id, lead_id, receiver, manager_id, route, purpose, timing, status, members,
                                  attempts, not_before_ms, next_attempt_ms, created_ms, updated_ms)
            VALUES (?, ?, ?, ?, ?, 'fallback', 'fallback', ?, ?, 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """, arguments: [id, delivery.leadId, receiver, delivery.managerId, delivery.route, status.rawValue,
                             delivery.members.isEmpty ? nil : JSONWriter.string(.array(delivery.members.map(JSONValue.string))),
                             atMs, atMs, atMs, atMs])
    }

    func disable(_ target: DeliveryTarget, at: Date, reason: String, error: String?) throws {
        try db.execute(sql: """
            INSERT INTO disabled_target (receiver, manager_id, disabled_ms, reason) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING
            """, arguments: [target.receiver, target.managerId, at.milliseconds, reason])
        try db.execute(sql: """
            UPDATE delivery SET status = 'held', updated_ms = ?, last_error = ? WHERE receiver = ? AND manager_id = ? AND status = 'pending'
            """, arguments: [at.milliseconds, error, target.receiver, target.managerId])
    }
}
