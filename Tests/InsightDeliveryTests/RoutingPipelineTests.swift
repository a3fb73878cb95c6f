import Foundation
import InsightCore
import InsightDelivery
import InsightStore
import InsightTesting
import MetricsTestKit
import Synchronization
import Testing

/// A receiver that records what it is given and answers with `outcome`.
final class RecordingReceiver: Receiver {
    let name: String
    let concurrency = 2
    let maxPerMinute: Int?
    private let sent = Mutex<[OutboundMessage]>([])
    private let outcome: @Sendable (OutboundMessage) -> SendOutcome

    init(_ name: String, maxPerMinute: Int? = nil,
         outcome: @escaping @Sendable (OutboundMessage) -> SendOutcome = { _ in .delivered(status: 200) }) {
        self.name = name
        self.maxPerMinute = maxPerMinute
        self.outcome = outcome
    }

    var messages: [OutboundMessage] { sent.withLock { $0 } }

    func send(_ message: OutboundMessage, at now: Date) async -> SendOutcome {
        sent.withLock { $0.append(message) }
        return outcome(message)
    }
}

/// Routing, quiet hours, digests, caps, snoozes, escalation and fallback through the real outbox tables, on a
/// fixed clock.
@Suite struct RoutingPipelineTests {
    static let morning = LocalTime(hour: 8, minute: 30)
    static let night = Route.Window(start: LocalTime(hour: 21, minute: 0), end: LocalTime(hour: 8, minute: 0))

