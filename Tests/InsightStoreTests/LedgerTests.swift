import Foundation
import InsightCore
import InsightStore
import InsightTesting
import Testing

@Suite("Leads ledger, dispatch commits, quarantine and plugin failures")
struct LedgerTests {
    let now = instant("2026-11-20T12:00:00+08:00")

    static func client(_ id: String, manager: String) -> ClientState {
        var state = ClientState(id: id)
        state.profile.name = "张三丰"
        state.profile.segment = "affluent"
        state.profile.managerId = manager
        state.profile.branchId = "B-310"
        return state
    }

    static func lead(plugin: String, key: String, client: String, manager: String, title: String = "Large inflow received",
                     priority: LeadPriority = .high, createdAt: String = "2026-11-20T10:00:00+08:00") -> Lead {
        var managerState = ManagerState(id: manager)
        managerState.name = "赵经理"
        let draft = LeadDraft(
            key: key, kind: "large_inflow", priority: priority, clientId: client, title: title,
            summary: "A single credit of ¥500,000 or more.", suggestedAction: "Call within two days.",
            evidence: [Evidence(key: "rule", label: "规则", value: "large-inflow"), Evidence(key: "data.amount", label: "金额", value: "¥500,000")],
            products: [ProductSuggestion(id: "WP-7", name: "稳健理财", riskLevel: "R2", reason: "idle balance")],
            dueAt: instant("2026-11-22T18:00:00+08:00"), sourceEvents: ["E1"])
        return draft.complete(plugin: plugin, client: Self.client(client, manager: manager), manager: managerState,
                              now: instant(createdAt))
    }

    @discardableResult
    func commit(leads: [Lead], sequence: Int64? = nil, position: Int64? = nil, to database: AppDatabase) throws -> [Lead] {
        var step = DispatchCommit()
        step.leads = leads.map { (lead: $0, sequence: sequence) }
        step.position = position
        return try database.commit(step, at: now)
    }

    @Test func committedLeadsAreInsertedAndReturnedAsNew() throws {
        let store = try TestStore()
        let first = Self.lead(plugin: "rules", key: "large-inflow:core:E1", client: "C1", manager: "M1")
        let second = Self.lead(plugin: "rules", key: "large-inflow:core:E2", client: "C2", manager: "M1")

        let inserted = try commit(leads: [first, second], sequence: 1, to: store.database)

        #expect(inserted == [first, second])
        #expect(try store.database.leadCount() == 2)
        #expect(try store.database.leads().map(\.key) == ["rules:large-inflow:core:E1", "rules:large-inflow:core:E2"])
    }

    @Test func committingAnExistingLeadKeyAddsNothing() throws {
        let store = try TestStore()
        let original = Self.lead(plugin: "rules", key: "r:C1:2026-11-20", client: "C1", manager: "M1")
        try commit(leads: [original], to: store.database)

        // A replayed batch produces the same key again (here with a changed title): the ledger keeps the first.
        let replay = Self.lead(plugin: "rules", key: "r:C1:2026-11-20", client: "C1", manager: "M1", title: "changed")
        let inserted = try commit(leads: [replay], to: store.database)

        #expect(inserted.isEmpty)
        #expect(try store.database.leadCount() == 1)
        #expect(try store.database.lead(key: original.key)?.title == "Large inflow received")
    }

    @Test func aKeyRepeatedWithinOneCommitIsInsertedOnce() throws {
        let store = try TestStore()
        let lead = Self.lead(plugin: "rules", key: "r:C1:2026-11-20", client: "C1", manager: "M1")

        let inserted = try commit(leads: [lead, lead], to: store.database)

        #expect(inserted == [lead])
        #expect(try store.database.leadCount() == 1)
    }

