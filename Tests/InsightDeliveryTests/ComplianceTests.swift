import Foundation
import InsightCore
import InsightDelivery
import InsightStore
import InsightTesting
import Synchronization
import Testing

/// Issue 12: AML review kept apart from selling. Inhibit rules, the compliance queue, the manager's neutral
/// notice, decisions, and a client's leads going to a receiver as one message.
@Suite struct ComplianceTests {
    static let amlKinds = AMLNotice.defaultKinds

    /// The shipped rules: an open AML lead holds back product-match and marketing-tagged rules leads for 30 days.
    static func policy(receivers: [String] = ["aml"], notice: CompliancePolicy.ManagerNotice = .neutral) -> CompliancePolicy {
        let source = LeadMatcher(kinds: Set(amlKinds))
        return CompliancePolicy(
            inhibitRules: [
                InhibitRule(index: 0, source: source, target: LeadMatcher(plugins: ["product-match"]), equal: [.client], duration: 30 * 86_400),
                InhibitRule(index: 1, source: source, target: LeadMatcher(plugins: ["rules"], tags: ["marketing"]), equal: [.client],
                            duration: 30 * 86_400),
            ],
            receivers: receivers, managerNotice: notice)
    }

    static func aml(_ client: String = "C9", kind: String = "risk_rapid_in_out", at: Date = instant("2026-11-20T10:00:00+08:00")) -> Lead {
        var lead = makeLead("\(client):\(kind)", plugin: "risk-alerts", kind: kind, priority: .urgent, client: client, createdAt: at)
        lead.title = "快进快出：¥1,200,000入账后3小时内转出83.3%"
        lead.suggestedAction = "按反洗钱流程提交可疑交易复核：核实资金来源、去向及交易目的，必要时提交可疑交易报告。"
        return lead
    }

    static func sale(_ client: String = "C9", key: String = "inflow", at: Date = instant("2026-11-20T10:00:00+08:00")) -> Lead {
        var lead = makeLead("\(client):\(key)", plugin: "product-match", kind: "large_inflow", priority: .high, client: client, createdAt: at)
        lead.products = [ProductSuggestion(id: "WM-R2-01", name: "稳健理财", riskLevel: "R2", reason: "R2 ≤ C4")]
        return lead
    }

    static func marketing(_ client: String = "C9", tags: [String]? = ["marketing"]) -> Lead {
        var lead = makeLead("large-inflow:\(client)", plugin: "rules", kind: "large_inflow", priority: .high, client: client)
        lead.tags = tags
        return lead
    }

    // MARK: - The pure policy

    @Test func anOpenAMLLeadHoldsBackSalesAndMarketingForTheSameClientOnly() {
        let policy = Self.policy()
        let open = [LeadHeader(Self.aml())]
        let now = instant("2026-11-20T10:00:01+08:00")
        #expect(policy.inhibition(of: Self.sale(), among: open, at: now)?.sourceId == Self.aml().id)
        #expect(policy.inhibition(of: Self.sale(), among: open, at: now)?.rule == 0)
        #expect(policy.inhibition(of: Self.marketing(), among: open, at: now)?.rule == 1)
        #expect(policy.inhibition(of: Self.marketing(tags: nil), among: open, at: now) == nil, "an untagged rule is not marketing")
        #expect(policy.inhibition(of: Self.sale("C8"), among: open, at: now) == nil, "another client's AML lead holds nothing back")
        #expect(policy.inhibition(of: makeLead("C9:2026", client: "C9"), among: open, at: now) == nil, "a birthday is not a sale")
        #expect(policy.inhibition(of: Self.aml(kind: "risk_velocity"), among: open, at: now) == nil, "AML leads are never inhibited")
        let other = [LeadHeader(makeLead("C9:2026", client: "C9"))]
        #expect(policy.inhibition(of: Self.sale(), among: other, at: now) == nil, "only AML kinds inhibit")
    }

