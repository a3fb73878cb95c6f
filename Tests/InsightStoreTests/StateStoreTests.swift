import Foundation
import InsightCore
import InsightStore
import InsightTesting
import Testing

@Suite("Projected state: client and manager round trips, partial writes, balance history")
struct StateStoreTests {
    let now = instant("2026-11-20T12:00:00+08:00")

    /// A client with every part of the state filled in. Account, deposit and loan ids are global, so they carry the client id.
    static func fullClient(_ id: String = "C000123") -> ClientState {
        var state = ClientState(id: id)
        state.profile.name = "张三"
        state.profile.birthDate = day("1980-02-29")
        state.profile.birthCalendar = .chinese
        state.profile.segment = "affluent"
        state.profile.riskLevel = RiskLevel(4)
        state.profile.riskAssessedAt = day("2026-03-01")
        state.profile.managerId = "M01"
        state.profile.branchId = "B-310"
        state.profile.tags = ["vip", "retiring-soon"]
        state.profile.phone = "13800138000"
        state.profile.marketingConsent = true
        state.profile.status = "active"
        state.lastEventAt = instant("2026-11-20T10:00:00+08:00")
        state.lastInteractionAt = instant("2026-11-18T15:30:00+08:00")

        var account = AccountState(id: "62220202\(id)", currency: "CNY")
        account.balance = money("812345.67")
        account.lastTransactionAt = instant("2026-11-20T10:00:00+08:00")
        account.transactionCount = 17
        state.accounts[account.id] = account

        state.balance = BalanceSnapshot(asOf: day("2026-11-19"), aum: money("1500000.01"), deposits: money("812345.67"),
                                        wealth: money("687654.34"), loans: nil)
        state.deposits["TD-\(id)"] = TermDeposit(id: "TD-\(id)", amount: money("300000.00"), currency: "CNY",
                                             openDate: day("2025-12-01"), maturityDate: day("2026-12-01"), status: "active")
        state.loans["LN-\(id)"] = LoanState(id: "LN-\(id)", product: "mortgage", principal: money("1000000"),
                                        outstanding: money("654321.09"), currency: "CNY", maturityDate: day("2046-06-30"),
                                        status: "overdue", overdueDays: 12, lastOverdueAt: instant("2026-11-19T08:00:00+08:00"),
                                        repaidDate: nil)
        // More significant digits than a Double holds: must come back exactly.
        state.holdings["WP-7"] = Holding(productId: "WP-7", amount: money("12345678901234567.89"),
                                         lastTradeAt: instant("2026-11-02T14:00:00+08:00"))
        state.financials["2026Q3"] = Financials(period: "2026Q3", totalAssets: money("98765432.10"),
                                                totalLiabilities: money("45678901.23"), operatingCashFlow: money("-1234.56"),
                                                revenue: nil)
        return state
    }

    static func everyChange(of state: ClientState) -> StateChanges {
        var changes: StateChanges = [.profile, .activity, .balance]
        changes.formUnion(state.accounts.keys.map(StateChange.account))
        changes.formUnion(state.deposits.keys.map(StateChange.deposit))
        changes.formUnion(state.loans.keys.map(StateChange.loan))
        changes.formUnion(state.holdings.keys.map(StateChange.holding))
        changes.formUnion(state.financials.keys.map(StateChange.financials))
        return changes
    }

    func commit(_ states: [(ClientState, StateChanges)], managers: [ManagerState] = [], to database: AppDatabase) throws {
        var step = DispatchCommit()
        step.clients = states.map { DispatchCommit.ClientUpdate(state: $0.0, changes: $0.1) }
        step.managers = managers
        try database.commit(step, at: now)
    }

    @Test func aCommittedClientLoadsBackEqual() throws {
        let store = try TestStore()
        let client = Self.fullClient()

        try commit([(client, Self.everyChange(of: client))], to: store.database)
        let loaded = try store.database.loadClients([client.id])

        let state = try #require(loaded[client.id])
        #expect(state == client)
        #expect(state.accounts["62220202C000123"]?.balance == money("812345.67"))
        #expect(state.accounts["62220202C000123"]?.balance.map { "\($0)" } == "812345.67")
        #expect(state.holdings["WP-7"]?.amount.description == "12345678901234567.89")
        #expect(state.financials["2026Q3"]?.operatingCashFlow == money("-1234.56"))
        #expect(state.profile.riskLevel == RiskLevel(4))
        #expect(state.profile.birthDate == day("1980-02-29"))
        #expect(state.profile.tags == ["vip", "retiring-soon"])
    }

    @Test func loadingUnknownClientsGivesNothing() throws {
        let store = try TestStore()
        try commit([(Self.fullClient("C1"), [.profile])], to: store.database)

        #expect(try store.database.loadClients([String]()).isEmpty)
        #expect(try store.database.loadClients(["nobody"]).isEmpty)
        #expect(try Set(store.database.loadClients(["C1", "nobody"]).keys) == ["C1"])
    }

