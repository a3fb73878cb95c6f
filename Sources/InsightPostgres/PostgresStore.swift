import Foundation
import InsightCore
import InsightStore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// The store on PostgreSQL: the shared store of one or several insightd instances.
///
/// A transaction's body runs synchronously, on a thread of its own, against one pooled connection between `BEGIN`
/// and `COMMIT`, as a SQLite transaction runs on GRDB's writer: the store's protocols (``OutboxTransaction``) are the
/// same for both backends, and so are the rules that run on them. Each statement waits for its answer on that thread,
/// never on an event loop.
///
/// ``run()`` keeps the connection pool going and must run (as a service) while the store is used.
public final class PostgresStore: Sendable {
    public let settings: PostgresSettings
    let client: PostgresClient
    let logger: Logger

    /// Connections for synchronous calls (the dispatcher's), opened on first use.
    private let blockingConnections = NIOLockedValueBox<PostgresBlockingConnections?>(nil)

    public init(settings: PostgresSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        client = PostgresClient(configuration: settings.clientConfiguration(), backgroundLogger: logger)
    }

    /// Runs the connection pool until the task is cancelled; then closes the synchronous connections too.
    public func run() async {
        await client.run()
        blockingConnections.withLockedValue { $0 }?.close()
    }

    /// The connections synchronous calls use.
    func blocking() throws -> PostgresBlockingConnections {
        try blockingConnections.withLockedValue { connections in
            if let connections { return connections }
            let made = try PostgresBlockingConnections(settings: settings, logger: logger)
            connections = made
            return made
        }
    }

