import Foundation
import InsightCore
import InsightStore
import InsightTesting
import Testing

/// A store backend under test: how to make an empty one and put leads and snoozes in it (the ledger and the snooze
/// API are other concerns than the outbox's records).
struct OutboxBackend: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable () async throws -> Fixture

    struct Fixture: Sendable {
        let store: any OutboxStore
        let commitLeads: @Sendable ([Lead]) async throws -> Void
        let addSnooze: @Sendable (_ clientId: String?, _ until: Date, _ scope: String) async throws -> Void
        /// Keeps the backend's files (or schema and pool) until the test ends.
        let owner: any Sendable
    }

    static let sqlite = OutboxBackend(description: "SQLite") {
        let test = try TestStore()
        let database = test.database
        return Fixture(store: database, commitLeads: { leads in
            var step = DispatchCommit()
            step.leads = leads.map { (lead: $0, sequence: nil) }
            _ = try database.commit(step, at: instant("2026-11-20T10:00:00+08:00"))
        }, addSnooze: { clientId, until, scope in
            _ = try database.addSnooze(clientId: clientId, plugin: nil, kind: nil, until: until, note: nil, actor: "test",
                                       scope: scope, now: instant("2026-11-20T09:00:00+08:00"))
        }, owner: test)
    }

    /// A schema of its own on the test server (``TestPostgres``).
    static let postgres = OutboxBackend(description: "PostgreSQL") {
        let test = try await TestPostgres.start()
        let store = test.store
        return Fixture(store: store, commitLeads: { leads in
            try await store.appendLeads(leads)
        }, addSnooze: { clientId, until, scope in
            try await store.addSnooze(clientId: clientId, plugin: nil, kind: nil, until: until, note: nil, actor: "test",
                                      scope: scope, now: instant("2026-11-20T09:00:00+08:00"))
        }, owner: test)
    }

    /// Every backend the outbox's rules run on; the suite runs on each (PostgreSQL when a test server is configured,
    /// and always in CI, where a missing server fails the suite).
    static let all: [OutboxBackend] = [.sqlite] + (TestPostgres.url != nil || TestPostgres.isRequired ? [.postgres] : [])
}

/// What every ``OutboxStore`` must do, whatever its backend: the records the delivery rules (`LeadRouting`,
/// `OutboxRules`) read and write, with no rule of their own.
@Suite("outbox store conformance")
struct OutboxStoreConformanceTests {
    static let at = instant("2026-11-20T10:00:00+08:00")
    static let claim = DeliveryClaim(claimant: "test", until: at + 300)

    func delivery(_ lead: Lead, receiver: String = "gateway", manager: String = "M1", route: Int = 0, timing: String = "immediate",
                  status: DeliveryStatus = .pending, due: Date = at) -> NewDelivery {
        NewDelivery(id: Outbox.deliveryId(lead.id, receiver, "\(route)", "lead"), leadId: lead.id, receiver: receiver,
                    managerId: manager, route: route, purpose: .lead, timing: timing, status: status, fallback: "branch",
                    due: due, createdAt: Self.at)
    }

    @Test("a snooze holds back only a lead nobody acted on yet: a status never moves back", arguments: OutboxBackend.all)
    func suppressOnlyNew(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let fresh = LedgerTests.lead(plugin: "rules", key: "s1", client: "C1", manager: "M1")
        let told = LedgerTests.lead(plugin: "rules", key: "s2", client: "C1", manager: "M1")
        try await fixture.commitLeads([fresh, told])
        let (first, second, statuses) = try await fixture.store.outboxTransaction { outbox in
            try outbox.markNotified(lead: told.id, at: Self.at)
            return (try outbox.suppress(lead: fresh.id, at: Self.at), try outbox.suppress(lead: told.id, at: Self.at),
                    [try outbox.lead(id: fresh.id)?.status, try outbox.lead(id: told.id)?.status])
        }
        #expect(first && !second)
        #expect(statuses == [.suppressed, .notified])
    }

