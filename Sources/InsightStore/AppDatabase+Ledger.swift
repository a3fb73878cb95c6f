import Foundation
import GRDB
import InsightCore

/// A filter over the leads ledger.
public struct LeadQuery: Sendable {
    public var plugin: String?
    public var clientId: String?
    public var managerId: String?
    public var status: LeadStatus?
    public var limit: Int

    public init(plugin: String? = nil, clientId: String? = nil, managerId: String? = nil, status: LeadStatus? = nil,
                limit: Int = 100) {
        self.plugin = plugin
        self.clientId = clientId
        self.managerId = managerId
        self.status = status
        self.limit = limit
    }
}

extension AppDatabase {
    /// Leads in creation order (then key), matching the query.
    public func leads(_ query: LeadQuery = LeadQuery()) throws -> [Lead] {
        try pool.read { db in
            var request = LeadRecord.all()
            if let plugin = query.plugin { request = request.filter(LeadRecord.Columns.plugin == plugin) }
            if let client = query.clientId { request = request.filter(LeadRecord.Columns.clientId == client) }
            if let manager = query.managerId { request = request.filter(LeadRecord.Columns.managerId == manager) }
            if let status = query.status { request = request.filter(LeadRecord.Columns.status == status.rawValue) }
            return try request.order(LeadRecord.Columns.createdMs, LeadRecord.Columns.key).limit(query.limit)
                .fetchAll(db).map(Self.lead(from:))
        }
    }

    /// Where a walk through the ledger in creation order (then key) stands: the last lead it returned.
    public struct LeadPosition: Sendable, Hashable {
        let createdMs: Int64
        let key: String
    }

    /// The next `limit` leads in creation order (then key) after `position` (nil: from the first), and the
    /// position to go on from. A replay writes its leads out this way, a page at a time, never holding them all.
    public func leads(after position: LeadPosition?, limit: Int) throws -> (leads: [Lead], next: LeadPosition?) {
        try pool.read { db in
            var request = LeadRecord.all()
            if let position {
                // Row values compare as a tuple; the (created_ms, key) order is a total one (keys are unique).
                request = request.filter(sql: "(created_ms, key) > (?, ?)", arguments: [position.createdMs, position.key])
            }
            let records = try request.order(LeadRecord.Columns.createdMs, LeadRecord.Columns.key).limit(limit).fetchAll(db)
            // Each lead's stored body is parsed on every core (a replay reads its whole ledger this way, page by page).
            let leads = try ParallelMap.tryMap(count: records.count, minimumForParallel: 256) { try Self.lead(from: records[$0]) }
            return (leads, records.last.map { LeadPosition(createdMs: $0.createdMs, key: $0.key) })
        }
    }

    /// The leads an inhibit rule may weigh against `lead`, as a replay does: those of its client made at or before
    /// it; for a lead without a client, those of its manager without a client. Only leads of the `kinds` and
    /// `plugins` some rule's source names are read (nil: any), as no other lead can be a source.
    public func inhibitionPeers(of lead: Lead, kinds: Set<String>?, plugins: Set<String>?) throws -> [Lead] {
        try pool.read { db in
            // `created_ms` is rounded to the millisecond: the exact comparison is made on the leads themselves.
            var request = LeadRecord.filter(LeadRecord.Columns.createdMs <= lead.createdAt.milliseconds + 1)
            if let client = lead.client?.id {
                request = request.filter(LeadRecord.Columns.clientId == client)
            } else if let manager = lead.manager?.id {
                request = request.filter(LeadRecord.Columns.clientId == nil && LeadRecord.Columns.managerId == manager)
            } else {
                return []
            }
            if let kinds { request = request.filter(kinds.sorted().contains(LeadRecord.Columns.kind)) }
            if let plugins { request = request.filter(plugins.sorted().contains(LeadRecord.Columns.plugin)) }
            return try request.order(LeadRecord.Columns.createdMs, LeadRecord.Columns.key).fetchAll(db).map(Self.lead(from:))
                .filter { $0.createdAt <= lead.createdAt }
        }
    }

    public func lead(key: String) throws -> Lead? {
        try pool.read { db in
            try LeadRecord.filter(LeadRecord.Columns.key == key).fetchOne(db).map(Self.lead(from:))
        }
    }

    /// The stored body of every lead, in key order: what a determinism check compares byte for byte.
    public func leadBodies() throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: "SELECT body FROM lead ORDER BY key") }
    }

    public func leadCount() throws -> Int {
        try pool.read { db in try LeadRecord.fetchCount(db) }
    }

    /// Lead counts per plugin and kind, for summaries and benchmarks.
    public func leadCountsByKind() throws -> [(plugin: String, kind: String, count: Int)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT plugin, kind, COUNT(*) AS n FROM lead GROUP BY plugin, kind ORDER BY plugin, kind")
                .map { (plugin: $0["plugin"], kind: $0["kind"], count: $0["n"]) }
        }
    }

    static func lead(from record: LeadRecord) throws -> Lead {
        do {
            var lead = try storedLead(record.body)
            if let status = LeadStatus(rawValue: record.status) { lead.status = status }
            return lead
        } catch {
            throw StoreError.corruptRow(table: "lead", key: record.key, reason: "\(error)")
        }
    }
}
