import Foundation
import InsightCore
import InsightEngine
import InsightStore
import InsightTesting
import Testing

/// How many transactions the plugin has seen for one client.
struct CountingMemory: PluginMemory, Equatable {
    var count: Int
    /// The ids of the events counted since the last lead, so the lead can cite them.
    var pending: [String]

    init() {
        count = 0
        pending = []
    }

    init(json: JSONValue) throws {
        guard let literal = json["count"].flatMap({ value -> String? in
            if case .number(let text) = value { return text }
            return nil
        }), let count = Int(literal), let pending = json["pending"]?.arrayValue?.compactMap(\.stringValue)
        else { throw PluginMemoryError("not a counting memory: \(json)") }
        self.count = count
        self.pending = pending
    }

    var json: JSONValue { .object(["count": .number("\(count)"), "pending": .array(pending.map(JSONValue.string))]) }
    var isEmpty: Bool { count == 0 && pending.isEmpty }
}

/// Counts each client's transactions and makes a lead on every third; an event with `data.reset` forgets the client.
struct CountingPlugin: Plugin {
    struct Configuration: PluginConfiguration {
        var enabled = true
        init() {}
    }

    static let id = "counting"
    static let summary = "test plugin with memory"
    let configuration: Configuration

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    var subscriptions: [EventPattern] { [EventPattern("account.transaction")].compactMap { $0 } }

    func handle(_ event: Event, context: PluginContext, memory: inout CountingMemory) throws -> [LeadDraft] {
        guard let client = event.clientId else { return [] }
        if event.data["reset"]?.boolValue == true {
            memory = CountingMemory()
            return []
        }
        memory.count += 1
        memory.pending.append(event.id)
        guard memory.count % 3 == 0 else { return [] }
        defer { memory.pending = [] }
        return [LeadDraft(key: "\(client):\(memory.count)", kind: "third_transaction", clientId: client,
                          title: "Transaction number \(memory.count)",
                          evidence: [Evidence(key: "count", label: "count", value: "\(memory.count)")], sourceEvents: memory.pending)]
    }
}

private func transaction(_ id: String, client: String, minute: Int, reset: Bool = false) -> Event {
    let text = "2026-11-20T10:\(minute < 10 ? "0" : "")\(minute):00+08:00"
    if reset {
        return EventFixtures.event(id, EventType.accountTransaction, client: client, at: text, data: [
            "accountId": .string("AC-\(client)"), "amount": .string("1"), "direction": .string("credit"), "reset": .bool(true),
        ])
    }
    return EventFixtures.transaction(id, client: client, amount: "100.00", account: "AC-\(client)", at: text)
}

/// `perClient` transactions for each of `clients` clients, interleaved.
private func interleaved(clients: Int, perClient: Int, prefix: String = "e") -> [Event] {
    (0..<(clients * perClient)).map { index in
        transaction("\(prefix)\(index)", client: "C\(index % clients)", minute: index % 60)
    }
}

private func storedCount(_ database: AppDatabase, _ client: String) throws -> Int? {
    try database.loadClients([client])[client]?.memory[CountingPlugin.id].map { try CountingMemory(json: $0).count }
}

@Suite("Plugin memory through the dispatcher: across batches, restarts and replays")
struct PluginMemoryTests {
    let clock = FixedTimeSource("2026-11-20T12:00:00+08:00")

    private func plugin() -> LoadedPlugin { LoadedPlugin(CountingPlugin(configuration: .init())) }

    @Test func theHostSeesThatThePluginUsesMemory() throws {
        #expect(plugin().usesMemory)
        #expect(!LoadedPlugin(RecordingPlugin(configuration: .init(recorder: PluginRecorder()))).usesMemory)
        #expect(try rulesPlugin().usesMemory, "rules keeps per-client cooldowns")
    }