    @Test func anInhibitionEndsWithItsWindowOrAComplianceDecision() {
        let policy = Self.policy()
        let source = Self.aml()
        let sale = Self.sale()
        #expect(policy.inhibition(of: sale, among: [LeadHeader(source)], at: instant("2026-12-19T09:59:59+08:00")) != nil)
        #expect(policy.inhibition(of: sale, among: [LeadHeader(source)], at: instant("2026-12-20T10:00:00+08:00")) == nil,
                "30 days after the AML lead it no longer holds back")
        let decided = LeadHeader(source, decidedAt: instant("2026-11-21T09:00:00+08:00"))
        #expect(policy.inhibition(of: sale, among: [decided], at: instant("2026-11-21T08:59:00+08:00")) != nil)
        #expect(policy.inhibition(of: sale, among: [decided], at: instant("2026-11-21T09:00:00+08:00")) == nil,
                "a decision (cleared or reported) ends it")
        let later = LeadHeader(Self.aml(at: instant("2026-11-20T12:00:00+08:00")))
        #expect(policy.inhibition(of: sale, among: [later], at: instant("2026-11-20T11:00:00+08:00")) == nil,
                "a source that did not exist yet holds nothing back")
        let untilDecided = CompliancePolicy(inhibitRules: [InhibitRule(index: 0, source: LeadMatcher(kinds: Set(Self.amlKinds)),
                                                                       target: LeadMatcher(plugins: ["product-match"]))])
        #expect(untilDecided.inhibition(of: sale, among: [LeadHeader(source)], at: instant("2028-01-01T00:00:00+08:00")) != nil,
                "without for, until decided")
    }

    @Test func theManagerGetsANeutralTaskAndTheComplianceQueueTheWholeLead() {
        let policy = Self.policy()
        let lead = Self.aml()
        let shown = policy.shown([lead, Self.sale()], to: "wecom")
        let neutral = shown[0]
        #expect(neutral.id == lead.id && neutral.client == lead.client && neutral.manager == lead.manager)
        #expect(neutral.plugin == "compliance" && neutral.kind == "aml_verification" && !neutral.key.contains("rapid"),
                "the notice names no monitoring rule")
        #expect(neutral.evidence.isEmpty && neutral.products == nil && neutral.sourceEvents.isEmpty)
        for text in [neutral.title, neutral.summary, neutral.suggestedAction] {
            #expect(!text.contains("可疑") && !text.contains("报告") && !text.contains("快进快出"), "\(text)")
        }
        #expect(neutral.suggestedAction.contains("反洗钱工作程序"))
        #expect(shown[1] == Self.sale(), "other leads are shown as they are")
        #expect(policy.shown([lead], to: "aml") == [lead], "the compliance queue gets the lead in full")
        let velocity = Self.aml(kind: "risk_velocity")
        #expect(policy.shown([lead, velocity, Self.sale()], to: "wecom").map(\.id) == [lead.id, Self.sale().id],
                "one neutral task per client in a message")
        #expect(policy.shown([lead, velocity], to: "aml").count == 2)

        var english = policy
        english.locale = "en"
        let text = english.neutral(lead)
        #expect(text.title.range(of: "\\p{Han}", options: .regularExpression) == nil)
        #expect(!text.summary.lowercased().contains("suspicio") && !text.suggestedAction.lowercased().contains("report"))
    }

    @Test func anAMLLeadIsPlannedForTheComplianceQueueAndTheManagersRoutes() {
        let router = InsightDelivery.Router(routes: [Route(index: 0, receivers: ["wecom"])], timeZone: shanghai)
        let now = instant("2026-11-20T10:00:00+08:00")
        let neutral = DeliveryPlanner(router: router, compliance: Self.policy())
        let plans = neutral.plans(for: Self.aml(), at: now, sent: { _, _ in 0 })
        #expect(plans.map(\.receiver) == ["aml", "wecom"])
        #expect(plans.first?.route == DeliveryPlanner.complianceRoute && plans.first?.timing == "compliance")
        let silent = DeliveryPlanner(router: router, compliance: Self.policy(notice: .none))
        #expect(silent.plans(for: Self.aml(), at: now, sent: { _, _ in 0 }).map(\.receiver) == ["aml"],
                "aml_manager_notice none: the manager gets nothing")
        #expect(silent.plans(for: Self.sale(), at: now, sent: { _, _ in 0 }).map(\.receiver) == ["wecom"])
    }

    // MARK: - Through the outbox

    @Test func theSampleInflowGoesToComplianceAndNoSaleReachesTheManagerUntilCleared() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:01+08:00")
        let wecom = RecordingReceiver("wecom")
        let queue = RecordingReceiver("aml")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["wecom"])], receivers: [wecom, queue],
                                        timeSource: clock, compliance: Self.policy())
        // One event's leads, committed together; the sale sorts before the AML lead in the ledger.
        let sale = Self.sale()
        let marketing = Self.marketing()
        let aml = Self.aml()
        try commitLeads([sale, marketing, aml], to: harness.database)
        let pass = try await harness.outbox.routeOnce()
        #expect(pass.inhibited == 2)
        _ = try await harness.outbox.sendDue(wecom)
        _ = try await harness.outbox.sendDue(queue)

        #expect(queue.messages.flatMap(\.leads).map(\.id) == [aml.id], "the compliance queue gets the AML lead")
        #expect(queue.messages.first?.leads.first?.suggestedAction == aml.suggestedAction, "in full")
        let managerLeads = wecom.messages.flatMap(\.leads)
        #expect(managerLeads.map(\.id) == [aml.id], "no sale and no marketing lead reaches the manager")
        #expect(managerLeads.first?.evidence.isEmpty == true && managerLeads.first?.suggestedAction.contains("可疑") == false)
        for held in [sale, marketing] {
            #expect(try harness.database.lead(id: held.id)?.status == .suppressed)
            #expect(try harness.database.inhibitedBy(leadId: held.id) == aml.id)
            let history = try harness.database.activity(leadId: held.id)
            #expect(history.contains { $0.kind == "inhibited" && ($0.note ?? "").contains("inhibitedBy: \(aml.id)") })
        }
        let counts = try #require(harness.database.conversionCounts().first { $0.plugin == "product-match" })
        #expect(counts.inhibited == 1 && counts.suppressed == 0, "inhibited leads are counted apart from snoozes")

        // Compliance clears the AML lead; the next large inflow gets its suggestion.
        let decision = try await LeadDesk(store: harness.database).recordDecision(leadId: aml.id, decision: .cleared, reference: nil, note: "salary",
                                                           actor: "api:aml", now: instant("2026-11-21T09:00:00+08:00"))
        guard case .recorded = decision else { Issue.record("not recorded: \(decision)"); return }
        guard case .alreadyDecided = try await LeadDesk(store: harness.database).recordDecision(
            leadId: aml.id, decision: .reported, reference: "STR-1", note: nil, actor: "api:aml", now: instant("2026-11-21T09:01:00+08:00"))
        else { Issue.record("a second decision must not replace the first"); return }
        clock.set(instant("2026-11-22T10:00:00+08:00"))
        let next = Self.sale(key: "inflow-2", at: instant("2026-11-22T10:00:00+08:00"))
        try commitLeads([next], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(wecom)
        #expect(wecom.messages.last?.leads.map(\.id) == [next.id])
        #expect(try harness.database.lead(id: next.id)?.status == .notified)
    }

    @Test func anAMLLeadArrivingWhileASaleWaitsHoldsTheSaleBack() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let wecom = RecordingReceiver("wecom")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["wecom"], mode: .digest, digestAt: LocalTime(hour: 17, minute: 30))],
                                        receivers: [wecom], timeSource: clock, compliance: Self.policy(receivers: []))
        let sale = Self.sale()
        try commitLeads([sale], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        clock.set(instant("2026-11-20T12:00:00+08:00"))
        let aml = Self.aml(at: instant("2026-11-20T12:00:00+08:00"))
        try commitLeads([aml], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(wecom)
        clock.set(instant("2026-11-20T17:30:00+08:00"))
        _ = try await harness.outbox.sendDue(wecom)
        #expect(!wecom.messages.flatMap(\.leads).contains { $0.id == sale.id }, "the waiting sale is not sent")
        #expect(try harness.database.inhibitedBy(leadId: sale.id) == aml.id)
    }

    @Test func aClientsLeadsFromOneEventGoToAReceiverAsOneMessage() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let wecom = RecordingReceiver("wecom")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["wecom"])], receivers: [wecom], timeSource: clock,
                                        groupWindow: 60)
        let first = makeLead("C1:a", client: "C1")
        let second = makeLead("C1:b", plugin: "loan-renewal", kind: "loan_maturity", client: "C1")
        let other = makeLead("C2:a", client: "C2")
        try commitLeads([first, second, other], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(wecom)
        #expect(wecom.messages.count == 2, "one message per client")
        let grouped = try #require(wecom.messages.first { $0.leads.count == 2 })
        #expect(Set(grouped.leads.map(\.id)) == [first.id, second.id])
        #expect(grouped.delivery.purpose == .group && grouped.isDigest)
        let rendered = try templates().render(grouped, style: .text)
        #expect(rendered.title == "客户张*：2 条线索", "a group names its client")
        #expect(rendered.body.contains(first.title) && rendered.body.contains(second.title))
        for lead in [first, second, other] { #expect(try harness.database.lead(id: lead.id)?.status == .notified) }

        // A third lead for C1 ten seconds later waits for the window, and goes with a fourth as one message.
        clock.set(instant("2026-11-20T10:00:10+08:00"))
        let third = makeLead("C1:c", client: "C1", createdAt: instant("2026-11-20T10:00:10+08:00"))
        let fourth = makeLead("C1:d", client: "C1", createdAt: instant("2026-11-20T10:00:10+08:00"))
        try commitLeads([third], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        clock.set(instant("2026-11-20T10:00:20+08:00"))
        try commitLeads([fourth], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        #expect(try await harness.outbox.sendDue(wecom) == 0, "held until the window after the last message ends")
        clock.set(instant("2026-11-20T10:01:00+08:00"))
        _ = try await harness.outbox.sendDue(wecom)
        #expect(wecom.messages.count == 3)
        #expect(Set(wecom.messages.last?.leads.map(\.id) ?? []) == [third.id, fourth.id])

        // An urgent lead goes at once and takes the client's waiting leads with it.
        clock.set(instant("2026-11-20T10:01:10+08:00"))
        let fifth = makeLead("C1:e", client: "C1", createdAt: instant("2026-11-20T10:01:10+08:00"))
        try commitLeads([fifth], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        let urgent = makeLead("C1:f", plugin: "risk-alerts", kind: "risk_overdue", priority: .urgent, client: "C1",
                              createdAt: instant("2026-11-20T10:01:10+08:00"))
        try commitLeads([urgent], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(wecom)
        #expect(Set(wecom.messages.last?.leads.map(\.id) ?? []) == [fifth.id, urgent.id])
    }

    @Test func aManagersSnoozeNeverHoldsBackAnAMLLead() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let wecom = RecordingReceiver("wecom")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["wecom"])], receivers: [wecom], timeSource: clock,
                                        compliance: Self.policy(receivers: []))
        try harness.database.addSnooze(clientId: "C9", plugin: nil, kind: nil, until: instant("2026-12-20T00:00:00+08:00"), note: nil,
                                       actor: "api:rm", scope: "feedback", now: instant("2026-11-19T10:00:00+08:00"))
        let birthday = makeLead("C9:2026", client: "C9")
        try commitLeads([birthday, Self.aml()], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(wecom)
        #expect(wecom.messages.flatMap(\.leads).map(\.id) == [Self.aml().id], "the AML lead goes; the birthday is snoozed")
        #expect(try harness.database.lead(id: birthday.id)?.status == .suppressed)

        let other = try OutboxHarness(routes: [Route(index: 0, receivers: ["wecom"])], receivers: [RecordingReceiver("wecom")],
                                      timeSource: clock, compliance: Self.policy(receivers: []))
        try other.database.addSnooze(clientId: "C9", plugin: nil, kind: nil, until: instant("2026-12-20T00:00:00+08:00"), note: nil,
                                     actor: "api:aml", scope: "compliance", now: instant("2026-11-19T10:00:00+08:00"))
        try commitLeads([Self.aml()], to: other.database)
        #expect(try await other.outbox.routeOnce().suppressed == 1, "a compliance snooze may hold an AML lead back")
    }

    // MARK: - Review findings

    @Test func noRuleHoldsAnAMLLeadBackWhateverItsTargetSays() {
        let broad = CompliancePolicy(inhibitRules: [InhibitRule(index: 0, source: LeadMatcher(kinds: ["risk_velocity"]),
                                                                target: LeadMatcher(priorities: [.urgent]))])
        let source = LeadHeader(Self.aml(kind: "risk_velocity"))
        let now = instant("2026-11-20T10:00:01+08:00")
        #expect(!broad.mayInhibit(Self.aml()))
        #expect(broad.inhibition(of: Self.aml(), among: [source], at: now) == nil, "an urgent AML lead still reaches compliance")
        let overdue = Self.aml(kind: "risk_overdue")
        #expect(broad.inhibition(of: overdue, among: [source], at: now)?.sourceId == source.id, "other urgent leads may be held back")
    }

    @Test func aManagersFeedbackNeverCancelsTheComplianceQueuesCopy() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let wecom = RecordingReceiver("wecom")
        let queue = RecordingReceiver("aml")
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["wecom"], quietHours: nil)], receivers: [wecom, queue],
                                        timeSource: clock, compliance: Self.policy())
        let aml = Self.aml()
        try commitLeads([aml], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        // The manager reports the verification call before the queue's message went (say its receiver was down).
        _ = try await LeadDesk(store: harness.database).recordFeedback(leadId: aml.id, outcome: .contacted, note: nil, until: nil, actor: "api:rm",
                                                now: instant("2026-11-20T10:00:00+08:00"))
        _ = try await harness.outbox.sendDue(queue)
        #expect(queue.messages.flatMap(\.leads).map(\.id) == [aml.id], "the AML team still gets the alert")
        _ = try await harness.outbox.sendDue(wecom)
        #expect(wecom.messages.isEmpty, "the manager's copy is pointless once the manager acted")
    }

    @Test func anUrgentLeadTakesOnlyWindowHeldMessagesAlong() async throws {
        let clock = FixedTimeSource("2026-11-21T07:59:30+08:00")
        let wecom = RecordingReceiver("wecom")
        let night = Route.Window(start: LocalTime(hour: 21, minute: 0), end: LocalTime(hour: 8, minute: 0))
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["wecom"], quietHours: night)], receivers: [wecom],
                                        timeSource: clock, groupWindow: 60)
        let held = makeLead("C1:birthday", client: "C1", createdAt: instant("2026-11-21T07:59:30+08:00"))
        try commitLeads([held], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        clock.set(instant("2026-11-21T07:59:40+08:00"))
        let urgent = makeLead("C1:overdue", plugin: "risk-alerts", kind: "risk_overdue", priority: .urgent, client: "C1",
                              createdAt: instant("2026-11-21T07:59:40+08:00"))
        try commitLeads([urgent], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(wecom)
        #expect(wecom.messages.flatMap(\.leads).map(\.id) == [urgent.id],
                "the quiet-hours lead keeps waiting for 08:00, though that is within the group window")
        clock.set(instant("2026-11-21T08:00:00+08:00"))
        _ = try await harness.outbox.sendDue(wecom)
        #expect(wecom.messages.last?.leads.map(\.id) == [held.id])
    }

    @Test func anUrgentLeadLeavesAMessageWaitingForItsRetryAlone() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let failures = Mutex(1)
        let wecom = RecordingReceiver("wecom") { _ in
            failures.withLock { left in
                defer { left -= 1 }
                return left > 0 ? .failed(status: 502, error: "HTTP 502", retryAfter: nil) : .delivered(status: 200)
            }
        }
        let harness = try OutboxHarness(routes: [Route(index: 0, receivers: ["wecom"])], receivers: [wecom],
                                        policy: RetryPolicy(schedule: [0, 30], jitter: 0), timeSource: clock, groupWindow: 60)
        let first = makeLead("C1:a", client: "C1")
        try commitLeads([first], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(wecom)  // fails: its retry is due at 10:00:30
        clock.set(instant("2026-11-20T10:00:10+08:00"))
        let urgent = makeLead("C1:f", plugin: "risk-alerts", kind: "risk_overdue", priority: .urgent, client: "C1",
                              createdAt: instant("2026-11-20T10:00:10+08:00"))
        try commitLeads([urgent], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(wecom)
        #expect(wecom.messages.last?.leads.map(\.id) == [urgent.id], "the retry keeps its own schedule")
        #expect(try harness.database.lead(id: first.id)?.status == .new)
        clock.set(instant("2026-11-20T10:00:30+08:00"))
        _ = try await harness.outbox.sendDue(wecom)
        #expect(wecom.messages.last?.leads.map(\.id) == [first.id])
    }

    @Test func aSaleAlreadySentElsewhereIsLeftOutOfItsWaitingDigest() async throws {
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let wecom = RecordingReceiver("wecom")
        let digest = RecordingReceiver("digest")
        let harness = try OutboxHarness(
            routes: [Route(index: 0, receivers: ["wecom"], continue: true),
                     Route(index: 1, receivers: ["digest"], mode: .digest, digestAt: LocalTime(hour: 17, minute: 30))],
            receivers: [wecom, digest], timeSource: clock, compliance: Self.policy(receivers: []))
        let sale = Self.sale()
        let birthday = makeLead("C9:2026", client: "C9")
        try commitLeads([sale, birthday], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(wecom)
        #expect(try harness.database.lead(id: sale.id)?.status == .notified)

        clock.set(instant("2026-11-20T12:00:00+08:00"))
        try commitLeads([Self.aml(at: instant("2026-11-20T12:00:00+08:00"))], to: harness.database)
        _ = try await harness.outbox.routeOnce()
        _ = try await harness.outbox.sendDue(digest)  // the urgent AML lead's neutral task goes at once
        let before = digest.messages.count
        clock.set(instant("2026-11-20T17:30:00+08:00"))
        _ = try await harness.outbox.sendDue(digest)
        let sent = digest.messages.dropFirst(before).flatMap(\.leads).map(\.id)
        #expect(sent == [birthday.id], "the sale is left out of the evening digest once the client is under AML review")
        let history = try harness.database.activity(leadId: sale.id)
        #expect(history.filter { $0.kind == "delivered" }.count == 1, "the history names only the message that carried it")
        #expect(try harness.database.activity(leadId: birthday.id).filter { $0.kind == "delivered" }.count == 2)
    }
}
