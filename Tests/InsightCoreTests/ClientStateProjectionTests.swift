import Foundation
import Testing
@testable import InsightCore

/// A validated-looking event for client C1; `data` is JSON text.
private func event(_ type: String, _ data: String, at time: String = "2026-11-20T10:00:00+08:00",
                   id: String = "e") throws -> Event {
    Event(id: id, source: "test", type: type, time: try #require(RFC3339.parse(time)), clientId: "C1",
          data: try JSONParser.parse(data))
}

/// An exact decimal from its text.
private func decimal(_ text: String) throws -> Decimal {
    try #require(Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")))
}

private func instant(_ text: String) throws -> Date {
    try #require(RFC3339.parse(text))
}

@Suite("ClientState projection")
struct ClientStateProjectionTests {
    // MARK: Transaction fields

    /// A transaction's fields, taken once when the event is made, are what looking each up in `data` gives.
    @Test(arguments: [
        #"{"accountId":"A1","amount":"2497.80","currency":"CNY","direction":"debit","channel":"mobile","counterparty":"STATE GRID"}"#,
        #"{"accountId":"A1","amount":174.39,"direction":"credit","balanceAfter":"1000.5"}"#,
        #"{"accountId":7,"amount":" 12 ","direction":1,"currency":null,"balanceAfter":true}"#,
        #"{"amount":{"value":1},"channel":["x"]}"#,
        #"{}"#,
    ])
    func transactionFieldsAreTheDataLookups(_ text: String) throws {
        let made = try event(EventType.accountTransaction, text)
        let data = made.data
        let fields = try #require(made.transaction)
        #expect(fields.accountId == data["accountId"]?.stringValue)
        #expect(fields.amount == data["amount"]?.decimalValue)
        #expect(fields.direction == data["direction"]?.stringValue)
        #expect(fields.currency == data["currency"]?.stringValue)
        #expect(fields.channel == data["channel"]?.stringValue)
        #expect(fields.counterparty == data["counterparty"]?.stringValue)
        #expect(fields.balanceAfter == data["balanceAfter"]?.decimalValue)
        switch data["amount"] {
        case .number(let literal)?, .string(let literal)?: #expect(fields.amountLiteral == literal)
        default: #expect(fields.amountLiteral == nil)
        }
        // Kept when the event is copied with its data text or journaled under a sender.
        var copy = made
        copy.dataText = text
        #expect(copy.transaction?.amount == fields.amount && copy.transaction?.accountId == fields.accountId)
        #expect(made.journaled(under: "crm").transaction?.amount == fields.amount)
    }