    @Test("leads come in ledger order after a position, with their status; a consumer's position is kept", arguments: OutboxBackend.all)
    func leadsAndPositions(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let leads = (1...3).map { LedgerTests.lead(plugin: "rules", key: "k\($0)", client: "C\($0)", manager: "M1") }
        try await fixture.commitLeads(leads)
        let (all, second, after, position) = try await fixture.store.outboxTransaction { outbox in
            let all = try outbox.leads(after: 0, limit: 10)
            try outbox.setPosition(of: "router", to: all[1].seq, at: Self.at)
            return (all.map { try? $0.lead.get().id }, all[1].seq, try outbox.leads(after: all[1].seq, limit: 10).count,
                    try outbox.position(of: "router"))
        }
        #expect(all == leads.map { Optional($0.id) })
        #expect(after == 1)
        #expect(position == second)
        let unknown = try await fixture.store.outboxTransaction { try $0.position(of: "nobody") }
        #expect(unknown == 0)
    }

    @Test("a row is inserted once: the same id again changes nothing", arguments: OutboxBackend.all)
    func insertOnce(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let lead = LedgerTests.lead(plugin: "rules", key: "k1", client: "C1", manager: "M1")
        try await fixture.commitLeads([lead])
        let row = delivery(lead)
        let (first, second, stored) = try await fixture.store.outboxTransaction { outbox in
            (try outbox.insert(row), try outbox.insert(row), try outbox.delivery(id: row.id))
        }
        #expect(first && !second)
        #expect(stored?.status == .pending && stored?.leadIds == [lead.id] && stored?.fallback == "branch")
        #expect(stored?.nextAttempt == Self.at)
    }

    @Test("due rows: pending, due, not digest members, earliest first; digest members apart", arguments: OutboxBackend.all)
    func dueRows(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let leads = (1...4).map { LedgerTests.lead(plugin: "rules", key: "k\($0)", client: "C\($0)", manager: "M1") }
        try await fixture.commitLeads(leads)
        let (due, members) = try await fixture.store.outboxTransaction { outbox in
            _ = try outbox.insert(self.delivery(leads[0], due: Self.at + 60))
            _ = try outbox.insert(self.delivery(leads[1], due: Self.at - 60))
            _ = try outbox.insert(self.delivery(leads[2], due: Self.at + 3600))  // not due
            _ = try outbox.insert(self.delivery(leads[3], timing: "digest:digest", due: Self.at))
            return (try outbox.claimDueDeliveries(receiver: "gateway", now: Self.at + 120, limit: 10, claim: Self.claim).map(\.leadId),
                    try outbox.dueDigestMembers(receiver: "gateway", now: Self.at + 120).map(\.leadId))
        }
        #expect(due == [leads[1].id, leads[0].id])
        #expect(members == [leads[3].id])
    }

    @Test("a message of several leads is inserted once and its members are batched inside it", arguments: OutboxBackend.all)
    func messagesBatchTheirMembers(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let leads = (1...2).map { LedgerTests.lead(plugin: "rules", key: "k\($0)", client: "C1", manager: "M1") }
        try await fixture.commitLeads(leads)
        let rows = leads.map { delivery($0) }
        let (message, members, due) = try await fixture.store.outboxTransaction { outbox in
            for row in rows { _ = try outbox.insert(row) }
            try outbox.insertMessage(id: "dl_group", purpose: .group, receiver: "gateway", managerId: "M1", route: 0,
                                     timing: "immediate", leadIds: leads.map(\.id), fallback: nil, memberIds: rows.map(\.id), at: Self.at, claim: nil)
            return (try outbox.delivery(id: "dl_group"), try rows.map { try outbox.delivery(id: $0.id) },
                    try outbox.claimDueDeliveries(receiver: "gateway", now: Self.at, limit: 10, claim: Self.claim).map(\.id))
        }
        #expect(message?.purpose == .group && message?.leadIds == leads.map(\.id) && message?.status == .pending)
        #expect(members.allSatisfy { $0?.status == .batched && $0?.parentId == "dl_group" })
        #expect(due == ["dl_group"])
    }

