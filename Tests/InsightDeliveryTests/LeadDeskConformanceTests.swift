import Foundation
import InsightCore
import InsightDelivery
import InsightPostgres
import InsightStore
import InsightTesting
import Testing

/// A store the leads API runs on, empty, and how to put leads in it as the dispatcher would.
struct LeadsBackend: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable () async throws -> Fixture

    struct Fixture: Sendable {
        let store: any LeadsStore
        let commitLeads: @Sendable ([Lead]) async throws -> Void
        /// Keeps the backend's files (or schema and pool) until the test ends.
        let owner: any Sendable
    }

    static let sqlite = LeadsBackend(description: "SQLite") {
        let directory = TemporaryDirectory("insightd-leads-store")
        let database = try AppDatabase.open(directory: directory.path)
        return Fixture(store: database, commitLeads: { try commitLeads($0, to: database) }, owner: directory)
    }

    static let postgres = LeadsBackend(description: "PostgreSQL") {
        let test = try await TestPostgres.start()
        let store = test.store
        return Fixture(store: store, commitLeads: { try await store.appendLeads($0) }, owner: test)
    }

    /// SQLite always; PostgreSQL when a test server is configured (always in CI, where a missing one fails the suite).
    static let all: [LeadsBackend] = [.sqlite] + (TestPostgres.url != nil || TestPostgres.isRequired ? [.postgres] : [])
}

/// The leads API's rules (``LeadDesk``) and reads (``LeadsTransaction``) give the same answers on every backend.
@Suite("leads store conformance: the API's reads and rules on both backends")
struct LeadDeskConformanceTests {
    static let at = instant("2026-11-20T10:00:00+08:00")

    @Test("feedback moves a lead forward only, keeps its history, and a snooze from feedback holds the client", arguments: LeadsBackend.all)
    func feedback(backend: LeadsBackend) async throws {
        let fixture = try await backend.make()
        let lead = makeLead("k1")
        try await fixture.commitLeads([lead])
        let desk = LeadDesk(store: fixture.store)
        let converted = try await desk.recordFeedback(leadId: lead.id, outcome: .converted, note: "signed", until: nil, actor: "api:rm",
                                                      now: Self.at)
        #expect(converted?.status == .converted)
        let late = try await desk.recordFeedback(leadId: lead.id, outcome: .contacted, note: nil, until: nil, actor: "api:rm",
                                                 now: Self.at + 60)
        #expect(late?.status == .converted, "a converted lead reported contacted stays converted")
        let until = Self.at + 86_400 * 30
        let snoozed = try await desk.recordFeedback(leadId: lead.id, outcome: .snoozed, note: nil, until: until, actor: "api:rm",
                                                    snoozeScope: "feedback", now: Self.at + 120)
        #expect(snoozed?.status == .converted)
        #expect(try await desk.recordFeedback(leadId: "nope", outcome: .contacted, note: nil, until: nil, actor: "x", now: Self.at) == nil)

        let (activity, snoozes) = try await fixture.store.readLeads { ledger in
            (try ledger.activity(leadId: lead.id), try ledger.snoozes(activeAt: Self.at + 200))
        }
        #expect(activity.map(\.outcome) == ["converted", "contacted", "snoozed"])
        #expect(activity.map(\.note) == ["signed", nil, "until 2026-12-20T02:00:00Z"])
        #expect(activity.allSatisfy { $0.kind == "feedback" && $0.actor == "api:rm" })
        #expect(snoozes.count == 1)
        #expect(snoozes.first.map { [$0.clientId, $0.plugin, $0.leadId, $0.scope] } == ["C1", "birthday-care", lead.id, "feedback"])
        #expect(snoozes.first?.until == until)
        #expect(try await fixture.store.readLeads { try $0.snoozes(activeAt: until) }.isEmpty, "a snooze ends at until")

        // A dismissed lead is not open; a contacted one still is.
        let open = makeLead("k2")
        let other = makeLead("k3")
        try await fixture.commitLeads([open, other])
        _ = try await desk.recordFeedback(leadId: open.id, outcome: .contacted, note: nil, until: nil, actor: "a", now: Self.at)
        _ = try await desk.recordFeedback(leadId: other.id, outcome: .dismissed, note: nil, until: nil, actor: "a", now: Self.at)
        let openIds = try await fixture.store.readLeads { try $0.openLeads(clientId: "C1", limit: 50).map(\.id) }
        #expect(openIds == [open.id])
    }

