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

    /// One shard's states, shared (to read on another thread): let go of it before the cache is written again, or
    /// that write copies the shard's whole dictionary.
    func states(shard: Int) -> [String: ClientState] { shards[shard] }

    /// Lets clients go until at most `target` are cached (each shard down to its share), never one that `keep` names:
    /// their state is not in the database yet. Which ones go is the dictionaries' hash order, unrelated to when a
    /// client came in or was last handled: in effect at random, which for a feed spread over the book keeps as many of
    /// the next events' clients as least recently used would, with no bookkeeping per event (a feed that comes back
    /// to a few busy clients would do better with LRU). Returns the states let go, to be freed off the caller's thread.
    mutating func evict(downTo target: Int, keeping keep: (String) -> Bool) -> [ClientState] {
        guard count > target else { return [] }
        let share = target / shards.count
        var evicted: [ClientState] = []
        for index in shards.indices where shards[index].count > share {
            var victims: [String] = []
            victims.reserveCapacity(shards[index].count - share)
            for key in shards[index].keys where !keep(key) {
                victims.append(key)
                if victims.count == shards[index].count - share { break }
            }
            evicted.reserveCapacity(evicted.count + victims.count)
            for key in victims {
                if let state = shards[index].removeValue(forKey: key) { evicted.append(state) }
            }
        }
        return evicted
    }
}

/// The client changes the database does not have yet (deferred or checkpointed state writes), split by shard as the
/// cache is: each shard's worker takes its part with its states and adds the batch's changes to it, in parallel with
/// the other shards, so the dispatcher merges nothing per client between batches.
struct UnwrittenChanges {
    /// One shard's part.
    struct Part: Sendable {
        var changes: [String: StateChanges] = [:]
        var balances: [String: [BalanceSnapshot]] = [:]
    }

    private var parts: [Part]
    private let bus: EventBus

    init(bus: EventBus) {
        self.bus = bus
        parts = Array(repeating: Part(), count: bus.shardCount)
    }

    var isEmpty: Bool { parts.allSatisfy(\.changes.isEmpty) }
    var count: Int { parts.reduce(0) { $0 + $1.changes.count } }

    /// Whether the client has changes not written.
    func contains(_ id: String) -> Bool { parts[bus.shard(for: id)].changes.index(forKey: id) != nil }

    /// A client's changes (empty when it has none).
    func changes(of id: String) -> StateChanges { parts[bus.shard(for: id)].changes[id] ?? [] }
    /// A client's daily balance snapshots not written yet, in order.
    func balances(of id: String) -> [BalanceSnapshot] { parts[bus.shard(for: id)].balances[id] ?? [] }

    /// One shard's part, shared (to read on another thread).
    func part(shard: Int) -> Part { parts[shard] }

    /// Moves one shard's part out, leaving it empty (see ``ClientCache/take(shard:)``).
    mutating func take(shard: Int) -> Part {
        var taken = Part()
        swap(&taken, &parts[shard])
        return taken
    }

    mutating func restore(_ part: Part, shard: Int) {
        parts[shard] = part
    }

    /// Everything is written (or dropped).
    mutating func removeAll() {
        parts = Array(repeating: Part(), count: bus.shardCount)
    }
}

/// One shard's states (and its unwritten changes) on their way to a worker: a class, so the worker can take the
/// dictionaries out and own them uniquely, where a captured value would be shared and copied on the first write.
final class StatesHandoff: @unchecked Sendable {
    private var states: [String: ClientState]?
    private var unwritten: UnwrittenChanges.Part?

    init(_ states: [String: ClientState], unwritten: UnwrittenChanges.Part) {
        self.states = states
        self.unwritten = unwritten
    }

    /// The states, once: each shard's worker runs once per batch, and the dispatcher waits for it.
    func take() -> [String: ClientState] {
        var taken: [String: ClientState]?
        swap(&taken, &states)
        return taken ?? [:]
    }

    /// The unwritten changes, once.
    func takeUnwritten() -> UnwrittenChanges.Part {
        var taken: UnwrittenChanges.Part?
        swap(&taken, &unwritten)
        return taken ?? UnwrittenChanges.Part()
    }
}
