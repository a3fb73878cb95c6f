import Foundation
import GRDB
import GRDBSQLite

/// The `(source, id)` keys a replay has seen, in a scratch SQLite file: exact, as the journal's idempotency
/// is, and with memory bounded by SQLite's page cache whatever the input's size (a set in memory takes ~64
/// bytes per event: 6 GB for a quarter of a bank's transactions).
///
/// Used by one task at a time (a replay's read-ahead, chunk after chunk), hence `@unchecked Sendable`.
public final class SeenEventKeys: @unchecked Sendable {
    private let queue: DatabaseQueue

    /// Creates (or empties) the file at `path`.
    public init(path: String) throws {
        try? FileManager.default.removeItem(atPath: path)
        var configuration = Configuration()
        configuration.label = "insightd-replay-seen"
        configuration.prepareDatabase { db in
            // A throwaway file: no durability, a 4 MB page cache (keys arrive mostly in order).
            try db.execute(sql: "PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA cache_size = -4096")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.write { db in
            try db.execute(sql: """
                CREATE TABLE seen (source TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (source, id)) WITHOUT ROWID
                """)
        }
    }

    /// Records `keys` in order, in one transaction; for each, true when it had not been seen before (a key
    /// repeated within `keys` is new only the first time).
    public func insert(_ keys: [(source: String, id: String)]) throws -> [Bool] {
        guard !keys.isEmpty else { return [] }
        return try queue.write { db in
            let statement = try db.cachedStatement(sql: "INSERT OR IGNORE INTO seen (source, id) VALUES (?, ?)")
            let handle = statement.sqliteStatement
            defer {
                sqlite3_reset(handle)
                sqlite3_clear_bindings(handle)
            }
            var fresh: [Bool] = []
            fresh.reserveCapacity(keys.count)
            for key in keys {
                sqlite3_reset(handle)
                var code = SQLiteText.bind(handle, 1, key.source)
                if code == SQLITE_OK { code = SQLiteText.bind(handle, 2, key.id) }
                if code == SQLITE_OK { code = sqlite3_step(handle) }
                guard code == SQLITE_DONE else {
                    let message = SQLiteText.message(code, db.sqliteConnection)
                    throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
                }
                fresh.append(db.changesCount == 1)
            }
            return fresh
        }
    }

    /// How many keys are recorded.
    public func count() throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM seen") ?? 0 }
    }
}
