import Foundation
import InsightCore
import InsightDelivery
import InsightIngest
import InsightStore
import InsightTesting
import Testing

/// The outbox against a real HTTP receiver on loopback.
@Suite struct OutboxDeliveryTests {
    static let catchAll = [Route(index: 0, receivers: ["gateway"])]

    /// A loopback receiver answering from `script`, a webhook receiver "gateway" pointing at it, an outbox
    /// routing everything there, and one lead committed and routed.
    func withOneLead(script: [ScriptedResponse] = [],
                     _ body: @Sendable (TestReceiverServer, HTTPReceiver, OutboxHarness, Lead) async throws -> Void) async throws {
        let server = TestReceiverServer(script: script)
        try await server.run { base in
            let receiver = try webhookReceiver(base + "/hook")
            let harness = try OutboxHarness(routes: Self.catchAll, receivers: [receiver])
            let lead = makeLead("C1:2026")
            try commitLeads([lead], to: harness.database)
            try await harness.outbox.routeOnce()
            try await body(server, receiver, harness, lead)
        }
    }

    @Test func webhookDeliveriesAreSignedWithStandardWebhooks() async throws {
        try await withOneLead { server, receiver, harness, lead in
            try await harness.sendUntil(receiver) { server.requests.count == 1 }

            let request = try #require(server.requests.first)
            let verifier = try #require(StandardWebhooks(secret: webhookSecret))
            #expect(throws: Never.self) {
                try verifier.verify(id: request.headers["webhook-id"], timestamp: request.headers["webhook-timestamp"],
                                    signature: request.headers["webhook-signature"], body: request.body, now: Date())
            }
            var tampered = request.body
            tampered[tampered.count / 2] ^= 1
            #expect(throws: StandardWebhooks.Failure.self) {
                try verifier.verify(id: request.headers["webhook-id"], timestamp: request.headers["webhook-timestamp"],
                                    signature: request.headers["webhook-signature"], body: tampered, now: Date())
            }
            // The body is the lead JSON of DESIGN §5, with RFC 3339 times in the bank's zone.
            let json = try JSONParser.parse(request.body)
            #expect(json["id"]?.stringValue == lead.id)
            #expect(json["dueAt"]?.stringValue == "2026-11-25T00:00:00+08:00")
            #expect(json["client"]?["name"]?.stringValue == "张*")
            #expect(request.headers["webhook-id"]?.hasPrefix("dl_") == true)
            #expect(try harness.database.lead(id: lead.id)?.status == .notified, "the first successful delivery notifies the lead")
        }
    }

    @Test func threeFailuresThenSuccessDeliverOnceWithOneWebhookId() async throws {
        try await withOneLead(script: [ScriptedResponse(status: .internalServerError), ScriptedResponse(status: .badGateway),
                                       ScriptedResponse(status: .serviceUnavailable)]) { server, receiver, harness, lead in
            try await harness.sendUntil(receiver) { try harness.database.lead(id: lead.id)?.status == .notified }
            // Nothing more goes out once it is sent.
            try await Task.sleep(for: .milliseconds(200))
            _ = try await harness.outbox.sendDue(receiver)

            let requests = server.requests
            #expect(requests.count == 4, "three failures and one success")
            #expect(Set(requests.compactMap { $0.headers["webhook-id"] }).count == 1, "the same webhook-id on every attempt")
            #expect(Set(requests.map(\.body)).count == 1, "the same lead body on every attempt")
            let deliveries = try harness.database.deliveries(forLead: lead.id)
            #expect(deliveries.count == 1)
            #expect(deliveries.first?.delivery.status == .sent)
            #expect(deliveries.first?.attempts.map(\.outcome) == ["failed", "failed", "failed", "sent"])
            #expect(deliveries.first?.attempts.map(\.httpStatus) == [500, 502, 503, 200])
        }
    }

    @Test func exhaustedRetriesMakeADeadLetterThatAnOperatorRetries() async throws {
        let failures = Array(repeating: ScriptedResponse(status: .internalServerError), count: 4)
        try await withOneLead(script: failures) { server, receiver, harness, lead in
            try await harness.sendUntil(receiver) { try !harness.database.deliveries(status: .dead, receiver: nil, limit: 10).isEmpty }
            let dead = try harness.database.deliveries(status: .dead, receiver: nil, limit: 10)
            #expect(dead.count == 1, "four attempts on a four-step schedule, then dead")
            #expect(server.requests.count == 4)
            #expect(try harness.database.lead(id: lead.id)?.status == .new)

            let id = try #require(dead.first?.id)
            #expect(try await LeadDesk(store: harness.database).retryDelivery(id: id, now: Date())?.retried == true)
            try await harness.sendUntil(receiver) { try harness.database.lead(id: lead.id)?.status == .notified }
            #expect(server.requests.count == 5)
            #expect(server.requests.last?.headers["webhook-id"] == id, "a retried dead letter keeps its webhook-id")
        }
    }

    @Test func a410DisablesTheTargetUntilAnOperatorReenablesIt() async throws {
        try await withOneLead(script: [ScriptedResponse(status: .gone)]) { server, receiver, harness, first in
            try await harness.sendUntil(receiver) { server.requests.count == 1 }
            _ = try await harness.outbox.sendDue(receiver)

            // More leads for the same manager: held, never sent, while the target is disabled.
            let second = makeLead("C2:2026", client: "C2")
            try commitLeads([second], to: harness.database)
            try await harness.outbox.routeOnce()
            for _ in 0..<5 { _ = try await harness.outbox.sendDue(receiver) }
            try await Task.sleep(for: .milliseconds(150))
            for _ in 0..<5 { _ = try await harness.outbox.sendDue(receiver) }
            #expect(server.requests.count == 1, "a 410 stops further sends")
            #expect(try harness.database.disabledTargets().map(\.receiver) == ["gateway"])
            #expect(try harness.database.deliveries(status: .held, receiver: "gateway", limit: 10).count == 2)

            #expect(try await LeadDesk(store: harness.database).enableTarget(receiver: "gateway", managerId: nil, now: Date()) == 2)
            try await harness.sendUntil(receiver) {
                try harness.database.lead(id: first.id)?.status == .notified && harness.database.lead(id: second.id)?.status == .notified
            }
            #expect(server.requests.count == 3)
        }
    }

    @Test func retryAfterIsRespected() async throws {
        let tooMany = ScriptedResponse(status: .tooManyRequests, headers: ["Retry-After": "1"])
        try await withOneLead(script: [tooMany]) { server, receiver, harness, lead in
            // The schedule alone would retry after 50 ms.
            try await harness.sendUntil(receiver) { try harness.database.lead(id: lead.id)?.status == .notified }
            let requests = server.requests
            #expect(requests.count == 2)
            if requests.count == 2 {
                let gap = requests[1].at.timeIntervalSince(requests[0].at)
                #expect(gap >= 0.95, "the second attempt waited for Retry-After: 1 (waited \(gap) s)")
            }
        }
    }

    @Test func aCrashBetweenTheLedgerCommitAndTheSendLosesNothing() async throws {
        let server = TestReceiverServer()
        try await server.run { base in
            let directory = TemporaryDirectory("insightd-crash")
            let lead = makeLead("C1:2026")
            let routed = makeLead("C2:2026", client: "C2")
            let inFlight = makeLead("C3:2026", client: "C3")
            do {
                // Before the crash: one lead committed but never routed; one routed but never sent; one sent but
                // its result never recorded.
                let receiver = try webhookReceiver(base + "/hook")
                let harness = try OutboxHarness(directory: directory, routes: Self.catchAll, receivers: [receiver])
                try commitLeads([routed, inFlight], to: harness.database)
                try await harness.outbox.routeOnce()
                let due = try await OutboxRules.claimDue(in: harness.database, receiver: "gateway", now: Date(), limit: 10,
                                                         claim: DeliveryClaim(claimant: OutboxService.defaultInstance,
                                                                              until: Date() + 300))
                let message = try #require(due.deliveries.first { $0.leadId == inFlight.id })
                _ = await receiver.send(OutboundMessage(delivery: message, leads: [inFlight], manager: nil), at: Date())
                try commitLeads([lead], to: harness.database)
                try harness.database.close()
            }
            #expect(server.requests.count == 1)
            let firstId = server.requests.first?.headers["webhook-id"]

            // After the restart: a new process on the same state directory.
            let receiver = try webhookReceiver(base + "/hook")
            let harness = try OutboxHarness(directory: directory, routes: Self.catchAll, receivers: [receiver])
            try await harness.outbox.routeOnce()
            try await harness.sendUntil(receiver) {
                try [lead, routed, inFlight].allSatisfy { try harness.database.lead(id: $0.id)?.status == .notified }
            }
            for item in [lead, routed, inFlight] {
                #expect(try harness.database.lead(id: item.id)?.status == .notified, "\(item.key) is delivered after the restart")
            }
            let ids = server.requests.compactMap { $0.headers["webhook-id"] }
            #expect(ids.count == 4, "the in-flight send is repeated (at least once)")
            #expect(ids.filter { $0 == firstId }.count == 2, "with the same webhook-id, so the receiver can drop the duplicate")
        }
    }

    @Test func aHangingReceiverDoesNotHoldUpTheOthers() async throws {
        // One server, two paths: both receivers are on the same host and port, so they share the outbound
        // client's connection pool for it; the hanging one asks for more connections than a default pool has.
        // Its requests hang until the test releases them, so the check needs no timing.
        let server = TestReceiverServer(hangPath: "/slow")
        try await server.run { base in
            let slow = try webhookReceiver(base + "/slow", name: "slow", concurrency: 16, timeout: .seconds(60))
            let quick = try webhookReceiver(base + "/quick", name: "quick")
            let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["slow", "quick"])], receivers: [slow, quick])
            try commitLeads((0..<16).map { makeLead("C\($0):2026", client: "C\($0)") }, to: harness.database)
            try await harness.outbox.routeOnce()
            let service = harness.outbox
            async let slowRound = service.sendDue(slow)
            // Wait until the slow lane holds all 16 of its connections.
            let deadline = ContinuousClock.now + .seconds(30)
            while server.requests.filter({ $0.path == "/slow" }).count < 16, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            var quickSent = 0
            while quickSent < 16, ContinuousClock.now < deadline {
                quickSent += try await service.sendDue(quick)
            }
            let slowSent = try harness.database.deliveries(status: .sent, receiver: "slow", limit: 1)
            let slowStillHanging = server.requests.filter { $0.path == "/slow" }.count == 16 && slowSent.isEmpty
            server.release()
            #expect(try await slowRound == 16)
            #expect(quickSent == 16, "the quick receiver delivered everything while the slow one hung")
            #expect(slowStillHanging)
            #expect(try harness.database.deliveries(status: .sent, receiver: "slow", limit: 20).count == 16,
                    "once it answers, the slow receiver's sends complete")
        }
    }

    @Test func aRedirectIsAFailureAndALargeAnswerAfter2xxIsStillDelivered() async throws {
        try await withOneLead(script: [
            ScriptedResponse(status: .found, headers: ["Location": "/elsewhere"]),
            ScriptedResponse(status: .ok, body: String(repeating: "x", count: 200_000)),
        ]) { server, receiver, harness, lead in
            try await harness.sendUntil(receiver) { try harness.database.lead(id: lead.id)?.status == .notified }
            let attempts = try harness.database.deliveries(forLead: lead.id).first?.attempts ?? []
            #expect(attempts.map(\.httpStatus) == [302, 200], "a redirect is not followed (it would turn the POST into a GET)")
            #expect(attempts.map(\.outcome) == ["failed", "sent"])
            #expect(server.requests.map(\.path) == ["/hook", "/hook"])
        }
    }
}
