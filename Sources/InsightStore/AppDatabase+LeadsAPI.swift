import Foundation
import GRDB
import InsightCore

/// A page of leads: `after` is the sequence of the last lead of the previous page (the cursor), so pages
/// stay stable while new leads arrive (they only ever append).
public struct LeadPageQuery: Sendable {
    public var plugin: String?
    public var clientId: String?
    public var managerId: String?
    public var status: LeadStatus?
    public var since: Date?
    public var after: Int64?
    public var limit: Int

    public init(plugin: String? = nil, clientId: String? = nil, managerId: String? = nil, status: LeadStatus? = nil,
                since: Date? = nil, after: Int64? = nil, limit: Int = 100) {
        self.plugin = plugin
        self.clientId = clientId
        self.managerId = managerId
        self.status = status
        self.since = since
        self.after = after
        self.limit = limit
    }
}

public struct LeadPage: Sendable {
    public var leads: [(sequence: Int64, lead: Lead)]
    /// The cursor for the next page; nil on the last page.
    public var next: Int64?

    public init(leads: [(sequence: Int64, lead: Lead)], next: Int64?) {
        self.leads = leads
        self.next = next
    }
}

/// One entry of a lead's history.
public struct LeadActivity: Sendable, Hashable {
    public var at: Date
    /// `feedback`, `interaction`, `delivered`, `delivery_dead`, `suppressed`, `unrouted`.
    public var kind: String
    public var outcome: String?
    public var note: String?
    public var actor: String?

    public init(at: Date, kind: String, outcome: String?, note: String?, actor: String?) {
        self.at = at
        self.kind = kind
        self.outcome = outcome
        self.note = note
        self.actor = actor
    }
}

/// What a manager reports having done with a lead.
public enum FeedbackOutcome: String, Sendable, Hashable, CaseIterable {
    case contacted, converted, dismissed, unreachable, snoozed

    /// The status the lead moves to; nil keeps it (unreachable, snoozed).
    public var status: LeadStatus? {
        switch self {
        case .contacted: .contacted
        case .converted: .converted
        case .dismissed: .dismissed
        case .unreachable, .snoozed: nil
        }
    }
}

public struct SnoozeEntry: Sendable, Hashable {
    public var id: Int64
    public var clientId: String?
    public var plugin: String?
    public var kind: String?
    public var until: Date
    public var createdAt: Date
    public var note: String?
    public var leadId: String?
    public var actor: String?
    /// The scope it was made with (`feedback`, `admin` or `compliance`): removing it needs the same scope, and
    /// only a `compliance` snooze holds back AML leads.
    public var scope: String = "feedback"

    public init(id: Int64, clientId: String?, plugin: String?, kind: String?, until: Date, createdAt: Date, note: String?,
                leadId: String?, actor: String?, scope: String) {
        self.id = id
        self.clientId = clientId
        self.plugin = plugin
        self.kind = kind
        self.until = until
        self.createdAt = createdAt
        self.note = note
        self.leadId = leadId
        self.actor = actor
        self.scope = scope
    }
}

public enum SnoozeRemoval: Sendable, Equatable {
    case removed
    case notFound
    /// It was made with a scope the caller lacks.
    case needsScope(String)
}

public struct ClientInteraction: Sendable, Hashable {
    public var at: Date
    public var managerId: String?
    public var channel: String?
    public var outcome: String?
    public var leadId: String?

    public init(at: Date, managerId: String?, channel: String?, outcome: String?, leadId: String?) {
        self.at = at
        self.managerId = managerId
        self.channel = channel
        self.outcome = outcome
        self.leadId = leadId
    }
}

/// Per-plugin conversion counts: leads made, notified (a delivery succeeded), contacted and converted.
public struct ConversionCounts: Sendable, Hashable {
    public var plugin: String
    public var leads: Int
    public var notified: Int
    public var contacted: Int
    public var converted: Int
    public var dismissed: Int
    /// Held back by a snooze.
    public var suppressed: Int
    /// Held back by an inhibit rule while the client had an open AML lead (counted apart from snoozes).
    public var inhibited: Int = 0

