import Foundation
import GRDB
import InsightCore
@testable import InsightEngine
@testable import InsightStore
import InsightTesting
import Testing

/// ``Dispatcher/StateWrites/deferred`` (`insightd replay`): client state reaches the database when the cache lets it
/// go, before a daily tick, or on ``Dispatcher/flushState()``, and is then what writing every batch leaves.
@Suite struct DeferredStateWritesTests {
    private static let day = "2026-11-"

    /// Profiles, transactions on two accounts, daily balances (two days in a row for some clients, so one batch may
    /// hold both), a deposit and a loan, over `clients` clients; every 10th transaction is a large credit.
    static func mixedFeed(clients: Int, rounds: Int) -> [Event] {
        var events: [Event] = []
        for round in 0..<rounds {
            for index in 0..<clients {
                let client = "C\(index)"
                let date = "2026-11-\(10 + round)"
                // Each kind at its own hour: a client's events of a day fall at different times.
                func at(_ hour: Int) -> String {
                    "\(date)T\(String(format: "%02d", hour)):\(String(format: "%02d", index % 60)):00+08:00"
                }
                let id = "\(round)-\(index)"
                if round == 0 {
                    events.append(EventFixtures.event("p\(id)", EventType.clientProfile, client: client, at: at(9), data: [
                        "name": .string("客户\(index)"), "managerId": .string("M\(index % 3)"), "segment": .string(index % 2 == 0 ? "hnw" : "mass"),
                    ]))
                }
                let amount = (round + index) % 10 == 0 ? "600000.00" : "\(100 + index).25"
                events.append(EventFixtures.transaction("t\(id)", client: client, amount: amount, account: "A\(index)-\(round % 2)",
                                                        at: at(10)))
                if index % 3 != 0 {
                    events.append(EventFixtures.event("b\(id)", EventType.accountBalance, client: client, at: at(11), data: [
                        "asOf": .string(date), "aum": .number("\(100_000 + round * 1_000 + index)"),
                    ]))
                }
                if round == 1, index % 4 == 0 {
                    events.append(EventFixtures.event("d\(id)", EventType.depositTerm, client: client, at: at(12), data: [
                        "depositId": .string("D\(index)"), "amount": .number("50000"), "maturityDate": .string("2027-01-15"),
                    ]))
                    events.append(EventFixtures.event("l\(id)", EventType.loanAccount, client: client, at: at(13), data: [
                        "loanId": .string("L\(index)"), "outstanding": .number("\(20_000 + index)"), "maturityDate": .string("2027-02-01"),
                    ]))
                }
            }
        }
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        return events
    }

    /// Every table the projection writes, row by row, in key order. A client's last event time is stored at day
    /// resolution (written when it reaches a new day): compared by its UTC day, since a deferred write stores the
    /// latest time of that day where writing every batch may have stored an earlier one.
    static func stateTables(_ database: AppDatabase) throws -> [String: [String]] {
        let tables = [
            "client": """
                SELECT id, profile, manager_id, branch_id, segment, last_event_ms / 86400000 AS last_event_day,
                       last_interaction_ms, birthday_key, last_wealth_buy_ms, memory FROM client ORDER BY id
                """,
            "account": "SELECT * FROM account ORDER BY id",
            "balance_snapshot": "SELECT * FROM balance_snapshot ORDER BY client_id, as_of",
            "term_deposit": "SELECT * FROM term_deposit ORDER BY id",
            "loan": "SELECT * FROM loan ORDER BY id",
        ]
        return try database.pool.read { db in
            var dump: [String: [String]] = [:]
            for (table, sql) in tables {
                dump[table] = try Row.fetchAll(db, sql: sql).map(\.description)
            }
            return dump
        }
    }

    @Test(arguments: [(batchSize: 7, cacheCapacity: 200_000), (batchSize: 64, cacheCapacity: 200_000),
                      (batchSize: 5, cacheCapacity: 4), (batchSize: 50, cacheCapacity: 10)])
    func deferredWritesLeaveWhatWritingEveryBatchLeaves(batchSize: Int, cacheCapacity: Int) async throws {
        let events = Self.mixedFeed(clients: 23, rounds: 4)
        let plugins = { [LoadedPlugin(CountingPlugin(configuration: .init())), try rulesPlugin()] }
        let everyBatch = try Pipeline(plugins: try plugins(), clock: .eventTime, shards: 3, batchSize: batchSize)
        let deferred = try Pipeline(plugins: try plugins(), clock: .eventTime, shards: 3, batchSize: batchSize,
                                    cacheCapacity: cacheCapacity, stateWrites: .deferred)
        #expect(try await everyBatch.dispatcher.handle(events) == events.count)
        #expect(try await deferred.dispatcher.handle(events) == events.count)
        try await deferred.dispatcher.flushState()

        #expect(try deferred.database.leadBodies() == everyBatch.database.leadBodies())
        #expect(try deferred.database.leadCount() > 10, "the rules and the counting plugin made leads")
        let expected = try Self.stateTables(everyBatch.database)
        let actual = try Self.stateTables(deferred.database)
        for table in expected.keys.sorted() {
            #expect(actual[table] == expected[table], "table \(table)")
        }
        // The 15 clients whose index is not a multiple of 3 have a balance on each of the 4 days.
        #expect(expected["balance_snapshot"]?.count == 60, "a row per client and day with a balance")
        #expect(try deferred.database.consumerPosition(AppDatabase.dispatcherConsumer) == Int64(events.count))
    }