    @Test("the first compliance decision stands; snoozes end only with the scope they were made with", arguments: LeadsBackend.all)
    func decisionsAndSnoozes(backend: LeadsBackend) async throws {
        let fixture = try await backend.make()
        let aml = makeLead("aml", plugin: "risk-alerts", kind: "aml_structuring")
        try await fixture.commitLeads([aml])
        let desk = LeadDesk(store: fixture.store)
        guard case .recorded(let first) = try await desk.recordDecision(leadId: aml.id, decision: .reported, reference: "STR-1",
                                                                       note: "filed", actor: "api:co", now: Self.at) else {
            Issue.record("the first decision is recorded")
            return
        }
        guard case .alreadyDecided(let existing) = try await desk.recordDecision(
            leadId: aml.id, decision: .cleared, reference: nil, note: nil, actor: "api:other", now: Self.at + 60) else {
            Issue.record("a second decision is refused")
            return
        }
        #expect(existing == first)
        guard case .notFound = try await desk.recordDecision(leadId: "nope", decision: .cleared, reference: nil, note: nil,
                                                            actor: "x", now: Self.at) else {
            Issue.record("no lead, no decision")
            return
        }
        let (stored, activity) = try await fixture.store.readLeads { (try $0.decision(leadId: aml.id), try $0.activity(leadId: aml.id)) }
        #expect(stored == first)
        #expect(first.at == Self.at && first.reference == "STR-1")
        #expect(activity.map(\.kind) == ["decision"] && activity.first?.note == "reference STR-1; filed")

        let compliance = try await desk.addSnooze(clientId: "C1", plugin: nil, kind: "aml_structuring", until: Self.at + 3600,
                                                  note: "report in progress", actor: "api:co", scope: "compliance", now: Self.at)
        let manager = try await desk.addSnooze(clientId: "C1", plugin: "birthday-care", kind: nil, until: Self.at + 3600, note: nil,
                                               actor: "api:rm", now: Self.at)
        #expect(compliance.id != manager.id && compliance.id > 0)
        #expect(try await desk.removeSnooze(id: compliance.id, callerScopes: ["feedback", "read"]) == .needsScope("compliance"))
        #expect(try await desk.removeSnooze(id: manager.id, callerScopes: ["feedback"]) == .removed)
        #expect(try await desk.removeSnooze(id: manager.id, callerScopes: ["feedback"]) == .notFound)
        let left = try await fixture.store.readLeads { try $0.snoozes(activeAt: Self.at).map(\.id) }
        #expect(left == [compliance.id])
    }

    @Test("pages follow the ledger with filters and a cursor", arguments: LeadsBackend.all)
    func pages(backend: LeadsBackend) async throws {
        let fixture = try await backend.make()
        let leads = (1...5).map { makeLead("p\($0)", client: $0 % 2 == 0 ? "C2" : "C1", manager: "M\($0 % 2)") }
        try await fixture.commitLeads(leads)
        let first = try await fixture.store.readLeads { try $0.leadPage(LeadPageQuery(limit: 2)) }
        #expect(first.leads.map(\.lead.id) == leads.prefix(2).map(\.id))
        let rest = try await fixture.store.readLeads { try $0.leadPage(LeadPageQuery(after: first.next, limit: 10)) }
        #expect(rest.leads.map(\.lead.id) == leads.suffix(3).map(\.id) && rest.next == nil)
        let client = try await fixture.store.readLeads { try $0.leadPage(LeadPageQuery(clientId: "C2", managerId: "M0")) }
        #expect(client.leads.map(\.lead.id) == [leads[1].id, leads[3].id])
        let none = try await fixture.store.readLeads {
            try $0.leadPage(LeadPageQuery(plugin: "birthday-care", status: .converted, since: Self.at))
        }
        #expect(none.leads.isEmpty)
        // Texts no id holds (U+0000) find nothing rather than failing.
        let odd = try await fixture.store.readLeads { ledger in
            (try ledger.lead(id: "a\u{0}b"), try ledger.leadPage(LeadPageQuery(clientId: "C\u{0}")).leads.count,
             try ledger.client(id: "C\u{0}"))
        }
        #expect(odd.0 == nil && odd.1 == 0 && odd.2 == nil)
    }