    /// Runs `body` in one transaction: everything it writes commits together, or (when it throws) nothing does.
    /// A serialization failure or deadlock (SQLSTATE 40001, 40P01) runs it again, up to three times in all. It runs at
    /// READ COMMITTED whatever the database's default: the bodies that take an advisory lock and then read rely on
    /// seeing what committed while they waited. A server error comes out as ``PostgresStoreError`` (its SQLSTATE and
    /// message, not the statement).
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await transaction(begin: Self.readCommitted, body)
    }

    /// A read-only transaction that sees one snapshot (`REPEATABLE READ READ ONLY`): what `body` reads, table after
    /// table, is as of one moment.
    public func snapshot<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    static let readCommitted = "BEGIN ISOLATION LEVEL READ COMMITTED"

    private func transaction<T: Sendable>(begin: String, _ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await client.withConnection { connection in
                    let logger = self.logger
                    return try await BlockingWork.run {
                        try Self.runTransaction(PostgresSession(connection: connection, logger: logger), begin: begin, body)
                    }
                }
            } catch let error as PSQLError {
                if attempt < 3, Self.isRetryable(error) {
                    attempt += 1
                    continue
                }
                throw PostgresStoreError(error)
            }
        }
    }

    /// `body` between `BEGIN` and `COMMIT` on the session's connection, on the caller's thread; a ROLLBACK if it throws.
    static func runTransaction<T>(_ session: PostgresSession, begin: String = readCommitted,
                                  _ body: (PostgresSession) throws -> T) throws -> T {
        try session.execute(PostgresQuery(unsafeSQL: begin))
        do {
            let result = try body(session)
            // A transaction that failed inside answers COMMIT with ROLLBACK: that is not a commit.
            let tag = try session.connection.query("COMMIT", logger: session.logger).wait().metadata.command
            guard tag == "COMMIT" else { throw PostgresStoreError(sqlState: nil, message: "the transaction was rolled back") }
            return result
        } catch {
            _ = try? session.execute("ROLLBACK")
            throw error
        }
    }

    static func isRetryable(_ error: PSQLError) -> Bool {
        guard let code = error.serverInfo?[.sqlState] else { return false }
        return code == "40001" || code == "40P01"
    }

    /// Brings the schema up to the newest version (see ``PostgresMigrations``). Several instances starting together
    /// migrate once: the first takes an advisory lock, the others wait for it and find nothing left to do.
    public func migrate() async throws {
        let schema = settings.schema
        try await transaction { session in
            // Events and texts are UTF-8: a database in another encoding (GBK, EUC_CN) would refuse some of them at
            // ingest, long after the start.
            let encoding = try session.value(String.self, "SHOW server_encoding") ?? ""
            guard encoding == "UTF8" else {
                throw PostgresStoreError(sqlState: nil, message: "the database's encoding is \(encoding); insightd needs a UTF8 database "
                                         + "(CREATE DATABASE … ENCODING 'UTF8')")
            }
            try session.execute(PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(\(PostgresMigrations.lockKey))"))
            try session.execute(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"))
            try PostgresMigrations.apply(session, logger: self.logger)
        }
    }

    /// Drops the schema and everything in it (a benchmark's or a test's scratch schema; never the store's own data).
    public func dropSchema() async throws {
        let schema = settings.schema
        _ = try await transaction { try $0.execute(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE")) }
    }

    /// Every table of the schema this insightd creates.
    public static var tableNames: [String] {
        PostgresMigrations.all.flatMap(\.sql).compactMap { statement -> String? in
            guard let range = statement.range(of: "CREATE TABLE ") else { return nil }
            return statement[range.upperBound...].split(whereSeparator: { $0 == " " || $0 == "(" || $0 == "\n" }).first.map(String.init)
        }
    }

    /// Every version this insightd knows, in order.
    public static var migrationNames: [String] { PostgresMigrations.all.map(\.name) }

    /// The versions applied, in order.
    public func appliedMigrations() async throws -> [String] {
        try await transaction { session in
            try session.rows("SELECT name FROM insightd_migration ORDER BY version").map { try $0.decode(String.self) }
        }
    }
}

/// A PostgreSQL error as operators need it: the server's SQLSTATE and message (postgres-nio's own description hides both).
/// The statement and its bound values are not in it; a few server messages quote a value that failed to convert (class
/// 22), which comes from insightd's own writes, never from a secret.
public struct PostgresStoreError: Error, CustomStringConvertible, Sendable {
    public let sqlState: String?
    public let message: String

    public init(sqlState: String?, message: String) {
        self.sqlState = sqlState
        self.message = message
    }

    init(_ error: PSQLError) {
        if let info = error.serverInfo {
            self.init(sqlState: info[.sqlState], message: info[.message] ?? "server error")
        } else {
            self.init(sqlState: nil, message: "PostgreSQL connection error (\(error.code))")
        }
    }

    public var description: String {
        "PostgreSQL: " + message + (sqlState.map { " (SQLSTATE \($0))" } ?? "")
    }
}

/// Free text for a PostgreSQL `text` column, which cannot hold U+0000 where SQLite's can: a receiver's error body or a
/// note with one would fail the whole transaction (and every result recorded in it). It becomes U+FFFD.
func storable(_ text: String) -> String {
    text.utf8.contains(0) ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
}

func storable(_ text: String?) -> String? { text.map { storable($0) } }

/// One connection inside a transaction, used from the transaction's own thread.
public struct PostgresSession: Sendable {
    let connection: PostgresConnection
    let logger: Logger

    /// Runs a statement; returns the rows it changed (or returned).
    @discardableResult
    public func execute(_ query: PostgresQuery) throws -> Int {
        try connection.query(query, logger: logger).wait().metadata.rows ?? 0
    }

    /// Runs a query and collects its rows.
    public func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        Array(try connection.query(query, logger: logger).wait().rows)
    }

    /// Only one transaction at a time, across every instance, gets past this for `name`; the others wait here until it
    /// ends. A transaction-scoped advisory lock in insightd's own key space (two int4 keys, apart from the single
    /// bigint keys of the journal, the ledger and migrations), released at COMMIT or ROLLBACK.
    public func serialize(_ name: String) throws {
        try execute("SELECT pg_advisory_xact_lock(\(Self.serializeSpace), hashtext(\(name)))")
    }

    /// The first key of ``serialize(_:)``'s advisory locks ("insi" in ASCII).
    static let serializeSpace: Int32 = 0x69_6E_73_69

    /// The first row's first column, if there is a row.
    public func value<T: PostgresDecodable>(_ type: T.Type, _ query: PostgresQuery) throws -> T? {
        guard let row = try rows(query).first else { return nil }
        return try row.decode(T.self)
    }
}
