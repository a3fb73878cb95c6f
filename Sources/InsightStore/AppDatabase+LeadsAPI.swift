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
}

/// One entry of a lead's history.
public struct LeadActivity: Sendable, Hashable {
    public var at: Date
    /// `feedback`, `interaction`, `delivered`, `delivery_dead`, `suppressed`, `unrouted`.
    public var kind: String
    public var outcome: String?
    public var note: String?
    public var actor: String?
}

/// What a manager reports having done with a lead.
public enum FeedbackOutcome: String, Sendable, Hashable, CaseIterable {
    case contacted, converted, dismissed, unreachable, snoozed

    /// The status the lead moves to; nil keeps it (unreachable, snoozed).
    var status: LeadStatus? {
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

extension AppDatabase {
    public func leadPage(_ query: LeadPageQuery) throws -> LeadPage {
        try pool.read { db in
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
            let page = try rows.prefix(query.limit).map { (sequence: $0["seq"] as Int64, lead: try Self.lead(row: $0)) }
            return LeadPage(leads: page, next: rows.count > query.limit ? page.last?.sequence : nil)
        }
    }

    public func lead(id: String) throws -> Lead? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT key, status, body FROM lead WHERE id = ?", arguments: [id]).map(Self.lead(row:))
        }
    }

    public func activity(leadId: String) throws -> [LeadActivity] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM lead_activity WHERE lead_id = ? ORDER BY id", arguments: [leadId]).map {
                LeadActivity(at: Date(milliseconds: $0["at_ms"]), kind: $0["kind"], outcome: $0["outcome"], note: $0["note"],
                             actor: $0["actor"])
            }
        }
    }

    /// Records a manager's feedback on a lead and moves its status (never back: a converted lead reported
    /// contacted stays converted). `snoozed` with `until` also snoozes the lead's client for its plugin.
    /// Returns the lead as it now stands, or nil when no lead has that id.
    public func recordFeedback(leadId: String, outcome: FeedbackOutcome, note: String?, until: Date?, actor: String,
                               snoozeScope: String = "feedback", now: Date) throws -> Lead? {
        let nowMs = now.milliseconds
        return try pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT key, status, body FROM lead WHERE id = ?", arguments: [leadId])
            else { return nil }
            let lead = try Self.lead(row: row)
            if let status = outcome.status, Self.canMove(from: lead.status, to: status) {
                try db.execute(sql: "UPDATE lead SET status = ?, status_ms = ? WHERE id = ?",
                               arguments: [status.rawValue, nowMs, leadId])
            }
            try Self.addActivity(db, lead: leadId, atMs: nowMs, kind: "feedback", outcome: outcome.rawValue,
                                 note: note ?? until.map { "until \(RFC3339.format($0, timeZone: TimeZone(secondsFromGMT: 0) ?? .current))" },
                                 actor: actor)
            if outcome == .snoozed, let until {
                try db.execute(sql: """
                    INSERT INTO snooze (client_id, plugin, kind, until_ms, created_ms, note, lead_id, actor, scope)
                    VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?)
                    """, arguments: [lead.client?.id, lead.plugin, until.milliseconds, nowMs, note, leadId, actor, snoozeScope])
            }
            return try Row.fetchOne(db, sql: "SELECT key, status, body FROM lead WHERE id = ?", arguments: [leadId])
                .map(Self.lead(row:))
        }
    }

    /// Feedback moves a lead forward only: new → notified → contacted → converted | dismissed.
    static func canMove(from current: LeadStatus, to next: LeadStatus) -> Bool {
        let order: [LeadStatus: Int] = [.new: 0, .suppressed: 0, .notified: 1, .contacted: 2, .converted: 3, .dismissed: 3,
                                        .expired: 3]
        return (order[next] ?? 0) > (order[current] ?? 0) || (current == .contacted && next == .dismissed)
    }

    @discardableResult
    public func addSnooze(clientId: String?, plugin: String?, kind: String?, until: Date, note: String?, actor: String,
                          scope: String = "feedback", now: Date) throws -> SnoozeEntry {
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO snooze (client_id, plugin, kind, until_ms, created_ms, note, lead_id, actor, scope)
                VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)
                """, arguments: [clientId, plugin, kind, until.milliseconds, now.milliseconds, note, actor, scope])
            return SnoozeEntry(id: db.lastInsertedRowID, clientId: clientId, plugin: plugin, kind: kind, until: until,
                               createdAt: now, note: note, leadId: nil, actor: actor, scope: scope)
        }
    }

    /// Snoozes still in force at `now`.
    public func snoozes(activeAt now: Date) throws -> [SnoozeEntry] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM snooze WHERE until_ms > ? ORDER BY id", arguments: [now.milliseconds]).map {
                SnoozeEntry(id: $0["id"], clientId: $0["client_id"], plugin: $0["plugin"], kind: $0["kind"],
                            until: Date(milliseconds: $0["until_ms"]), createdAt: Date(milliseconds: $0["created_ms"]),
                            note: $0["note"], leadId: $0["lead_id"], actor: $0["actor"], scope: $0["scope"])
            }
        }
    }

    /// Ends a snooze now, when the caller holds the scope it was made with.
    public func removeSnooze(id: Int64, callerScopes: Set<String>) throws -> SnoozeRemoval {
        try pool.write { db in
            guard let scope = try String.fetchOne(db, sql: "SELECT scope FROM snooze WHERE id = ?", arguments: [id]) else {
                return .notFound
            }
            guard callerScopes.contains(scope) else { return .needsScope(scope) }
            try db.execute(sql: "DELETE FROM snooze WHERE id = ?", arguments: [id])
            return .removed
        }
    }

    /// The client's leads that are still open (new, notified or contacted), oldest first.
    public func openLeads(clientId: String, limit: Int = 50) throws -> [Lead] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT key, status, body FROM lead WHERE client_id = ? AND status IN ('new', 'notified', 'contacted')
                ORDER BY seq LIMIT ?
                """, arguments: [clientId, limit]).map(Self.lead(row:))
        }
    }

    /// The client's most recent CRM interactions, newest first.
    public func interactions(clientId: String, limit: Int = 20) throws -> [ClientInteraction] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM interaction WHERE client_id = ? ORDER BY at_ms DESC, journal_seq DESC LIMIT ?
                """, arguments: [clientId, limit]).map {
                ClientInteraction(at: Date(milliseconds: $0["at_ms"]), managerId: $0["manager_id"], channel: $0["channel"],
                                  outcome: $0["outcome"], leadId: $0["lead_id"])
            }
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
