import Foundation
import InsightCore
import InsightEngine
import InsightStore
import InsightTesting
import Testing

/// ``Dispatcher/handle(_:)``: events that were never journaled (`insightd replay`) go through the same
/// pipeline as the journal's, in batches.
@Suite struct DispatcherHandleTests {
    @Test func handlingEventsDirectlyGivesTheLeadsAndPositionThatJournalingAndDrainingGive() async throws {
        var events = syntheticEvents(count: 3_000, clients: 37)
        for index in events.indices { events[index].sequence = Int64(index + 1) }

        let journaled = try Pipeline(plugins: [try rulesPlugin()], clock: .eventTime, batchSize: 256)
        _ = try journaled.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_795_000_000))
        let drained = try await journaled.dispatcher.drain()

        let direct = try Pipeline(plugins: [try rulesPlugin()], clock: .eventTime, batchSize: 256)
        let handled = try await direct.dispatcher.handle(events)

        #expect(handled == 3_000 && drained == 3_000, "every event handled once, in batches of 256")
        #expect(try direct.database.journalCount() == 0, "nothing is journaled")
        #expect(await direct.dispatcher.currentPosition == 3_000)
        #expect(try direct.database.consumerPosition(AppDatabase.dispatcherConsumer) == 3_000, "the position follows the sequences")
        let bodies = try direct.database.leadBodies()
        #expect(bodies.count == 300, "every 10th event is a large credit")
        #expect(bodies == (try journaled.database.leadBodies()), "byte-identical leads")
        #expect(try await direct.dispatcher.handle([]) == 0)
    }
}
