import Foundation
import InsightCore
import InsightPostgres
import InsightStore
import InsightTesting
import Testing

/// A dispatch backend under test: an empty store, kept until the test ends. On PostgreSQL, the view of an instance
/// holding every partition of a four-partition cluster.
struct DispatchBackend: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable () async throws -> (store: any DispatchStore, owner: any Sendable)

    static let sqlite = DispatchBackend(description: "SQLite") {
        let test = try TestStore()
        return (test.database, test)
    }

    static let postgres = DispatchBackend(description: "PostgreSQL") {
        let test = try await TestPostgres.start()
        let now = DispatchStoreConformanceTests.now
        let leases = try await test.store.balanceLeases(instance: "a", partitions: 4, target: 4, now: now, until: now + 3600)
        let view = try await test.store.dispatchStore(holding: leases, partitions: 4, now: { now })
        return (view, test)
    }

    static let all: [DispatchBackend] = [.sqlite] + (TestPostgres.url != nil || TestPostgres.isRequired ? [.postgres] : [])
}

@Suite("dispatch store conformance")
struct DispatchStoreConformanceTests {
    static let now = instant("2026-11-20T10:00:00+08:00")

    static func fullClient(_ id: String) -> ClientState {
        var state = ClientState(id: id)
        state.profile.name = "张三"
        state.profile.birthDate = LocalDate("1980-11-25")
        state.profile.segment = "private"
        state.profile.managerId = "M001"
        state.profile.branchId = "B-310"
        state.profile.tags = ["vip", "年金"]
        state.profile.marketingConsent = true
        state.profile.riskLevel = RiskLevel(3)
        state.lastEventAt = instant("2026-11-20T09:00:00+08:00")
        state.lastInteractionAt = instant("2026-11-01T09:00:00+08:00")
        state.lastWealthPurchaseAt = instant("2026-10-01T09:00:00+08:00")
        var account = AccountState(id: "\(id)-acct", currency: "CNY")
        account.balance = Decimal(string: "123456.78")
        account.lastTransactionAt = instant("2026-11-20T09:00:00+08:00")
        account.previousTransactionAt = instant("2026-11-19T09:00:00+08:00")
        account.transactionCount = 7
        state.accounts[account.id] = account
        state.balance = BalanceSnapshot(asOf: LocalDate("2026-11-20")!, aum: Decimal(string: "500000.10")!,
                                        deposits: 300_000, wealth: Decimal(string: "200000.10"), loans: nil)
        state.deposits["\(id)-td"] = TermDeposit(id: "\(id)-td", amount: 100_000, currency: "CNY", openDate: LocalDate("2025-12-01"),
                                                 maturityDate: LocalDate("2026-12-01")!, status: "active")
        state.loans["\(id)-loan"] = LoanState(id: "\(id)-loan", product: "mortgage", principal: 1_000_000, outstanding: 800_000,
                                              currency: "CNY", maturityDate: LocalDate("2026-12-15"), status: "active",
                                              overdueDays: 0)
        state.holdings["WP-7"] = Holding(productId: "WP-7", amount: Decimal(string: "50000.5")!, lastTradeAt: state.lastWealthPurchaseAt)
        state.financials["2026Q3"] = Financials(period: "2026Q3", totalAssets: 9_000_000, revenue: 1_200_000)
        state.memory = ["risk-alerts": .object(["count": .number("2")])]
        return state
    }

    static func update(_ state: ClientState, _ changes: StateChanges) throws -> DispatchCommit.ClientUpdate {
        var update = DispatchCommit.ClientUpdate(state: state, changes: changes)
        try update.encode { output in
            guard !state.memory.isEmpty else { return false }
            output += JSONWriter.string(.object(state.memory))
            return true
        }
        return update
    }

    static let everything: StateChanges = [.profile, .activity, .wealthPurchase, .balance, .account("C1-acct"),
                                           .deposit("C1-td"), .loan("C1-loan"), .holding("WP-7"), .financials("2026Q3"),
                                           .memory("risk-alerts")]

    @Test("a client's whole state reads back as written; a later activity-only write keeps its profile and memory",
          arguments: DispatchBackend.all)
    func stateRoundTrip(backend: DispatchBackend) async throws {
        let (store, owner) = try await backend.make()
        _ = owner
        let written = Self.fullClient("C1")
        var step = DispatchCommit()
        step.clients = [try Self.update(written, Self.everything)]
        var manager = ManagerState(id: "M001")
        manager.name = "赵经理"
        step.managers = [manager]
        try await store.commitAsync(step, at: Self.now)
        let read = try #require(try store.loadClients(["C1", "nobody"])["C1"])
        #expect(read == written)
        #expect(try store.loadClients(["nobody"]).isEmpty)
        #expect(try store.loadManagers(["M001"])["M001"] == manager)
        #expect(try store.hasClients())

        var later = read
        later.lastEventAt = instant("2026-11-21T09:00:00+08:00")
        later.profile.name = "not written"  // the profile did not change as far as the commit says
        later.memory = [:]
        var activity = DispatchCommit()
        activity.clients = [try Self.update(later, [.activity])]
        try store.commit(activity, at: Self.now)
        let after = try #require(try store.loadClients(["C1"])["C1"])
        #expect(after.lastEventAt == later.lastEventAt)
        #expect(after.profile.name == "张三")
        #expect(after.memory == written.memory)
    }

