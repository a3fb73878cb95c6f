import Foundation
import GRDB
import InsightCore
@testable import InsightEngine
@testable import InsightStore
import InsightTesting
import Testing

/// ``Dispatcher/StateWrites/checkpointed(every:)`` (the daemon): leads commit with every batch, client state at
/// checkpoints with the position it is at; a crash or a failed commit goes back to that position and handles the
/// events since again without making their leads twice.
@Suite struct CheckpointedStateTests {
    /// Remembers, per client, the `context.now` of the last transaction it saw.
    private struct LastSeen: Plugin {
        struct Configuration: PluginConfiguration { var enabled = true }
        struct Memory: PluginMemory {
            var at = ""
            init() {}
            init(json: JSONValue) throws { at = json["at"]?.stringValue ?? "" }
            var json: JSONValue { .object(["at": .string(at)]) }
            var isEmpty: Bool { at.isEmpty }
        }
        static let id = "last-seen"
        static let summary = "remembers when it last saw a client's transaction"
        let configuration: Configuration
        var subscriptions: [EventPattern] { [EventPattern("account.transaction")].compactMap { $0 } }
        func handle(_ event: Event, context: PluginContext, memory: inout Memory) throws -> [LeadDraft] {
            memory.at = RFC3339.format(context.now, timeZone: shanghai)
            return []
        }
    }

    private static let tick: ScheduleTick = {
        let day = LocalDate(year: 2026, month: 11, day: 21) ?? LocalDate(Date(), in: shanghai)
        return ScheduleTick(scheduledAt: day.instant(at: LocalTime(hour: 9, minute: 0), in: shanghai), localDate: day)
    }()

    private static func plugins() throws -> [LoadedPlugin] {
        [LoadedPlugin(CountingPlugin(configuration: .init())), try rulesPlugin()]
    }

    /// The mixed feed of ``DeferredStateWritesTests`` with a CRM interaction for every fifth client.
    private static func feed() -> [Event] {
        var events = DeferredStateWritesTests.mixedFeed(clients: 23, rounds: 4)
        for index in stride(from: 0, to: 23, by: 5) {
            events.append(EventFixtures.event("i\(index)", EventType.crmInteraction, client: "C\(index)",
                                              at: "2026-11-14T15:00:00+08:00",
                                              data: ["managerId": .string("M\(index % 3)"), "channel": .string("phone")]))
        }
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        return events
    }

    /// What writing every batch leaves, from the same journal.
    private static func reference(_ events: [Event]) async throws -> Pipeline {
        let pipeline = try Pipeline(plugins: try plugins(), clock: .eventTime, shards: 3, batchSize: 16)
        _ = try pipeline.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
        try await pipeline.dispatcher.drain()
        return pipeline
    }

    /// The committed position and the state's, as an array (which a failed expectation prints).
    private static func positions(_ database: AppDatabase) throws -> [Int64] {
        let positions = try database.dispatcherPositions()
        return [positions.handled, positions.state]
    }

    private static func interactionCount(_ database: AppDatabase) throws -> Int {
        try database.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM interaction") ?? 0 }
    }

