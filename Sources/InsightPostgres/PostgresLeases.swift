import Foundation
import InsightStore
import PostgresNIO

extension PostgresStore: LeaseStore {
    public func aliveInstances(now: Date) async throws -> [String] {
        try await transaction { session in
            try session.rows("SELECT name FROM cluster_instance WHERE alive_until_ms > \(now.milliseconds) ORDER BY name")
                .map { try $0.decode(String.self) }
        }
    }

    public func heartbeat(instance: String, now: Date, until: Date) async throws -> [String] {
        try await transaction { session in
            try session.execute("""
                INSERT INTO cluster_instance (name, alive_until_ms, features)
                VALUES (\(instance), \(until.milliseconds), \(Self.instanceFeatures))
                ON CONFLICT (name) DO UPDATE SET alive_until_ms = EXCLUDED.alive_until_ms, features = EXCLUDED.features
                """)
            // Runs that died a day ago or more (each run has a name of its own) are forgotten.
            try session.execute("DELETE FROM cluster_instance WHERE alive_until_ms < \(now.milliseconds - 86_400_000)")
            return try session.rows("SELECT name FROM cluster_instance WHERE alive_until_ms > \(now.milliseconds) ORDER BY name")
                .map { try $0.decode(String.self) }
        }
    }

    /// What a run of this release can do (`cluster_instance.features`).
    static let instanceFeatures = "state-checkpoints"

    public func balanceLeases(instance: String, partitions: Int, target: Int, now: Date, until: Date) async throws -> [PartitionLease] {
        try await transaction { session in
            // A lease row locked by a commit in flight (FOR SHARE, see `checkHeld`) is never waited for: a renewal
            // must not queue behind an instance paused inside a commit. Its own rows it updates; others' it skips.
            try session.execute("SET LOCAL lock_timeout = '5s'")
            // One instance balances at a time: two taking the same free partitions at once would both count them.
            try session.serialize("leases")
            try session.execute("""
                INSERT INTO partition_lease (part, owner, epoch, expires_ms)
                SELECT g, NULL, 0, 0 FROM generate_series(0, \(partitions - 1)) AS g ON CONFLICT DO NOTHING
                """)
            try session.execute("UPDATE partition_lease SET expires_ms = \(until.milliseconds) WHERE owner = \(instance)")
            let held = try session.value(Int.self, "SELECT COUNT(*)::bigint FROM partition_lease WHERE owner = \(instance)") ?? 0
            if held > target {
                try session.execute("""
                    UPDATE partition_lease SET owner = NULL, expires_ms = 0
                    WHERE part IN (SELECT part FROM partition_lease WHERE owner = \(instance) ORDER BY part DESC LIMIT \(held - target))
                    """)
            } else if held < target {
                try session.execute("""
                    UPDATE partition_lease SET owner = \(instance), epoch = epoch + 1, expires_ms = \(until.milliseconds)
                    WHERE part IN (SELECT part FROM partition_lease
                                   WHERE part < \(partitions) AND (owner IS NULL OR expires_ms <= \(now.milliseconds))
                                   ORDER BY part LIMIT \(target - held) FOR UPDATE SKIP LOCKED)
                    """)
            }
            return try Self.leases(session, owner: instance)
        }
    }

    public func extendLeases(instance: String, until: Date) async throws -> [PartitionLease] {
        try await transaction { session in
            // As in `balanceLeases`: never queue behind a commit in flight on another instance's row.
            try session.execute("SET LOCAL lock_timeout = '5s'")
            try session.execute("UPDATE partition_lease SET expires_ms = \(until.milliseconds) WHERE owner = \(instance)")
            return try Self.leases(session, owner: instance)
        }
    }

    /// Whether a run of an older release (no `features`) is alive at `now`: while one is, state is written with every
    /// batch (see ``PostgresDispatchStore/stateCheckpointsAllowed``).
    public func olderRunsAlive(now: Date) async throws -> Bool {
        try await transaction { session in try Self.olderRunsAlive(session, now: now) }
    }

