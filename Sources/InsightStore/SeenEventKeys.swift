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

/// Binding text onto a prepared statement with SQLite's C API, for the hot paths that skip
/// `StatementArguments` (the journal's appends, a replay's seen keys).
enum SQLiteText {
    /// Binds a string's UTF-8 bytes (SQLite copies them: the string may go before the step). Returns
    /// SQLite's result code.
    static func bind(_ handle: SQLiteStatement, _ index: Int32, _ text: String) -> Int32 {
        var text = text
        return text.withUTF8 { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else {
                return sqlite3_bind_text(handle, index, "", 0, transient)  // a null pointer would bind NULL
            }
            guard bytes.count <= Int(Int32.max) else { return SQLITE_TOOBIG }
            return sqlite3_bind_text(handle, index, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self),
                                     Int32(bytes.count), transient)
        }
    }

    /// The connection's message when its last error is `code`, else SQLite's text for the code (a bind
    /// refused before SQLite saw it leaves the connection's message stale).
    static func message(_ code: Int32, _ connection: SQLiteConnection?) -> String {
        if let connection, sqlite3_errcode(connection) == code { return String(cString: sqlite3_errmsg(connection)) }
        return String(cString: sqlite3_errstr(code))
    }

    /// `SQLITE_TRANSIENT`, which the C macro defines as a cast of -1 that Swift does not import.
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// One execution of a GRDB prepared statement whose values are bound with SQLite's C API, in order (as the
/// journal's appends bind theirs): no `StatementArguments` boxing on the dispatcher's hot writes. Nothing observes
/// these tables through GRDB, so executing without it loses no notification. Bind every parameter, then
/// ``execute()``; a failed bind is reported by `execute`, which resets the statement either way.
struct BoundExecution: ~Copyable {
    private let statement: Statement
    private let handle: SQLiteStatement
    private let connection: SQLiteConnection?
    private var code: Int32 = SQLITE_OK
    private var index: Int32 = 0

    init(_ statement: Statement, _ db: Database) {
        self.statement = statement
        handle = statement.sqliteStatement
        connection = db.sqliteConnection
        sqlite3_reset(handle)
    }

    mutating func bind(_ text: String?) {
        index += 1
        guard code == SQLITE_OK else { return }
        code = text.map { SQLiteText.bind(handle, index, $0) } ?? sqlite3_bind_null(handle, index)
    }

    mutating func bind(_ value: Int64?) {
        index += 1
        guard code == SQLITE_OK else { return }
        code = value.map { sqlite3_bind_int64(handle, index, $0) } ?? sqlite3_bind_null(handle, index)
    }

    mutating func bind(_ value: Int?) { bind(value.map(Int64.init)) }

    /// Steps the statement once; throws SQLite's error (a bind's, or the step's).
    consuming func execute() throws {
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        assert(index == sqlite3_bind_parameter_count(handle), "bind every parameter of \(statement.sql)")
        if code == SQLITE_OK { code = sqlite3_step(handle) }
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: SQLiteText.message(code, connection),
                                sql: statement.sql)
        }
    }
}
