import GRDB
import GRDBSQLite

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