    @Test("an operator sends a dead delivery again and a re-enabled target releases its held ones", arguments: LeadsBackend.all)
    func operators(backend: LeadsBackend) async throws {
        let fixture = try await backend.make()
        let lead = makeLead("d1")
        try await fixture.commitLeads([lead])
        @Sendable func row(_ id: String, _ status: DeliveryStatus, manager: String = "M017") -> NewDelivery {
            NewDelivery(id: id, leadId: lead.id, receiver: "gateway", managerId: manager, route: 0, purpose: .lead, timing: "immediate",
                        status: status, fallback: nil, due: Self.at, createdAt: Self.at)
        }
        try await fixture.store.outboxTransaction { outbox in
            _ = try outbox.insert(row("dead", .dead))
            _ = try outbox.insert(row("sent", .sent))
            _ = try outbox.insert(row("held-1", .held))
            _ = try outbox.insert(row("held-2", .held, manager: "M2"))
            try outbox.addAttempt(delivery: "dead", attempt: 1, at: Self.at, durationMs: 12, httpStatus: 503, outcome: "retry", error: "busy")
            try outbox.disable(DeliveryTarget(receiver: "gateway", managerId: "M017"), at: Self.at, reason: "410 Gone", error: nil)
        }
        let desk = LeadDesk(store: fixture.store)
        let later = Self.at + 600
        let retried = try await desk.retryDelivery(id: "dead", now: later)
        #expect(retried?.retried == true && retried?.delivery.status == .pending && retried?.delivery.attempts == 0)
        #expect(retried?.delivery.nextAttempt == later)
        #expect(try await desk.retryDelivery(id: "sent", now: later)?.retried == false, "a sent delivery is not sent again")
        #expect(try await desk.retryDelivery(id: "none", now: later) == nil)

        let disabled = try await fixture.store.readLeads { try $0.disabledTargetList() }
        #expect(disabled.map { [$0.receiver, $0.managerId, $0.reason] } == [["gateway", "M017", "410 Gone"]])
        #expect(try await desk.enableTarget(receiver: "gateway", managerId: "M017", now: later) == 1)
        #expect(try await fixture.store.readLeads { try $0.disabledTargetList() }.isEmpty)
        #expect(try await desk.enableTarget(receiver: "gateway", managerId: nil, now: later) == 1, "every manager's held rows")

        let (forLead, pending) = try await fixture.store.readLeads { ledger in
            (try ledger.deliveries(forLead: lead.id), try ledger.deliveries(status: .pending, receiver: "gateway", limit: 10))
        }
        #expect(forLead.map(\.delivery.id) == ["dead", "held-1", "held-2", "sent"], "oldest first, then by id")
        let attempts = forLead.first { $0.delivery.id == "dead" }?.attempts ?? []
        #expect(attempts.map { [$0.attempt, $0.durationMs, $0.httpStatus ?? 0] } == [[1, 12, 503]] && attempts.first?.error == "busy")
        #expect(Set(pending.map(\.id)) == ["dead", "held-1", "held-2"])
    }

    @Test("feedback and decisions racing on one lead: the status never moves back and the first decision stands", arguments: LeadsBackend.all)
    func races(backend: LeadsBackend) async throws {
        let fixture = try await backend.make()
        let leads = (1...8).map { makeLead("race\($0)", plugin: "risk-alerts", kind: "aml_structuring") }
        try await fixture.commitLeads(leads)
        let desk = LeadDesk(store: fixture.store)
        for lead in leads {
            // Converted and contacted at once, twice over: whichever runs first, the lead ends converted.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for outcome in [FeedbackOutcome.converted, .contacted, .contacted, .converted] {
                    group.addTask {
                        _ = try await desk.recordFeedback(leadId: lead.id, outcome: outcome, note: nil, until: nil, actor: "rm",
                                                          now: Self.at)
                    }
                }
                try await group.waitForAll()
            }
            let outcomes = try await withThrowingTaskGroup(of: DecisionOutcome.self) { group in
                for decision in [ComplianceDecision.cleared, .reported, .cleared] {
                    group.addTask {
                        try await desk.recordDecision(leadId: lead.id, decision: decision, reference: "R", note: nil, actor: "co",
                                                      now: Self.at)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let recorded = outcomes.compactMap { outcome -> LeadDecisionEntry? in
                if case .recorded(let entry) = outcome { entry } else { nil }
            }
            let refused = outcomes.compactMap { outcome -> LeadDecisionEntry? in
                if case .alreadyDecided(let entry) = outcome { entry } else { nil }
            }
            #expect(recorded.count == 1 && refused.count == 2, "one decision is recorded, the others see it")
            #expect(refused.allSatisfy { $0 == recorded.first })
            let status = try await fixture.store.readLeads { try $0.lead(id: lead.id)?.status }
            #expect(status == .converted)
        }
    }
}
