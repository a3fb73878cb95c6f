import Foundation
import GRDB

// Leases as a store concern: which instance processes which partition of the clients, and which runs a plugin's daily
// tick, each for a bounded time that its holder renews. The records only: how many partitions an instance should hold
// and when it renews are the cluster's rules (`InsightEngine`).

/// One partition's lease. `epoch` grows by one each time the partition changes hands: a commit fenced by the epoch it
/// was handled under fails once another instance has taken the partition, however long its holder was paused.
public struct PartitionLease: Sendable, Hashable {
    public var partition: Int
    public var owner: String
    public var epoch: Int64
    public var expires: Date

    public init(partition: Int, owner: String, epoch: Int64, expires: Date) {
        self.partition = partition
        self.owner = owner
        self.epoch = epoch
        self.expires = expires
    }
}

/// The partition's lease is not the holder's any more (it expired and another instance took it, or it was given back):
/// what was handled under it must not commit.
public struct LeaseLost: Error, CustomStringConvertible, Sendable {
    public let partition: Int
    public let epoch: Int64

    public init(partition: Int, epoch: Int64) {
        self.partition = partition
        self.epoch = epoch
    }

    public var description: String {
        "partition \(partition)'s lease (epoch \(epoch)) was lost: another instance holds it now; the work is left to it"
    }
}

public protocol LeaseStore: Sendable {
    /// The instances alive at `now` (their heartbeat not expired), by name; records nothing.
    func aliveInstances(now: Date) async throws -> [String]
    /// Records that `instance` is alive until `until`; returns the instances alive at `now` (this one included), by name.
    func heartbeat(instance: String, now: Date, until: Date) async throws -> [String]
    /// In one transaction, serialized with every other instance's: renews the leases `instance` holds to `until`, gives
    /// back those beyond `target` (the highest partitions), and takes free or expired ones (the lowest) up to `target`,
    /// a taken one at the next epoch. `partitions` is the cluster's fixed count. Returns its leases afterwards.
    func balanceLeases(instance: String, partitions: Int, target: Int, now: Date, until: Date) async throws -> [PartitionLease]
    /// Renews the leases `instance` holds to `until`, taking and giving back none; returns them.
    func extendLeases(instance: String, until: Date) async throws -> [PartitionLease]
    /// Gives back every lease `instance` holds (a clean shutdown: the others take them at once, not after the timeout).
    func releaseLeases(instance: String) async throws
    /// Every partition's lease, by partition (those never held have no owner: left out).
    func leases() async throws -> [PartitionLease]
    /// Whether every one of `held` is still its holder's at `now`, at the same epoch.
    func stillHeld(_ held: [PartitionLease], now: Date) async throws -> Bool
    /// Takes the run of a plugin's daily tick for a local date, unless it is done or another instance's claim on it has
    /// not expired at `now`. True for the instance that gets it.
    func claimTick(plugin: String, localDate: String, instance: String, now: Date, until: Date) async throws -> Bool
    /// Marks the tick done (only its claimant can): no instance runs it again.
    func finishTick(plugin: String, localDate: String, instance: String) async throws
}

