import Foundation
import InsightCore

// The dispatcher's store as a concern: the journal it reads, the client state it projects, the ledger its commits append
// to, and its positions. Records only: what a batch holds and when it commits are the dispatcher's (`InsightEngine`).
// SQLite (`AppDatabase`, one instance, the whole journal) and PostgreSQL (one instance's partitions of a cluster) both
// implement it.

/// What the dispatcher reads and writes. Its reads are synchronous: they run on the dispatcher's shards and read-ahead
/// threads, never on an event loop.
public protocol DispatchStore: Sendable {
    /// The events after `position` this dispatcher handles (all of them, or its partitions'), in sequence order, at most
    /// `limit`. Empty: none yet.
    func readJournal(after position: Int64, limit: Int) throws -> [Event]
    /// Where a dispatcher starting now resumes. Records the state position if there is none yet.
    func dispatcherResumePositions(at now: Date) throws -> DispatcherPositions
    /// Whether any client is stored.
    func hasClients() throws -> Bool
    /// The stored state of these clients (those never seen are absent).
    func loadClients(_ ids: some Collection<String>) throws -> [String: ClientState]
    func loadManagers(_ ids: some Collection<String>) throws -> [String: ManagerState]
    /// Commits one dispatcher step in one transaction, blocking the caller. Returns the leads that were new.
    @discardableResult
    func commit(_ step: DispatchCommit, at now: Date) throws -> [Lead]
    /// The same, suspending while it runs.
    @discardableResult
    func commitAsync(_ step: DispatchCommit, at now: Date) async throws -> [Lead]
    /// Committed state as plugins read it.
    func stateReader() -> any StateReader
    /// Other writers change the managers this dispatcher reads (the other instances of a cluster): the dispatcher reads
    /// them again for each batch rather than keep them.
    var managersChangeElsewhere: Bool { get }
    /// Whether its client state may be written at checkpoints, behind the handled position. False while an instance of
    /// an older release shares the store: it would read the state as at the position.
    var stateCheckpointsAllowed: Bool { get }
}

extension AppDatabase: DispatchStore {
    @discardableResult
    public func commit(_ step: DispatchCommit, at now: Date) throws -> [Lead] {
        try commit(step, consumer: Self.dispatcherConsumer, at: now)
    }

    @discardableResult
    public func commitAsync(_ step: DispatchCommit, at now: Date) async throws -> [Lead] {
        try await commitAsync(step, consumer: Self.dispatcherConsumer, at: now)
    }

    public func stateReader() -> any StateReader { StoreStateReader(database: self) }

    public var managersChangeElsewhere: Bool { false }

    public var stateCheckpointsAllowed: Bool { true }
}

/// The store of a cluster: leases, and a dispatching view of the partitions some leases hold.
public protocol ClusterStore: LeaseStore {
    /// A store that reads the journal of the partitions `leases` hold and commits fenced by them.
    func partitionView(holding leases: [PartitionLease], partitions: Int,
                       now: @escaping @Sendable () -> Date) async throws -> any DispatchStore
    /// The journal's last sequence.
    func journalHead() async throws -> Int64
    /// How many events up to `head` are not yet in the stored client state, across every partition.
    func unhandledEvents(upTo head: Int64) async throws -> Int64
    /// Whether a run of an older release, which reads client state as at each partition's position, is alive.
    func olderRunsAlive(now: Date) async throws -> Bool
}

/// How a cluster splits the clients between its instances: a client's partition is a stable hash of its id (the same on
/// every instance, machine and release), modulo the cluster's fixed partition count. Events without a client go to
/// partition 0.
public enum ClientPartitions {
    /// The default partition count (`cluster.partitions`).
    public static let defaultCount = 64

    /// The 31-bit hash stored with each journaled event (`journal.client_hash`); 0 for an event without a client.
    /// FNV-1a of the id's UTF-8, then MurmurHash3's 64-bit finalizer: FNV-1a alone leaves ids that differ in their last
    /// characters (`C000001`, `C000002`) in a handful of partitions. Never to change: partitions follow from it.
    public static func hash(of clientId: String?) -> Int32 {
        guard let clientId else { return 0 }
        var hash = StableHash.fnv1a(clientId)
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash &*= 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return Int32(truncatingIfNeeded: hash & 0x7fff_ffff)
    }

    public static func partition(of clientId: String?, count: Int) -> Int {
        Int(hash(of: clientId)) % max(1, count)
    }
}
