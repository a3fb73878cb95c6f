import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// Connections for the synchronous reads and writes of the dispatcher (``PostgresDispatchStore``): its shards read
/// client state and the ledger from plugin code, which is synchronous, on threads of their own. Each call takes an idle
/// connection (or opens one), waits for its answers on the caller's thread, and gives it back. Never called on an event
/// loop.
///
/// A connection that failed (the server went away, a session ended by `idle_in_transaction_session_timeout`) is closed
/// rather than given back; the next call opens a new one.
final class PostgresBlockingConnections: Sendable {
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let idle = NIOLockedValueBox<[PostgresConnection]>([])
    private let nextId = NIOLockedValueBox<Int>(1)
    /// Idle connections kept at most; more are closed as they are given back.
    private let keepIdle: Int

    init(settings: PostgresSettings, logger: Logger) throws {
        configuration = try settings.connectionConfiguration()
        self.logger = logger
        keepIdle = max(2, min(settings.pool, 8))
    }

    /// Runs `body` against one connection (no transaction: each statement commits on its own; for reads).
    func withSession<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        let connection = try take()
        do {
            let result = try body(PostgresSession(connection: connection, logger: logger))
            giveBack(connection)
            return result
        } catch {
            // A statement's error leaves the connection usable; a connection error does not.
            if connection.isClosed || !(error is PSQLError && (error as? PSQLError)?.serverInfo != nil) {
                try? connection.close().wait()
            } else {
                giveBack(connection)
            }
            throw error
        }
    }

    /// Runs `body` in one transaction, as ``PostgresStore/transaction(_:)`` does (serialization failures and deadlocks
    /// run it again, errors come out as ``PostgresStoreError``), on the caller's thread.
    func transaction<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        var attempt = 1
        while true {
            do {
                return try withSession { session in try PostgresStore.runTransaction(session, body) }
            } catch let error as PSQLError {
                if attempt < 3, PostgresStore.isRetryable(error) {
                    attempt += 1
                    continue
                }
                throw PostgresStoreError(error)
            }
        }
    }

    /// Runs `body` in one read-only transaction that sees one snapshot (`REPEATABLE READ`): a client read table by
    /// table is read as of one moment.
    func snapshot<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        do {
            return try withSession { session in
                try session.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                do {
                    let result = try body(session)
                    try session.execute("COMMIT")
                    return result
                } catch {
                    _ = try? session.execute("ROLLBACK")
                    throw error
                }
            }
        } catch let error as PSQLError {
            throw PostgresStoreError(error)
        }
    }

    /// Closes the idle connections (the store's shutdown).
    func close() {
        let connections = idle.withLockedValue { connections in
            defer { connections = [] }
            return connections
        }
        for connection in connections { try? connection.close().wait() }
    }

    /// An idle connection, or a new one: the caller gives it back (``giveBack(_:)``) or closes it.
    func take() throws -> PostgresConnection {
        while let connection = idle.withLockedValue({ $0.popLast() }) {
            if !connection.isClosed { return connection }
        }
        let id = nextId.withLockedValue { value in
            defer { value += 1 }
            return value
        }
        do {
            return try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                                                  id: id, logger: logger).wait()
        } catch let error as PSQLError {
            throw PostgresStoreError(error)
        }
    }

    func giveBack(_ connection: PostgresConnection) {
        let surplus = idle.withLockedValue { connections -> Bool in
            guard connections.count < keepIdle else { return true }
            connections.append(connection)
            return false
        }
        if surplus { try? connection.close().wait() }
    }
}
