import Foundation
import InsightCore
import InsightStore
import InsightTesting
import Testing

/// A journal backend under test: an empty store, kept (files, schema, pool) until the test ends.
struct JournalBackend: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable () async throws -> (store: any JournalStore, owner: any Sendable)

    static let sqlite = JournalBackend(description: "SQLite") {
        let test = try TestStore()
        return (test.database, test)
    }

    static let postgres = JournalBackend(description: "PostgreSQL") {
        let test = try await TestPostgres.start(pool: 8)
        return (test.store, test)
    }

    static let all: [JournalBackend] = [.sqlite] + (TestPostgres.url != nil || TestPostgres.isRequired ? [.postgres] : [])
}

/// What every ``JournalStore`` must do, whatever its backend.
@Suite("journal store conformance")
struct JournalStoreConformanceTests {
    static let received = instant("2026-11-20T10:00:00+08:00")

    static func event(_ id: String, source: String = "core-banking", client: String? = "C1", amount: String = "100.00") -> Event {
        Event(id: id, source: source, type: EventType.accountTransaction, time: instant("2026-11-20T09:00:00+08:00"),
              clientId: client, data: ["accountId": "A1", "amount": .number(amount), "direction": "debit", "note": "现金 \"x\""])
    }

    @Test("events are stored once per (source, id), in order, and read back as they came", arguments: JournalBackend.all)
    func appendAndRead(backend: JournalBackend) async throws {
        let (store, owner) = try await backend.make()
        _ = owner
        let first = try await store.appendSubmissions([
            IngestSubmission(events: [Self.event("e1"), Self.event("e2", client: nil), Self.event("e1")]),
            IngestSubmission(events: [Self.event("e1", source: "crm"), Self.event("e2")]),
        ], receivedAt: Self.received)
        #expect(first.count == 2)
        #expect(first[0].sequences.map { $0 != nil } == [true, true, false], "a repeat in the same batch is a duplicate")
        #expect(first[1].sequences.map { $0 != nil } == [true, false], "another source's id is another event")
        let sequences = (first[0].sequences + first[1].sequences).compactMap { $0 }
        #expect(sequences == sequences.sorted() && Set(sequences).count == 3)
        let again = try await store.appendSubmissions([IngestSubmission(events: [Self.event("e2"), Self.event("e3")])],
                                                      receivedAt: Self.received)
        #expect(again[0].sequences[0] == nil && again[0].sequences[1] != nil)
        let events = try await store.readJournal(after: 0, limit: 10)
        #expect(events.map { "\($0.source)/\($0.id)" } == ["core-banking/e1", "core-banking/e2", "crm/e1", "core-banking/e3"])
        #expect(events.map(\.sequence) == (sequences + [again[0].sequences[1]!]))
        #expect(events[1].clientId == nil && events[0].clientId == "C1")
        #expect(events[0].time == instant("2026-11-20T09:00:00+08:00") && events[0].type == EventType.accountTransaction)
        #expect(events[0].field("note")?.stringValue == "现金 \"x\"" && events[0].transaction?.amount == Decimal(string: "100.00"))
        let head = try await store.journalHead()
        #expect(head == events.last?.sequence)
        let rest = try await store.readJournal(after: events[1].sequence, limit: 1)
        #expect(rest.map(\.id) == ["e1"] && rest.first?.source == "crm")
        #expect(try await store.readJournal(after: head, limit: 10).isEmpty)
    }

