import Foundation
import InsightCore
import InsightStore
import Logging
import Metrics

/// The `cluster:` section: how this instance shares the work with the others on one shared store.
///
/// ```yaml
/// cluster:
///   instance: app-1        # this instance's name, unique in the cluster (default: the host name)
///   partitions: 64         # the clients are split into this many partitions; the same on every instance, fixed
///   lease_timeout: 15s     # a dead instance's partitions move to the others after this
/// ```
public struct ClusterSettings: Sendable, Equatable, Decodable {
    /// This instance's name in the lease table.
    public var instance: String
    /// The cluster's partition count (recorded by the first instance; the others must agree).
    public var partitions: Int
    /// How long a lease lasts unless renewed. Leases are renewed every third of it.
    public var leaseTimeout: Duration

    public init(instance: String, partitions: Int = ClientPartitions.defaultCount, leaseTimeout: Duration = .seconds(15)) {
        self.instance = instance
        self.partitions = partitions
        self.leaseTimeout = leaseTimeout
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case instance, partitions
        case leaseTimeout = "lease_timeout"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        instance = try container.decodeIfPresent(String.self, forKey: .instance) ?? ProcessInfo.processInfo.hostName
        partitions = try container.decodeIfPresent(Int.self, forKey: .partitions) ?? ClientPartitions.defaultCount
        guard (1...4096).contains(partitions) else {
            throw DecodingError.dataCorruptedError(forKey: .partitions, in: container,
                                                   debugDescription: "partitions must be between 1 and 4096")
        }
        let timeout = try container.decodeIfPresent(ConfigDuration.self, forKey: .leaseTimeout)?.duration ?? .seconds(15)
        guard timeout >= .seconds(3) else {
            throw DecodingError.dataCorruptedError(forKey: .leaseTimeout, in: container,
                                                   debugDescription: "lease_timeout must be at least 3s")
        }
        leaseTimeout = timeout
        guard !instance.isEmpty, instance.count <= 200 else {
            throw DecodingError.dataCorruptedError(forKey: .instance, in: container,
                                                   debugDescription: "instance must be a name of 1 to 200 characters")
        }
    }

    /// How often leases are renewed (and the others' failures noticed).
    public var renewInterval: Duration { leaseTimeout / 3 }
}