    @Test("leads are new once by key (within a commit too); an interaction naming one marks it contacted", arguments: DispatchBackend.all)
    func leadsOnce(backend: DispatchBackend) async throws {
        let (store, owner) = try await backend.make()
        _ = owner
        let first = LedgerTests.lead(plugin: "rules", key: "rules:C1:1", client: "C1", manager: "M001")
        let again = LedgerTests.lead(plugin: "rules", key: "rules:C1:1", client: "C1", manager: "M001", title: "second")
        let other = LedgerTests.lead(plugin: "rules", key: "rules:C2:1", client: "C2", manager: "M001")
        var step = DispatchCommit()
        step.leads = [(first, 1), (again, 2), (other, 3)]
        step.position = 3
        let new = try await store.commitAsync(step, at: Self.now)
        #expect(new.map(\.key) == [first.key, other.key])
        #expect(new.first?.title == first.title)
        var repeated = DispatchCommit()
        repeated.leads = [(first, 1)]
        #expect(try await store.commitAsync(repeated, at: Self.now).isEmpty)

        let reader = store.stateReader()
        #expect(try reader.lastLead(plugin: "rules", client: "C1") == first.createdAt)
        #expect(try reader.lastLead(plugin: "other", client: "C1") == nil)
        #expect(try reader.leadWasInhibited(plugin: "rules", client: "C1", at: first.createdAt) == false)

        var contact = DispatchCommit()
        contact.interactions = [.init(journalSequence: 4, clientId: "C1", managerId: "M001", channel: "phone",
                                      outcome: "interested", leadId: first.id, at: Self.now)]
        contact.failures = [.init(plugin: "rules", journalSequence: 4, eventId: "E4", error: "bad\u{0}value")]
        contact.scheduleRuns = [.init(plugin: "rules", tick: ScheduleTick(scheduledAt: Self.now, localDate: LocalDate("2026-11-20")!))]
        contact.position = 4
        try await store.commitAsync(contact, at: Self.now)
        try await store.commitAsync(contact, at: Self.now)  // handled again: recorded once
        let id = first.id
        if let database = store as? AppDatabase {
            #expect(try database.lead(id: id)?.status == .contacted)
            #expect(try database.pluginFailures().count == 2)
        } else if let test = owner as? TestPostgres {
            #expect(try await test.store.outboxTransaction { try $0.lead(id: id)?.status } == .contacted)
        }
    }

    @Test("the indexed queries of the daily ticks find the clients they should, in id byte order", arguments: DispatchBackend.all)
    func queries(backend: DispatchBackend) async throws {
        let (store, owner) = try await backend.make()
        _ = owner
        var step = DispatchCommit()
        for id in ["b2", "C1", "a3"] {
            var state = Self.fullClient(id)
            if id == "a3" {
                state.profile.segment = "mass"
                state.profile.birthDate = LocalDate("1990-03-01")
                state.loans = [:]
                state.deposits = [:]
                state.lastWealthPurchaseAt = nil
            }
            var changes = Self.everything
            changes.formUnion([StateChange.account("\(id)-acct"), .deposit("\(id)-td"), .loan("\(id)-loan")])
            step.clients.append(try Self.update(state, changes))
        }
        // A second day's snapshot of C1: history keeps both, the state the latest.
        var older = Self.fullClient("C1")
        older.balance = BalanceSnapshot(asOf: LocalDate("2026-11-19")!, aum: 1)
        var history = try Self.update(older, [.balance])
        history.balances = [BalanceSnapshot(asOf: LocalDate("2026-11-18")!, aum: 2)]
        step.clients.append(history)
        try await store.commitAsync(step, at: Self.now)

        let reader = store.stateReader()
        #expect(try reader.allClients().map(\.id) == ["C1", "a3", "b2"])
        let birthday = try #require(Self.fullClient("x").profile.birthdayKey)
        #expect(try reader.clients(birthdayKeys: [birthday]).map(\.id) == ["C1", "b2"])
        #expect(try reader.clients(birthdayKeys: []).isEmpty)
        #expect(try reader.clients(loansMaturingFrom: LocalDate("2026-12-01")!, through: LocalDate("2026-12-31")!).map(\.id) == ["C1", "b2"])
        #expect(try reader.clients(loansMaturingFrom: LocalDate("2027-01-01")!, through: LocalDate("2027-12-31")!).isEmpty)
        #expect(try reader.clients(depositsMaturingFrom: LocalDate("2026-12-01")!, through: LocalDate("2026-12-01")!).map(\.id) == ["C1", "b2"])
        #expect(try reader.clients(inSegments: ["mass"]).map(\.id) == ["a3"])
        #expect(try reader.clients(lastWealthPurchaseFrom: instant("2026-09-01T00:00:00+08:00"),
                                   until: instant("2026-11-01T00:00:00+08:00")).map(\.id) == ["C1", "b2"])
        #expect(try reader.balanceHistory(client: "C1", since: LocalDate("2026-11-01")!).map(\.asOf.description)
                == ["2026-11-18", "2026-11-20"])
        #expect(try reader.client("C1")?.balance?.asOf == LocalDate("2026-11-20"))
        #expect(try reader.manager("nobody") == nil)
    }
}