    /// A dispatcher's cache miss on a large book reads thousands of clients at once, in slices on several reader
    /// connections: each comes back whole, with its latest balance of several days, and only the ids asked for.
    @Test func manyClientsLoadBackWholeInSlices() throws {
        let store = try TestStore()
        var clients: [ClientState] = []
        for index in 0..<2_500 {
            var client = Self.fullClient(String(format: "C%06d", index))
            client.profile.name = index.isMultiple(of: 3) ? nil : "客户\(index)"
            if index.isMultiple(of: 5) { client.loans = [:] }
            if index.isMultiple(of: 7) { client.memory = ["risk-alerts": .object(["n": .number("\(index)")])] }
            clients.append(client)
        }
        try commit(clients.map { client in
            var changes = Self.everyChange(of: client)
            changes.insert(.memory("risk-alerts"))
            return (client, changes)
        }, to: store.database)
        // Earlier and later days for some: the latest is the state's balance.
        var later = clients[10]
        later.balance = BalanceSnapshot(asOf: day("2026-11-20"), aum: money("1.50"))
        var earlier = clients[11]
        earlier.balance = BalanceSnapshot(asOf: day("2026-11-01"), aum: money("9.99"))
        try commit([(later, [.balance]), (earlier, [.balance])], to: store.database)
        clients[10] = later

        let asked = clients.map(\.id).filter { !$0.hasSuffix("9") } + ["nobody", "C999999"]
        let loaded = try store.database.loadClients(asked)
        #expect(asked.count > 1_024, "enough clients to be read in slices")
        #expect(loaded.count == asked.count - 2)
        for client in clients where !client.id.hasSuffix("9") {
            #expect(loaded[client.id] == client, "\(client.id)")
        }
        #expect(loaded["C000011"]?.balance?.asOf == day("2026-11-19"), "an older day does not replace the latest")
        #expect(loaded["C000010"]?.balance?.aum == money("1.50"))
    }

    /// SQLite's JSON functions and GRDB's text reads end a string at U+0000, so no stored client can have such an
    /// id (nor can an event give one): asking for one finds nothing, and never the client named by its part before
    /// the NUL.
    @Test func anIdWithANulFindsNoOtherClient() throws {
        let store = try TestStore()
        let short = Self.fullClient("a")
        try commit([(short, Self.everyChange(of: short))], to: store.database)

        #expect(try store.database.loadClients(["a\u{0}b"]).isEmpty)
        #expect(try store.database.loadClients(["a\u{0}b", "a"]) == ["a": short])
    }

    @Test func onlyThePartsNamedInChangesAreWritten() throws {
        let store = try TestStore()
        var client = ClientState(id: "C1")
        client.profile.name = "李四"
        var account = AccountState(id: "A1", currency: "CNY")
        account.balance = money("100.00")
        account.transactionCount = 1
        client.accounts["A1"] = account
        try commit([(client, [.profile, .activity, .account("A1")])], to: store.database)

        // The state moves on in several places, but this step reports only the account.
        client.profile.name = "王五"
        client.accounts["A1"]?.balance = money("250.50")
        client.accounts["A1"]?.transactionCount = 2
        client.loans["L1"] = LoanState(id: "L1", principal: money("50000"), currency: "CNY", overdueDays: 0)
        client.holdings["P1"] = Holding(productId: "P1", amount: money("10"))
        client.balance = BalanceSnapshot(asOf: day("2026-11-20"), aum: money("1"))
        client.lastEventAt = instant("2026-11-20T11:00:00+08:00")
        try commit([(client, [.account("A1")])], to: store.database)

        let stored = try #require(try store.database.loadClients(["C1"])["C1"])
        #expect(stored.accounts["A1"]?.balance == money("250.50"))
        #expect(stored.accounts["A1"]?.transactionCount == 2)
        #expect(stored.loans.isEmpty)
        #expect(stored.holdings.isEmpty)
        #expect(stored.balance == nil)
        #expect(stored.profile.name == "李四")
        #expect(stored.lastEventAt == nil)
        #expect(try store.database.balanceHistory(client: "C1", since: day("2000-01-01")).isEmpty)
    }

    @Test func aChangeNamingAMissingPartWritesNothing() throws {
        let store = try TestStore()
        let client = ClientState(id: "C1")
        try commit([(client, [.activity, .loan("L-missing"), .account("A-missing"), .balance, .holding("P-missing")])],
                   to: store.database)

        let stored = try #require(try store.database.loadClients(["C1"])["C1"])
        #expect(stored == client)
    }

