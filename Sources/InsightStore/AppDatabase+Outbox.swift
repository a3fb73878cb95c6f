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
    /// Taken from a claim that ended without a result (its instance died, or ran past the claim): it may have gone out
    /// already, so it goes again alone, under its own id, never inside a new group message. Set by
    /// ``OutboxTransaction/claimDueDeliveries(receiver:now:limit:claim:)``.
    public var takenOver = false

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

    public init(attempt: Int, at: Date, durationMs: Int, httpStatus: Int?, outcome: String, error: String?) {
        self.attempt = attempt
        self.at = at
        self.durationMs = durationMs
        self.httpStatus = httpStatus
        self.outcome = outcome
        self.error = error
    }
}

public struct DisabledTarget: Sendable, Hashable {
    public var receiver: String
    public var managerId: String
    public var disabledAt: Date
    public var reason: String

    public init(receiver: String, managerId: String, disabledAt: Date, reason: String) {
        self.receiver = receiver
        self.managerId = managerId
        self.disabledAt = disabledAt
        self.reason = reason
    }
}

extension AppDatabase {
    // MARK: - Sending

    /// When the receiver's next pending delivery (or digest) is due; nil when it has none.
    public func nextDue(receiver: String) throws -> Date? {
        try pool.read { db in
            try Int64.fetchOne(db, sql: Self.nextDueSQL, arguments: [receiver, receiver]).map(Date.init(milliseconds:))
        }
    }

    /// When a receiver's next pending row may go: the least of each row's next attempt, or its claim's end when that is
    /// later. Only rows up to the first one nobody is sending can hold it (a later row goes later), so the due index is
    /// walked from its start over the few rows being sent and that one: never every pending row. The same text runs on
    /// PostgreSQL (`GREATEST` for `MAX`).
    static let nextDueSQL = """
        SELECT MIN(MAX(next_attempt_ms, COALESCE(claimed_until_ms, 0))) FROM delivery
        WHERE status = 'pending' AND receiver = ? AND next_attempt_ms <= COALESCE((
            SELECT next_attempt_ms FROM delivery
            WHERE status = 'pending' AND receiver = ? AND (claimed_until_ms IS NULL OR claimed_until_ms <= next_attempt_ms)
            ORDER BY next_attempt_ms LIMIT 1), 9223372036854775807)
        """

    // MARK: - Operators (reads, synchronously: tests and benchmarks; the leads API goes through ``LeadsStore``)

    public func disabledTargets() throws -> [DisabledTarget] {
        try pool.read { db in try SQLiteLeadsTransaction(db: db).disabledTargetList() }
    }

    public func deliveries(status: DeliveryStatus?, receiver: String?, limit: Int) throws -> [OutboxDelivery] {
        try pool.read { db in try SQLiteLeadsTransaction(db: db).deliveries(status: status, receiver: receiver, limit: limit) }
    }

    public func delivery(id: String) throws -> OutboxDelivery? {
        try pool.read { db in try SQLiteLeadsTransaction(db: db).delivery(id: id) }
    }

    public func deliveries(forLead leadId: String) throws -> [(delivery: OutboxDelivery, attempts: [DeliveryAttempt])] {
        try pool.read { db in try SQLiteLeadsTransaction(db: db).deliveries(forLead: leadId) }
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

    static func attempts(_ db: Database, deliveryId: String) throws -> [DeliveryAttempt] {
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
