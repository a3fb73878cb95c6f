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
            var lead = try jsonDecoder.decodeStoredLead(Data(record.body.utf8))
            if let status = LeadStatus(rawValue: record.status) { lead.status = status }
            return lead
        } catch {
            throw StoreError.corruptRow(table: "lead", key: record.key, reason: "\(error)")
        }
    }
}