extension AppDatabase: LeaseStore {
    public func aliveInstances(now: Date) async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM cluster_instance WHERE alive_until_ms > ? ORDER BY name",
                                arguments: [now.milliseconds])
        }
    }

    public func heartbeat(instance: String, now: Date, until: Date) async throws -> [String] {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO cluster_instance (name, alive_until_ms) VALUES (?, ?)
                ON CONFLICT (name) DO UPDATE SET alive_until_ms = excluded.alive_until_ms
                """, arguments: [instance, until.milliseconds])
            return try String.fetchAll(db, sql: "SELECT name FROM cluster_instance WHERE alive_until_ms > ? ORDER BY name",
                                       arguments: [now.milliseconds])
        }
    }

    public func extendLeases(instance: String, until: Date) async throws -> [PartitionLease] {
        try await pool.write { db in
            try db.execute(sql: "UPDATE partition_lease SET expires_ms = ? WHERE owner = ?", arguments: [until.milliseconds, instance])
            return try Self.leases(db, owner: instance)
        }
    }

    public func balanceLeases(instance: String, partitions: Int, target: Int, now: Date, until: Date) async throws -> [PartitionLease] {
        try await pool.write { db in
            // SQLite has one writer: the transaction is serialized with every other already.
            // Every partition has its row (one statement; those there already are left as they are).
            try db.execute(sql: """
                WITH RECURSIVE p(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM p WHERE n + 1 < ?)
                INSERT INTO partition_lease (part, owner, epoch, expires_ms) SELECT n, NULL, 0, 0 FROM p WHERE true
                ON CONFLICT DO NOTHING
                """, arguments: [partitions])
            try db.execute(sql: "UPDATE partition_lease SET expires_ms = ? WHERE owner = ?", arguments: [until.milliseconds, instance])
            let held = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM partition_lease WHERE owner = ?", arguments: [instance]) ?? 0
            if held > target {
                try db.execute(sql: """
                    UPDATE partition_lease SET owner = NULL, expires_ms = 0
                    WHERE part IN (SELECT part FROM partition_lease WHERE owner = ? ORDER BY part DESC LIMIT ?)
                    """, arguments: [instance, held - target])
            } else if held < target {
                try db.execute(sql: """
                    UPDATE partition_lease SET owner = ?, epoch = epoch + 1, expires_ms = ?
                    WHERE part IN (SELECT part FROM partition_lease WHERE part < ? AND (owner IS NULL OR expires_ms <= ?)
                                   ORDER BY part LIMIT ?)
                    """, arguments: [instance, until.milliseconds, partitions, now.milliseconds, target - held])
            }
            return try Self.leases(db, owner: instance)
        }
    }

    public func releaseLeases(instance: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE partition_lease SET owner = NULL, expires_ms = 0 WHERE owner = ?", arguments: [instance])
            try db.execute(sql: "DELETE FROM cluster_instance WHERE name = ?", arguments: [instance])
        }
    }

    public func leases() async throws -> [PartitionLease] {
        try await pool.read { db in try Self.leases(db, owner: nil) }
    }

    static func leases(_ db: Database, owner: String?) throws -> [PartitionLease] {
        try Row.fetchAll(db, sql: """
            SELECT part, owner, epoch, expires_ms FROM partition_lease
            WHERE owner IS NOT NULL AND (? IS NULL OR owner = ?) ORDER BY part
            """, arguments: [owner, owner]).map {
            PartitionLease(partition: $0[0], owner: $0[1], epoch: $0[2], expires: Date(milliseconds: $0[3]))
        }
    }

    public func stillHeld(_ held: [PartitionLease], now: Date) async throws -> Bool {
        try await pool.read { db in
            for lease in held {
                let holds = try Bool.fetchOne(db, sql: """
                    SELECT 1 FROM partition_lease WHERE part = ? AND owner = ? AND epoch = ? AND expires_ms > ?
                    """, arguments: [lease.partition, lease.owner, lease.epoch, now.milliseconds]) ?? false
                if !holds { return false }
            }
            return true
        }
    }

    public func claimTick(plugin: String, localDate: String, instance: String, now: Date, until: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO tick_claim (plugin, local_date, owner, until_ms, done) VALUES (?, ?, ?, ?, 0)
                ON CONFLICT (plugin, local_date) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms
                WHERE tick_claim.done = 0 AND (tick_claim.until_ms <= ? OR tick_claim.owner = excluded.owner)
                """, arguments: [plugin, localDate, instance, until.milliseconds, now.milliseconds])
            return db.changesCount == 1
        }
    }

    public func finishTick(plugin: String, localDate: String, instance: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE tick_claim SET done = 1 WHERE plugin = ? AND local_date = ? AND owner = ?",
                           arguments: [plugin, localDate, instance])
        }
    }
}
