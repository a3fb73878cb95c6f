import Foundation
import GRDB
import GRDBSQLite
import InsightCore

/// The result of appending a batch to the journal.
public struct AppendOutcome: Sendable, Equatable {
    /// For each input event, in order: its new sequence number, or nil when (source, id) was already journaled.
    public var sequences: [Int64?]

    public var acceptedCount: Int { sequences.count { $0 != nil } }
    public var duplicateCount: Int { sequences.count { $0 == nil } }
}

extension AppDatabase {
    /// Appends events in one transaction. Idempotent on (source, id): a repeat is reported, not stored.
    /// When this returns, the accepted events are durable (`synchronous = FULL`; a `.scratch` database, a
    /// replay's, is not).
    public func append(_ events: [Event], receivedAt: Date) throws -> AppendOutcome {
        guard !events.isEmpty else { return AppendOutcome(sequences: []) }
        let received = receivedAt.milliseconds
        return try pool.write { db in AppendOutcome(sequences: try Self.appendEvents(events, received: received, db: db)) }
    }

    static func appendEvents(_ events: [Event], received: Int64, db: Database) throws -> [Int64?] {
        guard !events.isEmpty else { return [] }
        // Sequence numbers strictly increase but are not gap-free: SQLite's AUTOINCREMENT counter also
        // moves for a duplicate that the conflict clause skips. A gap-free NOT EXISTS probe cost a
        // third of the append rate; nothing depends on contiguity.
        let statement = try db.cachedStatement(sql: """
            INSERT INTO journal (source, event_id, type, client_id, time_ms, received_ms, data)
            VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, event_id) DO NOTHING
            """)
        var sequences: [Int64?] = []
        sequences.reserveCapacity(events.count)
        // The hot path of every ingest: the values are bound straight onto GRDB's prepared statement with
        // SQLite's C API, skipping the boxing of `StatementArguments` (a tenth of the writer's time). Nothing
        // observes the journal through GRDB, so executing the statement without it loses no notification.
        let handle = statement.sqliteStatement
        let connection = db.sqliteConnection
        func fail(_ code: Int32) -> DatabaseError {
            let message = SQLiteText.message(code, connection)
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
            return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
        }
        for event in events {
            sqlite3_reset(handle)
            // A failed bind would leave the previous event's value bound: every code is checked.
            var code = SQLiteText.bind(handle, 1, event.source)
            if code == SQLITE_OK { code = SQLiteText.bind(handle, 2, event.id) }
            if code == SQLITE_OK { code = SQLiteText.bind(handle, 3, event.type) }
            if code == SQLITE_OK { code = event.clientId.map { SQLiteText.bind(handle, 4, $0) } ?? sqlite3_bind_null(handle, 4) }
            if code == SQLITE_OK { code = sqlite3_bind_int64(handle, 5, event.time.milliseconds) }
            if code == SQLITE_OK { code = sqlite3_bind_int64(handle, 6, received) }
            if code == SQLITE_OK { code = SQLiteText.bind(handle, 7, event.dataText ?? JSONWriter.string(event.data)) }
            guard code == SQLITE_OK else { throw fail(code) }
            code = sqlite3_step(handle)
            guard code == SQLITE_DONE else { throw fail(code) }
            sequences.append(db.changesCount == 1 ? db.lastInsertedRowID : nil)
        }
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        return sequences
    }

