import Foundation
import InsightCore
import InsightStore
import PostgresNIO

/// What `insightd cluster status`, `/readyz` and `/metrics` show of a cluster: its instances, who holds each
/// partition, how far behind each partition is, and who ran (or runs) each plugin's daily tick.
public struct ClusterStatus: Sendable, Equatable {
    public struct Instance: Sendable, Equatable {
        /// Its run's id (`app-1#4f2a9c1e`: the configured name and a suffix drawn at start).
        public var id: String
        /// The configured name (`cluster.instance`).
        public var name: String {
            guard let hash = id.lastIndex(of: "#") else { return id }
            return String(id[..<hash])
        }
        public var aliveUntil: Date
        public var alive: Bool
        /// The partitions it holds a live lease on.
        public var partitions: [Int]
    }

    public struct Partition: Sendable, Equatable {
        public var partition: Int
        /// The run holding it (an ``Instance/id``); nil: nobody (free, or its holder's lease expired).
        public var owner: String?
        public var epoch: Int64
        /// How far its events are handled.
        public var position: Int64
        /// Events of this partition journaled after its position.
        public var lag: Int64
        /// How far its client state is written (at most ``position``; state goes to the store at checkpoints).
        public var statePosition: Int64 = 0
        /// Events of this partition handled but not yet in its stored state: what its next holder handles again.
        public var stateLag: Int64 = 0
    }

    public struct Tick: Sendable, Equatable {
        public var plugin: String
        public var localDate: String
        /// The instance that took the tick: its leader for that day.
        public var leader: String
        public var done: Bool
    }

    public var partitionCount: Int?
    public var journalHead: Int64
    public var instances: [Instance]
    public var partitions: [Partition]
    /// The latest ticks (50 at most), newest first.
    public var ticks: [Tick]

    /// Events journaled and not yet handled, across the cluster.
    public var lag: Int64 { partitions.reduce(0) { $0 + $1.lag } }
    /// Events handled whose client state is not yet written, across the cluster.
    public var stateLag: Int64 { partitions.reduce(0) { $0 + $1.stateLag } }
}

extension PostgresStore {
    /// How many events up to `head` (a journal sequence) are not yet in the stored client state: 0 when every
    /// partition's state position has passed its events up to there. An admin tick waits for it (its queries read the
    /// stored state).
    public func unhandledEvents(upTo head: Int64) async throws -> Int64 {
        try await transaction { session in
            // As `clusterStatus`: the agreed count, else the leases' (no instance has taken one: nothing was handled).
            let agreed = try session.value(String.self, "SELECT value FROM cluster_setting WHERE name = 'partitions'")
                .flatMap { Int($0) }
            let leased = agreed == nil ? try session.value(Int.self, "SELECT COALESCE(MAX(part) + 1, 0) FROM partition_lease") : nil
            guard let parts = agreed ?? leased, parts > 0 else {
                return try session.value(Int64.self, "SELECT COUNT(*)::bigint FROM journal WHERE seq <= \(head)") ?? 0
            }
            var positions = [Int64](repeating: 0, count: parts)
            for row in try session.rows("SELECT part, COALESCE(state_position, position) FROM partition_offset") {
                let (part, position) = try row.decode((Int, Int64).self)
                if positions.indices.contains(part) { positions[part] = position }
            }
            let lowest = positions.min() ?? 0
            guard lowest < head else { return 0 }
            return try session.value(Int64.self, """
                SELECT COUNT(*)::bigint FROM journal
                WHERE seq > \(lowest) AND seq <= \(head) AND seq > (\(positions)::int8[])[client_hash % \(parts) + 1]
                """) ?? 0
        }
    }
}

