/// The in-process event bus: events sharded by client id, so each client's events stay in journal order
/// while different clients are handled in parallel.
///
/// It is bounded by construction: the dispatcher publishes one journal batch at a time and waits for every
/// shard to finish before it reads the next, so the journal is the only buffer and nothing is dropped.
/// A slow plugin slows the dispatcher, never loses an event.
public struct EventBus: Sendable {
    public let shardCount: Int

    public init(shardCount: Int) {
        self.shardCount = max(1, shardCount)
    }

    /// The shard of a client: a stable hash, the same on every run. Events with no client go to shard 0.
    public func shard(for clientId: String?) -> Int {
        guard let clientId, shardCount > 1 else { return 0 }
        return Int(StableHash.fnv1a(clientId) % UInt64(shardCount))
    }

    /// Splits a batch into per-shard lists, each keeping the batch's order.
    public func partition(_ events: [Event]) -> [[Event]] {
        var shards = Array(repeating: [Event](), count: shardCount)
        for event in events { shards[shard(for: event.clientId)].append(event) }
        return shards
    }

    /// Runs `body` once per non-empty shard, concurrently, and returns the results in shard order.
    public func publish<Result: Sendable>(
        _ events: [Event],
        _ body: @escaping @Sendable (_ shard: Int, _ events: [Event]) async throws -> Result
    ) async throws -> [Result] {
        try await publish(partitioned: partition(events), body)
    }

    /// The same, for a batch already split by ``partition(_:)``.
    public func publish<Result: Sendable>(
        partitioned shards: [[Event]],
        _ body: @escaping @Sendable (_ shard: Int, _ events: [Event]) async throws -> Result
    ) async throws -> [Result] {
        let active = shards.indices.filter { !shards[$0].isEmpty }
        if active.count == 1, let only = active.first { return [try await body(only, shards[only])] }
        return try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            for index in active {
                let slice = shards[index]
                group.addTask { (index, try await body(index, slice)) }
            }
            var results: [(Int, Result)] = []
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}
