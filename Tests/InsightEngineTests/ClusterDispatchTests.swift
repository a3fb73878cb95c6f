import Foundation
import InsightCore
import InsightEngine
import InsightPlugins
import InsightPostgres
import InsightStore
import InsightTesting
import Logging
import PostgresNIO
import Testing

/// Three cluster members on one PostgreSQL, in one process, on a clock the test moves: partitions spread between them,
/// move when one stops renewing, and a paused member's stale work never commits. Each event's state change and lead
/// happen once whoever handles it.
@Suite("cluster dispatch on PostgreSQL", .enabled(if: TestPostgres.url != nil || TestPostgres.isRequired))
struct ClusterDispatchTests {
    static let start = RFC3339.parse("2026-11-20T10:00:00+08:00") ?? Date()
    static let partitions = 16

    struct Member {
        let member: ClusterMember
        let name: String
    }

    static func member(_ name: String, store: PostgresStore, clock: FixedTimeSource,
                       stateWrites: Dispatcher.StateWrites = .everyBatch, batchSize: Int = 256,
                       extraPlugins: [LoadedPlugin] = []) throws -> Member {
        let settings = SettingsBox(PipelineSettings(plugins: [try rulesPlugin()] + extraPlugins, timeZone: shanghai, locale: "zh-CN"))
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let member = ClusterMember(store: store, settings: ClusterSettings(instance: name, partitions: partitions),
                                   now: { clock.now() }, logger: logger) { view in
            // As the daemon chooses (ClusterDaemon): with every batch while a run of an older release is alive.
            try Dispatcher(database: view, settings: settings, clock: .live(clock), shards: 2, batchSize: batchSize,
                           stateWrites: view.stateCheckpointsAllowed ? stateWrites : .everyBatch, logger: logger)
        }
        return Member(member: member, name: name)
    }

    /// Dispatches until a round handles nothing.
    static func drain(_ member: Member) async throws -> Int {
        var total = 0
        while true {
            let handled = try await member.member.dispatch()
            total += handled
            if handled == 0 { return total }
        }
    }

    static func count(_ store: PostgresStore, _ query: PostgresQueryText) async throws -> Int {
        try await store.transaction { try $0.value(Int.self, query.query) ?? -1 }
    }