    @Test("a client's messages: those not tried yet, and those sent since an instant (a batched one by its group's time)",
          arguments: OutboxBackend.all)
    func clientMessages(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let leads = (1...5).map { LedgerTests.lead(plugin: "rules", key: "k\($0)", client: "C1", manager: "M1") }
        let other = LedgerTests.lead(plugin: "rules", key: "k6", client: "C2", manager: "M1")
        try await fixture.commitLeads(leads + [other])
        let rows = leads.map { delivery($0) }
        let found = try await fixture.store.outboxTransaction { outbox in
            for row in rows { _ = try outbox.insert(row) }
            _ = try outbox.insert(self.delivery(other))
            try outbox.markSent(delivery: rows[0].id, attempts: 1, at: Self.at - 30)   // sent within
            try outbox.markSent(delivery: rows[1].id, attempts: 1, at: Self.at - 600)  // sent before
            try outbox.scheduleRetry(delivery: rows[2].id, attempts: 1, next: Self.at + 60, at: Self.at, error: "HTTP 500")
            // rows[3]: pending, not tried. rows[4]: went inside a group message sent within.
            try outbox.insertMessage(id: "dl_group", purpose: .group, receiver: "gateway", managerId: "M1", route: 0,
                                     timing: "immediate", leadIds: [leads[4].id], fallback: nil, memberIds: [rows[4].id], at: Self.at - 50, claim: nil)
            try outbox.markSent(delivery: "dl_group", attempts: 1, at: Self.at - 20)
            return Set(try outbox.messages(aboutClient: "C1", receiver: "gateway", managerId: "M1", complianceQueue: false,
                                           sentSince: Self.at - 60).map(\.id))
        }
        #expect(found == [rows[0].id, rows[3].id, rows[4].id])
    }

    @Test("results: sent marks the lead notified (only a new one); a retry, a status, a fallback; 410 disables and holds",
          arguments: OutboxBackend.all)
    func results(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let leads = (1...3).map { LedgerTests.lead(plugin: "rules", key: "k\($0)", client: "C\($0)", manager: "M1") }
        try await fixture.commitLeads(leads)
        let rows = leads.map { delivery($0) }
        let outcome = try await fixture.store.outboxTransaction { outbox in
            for row in rows { _ = try outbox.insert(row) }
            try outbox.addAttempt(delivery: rows[0].id, attempt: 1, at: Self.at, durationMs: 5, httpStatus: 200, outcome: "sent", error: nil)
            try outbox.markSent(delivery: rows[0].id, attempts: 1, at: Self.at)
            try outbox.markNotified(lead: leads[0].id, at: Self.at)
            _ = try outbox.suppress(lead: leads[1].id, at: Self.at)
            try outbox.markNotified(lead: leads[1].id, at: Self.at)  // not new: stays suppressed
            let dead = try #require(try outbox.delivery(id: rows[1].id))
            try outbox.setStatus(ofDelivery: dead.id, to: .dead, attempts: 1, at: Self.at, error: "HTTP 500")
            try outbox.insertFallback(id: "dl_fallback", of: dead, receiver: "branch", status: .pending, at: Self.at)
            try outbox.disable(DeliveryTarget(receiver: "gateway", managerId: "M1"), at: Self.at, reason: "410 Gone", error: "gone")
            return (sent: try outbox.delivery(id: rows[0].id), notified: try outbox.lead(id: leads[0].id)?.status,
                    suppressed: try outbox.lead(id: leads[1].id)?.status, dead: try outbox.delivery(id: rows[1].id),
                    fallback: try outbox.delivery(id: "dl_fallback"), held: try outbox.delivery(id: rows[2].id),
                    disabled: try outbox.disabledTargets())
        }
        #expect(outcome.sent?.status == .sent && outcome.sent?.sentAt == Self.at && outcome.sent?.attempts == 1)
        #expect(outcome.notified == .notified)
        #expect(outcome.suppressed == .suppressed)
        #expect(outcome.dead?.status == .dead && outcome.dead?.lastError == "HTTP 500")
        #expect(outcome.fallback?.purpose == .fallback && outcome.fallback?.receiver == "branch" && outcome.fallback?.leadId == leads[1].id)
        #expect(outcome.held?.status == .held && outcome.held?.lastError == "gone")
        #expect(outcome.disabled == [DeliveryTarget(receiver: "gateway", managerId: "M1")])
    }