    @Test func stateWaitsForTheFlushWhileLeadsCommitWithTheirBatch() async throws {
        let pipeline = try Pipeline(plugins: [try rulesPlugin(), LoadedPlugin(CountingPlugin(configuration: .init()))],
                                    clock: .eventTime, batchSize: 2, stateWrites: .deferred)
        var events = [
            EventFixtures.transaction("t1", client: "C1", amount: "600000.00", account: "A1", at: "2026-11-20T10:00:00+08:00"),
            EventFixtures.transaction("t2", client: "C2", amount: "12.00", account: "A2", at: "2026-11-20T10:01:00+08:00"),
            EventFixtures.transaction("t3", client: "C1", amount: "13.00", account: "A1", at: "2026-11-20T10:02:00+08:00"),
        ]
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        try await pipeline.dispatcher.handle(events)
        #expect(try pipeline.database.leads().map(\.key) == ["rules:large-inflow:core-banking:t1"])
        #expect(try pipeline.database.consumerPosition(AppDatabase.dispatcherConsumer) == 3)
        #expect(try pipeline.database.loadClients(["C1", "C2"]).isEmpty, "no client row before the flush")

        try await pipeline.dispatcher.flushState()
        let clients = try pipeline.database.loadClients(["C1", "C2"])
        #expect(clients["C1"]?.accounts["A1"]?.transactionCount == 2)
        #expect(clients["C2"]?.accounts["A2"]?.transactionCount == 1)
        #expect(clients["C1"]?.memory[CountingPlugin.id] == .object(["count": .number("2"), "pending": .array(["t1", "t3"])]),
                "a plugin's memory is written from its live form")