    static func olderRunsAlive(_ session: PostgresSession, now: Date) throws -> Bool {
        try session.value(Bool.self, """
            SELECT EXISTS (SELECT 1 FROM cluster_instance WHERE alive_until_ms > \(now.milliseconds) AND features IS NULL)
            """) ?? false
    }

    public func releaseLeases(instance: String) async throws {
        _ = try await transaction { session in
            try session.execute("UPDATE partition_lease SET owner = NULL, expires_ms = 0 WHERE owner = \(instance)")
            try session.execute("DELETE FROM cluster_instance WHERE name = \(instance)")
        }
    }

    public func leases() async throws -> [PartitionLease] {
        try await transaction { session in try Self.leases(session, owner: nil) }
    }

    static func leases(_ session: PostgresSession, owner: String?) throws -> [PartitionLease] {
        try session.rows("""
            SELECT part, owner, epoch, expires_ms FROM partition_lease
            WHERE owner IS NOT NULL AND (\(owner)::text IS NULL OR owner = \(owner)::text) ORDER BY part
            """).map { row in
            let (part, owner, epoch, expires) = try row.decode((Int, String, Int64, Int64).self)
            return PartitionLease(partition: part, owner: owner, epoch: epoch, expires: Date(milliseconds: expires))
        }
    }

    public func stillHeld(_ held: [PartitionLease], now: Date) async throws -> Bool {
        try await transaction { session in try Self.checkHeld(held, now: now, session: session) == nil }
    }

    /// Inside a commit's transaction: locks the leases' rows against a change of hands until the commit ends, and
    /// returns the first one that is not its holder's any more (nil: all are). A takeover waits for the commit, or the
    /// commit sees the new epoch and must not go through.
    static func checkHeld(_ held: [PartitionLease], now: Date, session: PostgresSession) throws -> PartitionLease? {
        guard !held.isEmpty else { return nil }
        let rows = try session.rows("""
            SELECT part, owner, epoch, expires_ms FROM partition_lease WHERE part = ANY(\(held.map(\.partition))) FOR SHARE
            """).map { try $0.decode((Int, String?, Int64, Int64).self) }
        let current = Dictionary(rows.map { ($0.0, $0) }, uniquingKeysWith: { first, _ in first })
        return held.first { lease in
            guard let row = current[lease.partition] else { return true }
            return row.1 != lease.owner || row.2 != lease.epoch || row.3 <= now.milliseconds
        }
    }

    /// Runs `body` in one transaction that commits only if every lease in `held` is still its holder's (at its epoch, not
    /// expired) when it commits; else throws ``LeaseLost`` and nothing of it is kept. State, leads and positions handled
    /// under the leases commit through here.
    @discardableResult
    public func fencedTransaction<T: Sendable>(holding held: [PartitionLease], now: @escaping @Sendable () -> Date,
                                               _ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await transaction { session in
            let result = try body(session)
            if let lost = try Self.checkHeld(held, now: now(), session: session) {
                throw LeaseLost(partition: lost.partition, epoch: lost.epoch)
            }
            return result
        }
    }

    public func claimTick(plugin: String, localDate: String, instance: String, now: Date, until: Date) async throws -> Bool {
        try await transaction { session in
            try session.execute("""
                INSERT INTO tick_claim (plugin, local_date, owner, until_ms, done)
                VALUES (\(plugin), \(localDate), \(instance), \(until.milliseconds), false)
                ON CONFLICT (plugin, local_date) DO UPDATE SET owner = EXCLUDED.owner, until_ms = EXCLUDED.until_ms
                WHERE NOT tick_claim.done AND (tick_claim.until_ms <= \(now.milliseconds) OR tick_claim.owner = EXCLUDED.owner)
                """) == 1
        }
    }

    public func finishTick(plugin: String, localDate: String, instance: String) async throws {
        _ = try await transaction { session in
            try session.execute("""
                UPDATE tick_claim SET done = true WHERE plugin = \(plugin) AND local_date = \(localDate) AND owner = \(instance)
                """)
        }
    }
}
