import Foundation
import InsightCore
import InsightPostgres
import InsightStore
import InsightTesting
import Testing

/// Retention on the shared store: the journal goes only as far as every partition has handled it.
@Suite("PostgreSQL retention", .enabled(if: TestPostgres.url != nil || TestPostgres.isRequired))
struct PostgresRetentionTests {
    @Test func theJournalGoesOnlyAsFarAsEveryPartitionHandledIt() async throws {
        let test = try await TestPostgres.start()
        let store = test.store
        let old = Date(timeIntervalSince1970: 1_700_000_000)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let events = (0..<10).map { EventFixtures.transaction("e\($0)", client: "C\($0)", amount: "1.00") }
        _ = try await store.appendSubmissions([IngestSubmission(events: events, quarantine: [QuarantinedItem(
            receivedAt: old, source: "crm", origin: "webhook", eventId: nil, reason: "bad", payload: "x")],
                                                                webhook: (source: "crm", id: "msg_1"))], receivedAt: old)
        let cutoffs = RetentionCutoffs(journal: now, quarantine: now, leads: now, delivered: now, webhookIds: now)
        // Three of four partitions have a position: the fourth holds everything back.
        _ = try await store.transaction { session in
            try session.execute("INSERT INTO partition_offset (part, position, updated_ms) VALUES (0, 10, 0), (1, 10, 0), (2, 4, 0)")
        }
        var report = try await store.prune(cutoffs, now: now, partitions: 4)
        #expect(report.journal == 0)
        #expect(report.quarantine == 1 && report.webhookIds == 1)
        _ = try await store.transaction { try $0.execute("INSERT INTO partition_offset (part, position, updated_ms) VALUES (3, 10, 0)") }
        report = try await store.prune(cutoffs, now: now, partitions: 4, batch: 3)
        #expect(report.journal == 4, "up to the lowest position, in batches")
        #expect(try await store.readJournal(after: 0, limit: 100).map(\.sequence) == Array(5...10))
    }
}
