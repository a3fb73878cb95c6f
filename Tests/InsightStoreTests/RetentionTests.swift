import Foundation
import GRDB
import InsightCore
import InsightStore
import InsightTesting
import Testing

@Suite struct RetentionTests {
    @Test func pruningKeepsWhatIsUnhandledPendingOrRecent() async throws {
        let store = try TestStore()
        let database = store.database
        let old = instant("2026-01-01T10:00:00+08:00")
        let recent = instant("2026-11-20T10:00:00+08:00")
        let now = instant("2026-11-24T10:00:00+08:00")

        // Journal: three old events, two handled by the dispatcher; one recent.
        _ = try database.append((1...3).map { EventFixtures.transaction("old-\($0)", client: "C1", amount: "1") }, receivedAt: old)
        _ = try database.append([EventFixtures.transaction("new-1", client: "C1", amount: "1")], receivedAt: recent)
        try database.setConsumerPosition(AppDatabase.dispatcherConsumer, to: 2, at: now)
        try database.quarantine([
            QuarantinedItem(receivedAt: old, source: "crm", origin: "webhook:crm", eventId: "bad-1", reason: "r", payload: "{}"),
            QuarantinedItem(receivedAt: recent, source: "crm", origin: "webhook:crm", eventId: "bad-2", reason: "r", payload: "{}"),
        ])

        // Leads: an ancient one, and recent ones with a sent, a dead and a pending delivery.
        let ancient = LedgerTests.lead(plugin: "rules", key: "ancient", client: "C1", manager: "M1", createdAt: "2026-01-01T10:00:00+08:00")
        var step = DispatchCommit()
        step.leads = [(lead: ancient, sequence: nil)]
        try database.commit(step, at: old)
        let fresh = ["sent", "dead", "pending"].map { LedgerTests.lead(plugin: "rules", key: $0, client: "C1", manager: "M1") }
        step.leads = fresh.map { (lead: $0, sequence: nil) }
        try database.commit(step, at: recent)
        // Each lead gets a row to the gateway, as routing would make it, and the router's position moves past them.
        try await database.outboxTransaction { outbox in
            let routed = try outbox.leads(after: 0, limit: 10)
            for entry in routed {
                let lead = try entry.lead.get()
                _ = try outbox.insert(NewDelivery(id: Outbox.deliveryId(lead.id, "gateway", "0", "lead"), leadId: lead.id,
                                                  receiver: "gateway", managerId: "M1", route: 0, purpose: .lead, timing: "immediate",
                                                  status: .pending, fallback: nil, due: old, createdAt: old))
            }
            try outbox.setPosition(of: Outbox.routerConsumer, to: routed.last?.seq ?? 0, at: old)
        }
        // One delivery sent, one dead, one left pending, as the outbox would record them.
        try await database.outboxTransaction { outbox in
            let sent = Outbox.deliveryId(fresh[0].id, "gateway", "0", "lead")
            try outbox.addAttempt(delivery: sent, attempt: 1, at: old, durationMs: 1, httpStatus: 200, outcome: "sent", error: nil)
            try outbox.markSent(delivery: sent, attempts: 1, at: old)
            try outbox.markNotified(lead: fresh[0].id, at: old)
            try outbox.addActivity(lead: fresh[0].id, at: old, kind: "delivered", outcome: nil, note: "lead via gateway (\(sent))",
                                   actor: "outbox")
            let dead = Outbox.deliveryId(fresh[1].id, "gateway", "0", "lead")
            try outbox.addAttempt(delivery: dead, attempt: 1, at: old, durationMs: 1, httpStatus: 500, outcome: "dead", error: "HTTP 500")
            try outbox.setStatus(ofDelivery: dead, to: .dead, attempts: 1, at: old, error: "HTTP 500")
            try outbox.addActivity(lead: fresh[1].id, at: old, kind: "delivery_dead", outcome: nil, note: "gateway (\(dead)): HTTP 500",
                                   actor: "outbox")
        }

        let day: TimeInterval = 86_400
        let report = try database.prune(RetentionCutoffs(journal: now - 90 * day, quarantine: now - 90 * day, leads: now - 300 * day,
                                                         delivered: now - 30 * day, webhookIds: now - 7 * day),
                                        now: now, batch: 1)
        #expect(report.journal == 2, "only handled events go")
        #expect(try database.journalCount() == 2, "the unhandled old event and the recent one stay")
        #expect(report.quarantine == 1)
        #expect(report.leads == 1)
        #expect(try database.lead(id: ancient.id) == nil)
        #expect(try fresh.allSatisfy { try database.lead(id: $0.id) != nil }, "leads inside leads_days stay")
        #expect(report.deliveries >= 1)
        #expect(try database.deliveries(forLead: fresh[0].id).isEmpty, "the old sent delivery and its attempts go")
        #expect(try database.deliveries(forLead: fresh[1].id).map(\.delivery.status) == [.dead], "dead letters wait for an operator")
        #expect(try database.deliveries(forLead: fresh[2].id).map(\.delivery.status) == [.pending], "pending rows are never pruned")

        #expect(try database.compact() == false, "a small file is checkpointed, not vacuumed")
        let again = try database.prune(RetentionCutoffs(journal: now - 90 * day, quarantine: now - 90 * day, leads: now - 300 * day,
                                                        delivered: now - 30 * day, webhookIds: now - 7 * day), now: now)
        #expect(again.journal + again.quarantine + again.leads + again.deliveries == 0, "a second pass finds nothing more")
    }

    /// Events handled but not yet in the written client state (a dispatcher that checkpoints its state) stay: a
    /// restart dispatches them again.
    @Test func pruningKeepsTheEventsAfterTheStatePosition() throws {
        let store = try TestStore()
        let database = store.database
        let old = instant("2026-01-01T10:00:00+08:00")
        let now = instant("2026-11-24T10:00:00+08:00")
        _ = try database.append((1...5).map { EventFixtures.transaction("old-\($0)", client: "C1", amount: "1") }, receivedAt: old)
        try database.setConsumerPosition(AppDatabase.dispatcherConsumer, to: 5, at: now)
        try database.setConsumerPosition(AppDatabase.stateConsumer, to: 2, at: now)
        #expect(try database.dispatcherPositions().handled == 5)
        #expect(try database.dispatcherPositions().state == 2)
        let day: TimeInterval = 86_400
        let cutoffs = RetentionCutoffs(journal: now - 90 * day, quarantine: now - 90 * day, leads: now - 300 * day,
                                       delivered: now - 30 * day, webhookIds: now - 7 * day)
        #expect(try database.prune(cutoffs, now: now).journal == 2)
        #expect(try database.readJournal(after: 0, limit: 10).map(\.id) == ["old-3", "old-4", "old-5"])

        try database.setConsumerPosition(AppDatabase.stateConsumer, to: 5, at: now)
        #expect(try database.prune(cutoffs, now: now).journal == 3, "written state: all of them go")
    }
}