    @Test func aStoredLeadRoundTrips() throws {
        let store = try TestStore()
        let lead = Self.lead(plugin: "rules", key: "large-inflow:core:E1", client: "C1", manager: "M1", priority: .urgent)
        try commit(leads: [lead], sequence: 5, to: store.database)

        let stored = try #require(try store.database.lead(key: lead.key))

        #expect(stored == lead)
        #expect(stored.id == Lead.id(forKey: "rules:large-inflow:core:E1"))
        #expect(stored.title == "Large inflow received")
        #expect(stored.priority == .urgent)
        #expect(stored.evidence == [Evidence(key: "rule", label: "规则", value: "large-inflow"),
                                    Evidence(key: "data.amount", label: "金额", value: "¥500,000")])
        #expect(stored.dueAt == instant("2026-11-22T18:00:00+08:00"))
        #expect(stored.createdAt == instant("2026-11-20T10:00:00+08:00"))
        #expect(stored.client?.name == "张**")  // masked before it is stored
        #expect(stored.manager?.name == "赵**")
        #expect(stored.status == .new)
        #expect(try store.database.lead(key: "rules:nope") == nil)
    }

    @Test func leadBodiesAreListedInKeyOrder() throws {
        let store = try TestStore()
        let b = Self.lead(plugin: "rules", key: "b", client: "C1", manager: "M1", createdAt: "2026-11-20T09:00:00+08:00")
        let a = Self.lead(plugin: "rules", key: "a", client: "C1", manager: "M1", createdAt: "2026-11-20T11:00:00+08:00")
        try commit(leads: [b, a], to: store.database)

        let bodies = try store.database.leadBodies()

        try #require(bodies.count == 2)
        #expect(bodies[0].contains("\"key\":\"rules:a\""))
        #expect(bodies[1].contains("\"key\":\"rules:b\""))
        // Leads themselves come in creation order.
        #expect(try store.database.leads().map(\.key) == ["rules:b", "rules:a"])
    }

    @Test(arguments: [
        (LeadQuery(plugin: "rules"), ["rules:1", "rules:2", "rules:3"]),
        (LeadQuery(plugin: "birthday-care"), ["birthday-care:4"]),
        (LeadQuery(clientId: "C2"), ["rules:2", "birthday-care:4"]),
        (LeadQuery(managerId: "M1"), ["rules:1", "rules:2"]),
        (LeadQuery(plugin: "rules", managerId: "M2"), ["rules:3"]),
        (LeadQuery(plugin: "rules", clientId: "C2", managerId: "M1"), ["rules:2"]),
        (LeadQuery(status: .new), ["rules:1", "rules:2", "rules:3", "birthday-care:4"]),
        (LeadQuery(status: .converted), []),
        (LeadQuery(limit: 2), ["rules:1", "rules:2"]),
        (LeadQuery(plugin: "nope"), []),
    ])
    func leadQueriesFilter(query: LeadQuery, expected: [String]) throws {
        let store = try TestStore()
        try commit(leads: [
            Self.lead(plugin: "rules", key: "1", client: "C1", manager: "M1", createdAt: "2026-11-20T09:00:01+08:00"),
            Self.lead(plugin: "rules", key: "2", client: "C2", manager: "M1", createdAt: "2026-11-20T09:00:02+08:00"),
            Self.lead(plugin: "rules", key: "3", client: "C3", manager: "M2", createdAt: "2026-11-20T09:00:03+08:00"),
            Self.lead(plugin: "birthday-care", key: "4", client: "C2", manager: "M2", createdAt: "2026-11-20T09:00:04+08:00"),
        ], to: store.database)

        #expect(try store.database.leads(query).map(\.key) == expected)
    }

    @Test func theConsumerPositionIsCommittedWithTheStep() throws {
        let store = try TestStore()
        _ = try commit(leads: [Self.lead(plugin: "rules", key: "1", client: "C1", manager: "M1")], sequence: 42,
                       position: 42, to: store.database)
        #expect(try store.database.consumerPosition(AppDatabase.dispatcherConsumer) == 42)

        // A tick-only step (no position) leaves it where it was.
        _ = try commit(leads: [Self.lead(plugin: "rules", key: "2", client: "C1", manager: "M1")], to: store.database)
        #expect(try store.database.consumerPosition(AppDatabase.dispatcherConsumer) == 42)

        var step = DispatchCommit()
        step.position = 7
        try store.database.commit(step, consumer: "backtest", at: now)
        #expect(try store.database.consumerPosition("backtest") == 7)
        #expect(try store.database.consumerPosition(AppDatabase.dispatcherConsumer) == 42)
    }

    @Test func aFailingCommitWritesNothing() throws {
        let store = try TestStore()
        let good = Self.lead(plugin: "rules", key: "good", client: "C1", manager: "M1")
        // Same id, different key: the id's primary key rejects it and the whole step must roll back.
        let clash = Lead(id: good.id, key: "rules:other", plugin: "rules", kind: "x", priority: .low, client: nil, manager: nil,
                         title: "clash", summary: "", suggestedAction: "", evidence: [], products: nil, dueAt: nil,
                         createdAt: now, sourceEvents: [], status: .new)
        var step = DispatchCommit()
        step.clients = [DispatchCommit.ClientUpdate(state: Self.client("C1", manager: "M1"), changes: [.profile])]
        step.managers = [ManagerState(id: "M1")]
        step.leads = [(lead: good, sequence: 1), (lead: clash, sequence: 1)]
        step.failures = [DispatchCommit.Failure(plugin: "rules", journalSequence: 1, eventId: "E1", error: "boom")]
        step.position = 1

        #expect(throws: (any Error).self) { try store.database.commit(step, at: now) }

        #expect(try store.database.consumerPosition(AppDatabase.dispatcherConsumer) == 0)
        #expect(try store.database.leadCount() == 0)
        #expect(try store.database.loadClients(["C1"]).isEmpty)
        #expect(try store.database.loadManager("M1") == nil)
        #expect(try store.database.pluginFailures().isEmpty)
    }

    @Test func pluginFailuresAreRecordedNewestFirst() throws {
        let store = try TestStore()
        var step = DispatchCommit()
        step.failures = [
            DispatchCommit.Failure(plugin: "rules", journalSequence: 3, eventId: "E3", error: "first"),
            DispatchCommit.Failure(plugin: "birthday-care", journalSequence: nil, eventId: nil, error: "tick failed"),
        ]
        try store.database.commit(step, at: now)

        let failures = try store.database.pluginFailures()

        #expect(failures == Array(step.failures.reversed()))
        #expect(try store.database.pluginFailures(limit: 1) == [step.failures[1]])
    }

    @Test func aLongPluginErrorIsBounded() throws {
        let store = try TestStore()
        var step = DispatchCommit()
        step.failures = [DispatchCommit.Failure(plugin: "rules", journalSequence: 1, eventId: "E1",
                                                error: String(repeating: "x", count: 5000))]
        try store.database.commit(step, at: now)

        let failure = try #require(try store.database.pluginFailures().first)
        #expect(failure.error.count == 2000)
    }

    @Test func scheduleRunsAreRecordedPerPluginAndDate() throws {
        let store = try TestStore()
        var step = DispatchCommit()
        for date in ["2026-11-18", "2026-11-19", "2026-11-20"] {
            step.scheduleRuns.append(DispatchCommit.ScheduleRun(
                plugin: "birthday-care",
                tick: ScheduleTick(scheduledAt: day(date).instant(in: TimeZone(identifier: "Asia/Shanghai")!), localDate: day(date))))
        }
        step.scheduleRuns.append(DispatchCommit.ScheduleRun(
            plugin: "risk-alerts", tick: ScheduleTick(scheduledAt: now, localDate: day("2026-11-17"))))
        try store.database.commit(step, at: now)

        #expect(try store.database.scheduleRuns(plugin: "birthday-care", since: day("2026-11-19"))
            == [day("2026-11-19"), day("2026-11-20")])
        #expect(try store.database.scheduleRuns(plugin: "risk-alerts", since: day("2026-11-01")) == [day("2026-11-17")])
        #expect(try store.database.scheduleRuns(plugin: "nope", since: day("2026-11-01")).isEmpty)
    }

    @Test func quarantineRoundTripsNewestFirst() throws {
        let store = try TestStore()
        let items = [
            QuarantinedItem(receivedAt: instant("2026-11-20T10:00:00+08:00"), source: "core-banking",
                            origin: "file:loans_20261120.csv:17", eventId: "L-17",
                            reason: "data.amount: expected a decimal, got \"12abc\"",
                            payload: "L-17,C1,12abc,CNY\n"),
            QuarantinedItem(receivedAt: instant("2026-11-20T10:00:01+08:00"), source: "webhook", origin: "webhook",
                            eventId: nil, reason: "line 1, column 9: unexpected character",
                            payload: "{\"id\": \"E9\", 中文,\t\u{1}}"),
        ]
        try store.database.quarantine(items)
        try store.database.quarantine([])

        let stored = try store.database.quarantinedItems()

        try #require(stored.count == 2)
        #expect(stored.allSatisfy { $0.id != nil })
        #expect(stored[0].id! > stored[1].id!)
        for (got, original) in zip(stored, items.reversed()) {
            var expected = original
            expected.id = got.id
            #expect(got == expected)
        }
        #expect(try store.database.quarantinedItems(limit: 1).map(\.origin) == ["webhook"])
    }

    @Test func aQuarantinedPayloadKeepsEmbeddedNULCharacters() throws {
        let store = try TestStore()
        let payload = "{\"id\":\"E1\"}\u{0}{\"id\":\"E2\"}"
        try store.database.quarantine([QuarantinedItem(receivedAt: now, source: "webhook", origin: "webhook", eventId: nil,
                                                       reason: "NUL byte in input", payload: payload)])

        let stored = try store.database.quarantinedItems().first?.payload
        #expect(stored?.hasPrefix("{\"id\":\"E1\"}") == true)
        #expect(stored == payload)
    }

    @Test func aQuarantinedPayloadIsBoundedTo64KiB() throws {
        let store = try TestStore()
        let ascii = QuarantinedItem(receivedAt: now, source: "webhook", origin: "webhook", eventId: nil, reason: "too big",
                                    payload: String(repeating: "a", count: 100_000))
        try store.database.quarantine([ascii])

        let stored = try #require(try store.database.quarantinedItems().first)
        #expect(stored.payload.utf8.count == 65_536)
        #expect(stored.payload.allSatisfy { $0 == "a" })
    }

    @Test func aQuarantinedMultiBytePayloadIsBoundedTo64KiBToo() throws {
        // Bank payloads are often Chinese text: three UTF-8 bytes per character.
        let item = QuarantinedItem(receivedAt: now, source: "webhook", origin: "webhook", eventId: nil, reason: "too big",
                                   payload: String(repeating: "客", count: 70_000))
        #expect(item.payload.utf8.count <= 65_536)
    }
}

@Suite struct WebhookRetentionTests {
    @Test func seenWebhookIdsOlderThanTheCutoffArePrunedAndNewerOnesStay() throws {
        let directory = TemporaryDirectory()
        let database = try AppDatabase.open(directory: directory.path)
        let old = Date(timeIntervalSince1970: 1_700_000_000)
        let recent = old.addingTimeInterval(8 * 86_400)
        _ = try database.ingest([IngestSubmission(events: [], webhook: (source: "s", id: "old"))], receivedAt: old)
        _ = try database.ingest([IngestSubmission(events: [], webhook: (source: "s", id: "new"))], receivedAt: recent)
        #expect(try database.pruneWebhookIds(before: recent.addingTimeInterval(-7 * 86_400)) == 1)
        #expect(try database.webhookSeen(source: "s", id: "old") == false)
        #expect(try database.webhookSeen(source: "s", id: "new") == true)
    }
}
