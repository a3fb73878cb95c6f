import Foundation
import InsightCore
import InsightStore
import NIOCore
import PostgresNIO

extension PostgresStore: JournalStore {
    /// The journal's advisory lock ("journal" in ASCII): appenders hold it to their commit, so sequences are given in
    /// commit order and a reader going on from the last one it saw misses none (a `BIGSERIAL` alone is drawn before
    /// commit: a later transaction could commit a smaller number after a reader passed it). Every instance's appends
    /// are serialized here, as SQLite's single writer serializes one instance's.
    static let journalLockKey: Int64 = 0x6A_6F_75_72_6E_61_6C

    public func appendSubmissions(_ submissions: [IngestSubmission], receivedAt: Date) async throws -> [IngestOutcome] {
        // The texts are made here, off the transaction's thread and before the lock is taken.
        let prepared = submissions.map { JournalBatch($0.events) }
        return try await transaction { session in
            try Self.append(submissions, prepared: prepared, received: receivedAt.milliseconds, session: session)
        }
    }

    /// Everything of an append inside the caller's transaction: the journal's lock, webhook ids, quarantine, events,
    /// inbox checkpoints.
    static func append(_ submissions: [IngestSubmission], prepared: [JournalBatch], received: Int64,
                       session: PostgresSession) throws -> [IngestOutcome] {
        try session.execute("SELECT pg_advisory_xact_lock(\(Self.journalLockKey))")
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(submissions.count)
        for (submission, batch) in zip(submissions, prepared) {
            if let webhook = submission.webhook {
                let inserted = try session.execute("""
                    INSERT INTO webhook_seen (source, webhook_id, received_ms) VALUES (\(webhook.source), \(webhook.id), \(received))
                    ON CONFLICT DO NOTHING
                    """)
                if inserted == 0 {
                    outcomes.append(IngestOutcome(sequences: [], replayedWebhook: true))
                    continue
                }
            }
            try insertQuarantine(submission.quarantine, session: session)
            let sequences = try batch.append(session: session, received: received)
            if let checkpoint = submission.checkpoint {
                try session.execute("""
                    INSERT INTO inbox_file (source, file_key, file_name, byte_offset, line, finished, updated_ms)
                    VALUES (\(checkpoint.source), \(checkpoint.fileKey), \(checkpoint.fileName), \(checkpoint.byteOffset),
                            \(checkpoint.line), \(checkpoint.finished), \(received))
                    ON CONFLICT (source, file_key) DO UPDATE SET file_name = EXCLUDED.file_name,
                        byte_offset = EXCLUDED.byte_offset, line = EXCLUDED.line, finished = EXCLUDED.finished,
                        updated_ms = EXCLUDED.updated_ms
                    WHERE NOT inbox_file.finished AND inbox_file.byte_offset <= EXCLUDED.byte_offset
                    """)
            }
            outcomes.append(IngestOutcome(sequences: sequences, replayedWebhook: false))
        }
        return outcomes
    }

    /// The payload goes as bytes (it is whatever did not parse, U+0000 included); the other texts through ``storable(_:)``.
    static func insertQuarantine(_ items: [QuarantinedItem], session: PostgresSession) throws {
        guard !items.isEmpty else { return }
        try session.execute("""
            INSERT INTO quarantine (received_ms, source, origin, event_id, reason, payload)
            SELECT r, s, o, CASE WHEN h THEN e END, reason, p
            FROM unnest(\(items.map { $0.receivedAt.milliseconds })::int8[], \(items.map { storable($0.source) })::text[],
                        \(items.map { storable($0.origin) })::text[], \(items.map { storable($0.eventId ?? "") })::text[],
                        \(items.map { $0.eventId != nil })::bool[], \(items.map { storable($0.reason) })::text[],
                        \(items.map { ByteBuffer(string: $0.payload) })::bytea[])
                 WITH ORDINALITY AS x(r, s, o, e, h, reason, p, n)
            ORDER BY n
            """)
    }

    public func readJournal(after position: Int64, limit: Int) async throws -> [Event] {
        let rows = try await transaction { session in
            try session.rows("""
                SELECT seq, source, event_id, type, client_id, time_ms, received_ms, data FROM journal
                WHERE seq > \(position) ORDER BY seq LIMIT \(limit)
                """).map { try $0.decode((Int64, String, String, String, String?, Int64, Int64, String).self) }
        }
        // Parsing `data` is most of a read: across the cores, as SQLite's read does.
        return try ParallelMap.tryMap(count: rows.count) { index in
            let row = rows[index]
            let event = try AppDatabase.journalEvent(seq: row.0, source: row.1, eventId: row.2, type: row.3, clientId: row.4,
                                                     timeMs: row.5, receivedMs: row.6, data: row.7)
            _ = event.transaction
            return event
        }
    }

    public func journalHead() async throws -> Int64 {
        try await transaction { try $0.value(Int64.self, "SELECT COALESCE(MAX(seq), 0)::bigint FROM journal") ?? 0 }
    }

    public func inboxCheckpoint(source: String, fileKey: String) async throws -> InboxCheckpoint? {
        try await transaction { session in try Self.checkpoint(source: source, fileKey: fileKey, session: session) }
    }

    public func webhookSeen(source: String, id: String) async throws -> Bool {
        try await transaction { session in
            try session.value(Int.self, "SELECT 1 FROM webhook_seen WHERE source = \(source) AND webhook_id = \(id)") != nil
        }
    }

    public func pruneWebhookIds(before date: Date) async throws -> Int {
        try await transaction { try $0.execute("DELETE FROM webhook_seen WHERE received_ms < \(date.milliseconds)") }
    }

