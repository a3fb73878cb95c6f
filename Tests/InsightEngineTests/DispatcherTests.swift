import Foundation
import InsightCore
import InsightEngine
import InsightStore
import InsightTesting
import Testing

@Suite struct DispatcherTests {
    let clock = FixedTimeSource("2026-11-20T12:00:00+08:00")

    @Test func anEventFileBecomesLeadsInTheLedger() async throws {
        let pipeline = try Pipeline(plugins: [try rulesPlugin()], clock: .live(clock))
        let fixture = try #require(Bundle.module.path(forResource: "sample-events", ofType: "ndjson", inDirectory: "Fixtures"))
        let events = EventFixtures.load(fixture)
        #expect(events.count == 5)
        let outcome = try pipeline.database.append(events, receivedAt: clock.now())
        #expect(outcome.acceptedCount == 5)

        let handled = try await pipeline.dispatcher.drain()
        #expect(handled == 5)
        let leads = try pipeline.database.leads()
        #expect(leads.map(\.key).sorted() == [
            "rules:large-inflow:core-banking:evt-000003",
            "rules:policy-lapse:insurer:evt-000005",
        ])
        let inflow = try #require(leads.first { $0.kind == "large_inflow" })
        #expect(inflow.priority == .high)
        #expect(inflow.client?.id == "C000123")
        #expect(inflow.client?.name == "张*", "the client name is masked in the lead")
        #expect(inflow.manager?.id == "M017")
        #expect(inflow.manager?.name == "李*", "the manager name is masked in the lead")
        #expect(inflow.manager?.branchId == "B03")
        #expect(inflow.sourceEvents == ["evt-000003"])
        #expect(inflow.createdAt == clock.now())
        #expect(try pipeline.database.consumerPosition(AppDatabase.dispatcherConsumer) == 5)

        // The projection saw the profile, the manager and the account balance.
        let client = try #require(try pipeline.database.loadClients(["C000123"])["C000123"])
        #expect(client.profile.segment == "affluent")
        #expect(client.accounts["6222020200112233"]?.balance == Decimal(string: "752345.67"), "balanceAfter of the later cash withdrawal")
        #expect(client.accounts["6222020200112233"]?.transactionCount == 2)
        #expect(try pipeline.database.loadManager("M017")?.name == "李娜")
    }

    @Test func crashHalfwayAndRestartGivesEveryLeadExactlyOnce() async throws {
        let directory = TemporaryDirectory()
        let events = syntheticEvents(count: 1_000, clients: 37)
        let expectedKeys = Set(events.enumerated().filter { $0.offset % 10 == 0 }.map { "rules:large-inflow:core-banking:\($0.element.id)" })
        do {
            let first = try Pipeline(directory: directory, plugins: [try rulesPlugin()], clock: .live(clock), batchSize: 100)
            _ = try first.database.append(events, receivedAt: clock.now())
            for _ in 0..<5 { _ = try await first.dispatcher.step() }
            #expect(try first.database.consumerPosition(AppDatabase.dispatcherConsumer) == 500)
            // The "crash": the process goes away without a graceful shutdown or a checkpoint.
        }
        let second = try Pipeline(directory: directory, plugins: [try rulesPlugin()], clock: .live(clock), batchSize: 100)
        #expect(await second.dispatcher.currentPosition == 500, "the restarted dispatcher resumes at its committed offset")
        try await second.dispatcher.drain()
        let keys = try second.database.leads(LeadQuery(limit: 10_000)).map(\.key)
        #expect(keys.count == expectedKeys.count)
        #expect(Set(keys) == expectedKeys)
    }

    @Test func replayingCommittedEventsDoesNotDuplicateLeads() async throws {
        let pipeline = try Pipeline(plugins: [try rulesPlugin()], clock: .live(clock), batchSize: 64)
        _ = try pipeline.database.append(syntheticEvents(count: 300, clients: 11), receivedAt: clock.now())
        try await pipeline.dispatcher.drain()
        let before = try pipeline.database.leadBodies()
        #expect(before.count == 30)

        // A crash after the leads were written but before the offset moved would replay the batch:
        // simulate it by rewinding the offset and starting a new dispatcher.
        try pipeline.database.setConsumerPosition(AppDatabase.dispatcherConsumer, to: 0, at: clock.now())
        let again = try Pipeline(directory: pipeline.directory, plugins: [try rulesPlugin()], clock: .live(clock), batchSize: 64)
        try await again.dispatcher.drain()
        #expect(try again.database.leadBodies() == before)
    }

    @Test func theSameJournalGivesByteIdenticalLeads() async throws {
        let events = syntheticEvents(count: 500, clients: 23)
        var bodies: [[String]] = []
        for shards in [1, 4] {
            let pipeline = try Pipeline(plugins: [try rulesPlugin()], clock: .live(clock), shards: shards, batchSize: 97)
            _ = try pipeline.database.append(events, receivedAt: clock.now())
            try await pipeline.dispatcher.drain()
            bodies.append(try pipeline.database.leadBodies())
        }
        #expect(bodies[0].count == 50)
        #expect(bodies[0] == bodies[1])
    }

    @Test func eachClientSeesItsEventsInJournalOrderAcrossShards() async throws {
        let recorder = PluginRecorder()
        let plugin = LoadedPlugin(RecordingPlugin(configuration: .init(recorder: recorder)))
        let pipeline = try Pipeline(plugins: [plugin], clock: .live(clock), shards: 4, batchSize: 128)
        _ = try pipeline.database.append(syntheticEvents(count: 1_000, clients: 13), receivedAt: clock.now())
        try await pipeline.dispatcher.drain()

        let seen = recorder.events
        #expect(seen.count == 1_000, "every event reached the plugin once")
        let byClient = Dictionary(grouping: seen, by: { $0.clientId ?? "" })
        #expect(byClient.count == 13)
        for (_, events) in byClient {
            let sequences = events.map(\.sequence)
            #expect(sequences == sequences.sorted(), "per-client order is journal order")
        }
    }

    @Test func eventTimeClockMakesContextNowTheEventTime() async throws {
        let recorder = PluginRecorder()
        let plugin = LoadedPlugin(RecordingPlugin(configuration: .init(recorder: recorder)))
        let pipeline = try Pipeline(plugins: [plugin], clock: .eventTime)
        let event = EventFixtures.event("e1", "custom.thing", client: "C1", at: "2026-01-02T03:04:05+08:00",
                                        data: ["lead": .bool(true)])
        _ = try pipeline.database.append([event], receivedAt: clock.now())
        try await pipeline.dispatcher.drain()
        let lead = try #require(try pipeline.database.leads().first)
        #expect(lead.createdAt == event.time)
        #expect(lead.evidence.first?.value == "\(event.time.timeIntervalSince1970)")
    }

    @Test func aFailingPluginSkipsThatEventAndRecordsWhy() async throws {
        let recorder = PluginRecorder()
        let failing = LoadedPlugin(RecordingPlugin(configuration: .init(recorder: recorder)))
        let pipeline = try Pipeline(plugins: [failing, try rulesPlugin()], clock: .live(clock))
        _ = try pipeline.database.append([
            EventFixtures.event("bad", "custom.thing", client: "C1", data: ["fail": .bool(true)]),
            EventFixtures.transaction("good", client: "C1", amount: "700000"),
        ], receivedAt: clock.now())
        try await pipeline.dispatcher.drain()
        #expect(try pipeline.database.leads().map(\.key) == ["rules:large-inflow:core-banking:good"])
        let failures = try pipeline.database.pluginFailures()
        #expect(failures.count == 1)
        #expect(failures.first?.plugin == "recording")
        #expect(failures.first?.eventId == "bad")
        #expect(try pipeline.database.consumerPosition(AppDatabase.dispatcherConsumer) == 2, "the journal is not poisoned")
    }

    @Test func aReloadedPluginSetTakesEffectAtTheNextBatch() async throws {
        let pipeline = try Pipeline(plugins: [try rulesPlugin()], clock: .live(clock))
        _ = try pipeline.database.append([EventFixtures.transaction("t1", client: "C1", amount: "900000")], receivedAt: clock.now())
        try await pipeline.dispatcher.drain()
        pipeline.settings.replace(with: PipelineSettings(plugins: [], timeZone: shanghai, locale: "zh-CN"))
        _ = try pipeline.database.append([EventFixtures.transaction("t2", client: "C1", amount: "900000")], receivedAt: clock.now())
        try await pipeline.dispatcher.drain()
        #expect(try pipeline.database.leads().map(\.key) == ["rules:large-inflow:core-banking:t1"])
    }

    @Test func ticksRunOnceAndSeeCommittedState() async throws {
        let recorder = PluginRecorder()
        let plugin = LoadedPlugin(RecordingPlugin(configuration: .init(recorder: recorder, schedule: LocalTime(hour: 8, minute: 30))))
        let pipeline = try Pipeline(plugins: [plugin], clock: .live(clock))
        _ = try pipeline.database.append([
            EventFixtures.transaction("a", client: "C2", amount: "1"),
            EventFixtures.transaction("b", client: "C1", amount: "1"),
        ], receivedAt: clock.now())
        try await pipeline.dispatcher.drain()
        let day = try #require(LocalDate("2026-11-20"))
        let tick = ScheduleTick(scheduledAt: day.instant(at: LocalTime(hour: 8, minute: 30), in: shanghai), localDate: day)
        let leads = try await pipeline.dispatcher.runTick(tick, plugin: "recording")
        #expect(leads.map(\.key) == ["recording:C1:2026-11-20", "recording:C2:2026-11-20"])
        #expect(try pipeline.database.scheduleRuns(plugin: "recording", since: day) == [day])
        let again = try await pipeline.dispatcher.runTick(tick, plugin: "recording")
        #expect(again.isEmpty, "a repeated tick adds no lead")
        #expect(recorder.tickLog.count == 2)
    }

    /// A tick names the clients its own query read, and sometimes others. On a dispatcher with nothing cached
    /// (after a restart), both kinds of lead still show the masked client and the manager.
    @Test func tickLeadsNameClientsAndManagersFromAColdStart() async throws {
        let directory = TemporaryDirectory()
        let setup = try Pipeline(directory: directory, plugins: [], clock: .live(clock))
        _ = try setup.database.append([
            EventFixtures.event("m1", EventType.managerProfile, client: nil, data: ["managerId": "M1", "name": "李经理", "branchId": "B1"]),
            EventFixtures.event("p1", EventType.clientProfile, client: "C1", data: ["name": "张三", "managerId": "M1", "segment": "hnw"]),
            EventFixtures.event("p2", EventType.clientProfile, client: "C2", data: ["name": "王芳", "managerId": "M1"]),
        ], receivedAt: clock.now())
        try await setup.dispatcher.drain()

        struct OneQueryPlugin: Plugin {
            struct Configuration: PluginConfiguration { var enabled = true }
            static let id = "one-query"
            static let summary = "reads C1 through a query, and names C2 without reading it"
            let configuration: Configuration
            var subscriptions: [EventPattern] { [] }
            var schedule: LocalTime? { LocalTime(hour: 9, minute: 0) }
            func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft] { [] }
            func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft] {
                let read = try context.state.clients(inSegments: ["hnw"]).map(\.id)
                return (read + ["C2"]).map { LeadDraft(key: "q:\($0)", kind: "daily", clientId: $0, title: "t", dueAt: tick.scheduledAt) }
            }
        }
        let cold = try Pipeline(directory: directory, plugins: [LoadedPlugin(OneQueryPlugin(configuration: .init()))], clock: .live(clock))
        let day = try #require(LocalDate("2026-11-20"))
        let tick = ScheduleTick(scheduledAt: day.instant(at: LocalTime(hour: 9, minute: 0), in: shanghai), localDate: day)
        let leads = try await cold.dispatcher.runTick(tick, plugin: "one-query")
        #expect(leads.map(\.key) == ["one-query:q:C1", "one-query:q:C2"])
        #expect(leads.map { $0.client?.name } == ["张*", "王*"])
        #expect(leads.map { $0.client?.segment } == ["hnw", nil])
        #expect(leads.map { $0.manager?.id } == ["M1", "M1"])
        #expect(leads.allSatisfy { $0.manager?.name == "李**" })
    }
}
