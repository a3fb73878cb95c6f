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
        // Sequences 1…10 in order; what may go is everything before the first event its partition has not handled.
        let parts = events.map { ClientPartitions.partition(of: $0.clientId, count: 4) }
        func prunable(_ offsets: [Int64]) -> Int {
            let firstUnhandled = (1...10).first { seq in Int64(seq) > offsets[parts[seq - 1]] }
            return (firstUnhandled ?? 11) - 1
        }
        let first = prunable([10, 10, 4, 0])
        #expect(report.journal == first, "partition 3, never dispatched, holds its events back")
        #expect(report.quarantine == 1 && report.webhookIds == 1)
        _ = try await store.transaction { try $0.execute("INSERT INTO partition_offset (part, position, updated_ms) VALUES (3, 10, 0)") }
        report = try await store.prune(cutoffs, now: now, partitions: 4, batch: 3)
        let second = prunable([10, 10, 4, 10])
        #expect(second >= 4 && report.journal == second - first, "up to partition 2's first unhandled event, in batches")
        #expect(try await store.readJournal(after: 0, limit: 100).map(\.sequence) == Array(stride(from: Int64(second + 1), through: 10, by: 1)))
    }
}