    @Test("a rescheduled row is due then; a target disabled twice holds its rows once, with the first error",
          arguments: OutboxBackend.all)
    func rescheduleAndDisable(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let lead = LedgerTests.lead(plugin: "rules", key: "k1", client: "C1", manager: "M1")
        try await fixture.commitLeads([lead])
        let row = delivery(lead, due: Self.at + 600)
        let target = DeliveryTarget(receiver: "gateway", managerId: "M1")
        let (due, disabled, other, held) = try await fixture.store.outboxTransaction { outbox in
            _ = try outbox.insert(row)
            try outbox.reschedule(delivery: row.id, to: Self.at)
            let due = try outbox.claimDueDeliveries(receiver: "gateway", now: Self.at, limit: 10, claim: Self.claim).map(\.id)
            try outbox.disable(target, at: Self.at, reason: "first", error: "first")
            try outbox.disable(target, at: Self.at + 1, reason: "second", error: "second")
            try outbox.setStatus(ofDelivery: row.id, to: .held, attempts: 2, at: nil, error: nil)
            return (due, try outbox.isDisabled(target), try outbox.isDisabled(DeliveryTarget(receiver: "gateway", managerId: "M2")),
                    try outbox.delivery(id: row.id))
        }
        #expect(due == [row.id])
        #expect(disabled && !other)
        #expect(held?.status == .held && held?.attempts == 2 && held?.lastError == "first", "the first disabling set the error")
        let reasons = try await fixture.store.outboxTransaction { try $0.disabledTargets() }
        #expect(reasons == [target])
    }

    @Test("rows taken are nobody else's until the claim passes; a result ends the claim; the next due time counts claims",
          arguments: OutboxBackend.all)
    func claims(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let leads = (1...3).map { LedgerTests.lead(plugin: "rules", key: "k\($0)", client: "C\($0)", manager: "M1") }
        try await fixture.commitLeads(leads)
        let a = DeliveryClaim(claimant: "a", until: Self.at + 300), b = DeliveryClaim(claimant: "b", until: Self.at + 300)
        let (first, second, taken) = try await fixture.store.outboxTransaction { outbox in
            for lead in leads { _ = try outbox.insert(self.delivery(lead)) }
            let first = try outbox.claimDueDeliveries(receiver: "gateway", now: Self.at, limit: 2, claim: a).map(\.leadId)
            let second = try outbox.claimDueDeliveries(receiver: "gateway", now: Self.at, limit: 10, claim: b).map(\.leadId)
            let taken = try outbox.claimDueDeliveries(receiver: "gateway", now: Self.at + 299, limit: 10, claim: b)
            return (first, second, taken)
        }
        #expect(first.count == 2 && second.count == 1 && Set(first + second) == Set(leads.map(\.id)))
        #expect(taken.isEmpty, "every row is claimed until at + 300")
        #expect(try await fixture.store.nextDue(receiver: "gateway") == Self.at + 300)
        // The claim of "a" passes without a result (it died): "b" takes its rows, with the same ids.
        let firstIds = leads.filter { first.contains($0.id) }.map { self.delivery($0).id }
        let (again, afterResult) = try await fixture.store.outboxTransaction { outbox in
            let again = try outbox.claimDueDeliveries(receiver: "gateway", now: Self.at + 300, limit: 10,
                                                      claim: DeliveryClaim(claimant: "b", until: Self.at + 600))
            try outbox.scheduleRetry(delivery: firstIds[0], attempts: 1, next: Self.at + 310, at: Self.at + 301, error: "500")
            try outbox.markSent(delivery: firstIds[1], attempts: 1, at: Self.at + 301)
            let afterResult = try outbox.claimDueDeliveries(receiver: "gateway", now: Self.at + 310, limit: 10, claim: a)
            return (again, afterResult.map(\.id))
        }
        #expect(Set(again.map(\.id)) == Set(firstIds + [self.delivery(leads.first { second.contains($0.id) }!).id]))
        #expect(afterResult == [firstIds[0]], "the retried row's claim ended with its result; the sent one is not due")
    }

