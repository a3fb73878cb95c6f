import InsightCore

/// The dispatcher's cache of projected client state, split the way the bus splits events: each shard's
/// clients in their own dictionary. A batch hands each shard worker its whole dictionary (moved, never
/// copied) and takes it back afterwards, so no state is moved client by client between cache and shards.
struct ClientCache {
    private var shards: [[String: ClientState]]
    private let bus: EventBus

    init(bus: EventBus) {
        self.bus = bus
        shards = Array(repeating: [:], count: bus.shardCount)
    }

    var count: Int { shards.reduce(0) { $0 + $1.count } }

    /// Whether the client is cached, without copying its state (a copy retains each of its collections).
    func contains(_ id: String) -> Bool {
        shards[bus.shard(for: id)].index(forKey: id) != nil
    }

    subscript(id: String) -> ClientState? {
        get { shards[bus.shard(for: id)][id] }
        set { shards[bus.shard(for: id)][id] = newValue }
    }

    /// Moves one shard's dictionary out, leaving it empty: the caller holds the only reference, so mutating
    /// it copies nothing. Give it back with ``restore(_:shard:)``.
    mutating func take(shard: Int) -> [String: ClientState] {
        var taken: [String: ClientState] = [:]
        swap(&taken, &shards[shard])
        return taken
    }

    mutating func restore(_ states: [String: ClientState], shard: Int) {
        shards[shard] = states
    }

    /// Keeps only the clients `keep` names (an eviction that must not lose uncommitted state).
    mutating func retain(only keep: Set<String>) {
        for index in shards.indices {
            shards[index] = keep.isEmpty ? [:] : shards[index].filter { keep.contains($0.key) }
        }
    }
}

/// One shard's states on their way to a worker: a class, so the worker can take the dictionary out and own
/// it uniquely, where a captured value would be shared and copied on the first write.
final class StatesHandoff: @unchecked Sendable {
    private var states: [String: ClientState]?

    init(_ states: [String: ClientState]) {
        self.states = states
    }

    /// The states, once: each shard's worker runs once per batch, and the dispatcher waits for it.
    func take() -> [String: ClientState] {
        var taken: [String: ClientState]?
        swap(&taken, &states)
        return taken ?? [:]
    }
}