    /// The fields are looked up once, on first use, from whichever thread comes first; every reader then shares them.
    @Test func transactionFieldsAreMadeOnceWhateverTheThreads() async throws {
        let made = try event(EventType.accountTransaction, #"{"accountId":"A1","amount":"12.50","direction":"debit"}"#)
        let seen = await withTaskGroup(of: ObjectIdentifier?.self) { group in
            for _ in 0..<16 { group.addTask { made.transaction.map(ObjectIdentifier.init) } }
            var all: Set<ObjectIdentifier?> = []
            for await one in group { all.insert(one) }
            return all
        }
        #expect(seen.count == 1 && seen.first != nil)
        var copy = made
        copy.dataText = "{}"
        #expect(copy.transaction === made.transaction, "a copy of the event keeps the fields already made")
    }

    @Test func onlyTransactionsHaveTransactionFields() throws {
        #expect(try event(EventType.accountBalance, #"{"accountId":"A1","amount":"1"}"#).transaction == nil)
        #expect(try event("custom.thing", #"{"accountId":"A1","amount":"1"}"#).transaction == nil)
    }

    // MARK: Profile

    @Test func profileMergeIsPartial() throws {
        var state = ClientState(id: "C1")
        state.apply(try event("client.profile", """
            {"name":"张三","segment":"mass","phone":"13812345678","riskLevel":"C3","tags":["a","b"],
             "marketingConsent":true,"managerId":"M1","branchId":"B1","birthDate":"1990-05-17",
             "birthCalendar":"chinese","idNumber":"110101199001011234","status":"active"}
            """))
        let changes = state.apply(try event("client.profile", #"{"segment":"affluent","phone":null}"#, at: "2026-11-21T10:00:00+08:00"))
        #expect(changes == [.activity, .profile])
        #expect(state.profile.segment == "affluent")
        #expect(state.profile.phone == nil)
        // Everything not mentioned stays.
        #expect(state.profile.name == "张三")
        #expect(state.profile.riskLevel == RiskLevel(3))
        #expect(state.profile.tags == ["a", "b"])
        #expect(state.profile.marketingConsent == true)
        #expect(state.profile.managerId == "M1")
        #expect(state.profile.branchId == "B1")
        #expect(state.profile.birthDate == LocalDate(year: 1990, month: 5, day: 17))
        #expect(state.profile.birthCalendar == .chinese)
        #expect(state.profile.idNumber == "110101199001011234")
        #expect(state.profile.status == "active")
        #expect(!state.profile.isClosed)
    }

    @Test func profileNullClearsEveryKindOfField() throws {
        var state = ClientState(id: "C1")
        state.apply(try event("client.profile", """
            {"name":"张三","riskLevel":2,"tags":["a"],"marketingConsent":false,"birthDate":"1990-05-17",
             "birthCalendar":"gregorian","riskAssessedAt":"2026-01-02"}
            """))
        state.apply(try event("client.profile", """
            {"name":null,"riskLevel":null,"tags":null,"marketingConsent":null,"birthDate":null,
             "birthCalendar":null,"riskAssessedAt":null}
            """))
        #expect(state.profile.name == nil)
        #expect(state.profile.riskLevel == nil)
        #expect(state.profile.tags == [])
        #expect(state.profile.marketingConsent == nil)
        #expect(state.profile.birthDate == nil)
        #expect(state.profile.birthCalendar == nil)
        #expect(state.profile.riskAssessedAt == nil)
    }

    @Test func riskAssessedAtTakesTheDateOfATime() throws {
        var state = ClientState(id: "C1")
        state.apply(try event("client.profile", #"{"riskAssessedAt":"2026-11-20T23:30:00+08:00"}"#))
        #expect(state.profile.riskAssessedAt == LocalDate(year: 2026, month: 11, day: 20))
    }

    @Test func closedStatus() throws {
        var state = ClientState(id: "C1")
        state.apply(try event("client.profile", #"{"status":"closed"}"#))
        #expect(state.profile.isClosed)
    }

    // MARK: Transactions

    @Test func transactionBalanceFromBalanceAfterThenByAmount() throws {
        var state = ClientState(id: "C1")
        let first = state.apply(try event("account.transaction",
            #"{"accountId":"A1","amount":"500","direction":"credit","balanceAfter":"1000.00"}"#))
        #expect(first == [.activity, .account("A1")])
        #expect(state.accounts["A1"]?.balance == (try decimal("1000.00")))

        state.apply(try event("account.transaction", #"{"accountId":"A1","amount":"250.50","direction":"credit"}"#))
        #expect(state.accounts["A1"]?.balance == (try decimal("1250.50")))

        state.apply(try event("account.transaction", #"{"accountId":"A1","amount":50.25,"direction":"debit"}"#))
        #expect(state.accounts["A1"]?.balance == (try decimal("1200.25")))

        // balanceAfter wins over the amount.
        state.apply(try event("account.transaction",
            #"{"accountId":"A1","amount":"999","direction":"credit","balanceAfter":"10"}"#, at: "2026-11-21T09:00:00+08:00"))
        let account = try #require(state.accounts["A1"])
        #expect(account.balance == 10)
        #expect(account.transactionCount == 4)
        #expect(account.lastTransactionAt == (try instant("2026-11-21T09:00:00+08:00")))
        #expect(account.currency == "CNY")
    }

    @Test func debitCanTakeTheBalanceNegative() throws {
        var state = ClientState(id: "C1")
        state.apply(try event("account.transaction", #"{"accountId":"A1","amount":"1","direction":"credit","balanceAfter":"100"}"#))
        state.apply(try event("account.transaction", #"{"accountId":"A1","amount":"150","direction":"debit"}"#))
        #expect(state.accounts["A1"]?.balance == -50)
    }

    @Test func amountWithoutAKnownBalanceLeavesTheBalanceUnknown() throws {
        var state = ClientState(id: "C1")
        let changes = state.apply(try event("account.transaction", #"{"accountId":"A1","amount":"100","direction":"credit"}"#))
        #expect(changes == [.activity, .account("A1")])
        let account = try #require(state.accounts["A1"])
        #expect(account.balance == nil)
        #expect(account.transactionCount == 1)
    }

    @Test func accountsAreKeptApartAndKeepTheirFirstCurrency() throws {
        var state = ClientState(id: "C1")
        state.apply(try event("account.transaction",
            #"{"accountId":"A1","amount":"1","direction":"credit","currency":"USD","balanceAfter":"1"}"#))
        state.apply(try event("account.transaction",
            #"{"accountId":"A2","amount":"2","direction":"credit","balanceAfter":"2"}"#))
        state.apply(try event("account.transaction",
            #"{"accountId":"A1","amount":"1","direction":"credit","currency":"EUR"}"#))
        #expect(state.accounts["A1"]?.currency == "USD")
        #expect(state.accounts["A1"]?.balance == 2)
        #expect(state.accounts["A2"]?.currency == "CNY")
        #expect(state.accounts["A2"]?.balance == 2)
    }

    @Test func decimalAmountsAreExact() throws {
        var state = ClientState(id: "C1")
        state.apply(try event("account.transaction", #"{"accountId":"A1","amount":"0.10","direction":"credit","balanceAfter":"0.10"}"#))
        state.apply(try event("account.transaction", #"{"accountId":"A1","amount":"0.20","direction":"credit"}"#))
        #expect(state.accounts["A1"]?.balance == (try decimal("0.30")))
        #expect(state.accounts["A1"]?.balance?.description == "0.3")

        // JSON number literals are exact too.
        state.apply(try event("wealth.trade", #"{"productId":"P1","action":"buy","amount":0.1}"#))
        state.apply(try event("wealth.trade", #"{"productId":"P1","action":"buy","amount":0.2}"#))
        #expect(state.holdings["P1"]?.amount == (try decimal("0.3")))
    }

    // MARK: Activity

    @Test func lastEventAtIsExactButWrittenOncePerDay() throws {
        var state = ClientState(id: "C1")
        func transaction(_ id: String, at time: String) throws -> Event {
            Event(id: id, source: "s", type: "account.transaction", time: try instant(time), clientId: "C1",
                  data: .object(["accountId": .string("A1"), "amount": .string("1"), "direction": .string("credit")]))
        }
        #expect(state.apply(try transaction("1", at: "2026-11-20T09:00:00Z")) == [.activity, .account("A1")])
        #expect(state.apply(try transaction("2", at: "2026-11-20T18:00:00Z")) == [.account("A1")])
        #expect(state.lastEventAt == (try instant("2026-11-20T18:00:00Z")), "exact in memory")
        #expect(state.apply(try transaction("3", at: "2026-11-19T18:00:00Z")) == [.account("A1")], "older: no move")
        #expect(state.lastEventAt == (try instant("2026-11-20T18:00:00Z")))
        #expect(state.apply(try transaction("4", at: "2026-11-21T00:00:01Z")) == [.activity, .account("A1")])
    }

    // MARK: Balance snapshots

    @Test func olderSnapshotDoesNotReplaceANewerOne() throws {
        var state = ClientState(id: "C1")
        let first = state.apply(try event("account.balance", #"{"asOf":"2026-11-20","aum":"100","deposits":"60"}"#))
        #expect(first == [.activity, .balance])

        let late = state.apply(try event("account.balance", #"{"asOf":"2026-11-19","aum":"50"}"#))
        #expect(late == [], "same event day, older snapshot: nothing to write")
        #expect(state.balance == BalanceSnapshot(asOf: try #require(LocalDate("2026-11-20")), aum: 100, deposits: 60))

        let newer = state.apply(try event("account.balance",
            #"{"asOf":"2026-11-21","aum":"200.5","wealth":"150","loans":"10"}"#))
        #expect(newer == [.balance])
        #expect(state.balance == BalanceSnapshot(asOf: try #require(LocalDate("2026-11-21")), aum: try decimal("200.5"),
                                                 deposits: nil, wealth: 150, loans: 10))
    }

    @Test func sameDaySnapshotIsACorrection() throws {
        var state = ClientState(id: "C1")
        state.apply(try event("account.balance", #"{"asOf":"2026-11-20","aum":"100"}"#))
        let changes = state.apply(try event("account.balance", #"{"asOf":"2026-11-20","aum":"110"}"#))
        #expect(changes == [.balance])
        #expect(state.balance?.aum == 110)
    }

    // MARK: Deposits, loans, holdings, financials, interactions

    @Test func termDeposit() throws {
        var state = ClientState(id: "C1")
        let changes = state.apply(try event("deposit.term",
            #"{"depositId":"D1","amount":"50000","openDate":"2025-11-25","maturityDate":"2026-11-25","status":"open"}"#))
        #expect(changes == [.activity, .deposit("D1")])
        let deposit = try #require(state.deposits["D1"])
        #expect(deposit.amount == 50_000)
        #expect(deposit.currency == "CNY")
        #expect(deposit.openDate == LocalDate(year: 2025, month: 11, day: 25))
        #expect(deposit.maturityDate == (try #require(LocalDate(year: 2026, month: 11, day: 25))))
        #expect(deposit.status == "open")
    }

    @Test func overdueLoanSetsLastOverdueAt() throws {
        var state = ClientState(id: "C1")
        let opened = state.apply(try event("loan.account",
            #"{"loanId":"L1","status":"active","principal":"10000","outstanding":"5000","product":"mortgage"}"#,
            at: "2026-10-01T10:00:00+08:00"))
        #expect(opened == [.activity, .loan("L1")])
        #expect(state.loans["L1"]?.lastOverdueAt == nil)

        state.apply(try event("loan.account", #"{"loanId":"L1","status":"overdue","overdueDays":3}"#,
                              at: "2026-11-05T10:00:00+08:00"))
        let loan = try #require(state.loans["L1"])
        #expect(loan.status == "overdue")
        #expect(loan.overdueDays == 3)
        #expect(loan.lastOverdueAt == (try instant("2026-11-05T10:00:00+08:00")))
        // Partial update: earlier fields stay.
        #expect(loan.outstanding == 5000)
        #expect(loan.principal == 10_000)
        #expect(loan.product == "mortgage")
    }

    @Test func overdueDaysAloneMarksTheLoanOverdue() throws {
        var state = ClientState(id: "C1")
        state.apply(try event("loan.account", #"{"loanId":"L1","status":"active","overdueDays":2}"#))
        #expect(state.loans["L1"]?.lastOverdueAt == (try instant("2026-11-20T10:00:00+08:00")))
    }

    @Test func repaidLoanKeepsItsLastOverdueTime() throws {
        var state = ClientState(id: "C1")
        state.apply(try event("loan.account", #"{"loanId":"L1","status":"overdue","overdueDays":3}"#,
                              at: "2026-11-05T10:00:00+08:00"))
        state.apply(try event("loan.account",
            #"{"loanId":"L1","status":"repaid","repaidDate":"2026-11-20","outstanding":"0"}"#,
            at: "2026-11-20T10:00:00+08:00"))
        let loan = try #require(state.loans["L1"])
        #expect(loan.status == "repaid")
        #expect(loan.repaidDate == LocalDate(year: 2026, month: 11, day: 20))
        let lastOverdue = try instant("2026-11-05T10:00:00+08:00")
        #expect(loan.lastOverdueAt == lastOverdue)
    }

    @Test func wealthTradesNetAndNeverGoBelowZero() throws {
        var state = ClientState(id: "C1")
        let bought = state.apply(try event("wealth.trade", #"{"productId":"P1","action":"buy","amount":"1000"}"#))
        #expect(bought == [.activity, .holding("P1"), .wealthPurchase])
        #expect(state.holdings["P1"]?.amount == 1000)
        #expect(state.lastWealthPurchaseAt == (try instant("2026-11-20T10:00:00+08:00")))

        state.apply(try event("wealth.trade", #"{"productId":"P1","action":"redeem","amount":"300"}"#))
        #expect(state.holdings["P1"]?.amount == 700)

        state.apply(try event("wealth.trade", #"{"productId":"P1","action":"redeem","amount":"5000"}"#,
                              at: "2026-11-22T10:00:00+08:00"))
        #expect(state.holdings["P1"]?.amount == 0)
        #expect(state.holdings["P1"]?.lastTradeAt == (try instant("2026-11-22T10:00:00+08:00")))

        // A redemption of an unknown product holds zero, not a negative amount.
        state.apply(try event("wealth.trade", #"{"productId":"P2","action":"redeem","amount":"10"}"#))
        #expect(state.holdings["P2"]?.amount == 0)
    }

    @Test func corporateFinancialsByPeriod() throws {
        var state = ClientState(id: "C1")
        let changes = state.apply(try event("corporate.financials",
            #"{"period":"2026Q3","totalAssets":"1000000","totalLiabilities":"400000","revenue":"-5"}"#))
        #expect(changes == [.activity, .financials("2026Q3")])
        #expect(state.financials["2026Q3"] == Financials(period: "2026Q3", totalAssets: 1_000_000,
                                                         totalLiabilities: 400_000, revenue: -5))
    }

    @Test func interactionTimeOnlyMovesForward() throws {
        var state = ClientState(id: "C1")
        let changes = state.apply(try event("crm.interaction", #"{"channel":"call"}"#, at: "2026-11-20T10:00:00+08:00"))
        #expect(changes == [.activity])
        state.apply(try event("crm.interaction", #"{"channel":"visit"}"#, at: "2026-11-19T10:00:00+08:00"))
        #expect(state.lastInteractionAt == (try instant("2026-11-20T10:00:00+08:00")))
        #expect(state.lastEventAt == (try instant("2026-11-20T10:00:00+08:00")))
    }

    // MARK: Activity and determinism

    @Test func lastEventAtOnlyMovesForward() throws {
        var state = ClientState(id: "C1")
        state.apply(try event("x.custom", "{}", at: "2026-11-20T10:00:00+08:00"))
        state.apply(try event("x.custom", "{}", at: "2026-11-18T10:00:00+08:00"))
        #expect(state.lastEventAt == (try instant("2026-11-20T10:00:00+08:00")))
        state.apply(try event("x.custom", "{}", at: "2026-11-21T10:00:00+08:00"))
        #expect(state.lastEventAt == (try instant("2026-11-21T10:00:00+08:00")))
    }

    @Test func unknownTypeOnlyRecordsActivity() throws {
        var state = ClientState(id: "C1")
        let changes = state.apply(try event("x.custom", #"{"amount":"5","accountId":"A1"}"#))
        #expect(changes == [.activity])
        var expected = ClientState(id: "C1")
        expected.lastEventAt = try instant("2026-11-20T10:00:00+08:00")
        #expect(state == expected)
    }

    @Test func nonObjectDataChangesNothing() {
        var state = ClientState(id: "C1")
        let odd = Event(id: "e", source: "test", type: "client.profile", time: Date(timeIntervalSince1970: 0),
                        clientId: "C1", data: .array([]))
        #expect(state.apply(odd) == [])
        #expect(state == ClientState(id: "C1"))
    }

    @Test func sameEventsGiveTheSameState() throws {
        let events = [
            try event("client.profile", #"{"name":"张三","tags":["x"]}"#, at: "2026-11-01T10:00:00+08:00"),
            try event("account.transaction", #"{"accountId":"A1","amount":"5","direction":"credit","balanceAfter":"5"}"#),
            try event("account.balance", #"{"asOf":"2026-11-20","aum":"5"}"#),
            try event("wealth.trade", #"{"productId":"P1","action":"buy","amount":"3"}"#),
            try event("loan.account", #"{"loanId":"L1","status":"overdue"}"#),
        ]
        var first = ClientState(id: "C1")
        var second = ClientState(id: "C1")
        for item in events { first.apply(item) }
        for item in events { second.apply(item) }
        #expect(first == second)
        #expect(first != ClientState(id: "C1"))
    }

    // MARK: Managers

    @Test func managerProfileIsAPartialUpdate() throws {
        var manager = ManagerState(id: "M1")
        manager.apply(try JSONParser.parse(#"{"managerId":"M1","name":"王小明","branchId":"B1","mobile":"13900000000"}"#))
        manager.apply(try JSONParser.parse(#"{"mobile":null,"email":"w@example.com","active":false}"#))
        #expect(manager.name == "王小明")
        #expect(manager.branchId == "B1")
        #expect(manager.mobile == nil)
        #expect(manager.email == "w@example.com")
        #expect(!manager.active)
    }
}
