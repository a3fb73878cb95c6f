import Foundation
import GRDB
import InsightCore

/// The indexed queries behind the daily ticks: each finds candidate client ids through an index, then loads
/// only those clients' state.
extension AppDatabase {
    /// The queries that find clients through the `client` table's partial indexes (v8), each with one argument list.
    static let birthdayQuery = "SELECT id FROM client WHERE birthday_key IN (SELECT value FROM json_each(?))"
    static let segmentQuery = "SELECT id FROM client WHERE segment IN (SELECT value FROM json_each(?))"
    static let wealthPurchaseQuery = "SELECT id FROM client WHERE last_wealth_buy_ms >= ? AND last_wealth_buy_ms < ?"

    public func clients(birthdayKeys keys: Set<Int>) throws -> [ClientState] {
        guard !keys.isEmpty else { return [] }
        return try clients(where: Self.birthdayQuery,
                           arguments: [JSONWriter.string(.array(keys.sorted().map { .number(String($0)) }))])
    }

    public func clients(loansMaturingFrom from: LocalDate, through: LocalDate) throws -> [ClientState] {
        try clients(where: "SELECT DISTINCT client_id FROM loan WHERE maturity_date BETWEEN ? AND ?",
                    arguments: [from.description, through.description])
    }

    public func clients(depositsMaturingFrom from: LocalDate, through: LocalDate) throws -> [ClientState] {
        try clients(where: "SELECT DISTINCT client_id FROM term_deposit WHERE maturity_date BETWEEN ? AND ?",
                    arguments: [from.description, through.description])
    }

    public func clients(inSegments segments: [String]) throws -> [ClientState] {
        guard !segments.isEmpty else { return [] }
        return try clients(where: Self.segmentQuery,
                           arguments: [JSONWriter.string(.array(segments.map(JSONValue.string)))])
    }

    public func clients(lastWealthPurchaseFrom from: Date, until: Date) throws -> [ClientState] {
        try clients(where: Self.wealthPurchaseQuery,
                    arguments: [from.milliseconds, until.milliseconds])
    }

    public func lastLead(plugin: String, client id: String) throws -> Date? {
        try pool.read { db in
            try Int64.fetchOne(db, sql: """
                SELECT MAX(created_ms) FROM lead WHERE client_id = ? AND plugin = ? AND inhibited_by IS NULL
                """, arguments: [id, plugin]).map(Date.init(milliseconds:))
        }
    }

    public func leadWasInhibited(plugin: String, client id: String, at: Date) throws -> Bool {
        try pool.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT 1 FROM lead WHERE client_id = ? AND plugin = ? AND created_ms = ? AND inhibited_by IS NOT NULL LIMIT 1
                """, arguments: [id, plugin, at.milliseconds]) ?? false
        }
    }

    /// Loads the clients whose ids `sql` selects, in id order, in chunks, in one read transaction.
    func clients(where sql: String, arguments: StatementArguments) throws -> [ClientState] {
        try pool.read { db in
            let ids = try String.fetchAll(db, sql: sql, arguments: arguments).sorted()
            var result: [ClientState] = []
            result.reserveCapacity(ids.count)
            for chunk in stride(from: 0, to: ids.count, by: 2000) {
                let slice = Array(ids[chunk..<min(chunk + 2000, ids.count)])
                let loaded = try Self.loadClients(slice, db: db)
                result.append(contentsOf: slice.compactMap { loaded[$0] })
            }
            return result
        }
    }
}
