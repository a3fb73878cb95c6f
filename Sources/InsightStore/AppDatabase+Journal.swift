import Foundation
import GRDB
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
    /// When this returns, the accepted events are durable (`synchronous = FULL`).
    public func append(_ events: [Event], receivedAt: Date) throws -> AppendOutcome {
        guard !events.isEmpty else { return AppendOutcome(sequences: []) }
        let received = receivedAt.milliseconds
        return try pool.write { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO journal (source, event_id, type, client_id, time_ms, received_ms, data)
                VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, event_id) DO NOTHING
                """)
            var sequences: [Int64?] = []
            sequences.reserveCapacity(events.count)
            for event in events {
                statement.setUncheckedArguments([
                    event.source, event.id, event.type, event.clientId, event.time.milliseconds, received,
                    JSONWriter.string(event.data),
                ])
                try statement.execute()
                sequences.append(db.changesCount == 1 ? db.lastInsertedRowID : nil)
            }
            return AppendOutcome(sequences: sequences)
        }
    }

    /// Events after `position`, in sequence order, at most `limit` of them.
    public func readJournal(after position: Int64, limit: Int) throws -> [Event] {
        let rows = try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT seq, source, event_id, type, client_id, time_ms, data FROM journal
                WHERE seq > ? ORDER BY seq LIMIT ?
                """, arguments: [position, limit])
        }
        return try rows.map { row in
            let sequence: Int64 = row[0]
            let text: String = row[6]
            let data: JSONValue
            do {
                data = try JSONParser.parse(text)
            } catch {
                throw StoreError.corruptRow(table: "journal", key: "seq \(sequence)", reason: "\(error)")
            }
            return Event(sequence: sequence, id: row[2], source: row[1], type: row[3], time: Date(milliseconds: row[5]),
                         clientId: row[4], data: data)
        }
    }

    /// The highest sequence number ever assigned (0 for an empty journal).
    public func journalHead() throws -> Int64 {
        try pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'journal'") ?? 0
        }
    }

    public func journalCount() throws -> Int {
        try pool.read { db in try JournalRecord.fetchCount(db) }
    }

    /// A consumer's last processed sequence number (0 when it has processed nothing).
    public func consumerPosition(_ name: String) throws -> Int64 {
        try pool.read { db in try ConsumerRecord.fetchOne(db, key: name)?.position ?? 0 }
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