    @Test func digestLeadsWaitForTheDigestAndGoAsOneMessage() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let wecom = RecordingReceiver("wecom")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["wecom"], mode: .digest, digestAt: Self.morning)],
                                        receivers: [wecom], timeSource: clock)
        let leads = (1...3).map { makeLead("C\($0):2026", client: "C\($0)") }
        try commitLeads(leads, to: harness.database)
        try await harness.outbox.routeOnce()
        #expect(try await harness.outbox.sendDue(wecom) == 0, "nothing goes before the digest time")
        clock.set(instant("2026-11-21T08:29:59+08:00"))
        #expect(try await harness.outbox.sendDue(wecom) == 0)

        clock.set(instant("2026-11-21T08:30:00+08:00"))
        #expect(try await harness.outbox.sendDue(wecom) == 1)
        #expect(wecom.messages.count == 1)
        #expect(wecom.messages.first?.isDigest == true)
        #expect(wecom.messages.first?.leads.map(\.id).sorted() == leads.map(\.id).sorted(), "one message per manager with every pending lead")
        for lead in leads { #expect(try harness.database.lead(id: lead.id)?.status == .notified) }
        #expect(try await harness.outbox.sendDue(wecom) == 0, "the digest went once")
    }

    @Test func quietHoursHoldNormalLeadsButNotUrgentOnes() async throws {
        let clock = FixedTimeSource("2026-11-20T22:15:00+08:00")
        let console = RecordingReceiver("console")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["console"], quietHours: Self.night)], receivers: [console],
                                        timeSource: clock)
        let normal = makeLead("C1:2026")
        let urgent = makeLead("C2:cash", plugin: "risk-alerts", kind: "risk_large_transaction", priority: .urgent, client: "C2")
        try commitLeads([normal, urgent], to: harness.database)
        try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(console)
        #expect(console.messages.flatMap(\.leads).map(\.id) == [urgent.id], "urgent leads go at once, even in quiet hours")

        clock.set(instant("2026-11-21T07:59:00+08:00"))
        _ = try await harness.outbox.sendDue(console)
        #expect(console.messages.count == 1)
        clock.set(instant("2026-11-21T08:00:00+08:00"))
        _ = try await harness.outbox.sendDue(console)
        #expect(console.messages.flatMap(\.leads).map(\.id) == [urgent.id, normal.id], "the held lead goes when quiet hours end")
    }

    @Test func leadsOverTheDailyCapSpillIntoTheNextDigest() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let wecom = RecordingReceiver("wecom")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["wecom"], maxPerManagerPerDay: 2)], receivers: [wecom],
                                        timeSource: clock)
        let leads = (1...4).map { makeLead("C\($0):2026", client: "C\($0)") }
        try commitLeads(Array(leads.prefix(2)), to: harness.database)
        try await harness.outbox.routeOnce()
        try commitLeads(Array(leads.suffix(2)), to: harness.database)
        try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(wecom)
        #expect(Set(wecom.messages.flatMap(\.leads).map(\.id)) == Set(leads.prefix(2).map(\.id)))
        #expect(wecom.messages.count == 2, "two alone, up to the cap")
        // Over the cap: never dropped, visible in the ledger, waiting for the next morning's digest.
        for lead in leads.suffix(2) {
            #expect(try harness.database.lead(id: lead.id)?.status == .new)
            let deliveries = try harness.database.deliveries(forLead: lead.id)
            #expect(deliveries.map(\.delivery.timing) == ["digest:overCap"])
        }
        clock.set(instant("2026-11-21T08:30:00+08:00"))
        _ = try await harness.outbox.sendDue(wecom)
        #expect(wecom.messages.count == 3)
        #expect(wecom.messages.last?.isDigest == true)
        #expect(Set(wecom.messages.last?.leads.map(\.id) ?? []) == Set(leads.suffix(2).map(\.id)))
    }

    @Test func snoozesSuppressMatchingLeadsAndRecordThem() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let console = RecordingReceiver("console")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["console"])], receivers: [console], timeSource: clock)
        try harness.database.addSnooze(clientId: "C1", plugin: "birthday-care", kind: nil, until: instant("2026-12-01T00:00:00+08:00"),
                                       note: "client asked for no calls", actor: "test", now: clock.now())
        let snoozed = makeLead("C1:2026")
        let other = makeLead("C2:2026", client: "C2")
        let later = makeLead("C1:2027", createdAt: instant("2026-12-02T10:00:00+08:00"))
        try commitLeads([snoozed, other, later], to: harness.database)
        let pass = try await harness.outbox.routeOnce()
        #expect(pass.suppressed == 1)
        _ = try await harness.outbox.sendDue(console)
        #expect(Set(console.messages.flatMap(\.leads).map(\.id)) == [other.id, later.id])
        #expect(try harness.database.lead(id: snoozed.id)?.status == .suppressed, "suppressed, not dropped")
        #expect(try harness.database.activity(leadId: snoozed.id).map(\.kind) == ["suppressed"])
    }

    @Test func aSnoozeAddedWhileALeadWaitsHoldsItBack() async throws {
        let clock = FixedTimeSource("2026-11-20T22:15:00+08:00")
        let console = RecordingReceiver("console")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["console"], quietHours: Self.night)], receivers: [console],
                                        timeSource: clock)
        let waiting = makeLead("C1:2026")
        try commitLeads([waiting], to: harness.database)
        try await harness.outbox.routeOnce()
        try harness.database.addSnooze(clientId: "C1", plugin: nil, kind: nil, until: instant("2026-11-25T00:00:00+08:00"),
                                       note: "in hospital", actor: "test", now: instant("2026-11-20T23:00:00+08:00"))
        clock.set(instant("2026-11-21T08:00:00+08:00"))
        _ = try await harness.outbox.sendDue(console)
        #expect(console.messages.isEmpty)
        #expect(try harness.database.lead(id: waiting.id)?.status == .suppressed)
        #expect(try harness.database.deliveries(status: .cancelled, receiver: "console", limit: 5).map(\.leadId) == [waiting.id])
    }

    @Test func feedbackSnoozedSuppressesTheClientsNextLeadsFromThatPlugin() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let console = RecordingReceiver("console")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["console"])], receivers: [console], timeSource: clock)
        let first = makeLead("C1:a")
        try commitLeads([first], to: harness.database)
        try await harness.outbox.routeOnce()
        let after = try await LeadDesk(store: harness.database).recordFeedback(leadId: first.id, outcome: .snoozed, note: nil,
                                                        until: instant("2026-11-27T00:00:00+08:00"), actor: "test", now: clock.now())
        #expect(after?.status == .new, "snoozed keeps the lead's status")
        let next = makeLead("C1:b", createdAt: instant("2026-11-21T10:00:00+08:00"))
        try commitLeads([next], to: harness.database)
        try await harness.outbox.routeOnce()
        #expect(try harness.database.lead(id: next.id)?.status == .suppressed)
    }

    @Test func unacknowledgedHighLeadsEscalateAndAcknowledgedOnesDoNot() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let gateway = RecordingReceiver("gateway")
        let team = RecordingReceiver("team-lead")
        let route = Route(index: 0, receivers: ["gateway"], escalateAfter: 3600, escalation: ["team-lead"])
        let harness = try OutboxHarness(routes: [route], receivers: [gateway, team], timeSource: clock)
        let ignored = makeLead("C1:x", priority: .high)
        let handled = makeLead("C2:x", priority: .high, client: "C2")
        let normal = makeLead("C3:x", client: "C3")
        try commitLeads([ignored, handled, normal], to: harness.database)
        try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(gateway)
        #expect(gateway.messages.count == 3)
        _ = try await LeadDesk(store: harness.database).recordFeedback(leadId: handled.id, outcome: .contacted, note: "called", until: nil, actor: "test",
                                                now: instant("2026-11-20T10:20:00+08:00"))
        clock.set(instant("2026-11-20T10:59:00+08:00"))
        #expect(try await harness.outbox.sendDue(team) == 0)
        clock.set(instant("2026-11-20T11:00:00+08:00"))
        _ = try await harness.outbox.sendDue(team)
        let escalated = team.messages
        #expect(escalated.map { $0.leads.map(\.id) } == [[ignored.id]], "only the unacknowledged high lead escalates")
        #expect(escalated.first?.isEscalation == true)
        let cancelled = try harness.database.deliveries(status: .cancelled, receiver: "team-lead", limit: 10)
        #expect(cancelled.map(\.leadId) == [handled.id])
    }

    @Test func aDeadPrimaryDeliveryGoesToTheRoutesFallback() async throws {
        let gateway = RecordingReceiver("gateway") { _ in .failed(status: 500, error: "HTTP 500", retryAfter: nil) }
        let queue = RecordingReceiver("branch-queue")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["gateway"], fallback: "branch-queue")],
                                        receivers: [gateway, queue], policy: RetryPolicy(schedule: [0, 0], jitter: 0))
        let lead = makeLead("C1:2026")
        try commitLeads([lead], to: harness.database)
        try await harness.outbox.routeOnce()
        try await harness.sendUntil(gateway) { try !harness.database.deliveries(status: .dead, receiver: "gateway", limit: 1).isEmpty }
        #expect(gateway.messages.count == 2)
        _ = try await harness.outbox.sendDue(queue)
        #expect(queue.messages.map { $0.leads.map(\.id) } == [[lead.id]])
        #expect(queue.messages.first?.delivery.purpose == .fallback)
        #expect(try harness.database.lead(id: lead.id)?.status == .notified)
        #expect(try harness.database.activity(leadId: lead.id).map(\.kind) == ["delivery_dead", "delivered"])
    }

    @Test func leadsWithoutAManagerGoToTheUnassignedQueue() async throws {
        let queue = RecordingReceiver("branch-queue")
        let console = RecordingReceiver("console")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["console"])], receivers: [console, queue],
                                        unassigned: ["branch-queue"])
        let orphan = makeLead("C9:2026", client: "C9", manager: nil)
        try commitLeads([orphan], to: harness.database)
        try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(queue)
        _ = try await harness.outbox.sendDue(console)
        #expect(queue.messages.flatMap(\.leads).map(\.id) == [orphan.id])
        #expect(console.messages.isEmpty)
    }

    @Test func aCRMInteractionNamingALeadMarksItContacted() async throws {
        let harness = try OutboxHarness(routes: [], receivers: [])
        let lead = makeLead("C1:2026")
        try commitLeads([lead], to: harness.database)
        var step = DispatchCommit()
        step.interactions = [DispatchCommit.Interaction(journalSequence: 7, clientId: "C1", managerId: "M017", channel: "call",
                                                        outcome: "reached", leadId: lead.id, at: instant("2026-11-21T09:00:00+08:00"))]
        step.position = 7
        try harness.database.commit(step, at: Date())
        try harness.database.commit(step, at: Date())  // a replayed batch adds nothing
        #expect(try harness.database.lead(id: lead.id)?.status == .contacted)
        #expect(try harness.database.activity(leadId: lead.id).map(\.kind) == ["interaction"], "recorded once")
        #expect(try harness.database.interactions(clientId: "C1").map(\.channel) == ["call"])
        // Feedback moves forward only: converted stays converted when a late "contacted" arrives.
        _ = try await LeadDesk(store: harness.database).recordFeedback(leadId: lead.id, outcome: .converted, note: nil, until: nil, actor: "t", now: Date())
        let late = try await LeadDesk(store: harness.database).recordFeedback(leadId: lead.id, outcome: .contacted, note: nil, until: nil, actor: "t", now: Date())
        #expect(late?.status == .converted)
        #expect(try harness.database.conversionCounts().first { $0.plugin == "birthday-care" }?.converted == 1)
    }

    @Test func conversionCountersAndOutboxDepthAreExposedAsMetrics() async throws {
        let metrics = TestMetrics()
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let console = RecordingReceiver("console")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["console"])], receivers: [console], timeSource: clock,
                                        metrics: metrics)
        let leads = (1...3).map { makeLead("C\($0):2026", client: "C\($0)") }
        try commitLeads(leads, to: harness.database)
        try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(console)
        _ = try await LeadDesk(store: harness.database).recordFeedback(leadId: leads[0].id, outcome: .converted, note: nil, until: nil, actor: "t", now: clock.now())
        _ = try await LeadDesk(store: harness.database).recordFeedback(leadId: leads[1].id, outcome: .contacted, note: nil, until: nil, actor: "t", now: clock.now())
        try await harness.outbox.publishGauges()

        for (stage, expected) in [("leads", 3.0), ("notified", 3), ("contacted", 2), ("converted", 1)] {
            let gauge = try metrics.expectGauge("insightd_plugin_leads", [("plugin", "birthday-care"), ("stage", stage)])
            #expect(gauge.lastValue == expected, "stage \(stage)")
        }
        #expect(try metrics.expectGauge("insightd_outbox_deliveries", [("receiver", "console"), ("status", "sent")]).lastValue == 3)
        #expect(try metrics.expectCounter("insightd_deliveries_total", [("receiver", "console"), ("outcome", "sent")]).totalValue == 3)
        #expect(try metrics.expectCounter("insightd_leads_routed_total").totalValue == 3)
    }

    @Test func aLeadActedOnWhileItsMessageWaitedIsNotSent() async throws {
        let clock = FixedTimeSource("2026-11-20T22:15:00+08:00")
        let console = RecordingReceiver("console")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["console"], quietHours: Self.night)], receivers: [console],
                                        timeSource: clock)
        let handled = makeLead("C1:2026")
        let waiting = makeLead("C2:2026", client: "C2")
        try commitLeads([handled, waiting], to: harness.database)
        try await harness.outbox.routeOnce()
        _ = try await LeadDesk(store: harness.database).recordFeedback(leadId: handled.id, outcome: .dismissed, note: "client declined by phone", until: nil,
                                                actor: "t", now: instant("2026-11-20T23:00:00+08:00"))
        clock.set(instant("2026-11-21T08:00:00+08:00"))
        _ = try await harness.outbox.sendDue(console)
        #expect(console.messages.flatMap(\.leads).map(\.id) == [waiting.id])
        let cancelled = try harness.database.deliveries(status: .cancelled, receiver: "console", limit: 5)
        #expect(cancelled.map(\.leadId) == [handled.id])
        #expect(cancelled.first?.lastError == "already dismissed before it went out")
    }

    @Test func reenablingATargetKeepsQuietHoursTimes() async throws {
        let clock = FixedTimeSource("2026-11-20T20:00:00+08:00")
        let gateway = RecordingReceiver("gateway")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["gateway"], quietHours: Self.night)], receivers: [gateway],
                                        timeSource: clock)
        let first = makeLead("C1:2026")
        try commitLeads([first], to: harness.database)
        try await harness.outbox.routeOnce()
        // The target answers 410 Gone.
        let due = try await OutboxRules.claimDue(in: harness.database, receiver: "gateway", now: clock.now(), limit: 5,
                                                 claim: DeliveryClaim(claimant: "test", until: clock.now() + 300))
        let delivery = try #require(due.deliveries.first)
        try await OutboxRules.recordResults([DeliveryResult(delivery: delivery, at: clock.now(), durationMs: 1, httpStatus: 410,
                                                                 outcome: .gone, error: "410 Gone")], in: harness.database)
        clock.set(instant("2026-11-20T22:15:00+08:00"))
        let second = makeLead("C2:2026", client: "C2")
        try commitLeads([second], to: harness.database)
        try await harness.outbox.routeOnce()
        #expect(try harness.database.deliveries(status: .held, receiver: "gateway", limit: 5).count == 2, "held while disabled")

        clock.set(instant("2026-11-20T22:30:00+08:00"))
        #expect(try await LeadDesk(store: harness.database).enableTarget(receiver: "gateway", managerId: "M017", now: clock.now()) == 2)
        _ = try await harness.outbox.sendDue(gateway)
        #expect(gateway.messages.flatMap(\.leads).map(\.id) == [first.id], "the quiet-hours lead still waits for 08:00")
        clock.set(instant("2026-11-21T08:00:00+08:00"))
        _ = try await harness.outbox.sendDue(gateway)
        #expect(gateway.messages.flatMap(\.leads).map(\.id) == [first.id, second.id])
    }

    @Test func replacedRoutesApplyToTheNextLeads() async throws {
        let console = RecordingReceiver("console")
        let queue = RecordingReceiver("queue")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["console"])], receivers: [console, queue])
        try commitLeads([makeLead("C1:2026")], to: harness.database)
        try await harness.outbox.routeOnce()
        harness.outbox.replaceRouting(planner: DeliveryPlanner(router: Router(routes: [Route(index: 0, receivers: ["queue"])],
                                                                              timeZone: shanghai)),
                                      policy: RetryPolicy())
        try commitLeads([makeLead("C2:2026", client: "C2")], to: harness.database)
        try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(console)
        _ = try await harness.outbox.sendDue(queue)
        #expect(console.messages.flatMap(\.leads).map(\.client?.id) == ["C1"])
        #expect(queue.messages.flatMap(\.leads).map(\.client?.id) == ["C2"])
    }

    @Test func aRobotsRateLimitSpreadsItsMessagesWithoutSpendingAttempts() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let robot = RecordingReceiver("wecom", maxPerMinute: 2)
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["wecom"])], receivers: [robot], timeSource: clock)
        try commitLeads((1...5).map { makeLead("C\($0):2026", client: "C\($0)") }, to: harness.database)
        try await harness.outbox.routeOnce()
        #expect(try await harness.outbox.sendDue(robot) == 2)
        #expect(try await harness.outbox.sendDue(robot) == 0, "the third waits for the window")
        clock.set(instant("2026-11-20T10:00:59+08:00"))
        #expect(try await harness.outbox.sendDue(robot) == 0)
        clock.set(instant("2026-11-20T10:01:00+08:00"))
        #expect(try await harness.outbox.sendDue(robot) == 2)
        clock.set(instant("2026-11-20T10:02:00+08:00"))
        #expect(try await harness.outbox.sendDue(robot) == 1)
        #expect(robot.messages.count == 5)
        let rows = try harness.database.deliveries(status: .sent, receiver: "wecom", limit: 10)
        #expect(rows.count == 5 && rows.allSatisfy { $0.attempts == 1 }, "waiting for the window spends no attempt")
    }
}