    @Test("partitions spread over three members, move when one stops renewing, and a paused member's commit is refused; every event's state and lead happen once")
    func failover() async throws {
        let test = try await TestPostgres.start()
        let store = test.store
        let clock = FixedTimeSource(Self.start)
        let a = try Self.member("a", store: store, clock: clock)
        let b = try Self.member("b", store: store, clock: clock)
        let c = try Self.member("c", store: store, clock: clock)

        // Joining one after another, then a second round: 6, 5 and 5 partitions, none twice.
        for member in [a, b, c, a, b, c] { try await member.member.renewLeases() }
        let held = [try await a.member.renewLeases(), try await b.member.renewLeases(), try await c.member.renewLeases()]
        #expect(held.map(\.count) == [6, 5, 5])
        #expect(Set(held.flatMap { $0 }).count == Self.partitions)

        let events = syntheticEvents(count: 3000, clients: 300)
        let first = Array(events[..<1500]), second = Array(events[1500...])
        _ = try await store.appendSubmissions([IngestSubmission(events: first)], receivedAt: Self.start)
        var handled = 0
        for member in [a, b, c] { handled += try await Self.drain(member) }
        #expect(handled == 1500, "each event handled by exactly one member")
        // The clients spread over the partitions: every member had some.
        let perPartition = Dictionary(grouping: first, by: { ClientPartitions.partition(of: $0.clientId, count: Self.partitions) })
        #expect(perPartition.count == Self.partitions)

        // b stops renewing (paused, or killed). The others take its partitions once its lease has run out.
        _ = try await store.appendSubmissions([IngestSubmission(events: second)], receivedAt: Self.start)
        clock.advance(by: 20)
        try await a.member.renewLeases()
        try await c.member.renewLeases()
        let after = [try await a.member.renewLeases(), try await c.member.renewLeases()]
        #expect(after.map(\.count) == [8, 8], "b's partitions were taken over")
        for member in [a, c] { handled += try await Self.drain(member) }
        #expect(handled == 3000)

        // b resumes with the dispatcher of its old leases: what it handles again must not commit.
        let stale = try await b.member.dispatch()
        #expect(stale == 0)
        #expect(await b.member.heldPartitions.isEmpty, "b knows it lost its leases")

        // b renews: it is alive again and gets a share back as the others give partitions up.
        for member in [b, a, c, b] { try await member.member.renewLeases() }
        #expect(try await b.member.renewLeases().count == 5)
        for member in [a, b, c] { _ = try await Self.drain(member) }

        // Exactly once: one lead per large credit, and each account's transaction count is its number of events.
        let largeCredits = events.filter { $0.field("amount")?.stringValue == "600000.00" }.count
        #expect(try await Self.count(store, "SELECT COUNT(*)::bigint FROM lead") == largeCredits)
        #expect(try await Self.count(store, "SELECT COUNT(DISTINCT journal_seq)::bigint FROM lead") == largeCredits)
        #expect(try await Self.count(store, "SELECT SUM(transaction_count)::bigint FROM account") == events.count)
        #expect(try await Self.count(store, "SELECT COUNT(*)::bigint FROM account") == 300)
        // Every partition's position is past its last event.
        #expect(try await Self.count(store, """
            SELECT COUNT(*)::bigint FROM partition_offset o
            WHERE o.position >= (SELECT MAX(seq) FROM journal WHERE client_hash % 16 = o.part)
            """) == Self.partitions)

        try await a.member.leave()
        #expect(await a.member.heldPartitions.isEmpty)
        #expect(try await store.leases().allSatisfy { !$0.owner.hasPrefix("a#") })
    }

    @Test("with state written at checkpoints, a partition's next holder handles its events again from the state position and makes no lead twice")
    func checkpointedFailover() async throws {
        let test = try await TestPostgres.start()
        let store = test.store
        let clock = FixedTimeSource(Self.start)
        // Checkpoints only when caught up (or at a flush): the interval never passes in the test. A plugin that fails on
        // some events: its failures are the one output the store keeps as often as it is given (no key).
        let failing = [LoadedPlugin(RecordingPlugin(configuration: .init(recorder: PluginRecorder())))]
        let a = try Self.member("a", store: store, clock: clock, stateWrites: .checkpointed(every: .seconds(3600)), batchSize: 64,
                                extraPlugins: failing)
        let b = try Self.member("b", store: store, clock: clock, stateWrites: .checkpointed(every: .seconds(3600)), batchSize: 64,
                                extraPlugins: failing)
        for member in [a, b, a, b] { try await member.member.renewLeases() }
        #expect(try await b.member.renewLeases().count == 8)

        let all = syntheticEvents(count: 2200, clients: 200)
        let transactions = Array(all[..<2000]), more = Array(all[2000...])
        let failures = (0..<40).map { index in
            EventFixtures.event("fail-\(index)", "custom.thing", client: "C\(String(format: "%06d", index))", data: ["fail": .bool(true)])
        }
        let events = failures + transactions
        _ = try await store.appendSubmissions([IngestSubmission(events: events)], receivedAt: Self.start)
        let handledByA = try await Self.drain(a)
        // b handles two batches of its partitions and stops before it catches up: leads and positions committed, state not.
        let handledByB = try await b.member.dispatch(maximumBatches: 2)
        #expect(handledByB == 128)
        #expect(try await Self.count(store, "SELECT COUNT(*)::bigint FROM partition_offset WHERE state_position < position") == 8,
                "b's partitions have leads committed past their state")
        #expect(try await Self.count(store, "SELECT COUNT(*)::bigint FROM partition_offset WHERE state_position IS NULL") == 8,
                "a caught up and wrote its state")
        #expect(try await store.unhandledEvents(upTo: store.journalHead()) > 0, "an admin tick waits for b's partitions")
        let behind = try await store.clusterStatus(now: clock.now())
        #expect(behind.stateLag == 128 && behind.partitions.filter { $0.stateLag > 0 }.allSatisfy { $0.statePosition < $0.position })
        let leadsBefore = try await Self.count(store, "SELECT COUNT(*)::bigint FROM lead")
        #expect(leadsBefore > 0)

        // b dies; a takes its partitions and handles their events again from their state position.
        clock.advance(by: 20)
        for _ in 0..<2 { try await a.member.renewLeases() }
        #expect(await a.member.heldPartitions.count == 16)
        let again = try await Self.drain(a)
        #expect(handledByA + again >= events.count, "b's events are handled again, from its partitions' state position")
        #expect(try await b.member.dispatch() == 0, "b's stale work never commits")

        let largeCredits = events.filter { $0.field("amount")?.stringValue == "600000.00" }.count
        #expect(try await Self.count(store, "SELECT COUNT(*)::bigint FROM lead") == largeCredits)
        #expect(try await Self.count(store, "SELECT COUNT(DISTINCT journal_seq)::bigint FROM lead") == largeCredits)
        #expect(try await Self.count(store, "SELECT SUM(transaction_count)::bigint FROM account") == transactions.count)
        #expect(try await Self.count(store, "SELECT COUNT(*)::bigint FROM plugin_failure") == failures.count,
                "the failures of events handled again are not recorded twice")
        // Caught up: the state position is the position again (stored as NULL, as an older release reads it).
        #expect(try await Self.count(store, "SELECT COUNT(*)::bigint FROM partition_offset WHERE state_position IS NULL") == 16)
        #expect(try await store.unhandledEvents(upTo: store.journalHead()) == 0)
        #expect(try await store.clusterStatus(now: clock.now()).stateLag == 0)

        // A clean leave writes the state first: the next holder handles nothing again.
        _ = try await store.appendSubmissions([IngestSubmission(events: more)], receivedAt: Self.start)
        _ = try await a.member.dispatch(maximumBatches: 1)
        try await a.member.leave()
        #expect(try await Self.count(store, "SELECT COUNT(*)::bigint FROM partition_offset WHERE state_position < position") == 0)
    }

    @Test("while a run of an older release (no features) is alive, state is written with every batch; checkpoints once it is gone")
    func olderReleaseKeepsStateWithEveryBatch() async throws {
        let test = try await TestPostgres.start()
        let store = test.store
        let clock = FixedTimeSource(Self.start)
        let until = (Self.start + 10).milliseconds
        _ = try await store.transaction { session in
            try session.execute("INSERT INTO cluster_instance (name, alive_until_ms) VALUES ('old#1', \(until))")
        }
        #expect(try await store.dispatchStore(holding: [], partitions: 16, now: { clock.now() }).stateCheckpointsAllowed == false)
        let member = try Self.member("new", store: store, clock: clock, stateWrites: .checkpointed(every: .seconds(3600)),
                                     batchSize: 64)
        try await member.member.renewLeases()
        let features = try await store.transaction { session in
            try session.value(String.self, "SELECT features FROM cluster_instance WHERE name LIKE 'new#%'")
        }
        #expect(features == "state-checkpoints")
        let all = syntheticEvents(count: 1000, clients: 100)
        _ = try await store.appendSubmissions([IngestSubmission(events: Array(all[..<500]))], receivedAt: Self.start)
        #expect(try await member.member.dispatch(maximumBatches: 2) == 128)
        #expect(try await Self.count(store, "SELECT COUNT(*)::bigint FROM partition_offset WHERE state_position IS NOT NULL") == 0,
                "with every batch: the state is at the position, as the older run reads it")

        clock.advance(by: 20)  // the older run's heartbeat expired: it is gone
        #expect(try await store.dispatchStore(holding: [], partitions: 16, now: { clock.now() }).stateCheckpointsAllowed)
        try await member.member.renewLeases()  // the dispatcher is made again, now with checkpoints
        _ = try await store.appendSubmissions([IngestSubmission(events: Array(all[500...]))], receivedAt: Self.start)
        #expect(try await member.member.dispatch(maximumBatches: 2) == 128)
        #expect(try await Self.count(store, "SELECT COUNT(*)::bigint FROM partition_offset WHERE state_position < position") > 0,
                "at checkpoints: leads and positions go ahead of the state")
    }

    @Test("a member giving partitions back writes their state first: the taker handles nothing again")
    func stateIsWrittenBeforePartitionsGoBack() async throws {
        let test = try await TestPostgres.start()
        let store = test.store
        let clock = FixedTimeSource(Self.start)
        let a = try Self.member("a", store: store, clock: clock, stateWrites: .checkpointed(every: .seconds(3600)), batchSize: 64)
        try await a.member.renewLeases()
        #expect(await a.member.heldPartitions.count == 16)
        _ = try await store.appendSubmissions([IngestSubmission(events: syntheticEvents(count: 600, clients: 100))],
                                              receivedAt: Self.start)
        #expect(try await a.member.dispatch(maximumBatches: 2) == 128)
        #expect(try await Self.count(store, "SELECT COUNT(*)::bigint FROM partition_offset WHERE state_position < position") == 16)
        // b joins; a's next renewal gives 8 back, its state written first.
        let b = try Self.member("b", store: store, clock: clock, stateWrites: .checkpointed(every: .seconds(3600)), batchSize: 64)
        try await b.member.renewLeases()
        try await a.member.renewLeases()
        #expect(await a.member.heldPartitions.count == 8)
        #expect(try await Self.count(store, "SELECT COUNT(*)::bigint FROM partition_offset WHERE state_position < position") == 0)
        #expect(try await b.member.renewLeases().count == 8)
        #expect(try await store.unhandledEvents(upTo: 128) == 0)
    }

    @Test("a daily tick runs on one member per plugin and day, while the members dispatch; a second run of a name waits")
    func ticksOncePerCluster() async throws {
        let test = try await TestPostgres.start()
        let store = test.store
        let clock = FixedTimeSource(Self.start)
        let recorder = PluginRecorder()
        let plugins = [try rulesPlugin(), LoadedPlugin(RecordingPlugin(configuration: .init(recorder: recorder,
                                                                                            schedule: LocalTime(hour: 8, minute: 0))))]
        func member(_ name: String) -> ClusterMember {
            let settings = SettingsBox(PipelineSettings(plugins: plugins, timeZone: shanghai, locale: "zh-CN"))
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            return ClusterMember(store: store, settings: ClusterSettings(instance: name, partitions: Self.partitions),
                                 now: { clock.now() }, logger: logger) { view in
                try Dispatcher(database: view, settings: settings, clock: .live(clock), shards: 2, batchSize: 64,
                               stateWrites: .everyBatch, logger: logger)
            }
        }
        let a = member("a"), b = member("b")
        for each in [a, b, a, b] { try await each.renewLeases() }
        let events = syntheticEvents(count: 600, clients: 50)
        _ = try await store.appendSubmissions([IngestSubmission(events: events)], receivedAt: Self.start)
        let head = try await store.journalHead()
        #expect(try await store.unhandledEvents(upTo: head) == Int64(events.count), "an admin tick waits for these")
        let tick = ScheduleTick(scheduledAt: Self.start, localDate: LocalDate(Self.start, in: shanghai))
        // Each member dispatches and asks for the tick at once: the tick waits for the drain in hand, never replaces
        // the dispatcher under it.
        async let drainA = a.dispatch(maximumBatches: 100)
        async let tickA = a.runTick(tick, plugin: RecordingPlugin.id)
        async let drainB = b.dispatch(maximumBatches: 100)
        async let tickB = b.runTick(tick, plugin: RecordingPlugin.id)
        let (handledA, leadsA, handledB, leadsB) = try await (drainA, tickA, drainB, tickB)
        #expect([leadsA, leadsB].count { $0 != nil } == 1, "one member ran the tick")
        #expect(recorder.tickLog.count == 1)
        #expect(try await a.runTick(tick, plugin: RecordingPlugin.id) == nil, "a finished tick never runs again")
        var handled = handledA + handledB
        for each in [a, b] {
            while true {
                let more = try await each.dispatch()
                handled += more
                if more == 0 { break }
            }
        }
        #expect(handled == events.count)
        #expect(try await Self.count(store, "SELECT SUM(transaction_count)::bigint FROM account") == events.count)
        #expect(try await store.unhandledEvents(upTo: head) == 0)
        // An operator's tick (`POST /v1/admin/tick`) runs whatever the claims say.
        #expect(try await b.runTick(tick, plugin: RecordingPlugin.id, claimed: false) != nil)
        #expect(recorder.tickLog.count == 2)

        // A second process configured as "a" while a is alive stays out.
        let twin = member("a")
        await #expect(throws: ClusterMember.DuplicateInstance.self) { try await twin.renewLeases() }
        try await a.leave()
        clock.advance(by: 20)  // a's heartbeat expires
        #expect(try await twin.renewLeases().count > 0)
    }

    @Test("the cluster's partition count is fixed by the first instance; another count is refused")
    func partitionCountAgreed() async throws {
        let test = try await TestPostgres.start()
        try await test.store.agreePartitions(64)
        try await test.store.agreePartitions(64)
        await #expect(throws: PostgresStoreError.self) { try await test.store.agreePartitions(32) }
    }
}

/// A query written as a literal (the tests' own SQL).
struct PostgresQueryText: ExpressibleByStringLiteral {
    let query: PostgresQuery
    init(stringLiteral value: String) { query = PostgresQuery(unsafeSQL: value) }
}