        // Nothing more to write: a second flush commits nothing and changes nothing.
        let before = try Self.stateTables(pipeline.database)
        try await pipeline.dispatcher.flushState()
        #expect(try Self.stateTables(pipeline.database) == before)
    }

    @Test func aTickReadsTheStateOfEveryEventHandledBeforeIt() async throws {
        let pipeline = try Pipeline(plugins: [LoadedPlugin(SegmentTick(configuration: .init()))], clock: .eventTime,
                                    stateWrites: .deferred)
        var events = [
            EventFixtures.event("p1", EventType.clientProfile, client: "C1", data: ["segment": "hnw", "name": "张三"]),
            EventFixtures.event("p2", EventType.clientProfile, client: "C2", data: ["segment": "mass"]),
        ]
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        try await pipeline.dispatcher.handle(events)
        #expect(try pipeline.database.loadClients(["C1"]).isEmpty)

        let day = try #require(LocalDate("2026-11-21"))
        let tick = ScheduleTick(scheduledAt: day.instant(at: LocalTime(hour: 9, minute: 0), in: shanghai), localDate: day)
        let leads = try await pipeline.dispatcher.runTick(tick, plugin: "segment-tick")
        #expect(leads.map(\.key) == ["segment-tick:hnw:C1"], "the tick's query saw the profile handled before it")
        #expect(leads.first?.client?.name == "张*")
    }

    /// With deferred writes on a database that had no clients when the dispatcher started, the dispatcher is their only
    /// writer, so a client it has not cached is new: no batch looks its clients up in the database (a replay's scratch
    /// state). Shown with a row written behind its back, which it never reads, from the first batch on.
    @Test func deferredWritesOnAnEmptyDatabaseNeverLookClientsUp() async throws {
        let pipeline = try Pipeline(plugins: [try rulesPlugin()], clock: .eventTime, batchSize: 2, stateWrites: .deferred)
        let raw = try DatabaseQueue(path: pipeline.directory.file(AppDatabase.fileName))
        try await raw.write { db in try db.execute(sql: "INSERT INTO client (id, profile) VALUES ('CX', 'not json')") }
        try raw.close()
        var events = [
            EventFixtures.transaction("t1", client: "CX", amount: "10", account: "AX", at: "2026-11-20T10:00:00+08:00"),
            EventFixtures.transaction("t2", client: "C1", amount: "10", account: "A1", at: "2026-11-20T10:01:00+08:00"),
            EventFixtures.transaction("t3", client: "CX", amount: "10", account: "AX", at: "2026-11-20T10:02:00+08:00"),
        ]
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        #expect(try await pipeline.dispatcher.handle(events) == 3)
    }

    /// A plugin set changed mid-run writes what is deferred and drops the caches: the database then holds clients the
    /// cache does not, so from then on each batch's clients are looked up again. Were they taken for new ones, the next
    /// write would replace C1's profile with the later event's fields alone (a profile event changes only its fields).
    @Test func aPluginSetChangedWithClientsCachedMakesTheDispatcherLookThemUpAgain() async throws {
        let pipeline = try Pipeline(plugins: [try rulesPlugin()], clock: .eventTime, stateWrites: .deferred)
        var events = [
            EventFixtures.event("p1", EventType.clientProfile, client: "C1", data: ["segment": "hnw", "name": "张三"]),
            EventFixtures.event("p2", EventType.clientProfile, client: "C1", data: ["segment": "mass"]),
        ]
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        try await pipeline.dispatcher.handle([events[0]])
        pipeline.settings.replace(with: PipelineSettings(plugins: [LoadedPlugin(SegmentTick(configuration: .init())), try rulesPlugin()],
                                                         timeZone: shanghai, locale: "zh-CN"))
        try await pipeline.dispatcher.handle([events[1]])
        try await pipeline.dispatcher.flushState()
        let stored = try pipeline.database.loadClients(["C1"])["C1"]?.profile
        #expect(stored?.segment == "mass")
        #expect(stored?.name == "张三", "the name from before the change is kept")
    }

    /// The changes not written yet are kept by shard, each shard's worker adding its batch's changes to its own part: a
    /// batch with no event for a shard leaves that shard's part as it was, and the write that follows has every part.
    @Test func aShardWithNoEventsInABatchKeepsItsUnwrittenChanges() async throws {
        let pipeline = try Pipeline(plugins: [try rulesPlugin()], clock: .eventTime, shards: 2, stateWrites: .deferred)
        let bus = EventBus(shardCount: 2)
        let ids = (0..<50).map { "C\($0)" }
        let first = try #require(ids.first { bus.shard(for: $0) == 0 })
        let second = try #require(ids.first { bus.shard(for: $0) == 1 })
        var events = [
            EventFixtures.transaction("t1", client: first, amount: "10", account: "A1", at: "2026-11-20T10:00:00+08:00"),
            EventFixtures.transaction("t2", client: second, amount: "20", account: "A2", at: "2026-11-20T10:01:00+08:00"),
            EventFixtures.transaction("t3", client: second, amount: "30", account: "A3", at: "2026-11-20T10:02:00+08:00"),
        ]
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        try await pipeline.dispatcher.handle(Array(events[0..<2]))  // both shards
        try await pipeline.dispatcher.handle([events[2]])  // the second shard only
        #expect(try pipeline.database.loadClients([first, second]).isEmpty, "nothing written before the flush")
        try await pipeline.dispatcher.flushState()
        let stored = try pipeline.database.loadClients([first, second])
        #expect(stored[first]?.accounts.keys.sorted() == ["A1"])
        #expect(stored[second]?.accounts.keys.sorted() == ["A2", "A3"])
    }

    /// A failure that drops unwritten state (here a client row that does not decode, met while a batch is prepared)
    /// leaves the dispatcher refusing to go on: the run must start again, never carry on without that state.
    @Test func afterLosingUnwrittenStateEveryCallThrows() async throws {
        // The row is there before the dispatcher starts: it then knows the database holds clients it has not cached.
        let directory = TemporaryDirectory()
        try AppDatabase.open(directory: directory.path).close()
        let raw = try DatabaseQueue(path: directory.file(AppDatabase.fileName))
        try await raw.write { db in try db.execute(sql: "INSERT INTO client (id, profile) VALUES ('CX', 'not json')") }
        try raw.close()
        let pipeline = try Pipeline(directory: directory, plugins: [try rulesPlugin()], clock: .eventTime, batchSize: 2,
                                    stateWrites: .deferred)
        var events = [
            EventFixtures.transaction("t1", client: "C1", amount: "10", account: "A1", at: "2026-11-20T10:00:00+08:00"),
            EventFixtures.transaction("t2", client: "C1", amount: "10", account: "A1", at: "2026-11-20T10:01:00+08:00"),
            EventFixtures.transaction("t3", client: "CX", amount: "10", account: "AX", at: "2026-11-20T10:02:00+08:00"),
        ]
        for index in events.indices { events[index].sequence = Int64(index + 1) }
        await #expect(throws: StoreError.self) { try await pipeline.dispatcher.handle(events) }
        await #expect(throws: Dispatcher.DeferredStateLost.self) { try await pipeline.dispatcher.flushState() }
        await #expect(throws: Dispatcher.DeferredStateLost.self) { try await pipeline.dispatcher.handle([events[0]]) }
        let day = try #require(LocalDate("2026-11-21"))
        let tick = ScheduleTick(scheduledAt: day.instant(in: shanghai), localDate: day)
        await #expect(throws: Dispatcher.DeferredStateLost.self) { try await pipeline.dispatcher.runTick(tick, plugin: "rules") }
    }

    /// ``Dispatcher/discardCaches()`` at the end of a run: writing every batch, the dispatcher reads its clients back
    /// and goes on as if nothing happened; with deferred writes it refuses to go on without the state it dropped.
    @Test func discardingTheCachesMidRun() async throws {
        let events = Self.mixedFeed(clients: 23, rounds: 4)
        let half = events.count / 2
        let plugins = { [LoadedPlugin(CountingPlugin(configuration: .init())), try rulesPlugin()] }
        let whole = try Pipeline(plugins: try plugins(), clock: .eventTime, shards: 3, batchSize: 16)
        let discarded = try Pipeline(plugins: try plugins(), clock: .eventTime, shards: 3, batchSize: 16)
        #expect(try await whole.dispatcher.handle(events) == events.count)
        #expect(try await discarded.dispatcher.handle(Array(events[..<half])) == half)
        #expect(await discarded.dispatcher.cachedClientCount == 23)
        try await discarded.dispatcher.discardCaches()
        #expect(await discarded.dispatcher.cachedClientCount == 0, "the clients are read from the database again")
        #expect(try await discarded.dispatcher.handle(Array(events[half...])) == events.count - half)
        #expect(try discarded.database.leadBodies() == whole.database.leadBodies())
        #expect(try whole.database.leadCount() > 10)
        let expected = try Self.stateTables(whole.database)
        let actual = try Self.stateTables(discarded.database)
        for table in expected.keys.sorted() { #expect(actual[table] == expected[table], "table \(table)") }

        let deferred = try Pipeline(plugins: try plugins(), clock: .eventTime, shards: 3, batchSize: 16, stateWrites: .deferred)
        #expect(try await deferred.dispatcher.handle(Array(events[..<half])) == half)
        try await deferred.dispatcher.discardCaches()
        await #expect(throws: Dispatcher.DeferredStateLost.self) { try await deferred.dispatcher.handle(Array(events[half...])) }
        await #expect(throws: Dispatcher.DeferredStateLost.self) { try await deferred.dispatcher.flushState() }
    }

    /// A batch handed in and not settled: its commit would land after the clients were read again.
    @Test func discardingTheCachesWaitsForTheBatchInFlight() async throws {
        let events = Self.mixedFeed(clients: 5, rounds: 1)
        let pipeline = try Pipeline(plugins: [try rulesPlugin()], clock: .eventTime, batchSize: 64)
        try await pipeline.dispatcher.submit(events)
        await #expect(throws: Dispatcher.BatchInFlight.self) { try await pipeline.dispatcher.discardCaches() }
        #expect(try await pipeline.dispatcher.settle() == events.count)
        try await pipeline.dispatcher.discardCaches()
        #expect(try pipeline.database.consumerPosition(AppDatabase.dispatcherConsumer) == Int64(events.count))
    }

    @Test func everyDailyBalanceOfABatchIsKeptInTheHistory() async throws {
        for writes in [Dispatcher.StateWrites.everyBatch, .deferred] {
            let pipeline = try Pipeline(plugins: [], clock: .eventTime, stateWrites: writes)
            var events = ["2026-11-18", "2026-11-19", "2026-11-19", "2026-11-17", "2026-11-20"].enumerated().map { index, date in
                EventFixtures.event("b\(index)", EventType.accountBalance, client: "C1", at: "\(date)T23:00:00+08:00",
                                    data: ["asOf": .string(date), "aum": .number("\(1_000 + index)")])
            }
            for index in events.indices { events[index].sequence = Int64(index + 1) }
            try await pipeline.dispatcher.handle(events)  // one batch
            try await pipeline.dispatcher.flushState()
            let history = try pipeline.database.balanceHistory(client: "C1", since: try #require(LocalDate("2026-11-01")))
            // The 19th's second snapshot replaces its first; the late one for the 17th moves nothing, as before.
            #expect(history.map(\.asOf.description) == ["2026-11-18", "2026-11-19", "2026-11-20"], "\(writes)")
            #expect(history.map(\.aum) == [1_000, 1_002, 1_004], "\(writes)")
        }
    }
}