    public func quarantinedItems(limit: Int) async throws -> [QuarantinedItem] {
        try await transaction { session in
            try session.rows("""
                SELECT id, received_ms, source, origin, event_id, reason, payload FROM quarantine
                ORDER BY id DESC LIMIT \(limit)
                """).map { row in
                let (id, received, source, origin, eventId, reason, payload) = try row.decode(
                    (Int64, Int64, String, String, String?, String, ByteBuffer).self)
                var item = QuarantinedItem(receivedAt: Date(milliseconds: received), source: source, origin: origin,
                                           eventId: eventId, reason: reason, payload: String(buffer: payload))
                item.id = id
                return item
            }
        }
    }
}

/// One submission's events as the columns of a multi-row insert: one statement, one round trip, whatever the count.
struct JournalBatch: Sendable {
    var sources: [String] = []
    var ids: [String] = []
    var types: [String] = []
    /// "" where the event has no client (`hasClient` false): the arrays carry no NULL.
    var clients: [String] = []
    var hasClient: [Bool] = []
    /// Each event's ``ClientPartitions/hash(of:)``.
    var hashes: [Int32] = []
    var times: [Int64] = []
    var data: [String] = []

    init(_ events: [Event]) {
        for array in [\JournalBatch.sources, \.ids, \.types, \.clients, \.data] as [WritableKeyPath<JournalBatch, [String]>] {
            self[keyPath: array].reserveCapacity(events.count)
        }
        for event in events {
            sources.append(event.source)
            ids.append(event.id)
            types.append(event.type)
            clients.append(event.clientId ?? "")
            hasClient.append(event.clientId != nil)
            hashes.append(ClientPartitions.hash(of: event.clientId))
            times.append(event.time.milliseconds)
            data.append(event.dataText ?? JSONWriter.string(event.data))
        }
    }

    /// Inserts the events in order; returns per event its new sequence, or nil for one journaled already (or earlier in
    /// the same batch).
    func append(session: PostgresSession, received: Int64) throws -> [Int64?] {
        guard !ids.isEmpty else { return [] }
        let rows = try session.rows("""
            INSERT INTO journal (source, event_id, type, client_id, time_ms, received_ms, data, client_hash)
            SELECT s, i, t, CASE WHEN h THEN c END, tm, \(received), d, ch
            FROM unnest(\(sources)::text[], \(ids)::text[], \(types)::text[], \(clients)::text[], \(hasClient)::bool[],
                        \(times)::int8[], \(data)::text[], \(hashes)::int4[]) WITH ORDINALITY AS x(s, i, t, c, h, tm, d, ch, n)
            ORDER BY n
            ON CONFLICT (source, event_id) DO NOTHING
            RETURNING seq, source, event_id
            """)
        var inserted: [Key: Int64] = Dictionary(minimumCapacity: rows.count)
        for row in rows {
            let (seq, source, id) = try row.decode((Int64, String, String).self)
            inserted[Key(source: source, id: id)] = seq
        }
        // The first of a (source, id) in the batch is the one inserted; a repeat after it is a duplicate.
        return zip(sources, ids).map { source, id in inserted.removeValue(forKey: Key(source: source, id: id)) }
    }

    /// By bytes, as the unique index compares them: Swift's `==` would take two canonically equivalent ids (NFC, NFD)
    /// for one, where the database stores both.
    struct Key: Hashable {
        let source: [UInt8]
        let id: [UInt8]

        init(source: String, id: String) {
            self.source = Array(source.utf8)
            self.id = Array(id.utf8)
        }
    }
}

/// The inbox's way in on PostgreSQL: synchronous, as the inbox reads files on a thread of its own.
extension PostgresStore: IngestSink {
    public func ingest(_ submissions: [IngestSubmission], receivedAt: Date) throws -> [IngestOutcome] {
        let prepared = submissions.map { JournalBatch($0.events) }
        return try blocking().transaction { session in
            try Self.append(submissions, prepared: prepared, received: receivedAt.milliseconds, session: session)
        }
    }

    public func inboxCheckpoint(source: String, fileKey: String) throws -> InboxCheckpoint? {
        try blocking().withSession { session in try Self.checkpoint(source: source, fileKey: fileKey, session: session) }
    }

    static func checkpoint(source: String, fileKey: String, session: PostgresSession) throws -> InboxCheckpoint? {
        try session.rows("""
            SELECT file_name, byte_offset, line, finished FROM inbox_file WHERE source = \(source) AND file_key = \(fileKey)
            """).first.map { row in
            let (name, offset, line, finished) = try row.decode((String, Int64, Int, Bool).self)
            return InboxCheckpoint(source: source, fileKey: fileKey, fileName: name, byteOffset: offset, line: line,
                                   finished: finished)
        }
    }

    /// A session-level advisory lock on the file's name, held by a connection set aside for the claim: exactly one
    /// instance reads a file of a shared inbox at a time, and the lock goes with its session if that instance dies.
    public func claimInboxFile(source: String, name: String) throws -> InboxFileClaim? {
        let connections = try blocking()
        let connection = try connections.take()
        let session = PostgresSession(connection: connection, logger: logger)
        let key = "inbox:" + storable(source) + "/" + storable(name)
        do {
            guard try session.value(Bool.self, """
                SELECT pg_try_advisory_lock(\(PostgresSession.serializeSpace), hashtext(\(key)))
                """) == true else {
                connections.giveBack(connection)
                return nil
            }
        } catch {
            try? connection.close().wait()
            throw error
        }
        return InboxFileClaim {
            if (try? session.execute("SELECT pg_advisory_unlock(\(PostgresSession.serializeSpace), hashtext(\(key)))")) != nil {
                connections.giveBack(connection)
            } else {
                try? connection.close().wait()  // the session ends, and its lock with it
            }
        }
    }
}