    @Test func activityUpdatesTimestampsWithoutTouchingTheProfile() throws {
        let store = try TestStore()
        var client = Self.fullClient("C1")
        try commit([(client, [.profile, .activity])], to: store.database)

        client.profile.name = "not written"
        client.lastEventAt = instant("2026-11-21T09:00:00+08:00")
        client.lastInteractionAt = instant("2026-11-21T09:30:00+08:00")
        try commit([(client, [.activity])], to: store.database)

        let stored = try #require(try store.database.loadClients(["C1"])["C1"])
        #expect(stored.profile == Self.fullClient("C1").profile)
        #expect(stored.lastEventAt == instant("2026-11-21T09:00:00+08:00"))
        #expect(stored.lastInteractionAt == instant("2026-11-21T09:30:00+08:00"))
    }

    @Test func aProfileCommitReplacesTheWholeProfile() throws {
        let store = try TestStore()
        var client = Self.fullClient("C1")
        try commit([(client, [.profile])], to: store.database)

        client.profile.phone = nil
        client.profile.tags = []
        client.profile.riskLevel = RiskLevel(2)
        try commit([(client, [.profile])], to: store.database)

        let stored = try #require(try store.database.loadClients(["C1"])["C1"])
        #expect(stored.profile.phone == nil)
        #expect(stored.profile.tags.isEmpty)
        #expect(stored.profile.riskLevel == RiskLevel(2))
        #expect(stored.profile.name == "张三")
    }

    @Test func managersRoundTrip() throws {
        let store = try TestStore()
        var manager = ManagerState(id: "M01")
        manager.name = "赵经理"
        manager.branchId = "B-310"
        manager.mobile = "13900139000"
        manager.wecomUserId = "zhao"
        manager.email = "zhao@bank.example"
        manager.active = false
        let other = ManagerState(id: "M02")
        try commit([], managers: [manager, other], to: store.database)

        let loaded = try store.database.loadManagers(["M01", "M02", "M99"])
        #expect(loaded == ["M01": manager, "M02": other])
        #expect(try store.database.loadManager("M01") == manager)
        #expect(try store.database.loadManager("M99") == nil)

        // A later profile replaces the stored one.
        manager.name = "赵主管"
        manager.active = true
        try commit([], managers: [manager], to: store.database)
        #expect(try store.database.loadManager("M01") == manager)
    }

    @Test func allClientsAreReturnedInIdOrder() throws {
        let store = try TestStore()
        let ids = ["C3", "C10", "C1", "B7", "C2"]
        try commit(ids.map { (Self.fullClient($0), Self.everyChange(of: Self.fullClient($0))) }, to: store.database)

        let all = try store.database.allClients()

        #expect(all.map(\.id) == ids.sorted())
        #expect(all.allSatisfy { $0 == Self.fullClient($0.id) })
    }

    @Test func balanceHistoryReturnsSnapshotsOldestFirstFromTheGivenDate() throws {
        let store = try TestStore()
        var client = ClientState(id: "C1")
        // Written out of order, and with another client's history alongside.
        for (asOf, aum) in [("2026-11-18", "300.00"), ("2026-11-16", "100.00"), ("2026-11-19", "400.00"), ("2026-11-17", "200.00")] {
            client.balance = BalanceSnapshot(asOf: day(asOf), aum: money(aum), deposits: money("1.10"))
            var other = ClientState(id: "C2")
            other.balance = BalanceSnapshot(asOf: day(asOf), aum: money("9"))
            try commit([(client, [.activity, .balance]), (other, [.activity, .balance])], to: store.database)
        }

        let history = try store.database.balanceHistory(client: "C1", since: day("2026-11-17"))

        #expect(history.map(\.asOf.description) == ["2026-11-17", "2026-11-18", "2026-11-19"])
        #expect(history.map(\.aum) == [money("200.00"), money("300.00"), money("400.00")])
        #expect(history.allSatisfy { $0.deposits == money("1.10") && $0.wealth == nil })
        #expect(try store.database.balanceHistory(client: "C1", since: day("2026-11-20")).isEmpty)
        #expect(try store.database.balanceHistory(client: "nobody", since: day("2000-01-01")).isEmpty)
        // The loaded state carries the latest snapshot, not the last one written.
        #expect(try store.database.loadClients(["C1"])["C1"]?.balance?.asOf == day("2026-11-19"))
    }

    @Test func aSnapshotForTheSameDayReplacesTheEarlierOne() throws {
        let store = try TestStore()
        var client = ClientState(id: "C1")
        client.balance = BalanceSnapshot(asOf: day("2026-11-20"), aum: money("100"))
        try commit([(client, [.activity, .balance])], to: store.database)
        client.balance = BalanceSnapshot(asOf: day("2026-11-20"), aum: money("150.25"), loans: money("3"))
        try commit([(client, [.balance])], to: store.database)

        let history = try store.database.balanceHistory(client: "C1", since: day("2026-11-01"))
        #expect(history == [BalanceSnapshot(asOf: day("2026-11-20"), aum: money("150.25"), loans: money("3"))])
    }
}
