import Foundation
import InsightCore
import InsightPostgres
import InsightStore
import InsightTesting
import Testing

/// A lease backend under test: an empty store, kept until the test ends.
struct LeaseBackend: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable () async throws -> (store: any LeaseStore, owner: any Sendable)

    static let sqlite = LeaseBackend(description: "SQLite") {
        let test = try TestStore()
        return (test.database, test)
    }

    static let postgres = LeaseBackend(description: "PostgreSQL") {
        let test = try await TestPostgres.start()
        return (test.store, test)
    }

    static let all: [LeaseBackend] = [.sqlite] + (TestPostgres.url != nil || TestPostgres.isRequired ? [.postgres] : [])
}

@Suite("lease store conformance")
struct LeaseStoreConformanceTests {
    static let now = instant("2026-11-20T10:00:00+08:00")
    static let timeout: TimeInterval = 15

    @Test("instances share the partitions: a second one gets half once the first gives them back; none held twice",
          arguments: LeaseBackend.all)
    func sharing(backend: LeaseBackend) async throws {
        let (store, owner) = try await backend.make()
        _ = owner
        let now = Self.now, until = Self.now + Self.timeout
        #expect(try await store.heartbeat(instance: "a", now: now, until: until) == ["a"])
        let alone = try await store.balanceLeases(instance: "a", partitions: 8, target: 8, now: now, until: until)
        #expect(alone.map(\.partition) == Array(0..<8) && alone.allSatisfy { $0.epoch == 1 && $0.owner == "a" })
        #expect(try await store.heartbeat(instance: "b", now: now, until: until) == ["a", "b"])
        #expect(try await store.aliveInstances(now: now) == ["a", "b"])
        #expect(try await store.aliveInstances(now: until).isEmpty, "a heartbeat lasts until its time")
        // Nothing is free while a's leases hold.
        #expect(try await store.balanceLeases(instance: "b", partitions: 8, target: 4, now: now, until: until).isEmpty)
        let kept = try await store.balanceLeases(instance: "a", partitions: 8, target: 4, now: now + 1, until: until + 1)
        #expect(kept.map(\.partition) == [0, 1, 2, 3], "the highest are given back")
        let taken = try await store.balanceLeases(instance: "b", partitions: 8, target: 4, now: now + 1, until: until + 1)
        #expect(taken.map(\.partition) == [4, 5, 6, 7] && taken.allSatisfy { $0.epoch == 2 && $0.owner == "b" })
        let all = try await store.leases()
        #expect(all.count == 8 && Set(all.map(\.partition)).count == 8)
        #expect(try await store.stillHeld(kept, now: now + 2))
        #expect(try await store.stillHeld(taken, now: now + 2))
    }

    @Test("an instance that stops renewing loses its partitions after the timeout, at a new epoch; a clean stop gives them at once",
          arguments: LeaseBackend.all)
    func failover(backend: LeaseBackend) async throws {
        let (store, owner) = try await backend.make()
        _ = owner
        let now = Self.now, until = Self.now + Self.timeout
        let a = try await store.balanceLeases(instance: "a", partitions: 4, target: 4, now: now, until: until)
        #expect(try await store.balanceLeases(instance: "b", partitions: 4, target: 4, now: now + Self.timeout - 1,
                                              until: until + 14).isEmpty, "not before the timeout")
        let b = try await store.balanceLeases(instance: "b", partitions: 4, target: 4, now: until, until: until + Self.timeout)
        #expect(b.map(\.partition) == [0, 1, 2, 3] && b.allSatisfy { $0.epoch == 2 })
        #expect(try await store.stillHeld(a, now: until) == false, "a paused past its lease holds nothing any more")
        #expect(try await store.stillHeld([a[0]], now: now + 1) == false)
        // b stops cleanly: a takes everything at once.
        try await store.releaseLeases(instance: "b")
        let back = try await store.balanceLeases(instance: "a", partitions: 4, target: 4, now: until + 1, until: until + 16)
        #expect(back.count == 4 && back.allSatisfy { $0.epoch == 3 && $0.owner == "a" })
        #expect(try await store.heartbeat(instance: "a", now: until + 1, until: until + 16) == ["a"], "b left the cluster")
    }

    @Test("a plugin's daily tick runs once per cluster and day; a claim whose instance died is taken over", arguments: LeaseBackend.all)
    func ticks(backend: LeaseBackend) async throws {
        let (store, owner) = try await backend.make()
        _ = owner
        let now = Self.now
        #expect(try await store.claimTick(plugin: "birthday-care", localDate: "2026-11-20", instance: "a", now: now, until: now + 60))
        #expect(try await store.claimTick(plugin: "birthday-care", localDate: "2026-11-20", instance: "b", now: now + 1,
                                          until: now + 61) == false)
        #expect(try await store.claimTick(plugin: "loan-renewal", localDate: "2026-11-20", instance: "b", now: now + 1, until: now + 61),
                "another plugin's tick is another claim")
        // a died during its tick: b takes it once a's claim has passed, runs it and finishes it.
        #expect(try await store.claimTick(plugin: "birthday-care", localDate: "2026-11-20", instance: "b", now: now + 60,
                                          until: now + 120))
        try await store.finishTick(plugin: "birthday-care", localDate: "2026-11-20", instance: "b")
        #expect(try await store.claimTick(plugin: "birthday-care", localDate: "2026-11-20", instance: "a", now: now + 500,
                                          until: now + 560) == false, "a finished tick never runs again")
        #expect(try await store.claimTick(plugin: "birthday-care", localDate: "2026-11-21", instance: "a", now: now + 500,
                                          until: now + 560))
    }
}

/// Fencing on PostgreSQL: what an instance handled under a lease commits only while the lease is still its own.
@Suite("PostgreSQL lease fencing", .enabled(if: TestPostgres.url != nil || TestPostgres.isRequired))
struct LeaseFencingTests {
    @Test("a paused owner's commit after another took its partition is refused, and nothing of it is kept")
    func pausedOwnerCannotCommit() async throws {
        let test = try await TestPostgres.start()
        let store = test.store
        let now = LeaseStoreConformanceTests.now
        let held = try await store.balanceLeases(instance: "a", partitions: 2, target: 2, now: now, until: now + 15)
        // Within its lease, a commits.
        _ = try await store.fencedTransaction(holding: held, now: { now + 5 }) { session in
            try session.execute("INSERT INTO consumer (name, position, updated_ms) VALUES ('partition-0', 10, 0)")
        }
        // a is paused past its lease; b takes the partitions.
        _ = try await store.balanceLeases(instance: "b", partitions: 2, target: 2, now: now + 16, until: now + 31)
        do {
            _ = try await store.fencedTransaction(holding: held, now: { now + 17 }) { session in
                try session.execute("UPDATE consumer SET position = 99 WHERE name = 'partition-0'")
            }
            Issue.record("a stale owner committed")
        } catch let error as LeaseLost {
            #expect(error.partition == 0 && error.epoch == 1)
        }
        let position = try await store.transaction { try $0.value(Int64.self, "SELECT position FROM consumer WHERE name = 'partition-0'") }
        #expect(position == 10, "the stale commit left nothing")
    }
}