    private static func expectSameState(_ actual: AppDatabase, as expected: AppDatabase) throws {
        #expect(try actual.leadBodies() == expected.leadBodies())
        let want = try DeferredStateWritesTests.stateTables(expected)
        let have = try DeferredStateWritesTests.stateTables(actual)
        for table in want.keys.sorted() { #expect(have[table] == want[table], "table \(table)") }
        #expect(try interactionCount(actual) == interactionCount(expected))
    }

    /// A checkpoint of more clients than its write encodes at once (4,096): each chunk is encoded and written, and
    /// the state is the one that writing every batch leaves.
    @Test func aCheckpointOfMoreClientsThanOneChunkWritesThemAll() async throws {
        var events = DeferredStateWritesTests.mixedFeed(clients: 4_500, rounds: 2)
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        let reference = try Pipeline(plugins: try Self.plugins(), clock: .eventTime, shards: 2, batchSize: 4_096)
        _ = try reference.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
        try await reference.dispatcher.drain()

        let pipeline = try Pipeline(plugins: try Self.plugins(), clock: .eventTime, shards: 2, batchSize: 4_096,
                                    stateWrites: .checkpointed(every: .seconds(3_600)), uptime: ManualUptime().reading)
        _ = try pipeline.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
        try await pipeline.dispatcher.drain()
        let head = Int64(events.count)
        #expect(try Self.positions(pipeline.database) == [head, head], "one checkpoint, at the end")
        #expect(try pipeline.database.clientCount() == 4_500)
        try Self.expectSameState(pipeline.database, as: reference.database)
    }

    /// Counts a client's transactions in its memory, and calls `handled` after changing the memory for the event
    /// with id `signalOn`.
    private struct SignalingCounter: Plugin {
        struct Configuration: PluginConfiguration {
            var enabled = true
            var signalOn = ""
            var handled: @Sendable () -> Void = {}
            init(signalOn: String, handled: @escaping @Sendable () -> Void) {
                self.signalOn = signalOn
                self.handled = handled
            }
            init(from decoder: any Decoder) throws {}
        }
        struct Memory: PluginMemory {
            var count = 0
            init() {}
            init(json: JSONValue) {
                if case .number(let literal)? = json["count"] { count = Int(literal) ?? 0 }
            }
            var json: JSONValue { .object(["count": .number(String(count))]) }
            var isEmpty: Bool { count == 0 }
        }
        static let id = "signaling-counter"
        static let summary = "counts transactions, and says when it has handled one"
        let configuration: Configuration
        init(configuration: Configuration) { self.configuration = configuration }
        var subscriptions: [EventPattern] { [EventPattern("account.transaction")].compactMap { $0 } }
        func handle(_ event: Event, context: PluginContext, memory: inout Memory) throws -> [LeadDraft] {
            memory.count += 1
            if event.id == configuration.signalOn { configuration.handled() }
            return []
        }
    }

    /// Waits for a semaphore on a thread of its own, not on the cooperative pool the dispatcher's shards run on (nor
    /// on Dispatch's global queues, whose threads that pool can share on Linux).
    private static func wait(for semaphore: DispatchSemaphore) async {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                semaphore.wait()
                continuation.resume()
            }
        }
    }

    /// The batch after a checkpoint changes its clients' memories while the checkpoint's commit still waits for the
    /// writer: the checkpoint writes the memories of its own position (from snapshots), not the later ones. A restart
    /// from that position then handles the later events again from the right memories.
    @Test func aCheckpointWritesTheMemoriesOfItsPositionWhileTheNextBatchChangesThem() async throws {
        let handled = DispatchSemaphore(value: 0)
        let plugin = LoadedPlugin(SignalingCounter(configuration: .init(signalOn: "t2-C3") { handled.signal() }))
        let uptime = ManualUptime()
        let pipeline = try Pipeline(plugins: [plugin], clock: .eventTime, shards: 2, batchSize: 8,
                                    stateWrites: .checkpointed(every: .seconds(10)), uptime: uptime.reading)
        var events = (1...2).flatMap { round in
            (0..<8).map { index in
                EventFixtures.transaction("t\(round)-C\(index)", client: "C\(index)", amount: "10.00",
                                          at: "2026-11-20T10:0\(round):0\(index)+08:00")
            }
        }
        for index in events.indices { events[index].sequence = Int64(index + 1) }

        // Hold the writer: the first batch's checkpoint commit waits for it.
        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let database = pipeline.database
        Thread.detachNewThread {
            database.pool.writeWithoutTransaction { _ in
                holding.signal()
                release.wait()
            }
        }
        await Self.wait(for: holding)
        uptime.advance(by: .seconds(11))  // the first batch is a checkpoint
        try await pipeline.dispatcher.submit(Array(events[0..<8]))
        // The second batch's shards change the memories; then it waits for the first batch's commit.
        async let second = pipeline.dispatcher.submit(Array(events[8..<16]))
        await Self.wait(for: handled)  // C3's memory counts 2 now, in the cache
        release.signal()
        _ = try await second

        #expect(try database.dispatcherPositions().state == 8, "the first batch's checkpoint is committed")
        let memory = try database.loadClients(["C3"])["C3"]?.memory[SignalingCounter.id]
        #expect(memory == .object(["count": .number("1")]), "the memory as of the checkpoint's position")
        try await pipeline.dispatcher.settle()
        #expect(try Self.positions(database) == [16, 8])
        #expect(try database.loadClients(["C3"])["C3"]?.memory[SignalingCounter.id] == .object(["count": .number("1")]))
    }

    @Test func stateWaitsForACheckpointWhileLeadsCommitWithEveryBatch() async throws {
        let events = Self.feed()
        let reference = try await Self.reference(events)
        let uptime = ManualUptime()
        let pipeline = try Pipeline(plugins: try Self.plugins(), clock: .eventTime, shards: 3, batchSize: 16,
                                    stateWrites: .checkpointed(every: .seconds(10)), uptime: uptime.reading)
        _ = try pipeline.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))

        try await pipeline.dispatcher.drain(maximumBatches: 3)
        #expect(try Self.positions(pipeline.database) == [48, 0])
        #expect(try pipeline.database.leadCount() > 0, "leads commit with their batch")
        #expect(try pipeline.database.loadClients(["C0", "C1"]).isEmpty, "no client row before a checkpoint")

        uptime.advance(by: .seconds(11))
        try await pipeline.dispatcher.drain(maximumBatches: 1)
        #expect(try Self.positions(pipeline.database) == [64, 64], "the interval has passed")
        #expect(await pipeline.dispatcher.currentStatePosition == 64)
        #expect(try pipeline.database.loadClients(["C0"])["C0"]?.profile.managerId == "M0")

        try await pipeline.dispatcher.drain(maximumBatches: 2)
        #expect(try Self.positions(pipeline.database) == [96, 64])
        try await pipeline.dispatcher.drain()
        let head = Int64(events.count)
        #expect(try Self.positions(pipeline.database) == [head, head], "caught up: written at once")
        try Self.expectSameState(pipeline.database, as: reference.database)
        #expect(try reference.database.leadCount() > 10)
    }

    /// The process dies between checkpoints: the next one handles the events since the last checkpoint again, and
    /// ends with every lead once and the state, interactions and plugin memories that one uninterrupted run leaves.
    @Test(arguments: [0, 2])
    func aCrashBetweenCheckpointsLosesNothingAndMakesNoLeadTwice(checkpointAfter: Int) async throws {
        let events = Self.feed()
        let reference = try await Self.reference(events)
        let directory = TemporaryDirectory()
        let leadsBefore: Int
        do {
            let uptime = ManualUptime()
            let first = try Pipeline(directory: directory, plugins: try Self.plugins(), clock: .eventTime, shards: 3,
                                     batchSize: 16, stateWrites: .checkpointed(every: .seconds(10)), uptime: uptime.reading)
            _ = try first.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
            if checkpointAfter > 0 {
                try await first.dispatcher.drain(maximumBatches: checkpointAfter - 1)
                uptime.advance(by: .seconds(10))
                try await first.dispatcher.drain(maximumBatches: 1)
            }
            try await first.dispatcher.drain(maximumBatches: 5)
            #expect(try Self.positions(first.database) == [Int64(16 * (5 + checkpointAfter)), Int64(16 * checkpointAfter)])
            leadsBefore = try first.database.leadCount()
            #expect(leadsBefore > 0)
            // The crash: no flush, no shutdown.
        }
        let second = try Pipeline(directory: directory, plugins: try Self.plugins(), clock: .eventTime, shards: 3,
                                  batchSize: 16, stateWrites: .checkpointed(every: .seconds(10)))
        #expect(await second.dispatcher.currentPosition == Int64(16 * checkpointAfter), "resumes at the checkpoint")
        try await second.dispatcher.drain(maximumBatches: 2)
        #expect(try second.database.leadCount() == leadsBefore, "events handled again make no lead")
        #expect(try second.database.consumerPosition(AppDatabase.dispatcherConsumer) == Int64(16 * (5 + checkpointAfter)),
                "the committed position never goes back")
        // The batch that ends handling them again is a checkpoint: a daemon restarted over and over still moves on.
        try await second.dispatcher.drain(maximumBatches: 3)
        #expect(try Self.positions(second.database) == [Int64(16 * (5 + checkpointAfter)), Int64(16 * (5 + checkpointAfter))])
        try await second.dispatcher.drain()
        try Self.expectSameState(second.database, as: reference.database)
    }

    /// A failure while a batch is handled (a stored client row that does not decode) drops the caches: the next drain
    /// starts again from the checkpoint, once the row is mended.
    @Test func afterAFailureTheDispatcherGoesOnFromItsCheckpoint() async throws {
        var events = Self.feed()
        let bad = EventFixtures.transaction("tx", client: "CX", amount: "10", account: "AX", at: "2026-11-14T16:00:00+08:00")
        events.insert(bad, at: 100)
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        let reference = try await Self.reference(events)
        let pipeline = try Pipeline(plugins: try Self.plugins(), clock: .eventTime, shards: 3, batchSize: 16,
                                    stateWrites: .checkpointed(every: .seconds(3600)), uptime: ManualUptime().reading)
        _ = try pipeline.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
        try await pipeline.database.pool.write { db in try db.execute(sql: "INSERT INTO client (id, profile) VALUES ('CX', 'not json')") }
        await #expect(throws: StoreError.self) { try await pipeline.dispatcher.drain() }
        #expect(await pipeline.dispatcher.currentPosition == 0, "back to the last checkpoint")
        let committed = try pipeline.database.consumerPosition(AppDatabase.dispatcherConsumer)
        #expect(committed >= 80 && committed < 101, "the batches before the bad one committed their leads")

        try await pipeline.database.pool.write { db in try db.execute(sql: "DELETE FROM client WHERE id = 'CX'") }
        try await pipeline.dispatcher.drain()
        try Self.expectSameState(pipeline.database, as: reference.database)
    }

    /// A daily tick while a drain runs waits until it stops between batches, then reads the state written.
    @Test func aTickDuringADrainRunsBetweenBatchesOnWrittenState() async throws {
        let events = DeferredStateWritesTests.mixedFeed(clients: 40, rounds: 3)
        let pipeline = try Pipeline(plugins: [LoadedPlugin(SegmentTick(configuration: .init())), try rulesPlugin()],
                                    clock: .eventTime, shards: 2, batchSize: 4,
                                    stateWrites: .checkpointed(every: .seconds(3600)), uptime: ManualUptime().reading)
        _ = try pipeline.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
        let dispatcher = pipeline.dispatcher
        let draining = Task { try await dispatcher.drain() }
        while await dispatcher.currentPosition == 0 { await Task.yield() }  // the drain is under way
        let leads = try await dispatcher.runTick(Self.tick, plugin: "segment-tick")
        let handled = try await draining.value
        // The tick ran between two batches (or after the drain, had it finished first), on the state written up to where
        // the dispatcher had got: a lead for each hnw client whose profile was handled by then.
        let positions = try pipeline.database.dispatcherPositions()
        #expect(positions.state == positions.handled)
        #expect(positions.handled == Int64(handled))
        let profiled = events.prefix(handled).filter { $0.type == EventType.clientProfile && $0.field("segment")?.stringValue == "hnw" }
        #expect(leads.map(\.key).sorted() == profiled.compactMap(\.clientId).map { "segment-tick:hnw:\($0)" }.sorted())
        try await dispatcher.drain()
        #expect(try Self.positions(pipeline.database) == [Int64(events.count), Int64(events.count)])
        #expect(handled <= events.count)
        let hnw = try await pipeline.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM client WHERE segment = 'hnw'") }
        #expect(hnw == 20)
    }

    @Test func switchingToEveryBatchStillResumesFromTheCheckpoint() async throws {
        let events = Self.feed()
        let reference = try await Self.reference(events)
        let directory = TemporaryDirectory()
        do {
            let first = try Pipeline(directory: directory, plugins: try Self.plugins(), clock: .eventTime, shards: 3,
                                     batchSize: 16, stateWrites: .checkpointed(every: .seconds(10)), uptime: ManualUptime().reading)
            _ = try first.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
            try await first.dispatcher.drain(maximumBatches: 4)
        }
        let second = try Pipeline(directory: directory, plugins: try Self.plugins(), clock: .eventTime, shards: 3, batchSize: 16)
        #expect(await second.dispatcher.currentPosition == 0)
        try await second.dispatcher.drain()
        #expect(try Self.positions(second.database) == [Int64(events.count), Int64(events.count)])
        try Self.expectSameState(second.database, as: reference.database)
    }

    /// A cache far smaller than a batch: every batch is a checkpoint, and the cache lets clients go while the next
    /// checkpoint is still being written; a client read back meanwhile must not come from before it.
    @Test(arguments: [(batchSize: 256, cacheCapacity: 50), (batchSize: 16, cacheCapacity: 10), (batchSize: 5, cacheCapacity: 4)])
    func evictionsKeepTheStateWritingEveryBatchLeaves(batchSize: Int, cacheCapacity: Int) async throws {
        var events = DeferredStateWritesTests.mixedFeed(clients: 300, rounds: 4)
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        let reference = try Pipeline(plugins: try Self.plugins(), clock: .eventTime, shards: 3, batchSize: batchSize)
        _ = try reference.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
        try await reference.dispatcher.drain()
        let pipeline = try Pipeline(plugins: try Self.plugins(), clock: .eventTime, shards: 3, batchSize: batchSize,
                                    cacheCapacity: cacheCapacity, stateWrites: .checkpointed(every: .seconds(3600)),
                                    uptime: ManualUptime().reading)
        _ = try pipeline.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
        try await pipeline.dispatcher.drain()
        #expect(try Self.positions(pipeline.database) == [Int64(events.count), Int64(events.count)])
        #expect(await pipeline.dispatcher.cachedClientCount <= max(cacheCapacity, batchSize) * 2, "the cache stays bounded")
        try Self.expectSameState(pipeline.database, as: reference.database)
    }

    /// Over its bound the cache lets written clients go until it is an eighth under it, not all of them: a feed that
    /// comes back to the same clients finds most of them cached. The state is what writing every batch with every
    /// client cached leaves.
    @Test(arguments: [true, false])
    func anEvictionKeepsMostOfTheCache(checkpointed: Bool) async throws {
        var events = DeferredStateWritesTests.mixedFeed(clients: 300, rounds: 3)
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        let reference = try await Self.reference(events)
        let pipeline = try Pipeline(plugins: try Self.plugins(), clock: .eventTime, shards: 3, batchSize: 64,
                                    cacheCapacity: 200,
                                    stateWrites: checkpointed ? .checkpointed(every: .seconds(3600)) : .everyBatch,
                                    uptime: ManualUptime().reading)
        _ = try pipeline.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
        try await pipeline.dispatcher.drain()
        let cached = await pipeline.dispatcher.cachedClientCount
        #expect(cached >= 100, "most of the cache stays (it was emptied but for the batch in flight before)")
        #expect(cached <= 200 + 2 * 64, "the cache stays bounded")
        #expect(try Self.positions(pipeline.database) == [Int64(events.count), Int64(events.count)])
        try Self.expectSameState(pipeline.database, as: reference.database)
    }

    @Test func evictingLeavesTheClientsToKeepAndStopsAtTheTarget() {
        let bus = EventBus(shardCount: 3)
        var cache = ClientCache(bus: bus)
        for index in 0..<100 { cache["C\(index)"] = ClientState(id: "C\(index)") }
        let keep = Set((0..<30).map { "C\($0)" })
        let evicted = cache.evict(downTo: 45, keeping: { keep.contains($0) })
        #expect(cache.count <= 45 + 3, "each shard down to its share (the keep set fits in it)")
        #expect(cache.count + evicted.count == 100)
        for id in keep { #expect(cache.contains(id), "\(id) has state not written: it stays") }
        for state in evicted { #expect(!keep.contains(state.id) && !cache.contains(state.id)) }
        #expect(cache.evict(downTo: 100, keeping: { _ in false }).isEmpty, "under its bound nothing goes")
    }

    /// After a restart that went back to the checkpoint, a daily tick first handles again the events whose leads are
    /// committed: its query reads state at least as recent as the ledger.
    @Test func aTickAfterARestartReadsStateAsRecentAsTheLeads() async throws {
        let events = DeferredStateWritesTests.mixedFeed(clients: 40, rounds: 2)
        let plugins = { [LoadedPlugin(SegmentTick(configuration: .init())), try rulesPlugin()] }
        let directory = TemporaryDirectory()
        do {
            let first = try Pipeline(directory: directory, plugins: try plugins(), clock: .eventTime, batchSize: 16,
                                     stateWrites: .checkpointed(every: .seconds(3600)), uptime: ManualUptime().reading)
            _ = try first.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
            try await first.dispatcher.drain(maximumBatches: 5)
            #expect(try Self.positions(first.database) == [80, 0])
        }
        let second = try Pipeline(directory: directory, plugins: try plugins(), clock: .eventTime, batchSize: 16,
                                  stateWrites: .checkpointed(every: .seconds(3600)), uptime: ManualUptime().reading)
        #expect(await second.dispatcher.currentPosition == 0)
        let leads = try await second.dispatcher.runTick(Self.tick, plugin: "segment-tick")
        #expect(try Self.positions(second.database) == [80, 80])
        let profiled = events.prefix(80).filter { $0.type == EventType.clientProfile && $0.field("segment")?.stringValue == "hnw" }
        #expect(!profiled.isEmpty)
        #expect(leads.map(\.key).sorted() == profiled.compactMap(\.clientId).map { "segment-tick:hnw:\($0)" }.sorted())
    }

    /// Live, an event handled again after a restart sees the time its outputs were first committed, not the restart's:
    /// what a plugin remembers of it (a cooldown's start) does not move.
    @Test func anEventHandledAgainSeesTheTimeItsOutputsWereCommitted() async throws {
        let directory = TemporaryDirectory()
        let time = FixedTimeSource("2026-11-20T10:00:00+08:00")
        var events = [
            EventFixtures.transaction("t1", client: "C1", amount: "10", account: "A1", at: "2026-11-20T09:00:00+08:00"),
            EventFixtures.transaction("t2", client: "C2", amount: "10", account: "A2", at: "2026-11-20T09:01:00+08:00"),
        ]
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        do {
            let first = try Pipeline(directory: directory, plugins: [LoadedPlugin(LastSeen(configuration: .init()))],
                                     clock: .live(time), batchSize: 1, stateWrites: .checkpointed(every: .seconds(3600)),
                                     uptime: ManualUptime().reading)
            _ = try first.database.append(events, receivedAt: time.now())
            try await first.dispatcher.drain(maximumBatches: 1)
            time.advance(by: 60)
            try await first.dispatcher.drain(maximumBatches: 1)
            #expect(try Self.positions(first.database) == [2, 0])
        }
        time.advance(by: 3 * 3600)  // the restart, three hours later
        let second = try Pipeline(directory: directory, plugins: [LoadedPlugin(LastSeen(configuration: .init()))],
                                  clock: .live(time), batchSize: 2, stateWrites: .checkpointed(every: .seconds(3600)))
        try await second.dispatcher.drain()
        let clients = try second.database.loadClients(["C1", "C2"])
        // Both were committed by 10:01 (the second batch's commit): neither sees 13:01.
        #expect(clients["C1"]?.memory[LastSeen.id]?["at"]?.stringValue == "2026-11-20T10:01:00+08:00")
        #expect(clients["C2"]?.memory[LastSeen.id]?["at"]?.stringValue == "2026-11-20T10:01:00+08:00")
    }

    /// After a restart with the state behind: two ticks, a drain loop (as the daemon's) and a flush at once. The ticks
    /// handle the committed events again while no drain takes a batch; everything ends as writing every batch does.
    @Test(arguments: 0..<3)
    func ticksDrainsAndAFlushAtOnceAfterARestart(round: Int) async throws {
        let events = Self.feed()
        let reference = try await Self.reference(events)
        let directory = TemporaryDirectory()
        let plugins = { [LoadedPlugin(SegmentTick(configuration: .init()))] + (try Self.plugins()) }
        do {
            let first = try Pipeline(directory: directory, plugins: try plugins(), clock: .eventTime, shards: 3, batchSize: 8,
                                     stateWrites: .checkpointed(every: .seconds(3600)), uptime: ManualUptime().reading)
            _ = try first.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
            try await first.dispatcher.drain(maximumBatches: 10)
        }
        let second = try Pipeline(directory: directory, plugins: try plugins(), clock: .eventTime, shards: 3, batchSize: 8,
                                  stateWrites: .checkpointed(every: .seconds(3600)), uptime: ManualUptime().reading)
        let dispatcher = second.dispatcher
        let ticking = Task { try await dispatcher.runTick(Self.tick, plugin: "segment-tick") }
        let draining = Task {
            for _ in 0..<40 {
                try await dispatcher.drain(maximumBatches: 1)
                await Task.yield()
            }
        }
        let tickingAgain = Task { try await dispatcher.runTick(Self.tick, plugin: "segment-tick") }
        let flushing = Task { try await dispatcher.flushState() }
        _ = try await tickingAgain.value
        try await flushing.value
        _ = try await ticking.value
        try await draining.value
        try await dispatcher.drain()
        #expect(try Self.positions(second.database) == [Int64(events.count), Int64(events.count)])
        let want = try DeferredStateWritesTests.stateTables(reference.database)
        let have = try DeferredStateWritesTests.stateTables(second.database)
        for table in want.keys.sorted() { #expect(have[table] == want[table], "table \(table)") }
    }

    /// A clock that moves a second each time it is read.
    private final class SteppingTime: TimeSource, @unchecked Sendable {
        private let lock = NSLock()
        private var current: Date
        init(_ start: Date) { current = start }
        func now() -> Date {
            lock.withLock {
                current = current.addingTimeInterval(1)
                return current
            }
        }
    }

    /// After a failure in the process, events handled again see the time the consumer row recorded for the last
    /// commit, as they would after a restart.
    @Test func anEventHandledAgainInTheProcessSeesTheRecordedCommitTime() async throws {
        let time = SteppingTime(RFC3339.parse("2026-11-20T10:00:00+08:00") ?? Date())
        var events = [
            EventFixtures.transaction("t1", client: "C1", amount: "10", account: "A1", at: "2026-11-20T09:00:00+08:00"),
            EventFixtures.transaction("t2", client: "C2", amount: "10", account: "A2", at: "2026-11-20T09:01:00+08:00"),
            EventFixtures.transaction("t3", client: "CX", amount: "10", account: "AX", at: "2026-11-20T09:02:00+08:00"),
        ]
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        let pipeline = try Pipeline(plugins: [LoadedPlugin(LastSeen(configuration: .init()))], clock: .live(time), batchSize: 1,
                                    stateWrites: .checkpointed(every: .seconds(3600)), uptime: ManualUptime().reading)
        _ = try pipeline.database.append(events, receivedAt: Date(timeIntervalSince1970: 1_790_000_000))
        try await pipeline.database.pool.write { db in try db.execute(sql: "INSERT INTO client (id, profile) VALUES ('CX', 'not json')") }
        await #expect(throws: StoreError.self) { try await pipeline.dispatcher.drain() }
        let recorded = try #require(try pipeline.database.dispatcherPositions().handledAt)
        try await pipeline.database.pool.write { db in try db.execute(sql: "DELETE FROM client WHERE id = 'CX'") }
        try await pipeline.dispatcher.drain()
        let clients = try pipeline.database.loadClients(["C1", "C2"])
        let expected = RFC3339.format(recorded, timeZone: shanghai)
        #expect(clients["C1"]?.memory[LastSeen.id]?["at"]?.stringValue == expected)
        #expect(clients["C2"]?.memory[LastSeen.id]?["at"]?.stringValue == expected)
    }
}
