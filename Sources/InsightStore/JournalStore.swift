import Foundation
import InsightCore

/// The journal as a store concern: events stored once per (source, id), numbered in the order they committed, read in
/// that order after a position; with them, what ingestion records in the same transaction (quarantined items, a
/// webhook id seen, an inbox file's checkpoint). No rule: what is valid, what a replay is and what a file's checkpoint
/// means are `InsightIngest`'s.
public protocol JournalStore: Sendable {
    /// Commits the submissions in one transaction (group commit) and returns an outcome for each: per event its new
    /// sequence number, or nil when (source, id) was journaled already; nothing of a submission whose webhook id was
    /// seen before. When this returns, what it accepted is durable.
    func appendSubmissions(_ submissions: [IngestSubmission], receivedAt: Date) async throws -> [IngestOutcome]
    /// Events after `position`, in sequence order, at most `limit`. A reader that goes on from the last sequence it saw
    /// never misses one: sequences are given in commit order.
    func readJournal(after position: Int64, limit: Int) async throws -> [Event]
    /// The highest sequence (0 when the journal is empty).
    func journalHead() async throws -> Int64
    /// Where the inbox stopped in a file, if it started it.
    func inboxCheckpoint(source: String, fileKey: String) async throws -> InboxCheckpoint?
    func webhookSeen(source: String, id: String) async throws -> Bool
    /// Forgets webhook ids received before `date`; returns how many.
    func pruneWebhookIds(before date: Date) async throws -> Int
    /// The newest quarantined items first, at most `limit`.
    func quarantinedItems(limit: Int) async throws -> [QuarantinedItem]
}

extension AppDatabase: JournalStore {
    public func appendSubmissions(_ submissions: [IngestSubmission], receivedAt: Date) async throws -> [IngestOutcome] {
        try await ingestAsync(submissions, receivedAt: receivedAt)
    }

    /// An event from a journal row's columns, as every backend stores them (`data` is the event's JSON text).
    public static func journalEvent(seq: Int64, source: String, eventId: String, type: String, clientId: String?, timeMs: Int64,
                                    receivedMs: Int64, data: String) throws -> Event {
        try JournalRecord(seq: seq, source: source, eventId: eventId, type: type, clientId: clientId, timeMs: timeMs,
                          receivedMs: receivedMs, data: data).event()
    }
}
