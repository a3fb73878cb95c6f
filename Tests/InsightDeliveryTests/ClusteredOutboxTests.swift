import Foundation
import InsightCore
import InsightDelivery
import InsightPostgres
import InsightStore
import InsightTesting
import Testing

/// Several outbox workers on one PostgreSQL store, as several insightd instances run them: rows are claimed (`FOR
/// UPDATE SKIP LOCKED`, a visibility timeout), routing and digest forming are serialized across instances.
@Suite("outbox: several instances on PostgreSQL", .enabled(if: TestPostgres.url != nil || TestPostgres.isRequired))
struct ClusteredOutboxTests {
    func service(_ store: PostgresStore, _ receiver: any Receiver, instance: String,
                 claimTimeout: Duration = .seconds(300), timeSource: any TimeSource = SystemTimeSource()) -> OutboxService {
        OutboxService(database: store,
                      planner: DeliveryPlanner(router: InsightDelivery.Router(routes: OutboxDeliveryTests.catchAll,
                                                                              timeZone: shanghai, unassigned: [])),
                      receivers: [receiver],
                      settings: .init(policy: RetryPolicy(schedule: [0, 0.05, 0.05, 0.05], jitter: 0), instance: instance,
                                      claimTimeout: claimTimeout),
                      timeSource: timeSource, logger: quietLogger)
    }

    /// Pending and sent rows of the store.
    func depth(_ store: PostgresStore) async throws -> (pending: Int, sent: Int) {
        let rows = try await store.outboxDepth()
        return (rows.filter { $0.status == .pending }.reduce(0) { $0 + $1.count },
                rows.filter { $0.status == .sent }.reduce(0) { $0 + $1.count })
    }

    @Test("three instances route and send 60 leads at once: each delivery is sent once, by one of them")
    func eachDeliveryOnce() async throws {
        let postgres = try await TestPostgres.start(pool: 8)
        let store = postgres.store
        let server = TestReceiverServer()
        try await server.run { base in
            let leads = (0..<60).map { makeLead("C\($0):2026", client: "C\($0)") }
            try await store.appendLeads(leads)
            let instances = try (0..<3).map { index in
                let receiver = try webhookReceiver(base + "/hook", timeout: .seconds(30))
                return (service(store, receiver, instance: "node-\(index)"), receiver)
            }
            let deadline = ContinuousClock.now + .seconds(90)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (service, receiver) in instances {
                    group.addTask {
                        while ContinuousClock.now < deadline {
                            _ = try await service.routeOnce()
                            if try await service.sendDue(receiver) == 0 {
                                if try await self.depth(store).sent == leads.count { return }
                                try await Task.sleep(for: .milliseconds(20))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let ids = server.requests.compactMap { $0.headers["webhook-id"] }
            #expect(ids.count == leads.count, "one request per lead, no duplicate")
            #expect(Set(ids).count == leads.count)
            let (pending, sent) = try await depth(store)
            #expect(pending == 0 && sent == leads.count)
            let notified = try await store.conversionCounts().first { $0.plugin == "birthday-care" }?.notified
            #expect(notified == leads.count)
        }
    }

    @Test("rows taken by an instance that died go again from another once the claim passes, with the same webhook-id")
    func deadInstanceClaims() async throws {
        let postgres = try await TestPostgres.start()
        let store = postgres.store
        let server = TestReceiverServer()
        try await server.run { base in
            let leads = (0..<3).map { makeLead("C\($0):2026", client: "C\($0)") }
            try await store.appendLeads(leads)
            let receiver = try webhookReceiver(base + "/hook", timeout: .seconds(30))
            // The survivor's clock is the test's: the claim's end is reached by moving it, not by waiting.
            let clock = FixedTimeSource(Date())
            let survivor = service(store, receiver, instance: "node-b", timeSource: clock)
            _ = try await survivor.routeOnce()
            // "node-a" takes every row for a minute, then dies before sending or recording anything.
            let taken = try await OutboxRules.claimDue(in: store, receiver: "gateway", now: clock.now(), limit: 10,
                                                       claim: DeliveryClaim(claimant: "node-a", until: clock.now() + 60))
            #expect(taken.deliveries.count == leads.count)
            clock.advance(by: 59)
            #expect(try await survivor.sendDue(receiver) == 0, "nothing is due while node-a's claim holds")
            #expect(server.requests.isEmpty)
            clock.advance(by: 2)  // past the claim (exactly at its end, rounding to milliseconds could fall short)
            let deadline = ContinuousClock.now + .seconds(60)
            while try await depth(store).sent < leads.count, ContinuousClock.now < deadline {
                if try await survivor.sendDue(receiver) == 0 {
                    // An attempt that failed (a loaded machine's timeout) is retried on the test's clock: move it on.
                    clock.advance(by: 1)
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let ids = server.requests.compactMap { $0.headers["webhook-id"] }
            #expect(Set(ids) == Set(taken.deliveries.map(\.id)), "sent by node-b with the ids node-a had taken")
            #expect(ids.count >= leads.count, "each at least once (a timed-out attempt may have arrived too)")
        }
    }
}
