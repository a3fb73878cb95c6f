import Foundation
import GRDB
import InsightCore
import InsightEngine
import InsightStore
import InsightTesting
import Testing

/// What the dispatcher does when the database fails under it: committed work is accounted for, nothing
/// uncommitted survives in its caches, and the next attempt neither skips nor re-applies an event.
@Suite struct DispatcherFailureTests {
    let clock = FixedTimeSource("2026-11-20T12:00:00+08:00")

    @Test func aFailureWhilePreparingTheNextBatchKeepsTheCommittedOne() async throws {
        let pipeline = try Pipeline(plugins: [try rulesPlugin()], clock: .live(clock), batchSize: 2)
        _ = try pipeline.database.append([
            EventFixtures.transaction("t1", client: "C1", amount: "600000"),
            EventFixtures.transaction("t2", client: "C1", amount: "10"),
            EventFixtures.transaction("t3", client: "CX", amount: "10", account: "6222029999999999"),
            EventFixtures.transaction("t4", client: "C1", amount: "10"),
        ], receivedAt: clock.now())

        // CX's stored profile is unreadable, so preparing the second batch fails while the first commits.
        let path = pipeline.directory.file(AppDatabase.fileName)
        let raw = try DatabaseQueue(path: path)
        try await raw.write { db in try db.execute(sql: "INSERT INTO client (id, profile) VALUES ('CX', 'not json')") }

        await #expect(throws: StoreError.self) { try await pipeline.dispatcher.drain() }
        let position = await pipeline.dispatcher.currentPosition
        #expect(position == 2, "the first batch committed and is accounted for")
        #expect(try pipeline.database.consumerPosition(AppDatabase.dispatcherConsumer) == 2)

        // The operator repairs the row; the next drain resumes at event 3 and applies each event once.
        try await raw.write { db in try db.execute(sql: "DELETE FROM client WHERE id = 'CX'") }
        try raw.close()
        let handled = try await pipeline.dispatcher.drain()
        #expect(handled == 2)
        let c1 = try #require(try pipeline.database.loadClients(["C1"])["C1"])
        #expect(c1.accounts["6222020200112233"]?.transactionCount == 3, "t1, t2 and t4, none twice")
        #expect(try pipeline.database.leads().map(\.key) == ["rules:large-inflow:core-banking:t1"])
    }
}
