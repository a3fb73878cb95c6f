import Foundation
import Testing
@testable import InsightCore

private func event(_ id: String, client: String?) -> Event {
    Event(id: id, source: "test", type: "x.y", time: Date(timeIntervalSince1970: 0), clientId: client, data: .object([:]))
}

/// Records which shards a publish ran.
private actor Calls {
    var shards: [Int] = []
    func record(_ shard: Int) { shards.append(shard) }
}

private struct ShardFailure: Error, Equatable {
    let shard: Int
}

@Suite("EventBus")
struct EventBusTests {
    @Test func eventsWithoutAClientGoToShardZero() {
        let bus = EventBus(shardCount: 8)
        #expect(bus.shard(for: nil) == 0)
    }

    @Test func shardCountIsAtLeastOne() {
        let bus = EventBus(shardCount: 0)
        #expect(bus.shardCount == 1)
        #expect(bus.shard(for: "C000123") == 0)
        #expect(EventBus(shardCount: -3).shardCount == 1)
    }

    @Test func shardIsAStableFNV1aHash() {
        // FNV-1a 64: "" = 0xcbf29ce484222325, "a" = 0xaf63dc4c8601ec8c, "foobar" = 0x85944171f73967e8.
        let bus = EventBus(shardCount: 16)
        #expect(bus.shard(for: "") == 0x5)
        #expect(bus.shard(for: "a") == 0xC)
        #expect(bus.shard(for: "foobar") == 0x8)
        #expect(EventBus(shardCount: 1000).shard(for: "a") == Int(0xaf63_dc4c_8601_ec8c as UInt64 % 1000))
    }

    @Test func sameClientAlwaysSameShard() {
        let ids = (0..<500).map { "C\(100_000 + $0)" }
        let first = EventBus(shardCount: 8)
        let second = EventBus(shardCount: 8)
        for id in ids {
            let shard = first.shard(for: id)
            #expect((0..<8).contains(shard))
            #expect(first.shard(for: id) == shard)
            #expect(second.shard(for: id) == shard)
        }
        // The hash spreads clients over every shard.
        #expect(Set(ids.map(first.shard(for:))).count == 8)
    }

    @Test func partitionKeepsPerClientOrder() {
        let bus = EventBus(shardCount: 4)
        let clients: [String?] = ["C1", "C2", "C3", nil, "C4", "C5"]
        let events = (0..<60).map { index in event("e\(index)", client: clients[index % clients.count]) }
        let shards = bus.partition(events)
        #expect(shards.count == 4)
        #expect(shards.map(\.count).reduce(0, +) == events.count)
        for (index, shard) in shards.enumerated() {
            // Every event is in its client's shard ...
            #expect(shard.allSatisfy { bus.shard(for: $0.clientId) == index })
            // ... in the batch's order.
            let positions = shard.compactMap { item in events.firstIndex { $0.id == item.id } }
            #expect(positions == positions.sorted())
        }
        #expect(shards[0].contains { $0.clientId == nil })
        for client in clients {
            let expected = events.filter { $0.clientId == client }.map(\.id)
            let actual = shards[bus.shard(for: client)].filter { $0.clientId == client }.map(\.id)
            #expect(actual == expected)
        }
    }

    @Test func partitionOfNothingIsEmptyShards() {
        let shards = EventBus(shardCount: 3).partition([])
        #expect(shards.count == 3)
        #expect(shards.allSatisfy { $0.isEmpty })
    }

    @Test func publishRunsEveryNonEmptyShardOnceInShardOrder() async throws {
        let bus = EventBus(shardCount: 8)
        let events = (0..<40).map { event("e\($0)", client: "C\($0 % 10)") }
        let nonEmpty = bus.partition(events).indices.filter { !bus.partition(events)[$0].isEmpty }
        #expect(nonEmpty.count > 1)

        let calls = Calls()
        let results = try await bus.publish(events) { shard, slice in
            await calls.record(shard)
            return (shard, slice.map(\.id))
        }
        #expect(results.map(\.0) == nonEmpty)
        #expect(results.map(\.1) == nonEmpty.map { bus.partition(events)[$0].map(\.id) })
        #expect(await calls.shards.sorted() == nonEmpty)
    }

    @Test func publishWithOneShard() async throws {
        let bus = EventBus(shardCount: 8)
        let events = [event("e1", client: nil), event("e2", client: nil)]
        let results = try await bus.publish(events) { shard, slice in "\(shard):\(slice.map(\.id))" }
        #expect(results == [#"0:["e1", "e2"]"#])
    }

    @Test func publishNothingRunsNothing() async throws {
        let calls = Calls()
        let results: [Int] = try await EventBus(shardCount: 4).publish([]) { shard, _ in
            await calls.record(shard)
            return shard
        }
        #expect(results.isEmpty)
        #expect(await calls.shards.isEmpty)
    }

    @Test func publishPropagatesAShardFailure() async throws {
        let bus = EventBus(shardCount: 4)
        let events = (0..<20).map { event("e\($0)", client: "C\($0)") }
        let failing = bus.shard(for: "C0")
        let error = await #expect(throws: ShardFailure.self) {
            try await bus.publish(events) { shard, _ in
                if shard == failing { throw ShardFailure(shard: shard) }
                return shard
            }
        }
        #expect(error == ShardFailure(shard: failing))
    }
}