/// One instance of a cluster: keeps its share of the partition leases and dispatches the events of the partitions it
/// holds, on a dispatcher made for exactly those leases.
///
/// ``renewLeases()`` runs every ``ClusterSettings/renewInterval`` (the daemon's lease keeper): it records the instance
/// alive, and takes or gives back partitions so that the live instances hold about as many each. ``dispatch(maximumBatches:)``
/// runs the dispatcher; when the held leases differ from those the dispatcher was made for, it makes a new one first
/// (the partitions' positions are read again, and so is their state). A commit after a lease was lost (this instance
/// was paused past its lease, and another took the partition) throws ``LeaseLost`` inside the dispatcher: nothing of it
/// is kept, the dispatcher is dropped, and the next round starts from what the store holds.
public actor ClusterMember {
    public typealias MakeDispatcher = @Sendable (any DispatchStore) throws -> Dispatcher

    public nonisolated let settings: ClusterSettings
    /// This run's identity in the lease table: the instance's name and a random suffix drawn at start
    /// (`app-1#4f2a9c1e`). A restarted process never takes on its previous run's leases (it takes them anew, at a new
    /// epoch, once they expire), so a previous run that is only paused cannot commit beside it.
    public nonisolated let memberId: String
    private let store: any ClusterStore
    private let makeDispatcher: MakeDispatcher
    private let now: @Sendable () -> Date
    private let logger: Logger
    /// The leases held after the last renewal.
    private var held: [PartitionLease] = []
    /// The dispatcher for ``dispatcherLeases`` (nil: none yet, or dropped after an error).
    private var dispatcher: Dispatcher?
    private var dispatcherLeases: [PartitionLease] = []
    /// Whether the check for another live run of this name passed (``renewLeases()``).
    private var joined = false
    /// A drain or a tick is using the dispatcher; the others wait (``acquire()``).
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    /// A share to give back down to, found by a renewal while the dispatcher was busy: the next ``dispatch(maximumBatches:)``
    /// writes the state and gives the surplus back.
    private var pendingShare: Int?
    /// Counts the changes of ``held`` made under the dispatcher's lock, so that a renewal that ran beside one does not
    /// put back what it gave away.
    private var leaseChanges = 0
    /// Whether a run of an older release was alive at the last renewal; when it changes, the dispatcher is made again
    /// (its state writes follow it, see ``DispatchStore/stateCheckpointsAllowed``).
    private var olderRunsAlive = false
    private var remakeDispatcher = false

    private let partitionsGauge = Gauge(label: "insightd_cluster_partitions_held")
    private let membersGauge = Gauge(label: "insightd_cluster_instances_alive")
    private let lostCounter = Counter(label: "insightd_cluster_leases_lost_total")

    public init(store: any ClusterStore, settings: ClusterSettings, now: @escaping @Sendable () -> Date, logger: Logger,
                makeDispatcher: @escaping MakeDispatcher) {
        self.store = store
        self.settings = settings
        memberId = settings.instance + "#" + String(UInt32.random(in: .min ... .max), radix: 16)
        self.now = now
        self.logger = logger
        self.makeDispatcher = makeDispatcher
    }

    /// The partitions this instance held at its last renewal.
    public var heldPartitions: [Int] { held.map(\.partition) }

    /// Another live run of the same instance name (two processes configured alike, or a previous run whose heartbeat
    /// has not expired yet): this one must not take part until it is gone.
    public struct DuplicateInstance: Error, CustomStringConvertible {
        public let others: [String]

        public init(others: [String]) {
            self.others = others
        }

        public var description: String {
            "another run of this instance is alive (\(others.joined(separator: ", "))): give each instance its own "
                + "cluster.instance; after a crash, this one joins once the previous run's heartbeat expires (lease_timeout)"
        }
    }

    /// The base name of a member id (`app-1` of `app-1#4f2a9c1e`).
    public static func instanceName(of memberId: String) -> String {
        guard let hash = memberId.lastIndex(of: "#") else { return memberId }
        return String(memberId[..<hash])
    }

    /// Records this instance alive and balances the leases: its share is the partition count divided among the live
    /// instances (the first ones by name take one more when it does not divide). Returns the partitions it holds.
    /// Before its first renewal it checks that no other run of its name is alive (``DuplicateInstance``).
    @discardableResult
    public func renewLeases() async throws -> [Int] {
        let at = now()
        if !joined {
            let others = try await store.aliveInstances(now: at).filter {
                $0 != memberId && Self.instanceName(of: $0) == settings.instance
            }
            guard others.isEmpty else { throw DuplicateInstance(others: others) }
            joined = true
        }
        let until = at.addingTimeInterval(settings.leaseTimeout.timeInterval)
        var alive = try await store.heartbeat(instance: memberId, now: at, until: until)
        if !alive.contains(memberId) { alive.append(memberId) }
        alive.sort()
        let index = alive.firstIndex(of: memberId) ?? 0
        let share = settings.partitions / alive.count + (index < settings.partitions % alive.count ? 1 : 0)
        let older = try await store.olderRunsAlive(now: at)
        if older != olderRunsAlive {
            olderRunsAlive = older
            remakeDispatcher = true
        }
        let before = Set(held.map(\.partition))
        if held.count > share {
            // Partitions go back: their state goes to the store first, while the leases still fence it (once given back,
            // the write would be refused and their next holder would handle those events again), and no batch commits
            // between the two. Now if the dispatcher is free; else the next drain does it, and this renewal only extends.
            if tryAcquire() {
                defer { release() }
                try await giveBack(downTo: share)
            } else {
                pendingShare = share
                let changes = leaseChanges
                let extended = try await store.extendLeases(instance: memberId, until: until)
                if changes == leaseChanges { held = extended }
            }
        } else {
            pendingShare = nil
            let changes = leaseChanges
            let balanced = try await store.balanceLeases(instance: memberId, partitions: settings.partitions, target: share,
                                                         now: at, until: until)
            if changes == leaseChanges { held = balanced }
        }
        let after = Set(held.map(\.partition))
        if before != after {
            logger.info("cluster partitions changed", metadata: [
                "cluster.instance": "\(memberId)", "cluster.partitions": "\(after.count)",
                "cluster.gained": "\(after.subtracting(before).sorted())", "cluster.lost": "\(before.subtracting(after).sorted())",
                "cluster.instances": "\(alive.joined(separator: ","))",
            ])
        }
        partitionsGauge.record(after.count)
        membersGauge.record(alive.count)
        return held.map(\.partition)
    }

    /// Handles the held partitions' events, up to `maximumBatches` batches (see ``Dispatcher/drain(maximumBatches:)``).
    /// Returns the events handled. A lost lease drops the dispatcher and returns 0: the partition is another's now.
    /// One call at a time (with ``runTick(_:plugin:)``): the dispatcher is never replaced under a drain.
    @discardableResult
    public func dispatch(maximumBatches: Int = 8) async throws -> Int {
        await acquire()
        defer { release() }
        if let share = pendingShare { try await giveBack(downTo: share) }
        guard let dispatcher = try await currentDispatcher() else { return 0 }
        do {
            return try await dispatcher.drain(maximumBatches: maximumBatches)
        } catch let lost as LeaseLost {
            dropDispatcher(after: lost)
            return 0
        } catch {
            // Anything else: start again from what the store holds.
            self.dispatcher = nil
            dispatcherLeases = []
            throw error
        }
    }

    /// Runs a plugin's daily tick if no other instance has (or is running) it: one instance per plugin and day. Returns
    /// the new leads, or nil when another instance has the tick (or this one holds no partition). `claimed: false` runs
    /// it whatever the others did (an operator's `POST /v1/admin/tick`; the ledger keeps each lead once by its key).
    public func runTick(_ tick: ScheduleTick, plugin: String, claimed: Bool = true) async throws -> [Lead]? {
        guard claimed else {
            await acquire()
            defer { release() }
            guard let dispatcher = try await currentDispatcher() else { return nil }
            do {
                return try await dispatcher.runTick(tick, plugin: plugin)
            } catch let lost as LeaseLost {
                dropDispatcher(after: lost)
                throw lost
            }
        }
        guard !held.isEmpty else { return nil }
        let at = now()
        let date = tick.localDate.description
        guard try await store.claimTick(plugin: plugin, localDate: date, instance: memberId, now: at,
                                        until: at.addingTimeInterval(settings.leaseTimeout.timeInterval * 4)) else { return nil }
        // A tick's queries read the whole book from the store: every partition's state (whoever holds it, written at
        // its checkpoints) should have the events journaled before it. The drains go on meanwhile. (An operator's tick
        // waited already.)
        try await waitForStoredState(atMost: settings.leaseTimeout * 2)
        await acquire()
        defer { release() }
        guard let dispatcher = try await currentDispatcher() else { return nil }
        let leads: [Lead]
        do {
            leads = try await dispatcher.runTick(tick, plugin: plugin)
        } catch let lost as LeaseLost {
            dropDispatcher(after: lost)
            throw lost
        }
        try await store.finishTick(plugin: plugin, localDate: date, instance: memberId)
        return leads
    }

    /// Waits (while the drains go on) until every partition's stored state has the events journaled now, for at most
    /// `limit` (within the tick's claim): a partition nobody holds keeps the tick waiting no longer than that.
    private func waitForStoredState(atMost limit: Duration) async throws {
        let head = try await store.journalHead()
        let deadline = ContinuousClock.now + limit
        var pause = Duration.milliseconds(20)
        while case let waiting = try await store.unhandledEvents(upTo: head), waiting > 0 {
            guard ContinuousClock.now < deadline else {
                logger.warning("a tick runs before every partition's state has the events journaled before it",
                               metadata: ["cluster.instance": "\(memberId)", "events.waiting": "\(waiting)"])
                return
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(1))
        }
    }

    /// With the dispatcher's lock held: writes its state, then gives back the leases beyond `share` (renewing the rest).
    private func giveBack(downTo share: Int) async throws {
        pendingShare = nil
        if let dispatcher { await flush(dispatcher) }
        let at = now()
        leaseChanges += 1
        held = try await store.balanceLeases(instance: memberId, partitions: settings.partitions, target: share, now: at,
                                             until: at.addingTimeInterval(settings.leaseTimeout.timeInterval))
    }

    /// Takes the dispatcher's lock if it is free.
    private func tryAcquire() -> Bool {
        guard !busy else { return false }
        busy = true
        return true
    }

    /// Waits for the dispatcher to be free (a drain or a tick in progress keeps it: the actor is re-entered while they
    /// wait on the store).
    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        // Handed over by `release()` with `busy` still set: a drain under backlog cannot take it back first.
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()
        }
    }

    /// Gives every lease back (a clean shutdown): the others take the partitions at their next renewal, not after the
    /// lease timeout.
    public func leave() async throws {
        await acquire()
        defer { release() }
        if let dispatcher { await flush(dispatcher) }
        dispatcher = nil
        dispatcherLeases = []
        held = []
        try await store.releaseLeases(instance: memberId)
        partitionsGauge.record(0)
    }

    /// The dispatcher for the leases held now: the one made for them, or a new one.
    private func currentDispatcher() async throws -> Dispatcher? {
        guard !held.isEmpty else {
            dispatcher = nil
            dispatcherLeases = []
            return nil
        }
        let leases = held
        if let dispatcher, dispatcherLeases == leases.map(Self.withoutExpiry), !remakeDispatcher { return dispatcher }
        remakeDispatcher = false
        // The leases changed: the state this dispatcher has not written yet goes to the store first (if its leases are
        // all still held), so that the next one, or the partitions' next holder, need not handle those events again.
        if let dispatcher { await flush(dispatcher) }
        self.dispatcher = nil
        dispatcherLeases = []
        let view = try await store.partitionView(holding: leases, partitions: settings.partitions, now: now)
        let made = try makeDispatcher(view)
        dispatcher = made
        dispatcherLeases = leases.map(Self.withoutExpiry)
        return made
    }

    /// Writes a dispatcher's unwritten state, fenced by its leases. A lease gone meanwhile refuses it, and the
    /// partitions' next holder handles those events again from their state position (nothing is lost either way).
    private func flush(_ dispatcher: Dispatcher) async {
        do {
            try await dispatcher.flushState()
        } catch let lost as LeaseLost {
            logger.debug("a lease moved before the state was written; its next holder handles the events again",
                         metadata: ["cluster.partition": "\(lost.partition)"])
        } catch {
            logger.warning("the state could not be written before the dispatcher changed; the events are handled again",
                           metadata: ["error": "\(error)"])
        }
    }

    /// A renewal moves a lease's expiry, not its holder or epoch: the same dispatcher goes on.
    private static func withoutExpiry(_ lease: PartitionLease) -> PartitionLease {
        PartitionLease(partition: lease.partition, owner: lease.owner, epoch: lease.epoch, expires: .distantPast)
    }

    private func dropDispatcher(after lost: LeaseLost) {
        lostCounter.increment()
        logger.warning("a partition lease was lost before the commit; the batch was not committed and is left to its new holder",
                       metadata: ["cluster.instance": "\(memberId)", "cluster.partition": "\(lost.partition)",
                                  "lease.epoch": "\(lost.epoch)"])
        dispatcher = nil
        dispatcherLeases = []
        // Until the next renewal says which partitions are still held, none are dispatched.
        held = []
    }
}