    @Test("a row whose claim ended without a result comes back taken over; a receiver's error body with U+0000 is recorded",
          arguments: OutboxBackend.all)
    func takenOverAndHostileErrors(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let leads = (1...2).map { LedgerTests.lead(plugin: "rules", key: "k\($0)", client: "C1", manager: "M1") }
        try await fixture.commitLeads(leads)
        let (fresh, again, released, error) = try await fixture.store.outboxTransaction { outbox in
            _ = try outbox.insert(self.delivery(leads[0]))
            let fresh = try outbox.claimDueDeliveries(receiver: "gateway", now: Self.at, limit: 10,
                                                      claim: DeliveryClaim(claimant: "a", until: Self.at + 1))
            _ = try outbox.insert(self.delivery(leads[1]))
            // "a" died; its claim passed. The new row was never claimed.
            let again = try outbox.claimDueDeliveries(receiver: "gateway", now: Self.at + 2, limit: 10,
                                                      claim: DeliveryClaim(claimant: "b", until: Self.at + 300))
            // "b" restarts: claims ending by then are its previous run's.
            let released = try outbox.releaseClaims(of: "b", endingBy: Self.at + 301)
            let hostile = "HTTP 500: \u{0}\u{1}gzip"
            try outbox.addAttempt(delivery: fresh[0].id, attempt: 1, at: Self.at + 3, durationMs: 5, httpStatus: 500, outcome: "failed",
                                  error: hostile)
            try outbox.scheduleRetry(delivery: fresh[0].id, attempts: 1, next: Self.at + 60, at: Self.at + 3, error: hostile)
            try outbox.addActivity(lead: leads[0].id, at: Self.at + 3, kind: "note", outcome: nil, note: hostile, actor: "test")
            return (fresh.map(\.takenOver), again.map { ($0.leadId, $0.takenOver) }, released,
                    try outbox.delivery(id: fresh[0].id)?.lastError)
        }
        #expect(fresh == [false])
        #expect(again.count == 2)
        #expect(again.first { $0.0 == leads[0].id }?.1 == true, "a's row was taken over")
        #expect(again.first { $0.0 == leads[1].id }?.1 == false)
        #expect(released == 2, "the rows b took, none of a's")
        // Recorded, not refused (PostgreSQL's text holds no U+0000: it stores U+FFFD; SQLite's reading stops at it).
        #expect(error?.hasPrefix("HTTP 500: ") == true)
        let retaken = try await fixture.store.outboxTransaction { outbox in
            try outbox.claimDueDeliveries(receiver: "gateway", now: Self.at + 4, limit: 10, claim: Self.claim)
        }
        #expect(retaken.map(\.leadId) == [leads[1].id] && retaken.map(\.takenOver) == [true],
                "a released row is taken over too: it may have gone out (the other waits for its retry)")
    }

    @Test("a group formed of rows being sent is taken with them", arguments: OutboxBackend.all)
    func claimedMessage(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let lead = LedgerTests.lead(plugin: "rules", key: "k1", client: "C1", manager: "M1")
        try await fixture.commitLeads([lead])
        let due = try await fixture.store.outboxTransaction { outbox in
            try outbox.insertMessage(id: "dl_group", purpose: .group, receiver: "gateway", managerId: "M1", route: 0,
                                     timing: "immediate", leadIds: [lead.id], fallback: nil, memberIds: [], at: Self.at,
                                     claim: Self.claim)
            return try outbox.claimDueDeliveries(receiver: "gateway", now: Self.at, limit: 10, claim: Self.claim)
        }
        #expect(due.isEmpty)
        #expect(try await fixture.store.nextDue(receiver: "gateway") == Self.claim.until)
    }

    @Test("an inhibit rule's candidates: the same client's (or manager's) leads of the source kinds within the window",
          arguments: OutboxBackend.all)
    func inhibition(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let source = LedgerTests.lead(plugin: "risk-alerts", key: "aml", client: "C1", manager: "M1")
        let target = LedgerTests.lead(plugin: "product-match", key: "offer", client: "C1", manager: "M1")
        let otherClient = LedgerTests.lead(plugin: "product-match", key: "offer2", client: "C2", manager: "M1")
        try await fixture.commitLeads([source, target, otherClient])
        @Sendable func hooks(byManager: Bool) -> ComplianceHooks {
            ComplianceHooks(protectedKinds: ["large_inflow"],
                            sources: .init(kinds: ["large_inflow"], plugins: ["risk-alerts"], lookback: 3600, byManager: byManager),
                            mayInhibit: { $0.plugin == "product-match" },
                            inhibition: { _, candidates, _ in
                                candidates.first.map { InhibitDecision(sourceId: $0.id, note: "rule \($0.kind)") }
                            })
        }
        let (byClient, applied, none, late, byManager, status) = try await fixture.store.outboxTransaction { outbox in
            let byClient = try outbox.inhibition(of: target, hooks: hooks(byManager: false), now: Self.at + 60)
            let applied = try outbox.applyInhibition(lead: target, hooks: hooks(byManager: false), now: Self.at + 60, actor: "test")
            let none = try outbox.inhibition(of: otherClient, hooks: hooks(byManager: false), now: Self.at + 60)
            let late = try outbox.inhibition(of: otherClient, hooks: hooks(byManager: true), now: Self.at + 7200)
            let byManager = try outbox.inhibition(of: otherClient, hooks: hooks(byManager: true), now: Self.at + 60)
            return (byClient, applied, none, late, byManager, try outbox.lead(id: target.id)?.status)
        }
        #expect(byClient?.sourceId == source.id && byClient?.note == "rule large_inflow")
        #expect(applied && status == .suppressed)
        #expect(none == nil, "another client's lead has no source")
        #expect(byManager?.sourceId == source.id, "paired by manager, the same manager's source holds it")
        #expect(late == nil, "past the window")
        let history = try await fixture.store.outboxTransaction { try $0.hasActivity(lead: target.id, ofKinds: ["inhibited"]) }
        #expect(history)
    }

    @Test("daily counts per manager, route and local date", arguments: OutboxBackend.all)
    func dailyCounts(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let counts = try await fixture.store.outboxTransaction { outbox in
            try outbox.countSentAlone(managerId: "M1", route: 0, localDate: "2026-11-20")
            try outbox.countSentAlone(managerId: "M1", route: 0, localDate: "2026-11-20")
            try outbox.countSentAlone(managerId: "M1", route: 1, localDate: "2026-11-20")
            return [try outbox.sentAlone(managerId: "M1", route: 0, localDate: "2026-11-20"),
                    try outbox.sentAlone(managerId: "M1", route: 1, localDate: "2026-11-20"),
                    try outbox.sentAlone(managerId: "M1", route: 0, localDate: "2026-11-21"),
                    try outbox.sentAlone(managerId: "M2", route: 0, localDate: "2026-11-20")]
        }
        #expect(counts == [2, 1, 0, 0])
    }

    @Test("snoozes that end after an instant; activity kinds; clients of leads", arguments: OutboxBackend.all)
    func snoozesActivityClients(backend: OutboxBackend) async throws {
        let fixture = try await backend.make()
        let lead = LedgerTests.lead(plugin: "rules", key: "k1", client: "C1", manager: "M1")
        try await fixture.commitLeads([lead])
        try await fixture.addSnooze("C1", Self.at + 3600, "leads:write")
        try await fixture.addSnooze("C2", Self.at - 3600, "leads:write")
        let (snoozes, before, after, clients) = try await fixture.store.outboxTransaction { outbox in
            let snoozes = try outbox.snoozes(endingAfter: Self.at)
            let before = try outbox.hasActivity(lead: lead.id, ofKinds: ["feedback", "interaction"])
            try outbox.addActivity(lead: lead.id, at: Self.at, kind: "feedback", outcome: "contacted", note: nil, actor: "M1")
            return (snoozes, before, try outbox.hasActivity(lead: lead.id, ofKinds: ["feedback", "interaction"]),
                    try outbox.clients(ofLeads: [lead.id, "missing"]))
        }
        #expect(snoozes.map(\.clientId) == ["C1"])
        #expect(snoozes.first?.until == Self.at + 3600)
        #expect(!before && after)
        #expect(clients == [lead.id: "C1"])
    }

    @Test("nothing of a transaction that throws is kept", arguments: OutboxBackend.all)
    func rollback(backend: OutboxBackend) async throws {
        struct Stop: Error {}
        let fixture = try await backend.make()
        let lead = LedgerTests.lead(plugin: "rules", key: "k1", client: "C1", manager: "M1")
        try await fixture.commitLeads([lead])
        let row = delivery(lead)
        await #expect(throws: Stop.self) {
            try await fixture.store.outboxTransaction { outbox in
                _ = try outbox.insert(row)
                throw Stop()
            }
        }
        let stored = try await fixture.store.outboxTransaction { try $0.delivery(id: row.id) }
        #expect(stored == nil)
    }
}