    /// Counts per plugin from the ledger's (plugin, status, count) rows, where a status of `inhibited` is a lead held
    /// back by an inhibit rule: a lead past a stage counts in each stage before it. Sorted by plugin.
    public static func tally(_ rows: [(plugin: String, status: String, count: Int)]) -> [ConversionCounts] {
        var byPlugin: [String: ConversionCounts] = [:]
        for row in rows {
            var counts = byPlugin[row.plugin] ?? ConversionCounts(plugin: row.plugin, leads: 0, notified: 0, contacted: 0,
                                                                  converted: 0, dismissed: 0, suppressed: 0)
            let count = row.count
            counts.leads += count
            switch LeadStatus(rawValue: row.status) {
            case .notified: counts.notified += count
            case .contacted: counts.notified += count; counts.contacted += count
            case .converted: counts.notified += count; counts.contacted += count; counts.converted += count
            case .dismissed: counts.dismissed += count
            case .suppressed: counts.suppressed += count
            default: if row.status == "inhibited" { counts.inhibited += count }
            }
            byPlugin[row.plugin] = counts
        }
        return byPlugin.keys.sorted().compactMap { byPlugin[$0] }
    }
}

extension AppDatabase: LeadsStore {
    public func readLeads<T: Sendable>(_ body: @escaping @Sendable (any LeadsTransaction) throws -> T) async throws -> T {
        try await pool.read { db in try body(SQLiteLeadsTransaction(db: db)) }
    }

    public func writeLeads<T: Sendable>(_ body: @escaping @Sendable (any LeadsTransaction) throws -> T) async throws -> T {
        try await pool.write { db in try body(SQLiteLeadsTransaction(db: db)) }
    }

    // The reads, synchronously (replay and tests).

    public func leadPage(_ query: LeadPageQuery) throws -> LeadPage {
        try pool.read { db in try SQLiteLeadsTransaction(db: db).leadPage(query) }
    }

    public func lead(id: String) throws -> Lead? {
        try pool.read { db in try SQLiteLeadsTransaction(db: db).lead(id: id) }
    }

    public func activity(leadId: String) throws -> [LeadActivity] {
        try pool.read { db in try SQLiteLeadsTransaction(db: db).activity(leadId: leadId) }
    }

    /// Snoozes still in force at `now`.
    public func snoozes(activeAt now: Date) throws -> [SnoozeEntry] {
        try pool.read { db in try SQLiteLeadsTransaction(db: db).snoozes(activeAt: now) }
    }

    public func openLeads(clientId: String, limit: Int = 50) throws -> [Lead] {
        try pool.read { db in try SQLiteLeadsTransaction(db: db).openLeads(clientId: clientId, limit: limit) }
    }

    public func interactions(clientId: String, limit: Int = 20) throws -> [ClientInteraction] {
        try pool.read { db in try SQLiteLeadsTransaction(db: db).interactions(clientId: clientId, limit: limit) }
    }

    /// The lead that held this one back, if an inhibit rule did.
    public func inhibitedBy(leadId: String) throws -> String? {
        try pool.read { db in try SQLiteLeadsTransaction(db: db).inhibitedBy(leadId: leadId) }
    }

    @discardableResult
    public func addSnooze(clientId: String?, plugin: String?, kind: String?, until: Date, note: String?, actor: String,
                          scope: String = "feedback", now: Date) throws -> SnoozeEntry {
        try pool.write { db in
            try SQLiteLeadsTransaction(db: db).insertSnooze(SnoozeEntry(
                id: 0, clientId: clientId, plugin: plugin, kind: kind, until: until, createdAt: now, note: note, leadId: nil,
                actor: actor, scope: scope))
        }
    }

