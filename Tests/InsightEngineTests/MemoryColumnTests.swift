import Foundation
import InsightCore
@testable import InsightEngine
import Testing

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
        let wrote = ShardWorker.writeMemory(of: state, plugins: [CountingPlugin.id: counting], into: &text)
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
