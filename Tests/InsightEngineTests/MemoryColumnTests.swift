import Foundation
import Logging
import InsightCore
@testable import InsightEngine
@testable import InsightStore
import InsightTesting
import Testing

private func transaction(_ id: String, client: String, minute: Int, reset: Bool = false) -> Event {
    let time = "2026-11-20T10:\(minute < 10 ? "0" : "")\(minute):00+08:00"
    guard reset else { return EventFixtures.transaction(id, client: client, amount: "100.00", account: "AC-\(client)", at: time) }
    return EventFixtures.event(id, EventType.accountTransaction, client: client, at: time, data: [
        "accountId": .string("AC-\(client)"), "amount": .string("1"), "direction": .string("credit"), "reset": .bool(true),
    ])
}

/// The client's `memory` column is written straight from the live memories (``ShardWorker/writeMemory(of:plugins:into:)``):
/// it must be what `JSONWriter` makes of the memories as the cache would store them.
@Suite("memory column: written directly, as JSONWriter writes the stored memories")
struct MemoryColumnTests {
    static let counting = LoadedPlugin(CountingPlugin(configuration: .init()))

    static func live(count: Int, pending: [String] = []) -> LiveMemory {
        counting.liveMemory(stored: count == 0 && pending.isEmpty ? nil
            : .object(["count": .number("\(count)"), "pending": .array(pending.map(JSONValue.string))]))
    }

    static func written(_ state: ClientState) -> String? {
        var text = ""
        let wrote = ShardWorker.writeMemory(of: state, plugins: PluginsById([counting]), into: &text)
        #expect(wrote == !text.isEmpty)
        return wrote ? text : nil
    }

    @Test func storedAndLiveMemoriesMergeInKeyOrder() {
        var state = ClientState(id: "C1")
        state.memory = ["a-stored": .object(["x": .number("1.50"), "q": .string("\"引号\"\n")]), CountingPlugin.id: .string("stale"),
                        "zz": .array([])]
        let counted = Self.live(count: 3, pending: ["E1", "E/2"])
        state.liveMemory.values[CountingPlugin.id] = counted
        // A live memory whose plugin is not loaded is left as it is: not written.
        state.liveMemory.values["absent-plugin"] = Self.live(count: 9)
        var expected = state.memory
        expected[CountingPlugin.id] = Self.counting.storedMemory(counted)
        #expect(Self.written(state) == JSONWriter.string(.object(expected)))
        #expect(Self.written(state)?.hasPrefix(#"{"a-stored":{"q":"#) == true)
    }

    @Test func anEmptyLiveMemoryIsLeftOutWithTheStoredFormItReplaced() {
        var state = ClientState(id: "C1")
        state.memory = [CountingPlugin.id: .string("stale"), "other": .bool(true)]
        state.liveMemory.values[CountingPlugin.id] = Self.live(count: 0)
        #expect(Self.written(state) == #"{"other":true}"#)
    }

    /// A memory read from the database, then emptied: the row loses it, and the cache holds only the decoded form.
    @Test func aStoredMemoryEmptiedAfterARestartLeavesTheColumn() async throws {
        let clock = FixedTimeSource("2026-11-20T12:00:00+08:00")
        let first = try Pipeline(plugins: [Self.counting], clock: .live(clock), batchSize: 1)
        _ = try first.database.append([transaction("a1", client: "C1", minute: 1), transaction("a2", client: "C1", minute: 2)],
                                      receivedAt: clock.now())
        try await first.dispatcher.drain()
        #expect(try first.database.loadClients(["C1"])["C1"]?.memory[CountingPlugin.id] != nil)
        let again = try Pipeline(directory: first.directory, plugins: [Self.counting], clock: .live(clock), batchSize: 1)
        _ = try again.database.append([transaction("a3", client: "C1", minute: 3, reset: true)], receivedAt: clock.now())
        try await again.dispatcher.drain()
        #expect(try again.database.loadClients(["C1"])["C1"]?.memory.isEmpty == true)
    }

    @Test func theUpdateAndTheCacheLeaveOutTheStoredFormOfALiveMemory() throws {
        for count in [0, 2] {
            var state = ClientState(id: "C1")
            state.memory = [CountingPlugin.id: .object(["count": .number("2"), "pending": .array([])]), "other": .bool(true)]
            state.liveMemory.values[CountingPlugin.id] = Self.live(count: count)
            let (update, cached) = try ShardWorker.update(state, changes: [.activity, .memory(CountingPlugin.id)], balances: [],
                                                          plugins: PluginsById([Self.counting]))
            #expect(update.state.memory == ["other": .bool(true)])
            #expect(cached.memory == ["other": .bool(true)])
            #expect(cached.liveMemory.values[CountingPlugin.id] != nil, "the cache keeps the decoded memory")
            #expect(update.memoryColumn == (count == 0 ? #"{"other":true}"# : #"{"counting":{"count":2,"pending":[]},"other":true}"#))
        }
        // The only memory, emptied: a NULL column, not the stored form.
        var state = ClientState(id: "C1")
        state.memory = [CountingPlugin.id: .object(["count": .number("2"), "pending": .array([])])]
        state.liveMemory.values[CountingPlugin.id] = Self.live(count: 0)
        let (update, cached) = try ShardWorker.update(state, changes: [.activity, .memory(CountingPlugin.id)], balances: [],
                                                      plugins: PluginsById([Self.counting]))
        #expect(update.memoryColumn == nil)
        #expect(cached.memory.isEmpty)
    }

    /// A checkpoint writes a snapshot of each live memory while the next batch goes on changing the memory itself:
    /// what is written is the memory as it was at the checkpoint.
    @Test func aSnapshotKeepsTheMemoryAsItWas() throws {
        let live = Self.live(count: 2, pending: ["E1"])
        let snapshot = Self.counting.snapshot(live)
        var changed = false
        let context = PluginContext(now: Date(timeIntervalSince1970: 1_790_000_000), timeZone: TimeZone(identifier: "Asia/Shanghai") ?? .current,
                                    locale: "zh-CN", logger: Logger(label: "test"), state: InMemoryState(), client: nil)
        _ = try Self.counting.handle(EventFixtures.transaction("E2", client: "C1", amount: "1.00"), context: context, live: live,
                                     changed: &changed)
        #expect(changed)
        #expect(Self.counting.storedMemory(live) == .object(["count": .number("3"), "pending": .array([])]))
        #expect(Self.counting.storedMemory(snapshot) == .object(["count": .number("2"), "pending": .array([.string("E1")])]))
    }

    @Test func noMemoryAtAllWritesNothing() {
        var state = ClientState(id: "C1")
        #expect(Self.written(state) == nil)
        state.liveMemory.values[CountingPlugin.id] = Self.live(count: 0)
        #expect(Self.written(state) == nil)
        state.memory = [:]
        state.liveMemory.values[CountingPlugin.id] = Self.live(count: 1)
        #expect(Self.written(state) == #"{"counting":{"count":1,"pending":[]}}"#)
    }
}