    /// Per-plugin conversion counts from the ledger's statuses: a contacted lead was notified too, and a
    /// converted one was contacted.
    public func conversionCounts() throws -> [ConversionCounts] {
        try pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT plugin, CASE WHEN inhibited_by IS NOT NULL AND status = 'suppressed' THEN 'inhibited' ELSE status END AS status,
                       COUNT(*) AS n
                FROM lead GROUP BY 1, 2
                """).map { (plugin: $0["plugin"] as String, status: $0["status"] as String, count: $0["n"] as Int) }
            return ConversionCounts.tally(rows)
        }
    }
}

/// ``LeadsTransaction`` on SQLite.
struct SQLiteLeadsTransaction: LeadsTransaction {
    let db: Database

    func leadPage(_ query: LeadPageQuery) throws -> LeadPage {
        var conditions = ["seq > ?"]
        var arguments: StatementArguments = [query.after ?? 0]
        func add(_ condition: String, _ value: (any DatabaseValueConvertible)?) {
            guard let value else { return }
            conditions.append(condition)
            _ = arguments.append(contentsOf: [value])
        }
        add("plugin = ?", query.plugin)
        add("client_id = ?", query.clientId)
        add("manager_id = ?", query.managerId)
        add("status = ?", query.status?.rawValue)
        add("created_ms >= ?", query.since?.milliseconds)
        _ = arguments.append(contentsOf: [query.limit + 1])
        let rows = try Row.fetchAll(db, sql: """
            SELECT seq, key, status, body FROM lead WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq LIMIT ?
            """, arguments: arguments)
        let page = try rows.prefix(query.limit).map { (sequence: $0["seq"] as Int64, lead: try AppDatabase.lead(row: $0)) }
        return LeadPage(leads: page, next: rows.count > query.limit ? page.last?.sequence : nil)
    }

    func lead(id: String) throws -> Lead? {
        try Row.fetchOne(db, sql: "SELECT key, status, body FROM lead WHERE id = ?", arguments: [id]).map(AppDatabase.lead(row:))
    }

    func activity(leadId: String) throws -> [LeadActivity] {
        try Row.fetchAll(db, sql: "SELECT * FROM lead_activity WHERE lead_id = ? ORDER BY id", arguments: [leadId]).map {
            LeadActivity(at: Date(milliseconds: $0["at_ms"]), kind: $0["kind"], outcome: $0["outcome"], note: $0["note"],
                         actor: $0["actor"])
        }
    }

    func openLeads(clientId: String, limit: Int) throws -> [Lead] {
        try Row.fetchAll(db, sql: """
            SELECT key, status, body FROM lead WHERE client_id = ? AND status IN ('new', 'notified', 'contacted')
            ORDER BY seq LIMIT ?
            """, arguments: [clientId, limit]).map(AppDatabase.lead(row:))
    }

    func interactions(clientId: String, limit: Int) throws -> [ClientInteraction] {
        try Row.fetchAll(db, sql: """
            SELECT * FROM interaction WHERE client_id = ? ORDER BY at_ms DESC, journal_seq DESC LIMIT ?
            """, arguments: [clientId, limit]).map {
            ClientInteraction(at: Date(milliseconds: $0["at_ms"]), managerId: $0["manager_id"], channel: $0["channel"],
                              outcome: $0["outcome"], leadId: $0["lead_id"])
        }
    }

    func decision(leadId: String) throws -> LeadDecisionEntry? {
        try AppDatabase.decision(db, leadId: leadId)
    }

    func inhibitedBy(leadId: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT inhibited_by FROM lead WHERE id = ?", arguments: [leadId])
    }

    func client(id: String) throws -> ClientState? {
        try AppDatabase.loadClients([id], db: db)[id]
    }

    func snoozes(activeAt instant: Date) throws -> [SnoozeEntry] {
        try Row.fetchAll(db, sql: "SELECT * FROM snooze WHERE until_ms > ? ORDER BY id", arguments: [instant.milliseconds]).map {
            SnoozeEntry(id: $0["id"], clientId: $0["client_id"], plugin: $0["plugin"], kind: $0["kind"],
                        until: Date(milliseconds: $0["until_ms"]), createdAt: Date(milliseconds: $0["created_ms"]),
                        note: $0["note"], leadId: $0["lead_id"], actor: $0["actor"], scope: $0["scope"])
        }
    }

    func snoozeScope(id: Int64) throws -> String? {
        try String.fetchOne(db, sql: "SELECT scope FROM snooze WHERE id = ?", arguments: [id])
    }

    func deliveries(forLead leadId: String) throws -> [(delivery: OutboxDelivery, attempts: [DeliveryAttempt])] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT * FROM delivery WHERE lead_id = ?
            UNION SELECT * FROM delivery WHERE id IN (SELECT parent_id FROM delivery WHERE lead_id = ? AND parent_id IS NOT NULL)
            ORDER BY created_ms, id
            """, arguments: [leadId, leadId])
        return try rows.map(AppDatabase.delivery(row:)).map { delivery in
            (delivery, try AppDatabase.attempts(db, deliveryId: delivery.id))
        }
    }

    func deliveries(status: DeliveryStatus?, receiver: String?, limit: Int) throws -> [OutboxDelivery] {
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
                                arguments: arguments).map(AppDatabase.delivery(row:))
    }

    func delivery(id: String) throws -> OutboxDelivery? {
        try Row.fetchOne(db, sql: "SELECT * FROM delivery WHERE id = ?", arguments: [id]).map(AppDatabase.delivery(row:))
    }

    func disabledTargetList() throws -> [DisabledTarget] {
        try Row.fetchAll(db, sql: "SELECT * FROM disabled_target ORDER BY receiver, manager_id").map {
            DisabledTarget(receiver: $0["receiver"], managerId: $0["manager_id"],
                           disabledAt: Date(milliseconds: $0["disabled_ms"]), reason: $0["reason"])
        }
    }

    func setStatus(ofLead id: String, to status: LeadStatus, at: Date) throws {
        try db.execute(sql: "UPDATE lead SET status = ?, status_ms = ? WHERE id = ?", arguments: [status.rawValue, at.milliseconds, id])
    }

    func addActivity(lead: String, at: Date, kind: String, outcome: String?, note: String?, actor: String) throws {
        try AppDatabase.addActivity(db, lead: lead, atMs: at.milliseconds, kind: kind, outcome: outcome, note: note, actor: actor)
    }

    func insertSnooze(_ snooze: SnoozeEntry) throws -> SnoozeEntry {
        try db.execute(sql: """
            INSERT INTO snooze (client_id, plugin, kind, until_ms, created_ms, note, lead_id, actor, scope)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [snooze.clientId, snooze.plugin, snooze.kind, snooze.until.milliseconds, snooze.createdAt.milliseconds,
                             snooze.note, snooze.leadId, snooze.actor, snooze.scope])
        var stored = snooze
        stored.id = db.lastInsertedRowID
        return stored
    }

    func deleteSnooze(id: Int64) throws -> Bool {
        try db.execute(sql: "DELETE FROM snooze WHERE id = ?", arguments: [id])
        return db.changesCount == 1
    }

    func insertDecision(_ decision: LeadDecisionEntry) throws {
        try db.execute(sql: """
            INSERT INTO lead_decision (lead_id, decision, reference, note, actor, at_ms) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [decision.leadId, decision.decision.rawValue, decision.reference, decision.note, decision.actor,
                             decision.at.milliseconds])
    }

    func requeue(delivery id: String, from statuses: Set<DeliveryStatus>, at: Date) throws -> Bool {
        guard !statuses.isEmpty else { return false }
        let nowMs = at.milliseconds
        try db.execute(sql: """
            UPDATE delivery SET status = 'pending', attempts = 0, next_attempt_ms = MAX(not_before_ms, ?), updated_ms = ?,
                                claimed_by = NULL, claimed_until_ms = NULL
            WHERE id = ? AND status IN (\(databaseQuestionMarks(count: statuses.count)))
            """, arguments: [nowMs, nowMs, id] + StatementArguments(statuses.map(\.rawValue).sorted()))
        return db.changesCount == 1
    }

    func enable(receiver: String, managerId: String?, at: Date) throws -> Int {
        let nowMs = at.milliseconds
        let manager = managerId.map { _ in " AND manager_id = ?" } ?? ""
        let target: StatementArguments = managerId.map { [receiver, $0] } ?? [receiver]
        try db.execute(sql: "DELETE FROM disabled_target WHERE receiver = ?\(manager)", arguments: target)
        try db.execute(sql: """
            UPDATE delivery SET status = 'pending', attempts = 0, next_attempt_ms = MAX(not_before_ms, ?), updated_ms = ?,
                                claimed_by = NULL, claimed_until_ms = NULL
            WHERE receiver = ?\(manager) AND status = 'held'
            """, arguments: [nowMs, nowMs] + target)
        return db.changesCount
    }
}