    /// Events after `position`, in sequence order, at most `limit` of them.
    public func readJournal(after position: Int64, limit: Int) throws -> [Event] {
        let rows = try pool.read { db in
            // Columns read by position (a name lookup per column and row costs more than the row's own copy).
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT seq, source, event_id, type, client_id, time_ms, received_ms, data FROM journal
                WHERE seq > ? ORDER BY seq LIMIT ?
                """, arguments: [position, limit])
            var records: [JournalRecord] = []
            while let row = try cursor.next() {
                records.append(JournalRecord(seq: row[0], source: row[1], eventId: row[2], type: row[3], clientId: row[4],
                                             timeMs: row[5], receivedMs: row[6], data: row[7]))
            }
            return records
        }
        // Parsing `data` is most of the cost of a read: split large batches across the cores. A transaction's fields
        // are looked up here too, ahead of the batch that reads them, and not by the shards while it runs.
        return try ParallelMap.tryMap(count: rows.count) {
            let event = try rows[$0].event()
            _ = event.transaction
            return event
        }
    }

    /// The highest sequence number in the journal (0 when it is empty).
    public func journalHead() throws -> Int64 {
        try pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal") ?? 0
        }
    }

    public func journalCount() throws -> Int {
        try pool.read { db in try JournalRecord.fetchCount(db) }
    }

    /// A consumer's last processed sequence number (0 when it has processed nothing).
    public func consumerPosition(_ name: String) throws -> Int64 {
        try pool.read { db in try ConsumerRecord.fetchOne(db, key: name)?.position ?? 0 }
    }

    /// Where the dispatcher resumes: `handled`, its position (the leads of every event up to it are committed), and
    /// `state`, the position the database's client state is at (at most `handled`; the same when no state position
    /// was ever recorded, as in a database written batch by batch before there was one).
    public func dispatcherPositions() throws -> DispatcherPositions {
        try pool.read { db in try Self.dispatcherPositions(db) }
    }

    /// ``dispatcherPositions()``, recording the state position where there is none yet: from then on a dispatcher
    /// that writes its state later keeps it behind, and a restart finds it.
    public func dispatcherResumePositions(at now: Date) throws -> DispatcherPositions {
        try pool.write { db in
            let positions = try Self.dispatcherPositions(db)
            if try ConsumerRecord.fetchOne(db, key: Self.stateConsumer) == nil {
                try ConsumerRecord(name: Self.stateConsumer, position: positions.state, updatedMs: now.milliseconds).insert(db)
            }
            return positions
        }
    }

    static func dispatcherPositions(_ db: Database) throws -> DispatcherPositions {
        let record = try ConsumerRecord.fetchOne(db, key: Self.dispatcherConsumer)
        let handled = record?.position ?? 0
        let state = try ConsumerRecord.fetchOne(db, key: Self.stateConsumer)?.position ?? handled
        return DispatcherPositions(handled: handled, state: min(handled, state),
                                   handledAt: record.map { Date(milliseconds: $0.updatedMs) })
    }
}

/// See ``AppDatabase/dispatcherPositions()``.
public struct DispatcherPositions: Sendable, Equatable {
    /// The dispatcher's position: the outputs (leads, interactions, failures) of every event up to it are committed.
    public var handled: Int64
    /// The position the database's client state is at, at most `handled`.
    public var state: Int64
    /// When `handled` was committed (nil: never).
    public var handledAt: Date?

    public init(handled: Int64, state: Int64, handledAt: Date?) {
        self.handled = handled
        self.state = state
        self.handledAt = handledAt
    }
}

extension AppDatabase {
    /// Moves a consumer's position, e.g. to reprocess from an earlier sequence number. Leads already in the
    /// ledger are not duplicated: their keys are unique.
    public func setConsumerPosition(_ name: String, to position: Int64, at now: Date) throws {
        try pool.write { db in
            try ConsumerRecord(name: name, position: position, updatedMs: now.milliseconds).upsert(db)
        }
    }
}

extension JournalRecord {
    /// Reads a row by column name without going through `Decodable` (the dispatcher's batch read goes by column
    /// position instead: see ``AppDatabase/readJournal(after:limit:)``).
    init(row: Row) throws {
        seq = row[Columns.seq]
        source = row[Columns.source]
        eventId = row[Columns.eventId]
        type = row[Columns.type]
        clientId = row[Columns.clientId]
        timeMs = row[Columns.timeMs]
        receivedMs = row[Columns.receivedMs]
        data = row[Columns.data]
    }

    /// The journaled event, with its `data` parsed.
    func event() throws -> Event {
        let sequence = seq ?? 0
        let parsed: JSONDocument
        do {
            parsed = try JSONParser.parseMembers(data)
        } catch {
            throw StoreError.corruptRow(table: "journal", key: "seq \(sequence)", reason: "\(error)")
        }
        switch parsed {
        case .members(let members):  // the usual `data`: kept as its members, no dictionary made
            return Event(sequence: sequence, id: eventId, source: source, type: EventType.interned(type),
                         time: Date(milliseconds: timeMs), clientId: clientId, dataMembers: members)
        case .value(let value):
            return Event(sequence: sequence, id: eventId, source: source, type: EventType.interned(type),
                         time: Date(milliseconds: timeMs), clientId: clientId, data: value)
        }
    }
}