    @Test func memoryIsKeptAcrossBatches() async throws {
        // Batches of 2 events: no client's third transaction is in the same batch as its first.
        let pipeline = try Pipeline(plugins: [plugin()], clock: .live(clock), shards: 4, batchSize: 2)
        _ = try pipeline.database.append(interleaved(clients: 5, perClient: 7), receivedAt: clock.now())
        #expect(try await pipeline.dispatcher.drain() == 35)

        let leads = try pipeline.database.leads(LeadQuery(limit: 1_000))
        #expect(leads.map(\.key).sorted() == (0..<5).flatMap { ["counting:C\($0):3", "counting:C\($0):6"] }.sorted())
        // C1's events are e1, e6, e11, ...: its third is e11, and the lead cites the three it counted.
        let third = try #require(leads.first { $0.key == "counting:C1:3" })
        #expect(third.sourceEvents == ["e1", "e6", "e11"])
        #expect(third.client?.id == "C1")
        for client in 0..<5 { #expect(try storedCount(pipeline.database, "C\(client)") == 7) }
    }

    @Test func memoryIsKeptAcrossARestart() async throws {
        let directory = TemporaryDirectory()
        let events = interleaved(clients: 3, perClient: 8)
        do {
            let first = try Pipeline(directory: directory, plugins: [plugin()], clock: .live(clock), batchSize: 4)
            _ = try first.database.append(events, receivedAt: clock.now())
            // Two batches of the interleaved events: C0 and C1 have seen 3 transactions, C2 has seen 2.
            _ = try await first.dispatcher.step()
            _ = try await first.dispatcher.step()
            #expect(try first.database.consumerPosition(AppDatabase.dispatcherConsumer) == 8)
            #expect(try storedCount(first.database, "C0") == 3)
            #expect(try storedCount(first.database, "C1") == 3)
            #expect(try storedCount(first.database, "C2") == 2)
            #expect(try first.database.leads().map(\.key).sorted() == ["counting:C0:3", "counting:C1:3"])
            // The "crash": the process goes away without a graceful shutdown.
        }
        // A new dispatcher on the same database: the counts continue where they were.
        let second = try Pipeline(directory: directory, plugins: [plugin()], clock: .live(clock), batchSize: 4)
        #expect(await second.dispatcher.currentPosition == 8)
        try await second.dispatcher.drain()
        let keys = try second.database.leads(LeadQuery(limit: 1_000)).map(\.key).sorted()
        #expect(keys == ["counting:C0:3", "counting:C0:6", "counting:C1:3", "counting:C1:6", "counting:C2:3", "counting:C2:6"])
        for client in 0..<3 { #expect(try storedCount(second.database, "C\(client)") == 8) }
        // C2's third transaction was the first event after the restart; its lead cites the two before it too.
        #expect(try second.database.lead(key: "counting:C2:3")?.sourceEvents == ["e2", "e5", "e8"])
    }

    @Test func aPluginSwitchedOffByAReloadKeepsItsStoredMemory() async throws {
        let pipeline = try Pipeline(plugins: [plugin()], clock: .live(clock), shards: 2, batchSize: 2)
        _ = try pipeline.database.append((1...4).map { transaction("a\($0)", client: "C1", minute: $0) }, receivedAt: clock.now())
        try await pipeline.dispatcher.drain()
        #expect(try storedCount(pipeline.database, "C1") == 4)

        // A reload switches the plugin off; the client's next changes write its row again.
        pipeline.settings.replace(with: PipelineSettings(plugins: [], timeZone: shanghai, locale: "zh-CN"))
        _ = try pipeline.database.append([
            EventFixtures.event("p1", EventType.clientProfile, client: "C1", at: "2026-11-20T10:10:00+08:00",
                                data: ["name": .string("张三"), "managerId": .string("M1")]),
            transaction("a5", client: "C1", minute: 11),
        ], receivedAt: clock.now())
        try await pipeline.dispatcher.drain()
        #expect(try storedCount(pipeline.database, "C1") == 4, "the switched-off plugin's memory is kept as stored")

        // Switched on again, it counts on from where it stopped.
        pipeline.settings.replace(with: PipelineSettings(plugins: [plugin()], timeZone: shanghai, locale: "zh-CN"))
        _ = try pipeline.database.append([transaction("a6", client: "C1", minute: 12), transaction("a7", client: "C1", minute: 13)],
                                         receivedAt: clock.now())
        try await pipeline.dispatcher.drain()
        #expect(try storedCount(pipeline.database, "C1") == 6)
        #expect(try pipeline.database.lead(key: "counting:C1:6")?.sourceEvents == ["a4", "a6", "a7"])
    }

    @Test func anEmptyMemoryIsDeleted() async throws {
        let pipeline = try Pipeline(plugins: [plugin()], clock: .live(clock), batchSize: 1)
        _ = try pipeline.database.append([
            transaction("a1", client: "C1", minute: 1), transaction("a2", client: "C1", minute: 2),
            transaction("b1", client: "C2", minute: 3),
        ], receivedAt: clock.now())
        try await pipeline.dispatcher.drain()
        #expect(try storedCount(pipeline.database, "C1") == 2)

        _ = try pipeline.database.append([transaction("a3", client: "C1", minute: 4, reset: true)], receivedAt: clock.now())
        try await pipeline.dispatcher.drain()
        #expect(try pipeline.database.loadClients(["C1"])["C1"]?.memory.isEmpty == true, "the reset memory is gone")
        #expect(try storedCount(pipeline.database, "C2") == 1, "another client's memory is untouched")

        // Counting starts afresh, also after a restart (the deleted row does not come back).
        let again = try Pipeline(directory: pipeline.directory, plugins: [plugin()], clock: .live(clock), batchSize: 1)
        _ = try again.database.append((5...7).map { transaction("a\($0)", client: "C1", minute: $0) }, receivedAt: clock.now())
        try await again.dispatcher.drain()
        #expect(try again.database.lead(key: "counting:C1:3")?.sourceEvents == ["a5", "a6", "a7"])
        #expect(try again.database.leadCount() == 1)
    }

    @Test func aMemoryThatNoLongerDecodesIsDropped() async throws {
        let pipeline = try Pipeline(plugins: [plugin()], clock: .live(clock), batchSize: 10)
        // An older shape of the memory, as a previous plugin version might have left it.
        var state = ClientState(id: "C1")
        state.memory[CountingPlugin.id] = .object(["total": .string("many")])
        var step = DispatchCommit()
        step.clients = [.init(state: state, changes: [.activity, .memory(CountingPlugin.id)])]
        try pipeline.database.commit(step, at: clock.now())
        #expect(try pipeline.database.loadClients(["C1"])["C1"]?.memory[CountingPlugin.id] != nil)

        _ = try pipeline.database.append([transaction("x1", client: "C1", minute: 1)], receivedAt: clock.now())
        try await pipeline.dispatcher.drain()
        #expect(try storedCount(pipeline.database, "C1") == 1)
    }

    @Test func aCacheEvictionNeverLosesTheStateOfTheBatchWaitingToCommit() async throws {
        // A cache of 3 clients over 7: evictions happen on almost every batch, while the next batch, prepared
        // on top of cached state, has not committed yet; batches of 5 share clients with the batch before.
        let events = interleaved(clients: 7, perClient: 9)
        let small = try Pipeline(plugins: [plugin()], clock: .eventTime, shards: 2, batchSize: 5, cacheCapacity: 3)
        let large = try Pipeline(plugins: [plugin()], clock: .eventTime, shards: 2, batchSize: 5)
        for pipeline in [small, large] {
            _ = try pipeline.database.append(events, receivedAt: Date(timeIntervalSince1970: 0))
            try await pipeline.dispatcher.drain()
        }
        for index in 0..<7 {
            #expect(try storedCount(small.database, "C\(index)") == 9, "client C\(index)")
        }
        #expect(try small.database.leadCount() == 21)
        #expect(try small.database.leadBodies() == large.database.leadBodies())
        let accounts = try small.database.loadClients((0..<7).map { "C\($0)" }).values.map { $0.accounts.values.first?.transactionCount }
        #expect(accounts.allSatisfy { $0 == 9 }, "projected state survives evictions too")
    }

    @Test func aReplayOnAFreshDatabaseGivesIdenticalLeads() async throws {
        let original = try Pipeline(plugins: [plugin(), try rulesPlugin()], clock: .eventTime, shards: 4, batchSize: 7)
        var events = interleaved(clients: 11, perClient: 9)
        events.insert(transaction("r1", client: "C3", minute: 30, reset: true), at: 40)
        events += syntheticEvents(count: 50, clients: 5)
        _ = try original.database.append(events, receivedAt: clock.now())
        try await original.dispatcher.drain()
        let bodies = try original.database.leadBodies()
        #expect(bodies.count > 30)

        // Replay the original's journal from offset 0 into an empty database, batched and sharded differently.
        let journal = try original.database.readJournal(after: 0, limit: 10_000)
        #expect(journal.count == events.count)
        let replay = try Pipeline(plugins: [plugin(), try rulesPlugin()], clock: .eventTime, shards: 1, batchSize: 100)
        _ = try replay.database.append(journal, receivedAt: clock.now())
        try await replay.dispatcher.drain()
        #expect(try replay.database.leadBodies() == bodies)
        for client in 0..<11 {
            #expect(try storedCount(replay.database, "C\(client)") == (try storedCount(original.database, "C\(client)")))
        }
    }
}