    @Test("a webhook id seen before stores nothing of its submission; old ids are forgotten", arguments: JournalBackend.all)
    func webhookReplays(backend: JournalBackend) async throws {
        let (store, owner) = try await backend.make()
        _ = owner
        let submission = IngestSubmission(events: [Self.event("w1")], webhook: (source: "crm", id: "msg_1"))
        let first = try await store.appendSubmissions([submission], receivedAt: Self.received)
        let second = try await store.appendSubmissions([submission, IngestSubmission(events: [Self.event("w2")])],
                                                       receivedAt: Self.received + 60)
        #expect(!first[0].replayedWebhook && first[0].acceptedCount == 1)
        #expect(second[0].replayedWebhook && second[0].sequences.isEmpty)
        #expect(second[1].acceptedCount == 1, "the submission beside it still goes in")
        #expect(try await store.webhookSeen(source: "crm", id: "msg_1"))
        #expect(try await store.webhookSeen(source: "core-banking", id: "msg_1") == false)
        #expect(try await store.pruneWebhookIds(before: Self.received + 1) == 1)
        #expect(try await store.webhookSeen(source: "crm", id: "msg_1") == false)
    }

    @Test("an inbox file's checkpoint and quarantined items commit with the events", arguments: JournalBackend.all)
    func checkpointsAndQuarantine(backend: JournalBackend) async throws {
        let (store, owner) = try await backend.make()
        _ = owner
        let bad = QuarantinedItem(receivedAt: Self.received, source: "loans", origin: "file:loans.csv:3", eventId: nil,
                                  reason: "amount is not a number", payload: "L1,abc,客户")
        // A payload is whatever did not parse, U+0000 included: it comes back as it went in.
        let named = QuarantinedItem(receivedAt: Self.received, source: "loans", origin: "file:loans.csv:4", eventId: "L2",
                                    reason: "unknown type", payload: "{\u{0}\u{1}}")
        var checkpoint = InboxCheckpoint(source: "loans", fileKey: "loans.csv|120", fileName: "loans.csv", byteOffset: 64, line: 4,
                                         finished: false)
        _ = try await store.appendSubmissions([IngestSubmission(events: [Self.event("L1")], quarantine: [bad, named],
                                                                checkpoint: checkpoint)], receivedAt: Self.received)
        #expect(try await store.inboxCheckpoint(source: "loans", fileKey: "loans.csv|120") == checkpoint)
        checkpoint.byteOffset = 120
        checkpoint.line = 6
        checkpoint.finished = true
        _ = try await store.appendSubmissions([IngestSubmission(events: [], checkpoint: checkpoint)], receivedAt: Self.received)
        #expect(try await store.inboxCheckpoint(source: "loans", fileKey: "loans.csv|120") == checkpoint)
        #expect(try await store.inboxCheckpoint(source: "loans", fileKey: "other") == nil)
        let items = try await store.quarantinedItems(limit: 10)
        #expect(items.map(\.origin) == ["file:loans.csv:4", "file:loans.csv:3"], "newest first")
        #expect(items[1].payload == "L1,abc,客户" && items[1].eventId == nil && items[0].eventId == "L2")
        #expect(items[0].payload == "{\u{0}\u{1}}")
        #expect(items[1].reason == "amount is not a number" && items.allSatisfy { $0.id != nil })
    }

    @Test("a reader following the head while several append at once sees every event once, in sequence order",
          arguments: JournalBackend.all)
    func readerMissesNothing(backend: JournalBackend) async throws {
        let (store, owner) = try await backend.make()
        _ = owner
        let writers = 4, batches = 10, perBatch = 25
        let total = writers * batches * perBatch
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for batch in 0..<batches {
                        let events = (0..<perBatch).map { Self.event("w\(writer)-\(batch)-\($0)", client: "C\(writer)") }
                        _ = try await store.appendSubmissions([IngestSubmission(events: events)], receivedAt: Self.received)
                    }
                }
            }
            group.addTask {
                var position: Int64 = 0
                var seen = Set<String>()
                let deadline = ContinuousClock.now + .seconds(60)
                while seen.count < total, ContinuousClock.now < deadline {
                    let events = try await store.readJournal(after: position, limit: 37)
                    for event in events {
                        #expect(event.sequence > position)
                        position = event.sequence
                        #expect(seen.insert(event.id).inserted, "\(event.id) read twice")
                    }
                    if events.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
                }
                #expect(seen.count == total, "the reader saw \(seen.count) of \(total)")
            }
            try await group.waitForAll()
        }
    }
}