extension PostgresStore {
    /// The cluster as the store sees it at `now`. The lag counts each partition's events after its position, through
    /// the journal's sequence index from the lowest position on (one pass, however many partitions).
    public func clusterStatus(now: Date) async throws -> ClusterStatus {
        try await transaction { session in
            let nowMs = now.milliseconds
            let count = try session.value(String.self, "SELECT value FROM cluster_setting WHERE name = 'partitions'")
                .flatMap { Int($0) }
            let head = try session.value(Int64.self, "SELECT COALESCE(MAX(seq), 0)::bigint FROM journal") ?? 0
            var leases: [Int: (owner: String?, epoch: Int64, expires: Int64)] = [:]
            for row in try session.rows("SELECT part, owner, epoch, expires_ms FROM partition_lease") {
                let (part, owner, epoch, expires) = try row.decode((Int, String?, Int64, Int64).self)
                leases[part] = (owner, epoch, expires)
            }
            var offsets: [Int: Int64] = [:]
            var stateOffsets: [Int: Int64] = [:]
            for row in try session.rows("SELECT part, position, COALESCE(state_position, position) FROM partition_offset") {
                let (part, position, state) = try row.decode((Int, Int64, Int64).self)
                offsets[part] = position
                stateOffsets[part] = min(state, position)
            }
            let parts = count ?? (leases.keys.max().map { $0 + 1 } ?? 0)
            var lags: [Int: Int64] = [:]
            var stateLags: [Int: Int64] = [:]
            if parts > 0 {
                let positions = (0..<parts).map { offsets[$0] ?? 0 }
                let states = (0..<parts).map { stateOffsets[$0] ?? 0 }
                let lowest = states.min() ?? 0
                // From each partition's state position on: the events after its position are its lag, the others its
                // state's.
                for row in try session.rows("""
                    SELECT client_hash % \(parts),
                           COUNT(*) FILTER (WHERE seq > (\(positions)::int8[])[client_hash % \(parts) + 1])::bigint,
                           COUNT(*) FILTER (WHERE seq <= (\(positions)::int8[])[client_hash % \(parts) + 1])::bigint
                    FROM journal
                    WHERE seq > \(lowest) AND seq > (\(states)::int8[])[client_hash % \(parts) + 1]
                    GROUP BY 1
                    """) {
                    let (part, lag, stateLag) = try row.decode((Int, Int64, Int64).self)
                    lags[part] = lag
                    stateLags[part] = stateLag
                }
            }
            let partitions = (0..<parts).map { part -> ClusterStatus.Partition in
                let lease = leases[part]
                let live = lease.flatMap { $0.expires > nowMs ? $0.owner : nil }
                return ClusterStatus.Partition(partition: part, owner: live, epoch: lease?.epoch ?? 0,
                                               position: offsets[part] ?? 0, lag: lags[part] ?? 0,
                                               statePosition: stateOffsets[part] ?? 0, stateLag: stateLags[part] ?? 0)
            }
            let instances = try session.rows("SELECT name, alive_until_ms FROM cluster_instance ORDER BY name").map { row in
                let (name, until) = try row.decode((String, Int64).self)
                return ClusterStatus.Instance(id: name, aliveUntil: Date(milliseconds: until), alive: until > nowMs,
                                              partitions: partitions.filter { $0.owner == name }.map(\.partition))
            }
            let ticks = try session.rows("""
                SELECT plugin, local_date, owner, done FROM tick_claim ORDER BY local_date DESC, plugin LIMIT 50
                """).map { row in
                let (plugin, date, owner, done) = try row.decode((String, String, String, Bool).self)
                return ClusterStatus.Tick(plugin: plugin, localDate: date, leader: owner, done: done)
            }
            return ClusterStatus(partitionCount: count, journalHead: head, instances: instances, partitions: partitions,
                                 ticks: ticks)
        }
    }

    /// One round trip: whether the store answers.
    public func ping() async throws {
        _ = try await transaction { try $0.execute("SELECT 1") }
    }

    /// The local dates on which a plugin's daily tick ran (committed its leads), on or after `since`.
    public func scheduleRuns(plugin: String, since: LocalDate) async throws -> Set<LocalDate> {
        try await transaction { session in
            Set(try session.rows("""
                SELECT local_date FROM schedule_run WHERE plugin = \(plugin) AND local_date >= \(since.description)
                """).compactMap { LocalDate(try $0.decode(String.self)) })
        }
    }
}
