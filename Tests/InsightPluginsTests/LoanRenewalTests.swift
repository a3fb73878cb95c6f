import Foundation
import InsightCore
import InsightPlugins
import InsightTesting
import Testing

private func loanEvent(_ id: String, client: String = "C1", loan: String = "LN0001", at time: String = "2026-11-01T09:00:00+08:00",
                       _ fields: [String: JSONValue]) -> Event {
    var data = fields
    data["loanId"] = .string(loan)
    return EventFixtures.event(id, EventType.loanAccount, client: client, at: time, data: data)
}

private func borrower(_ id: String = "C1", loan: String = "LN0001", maturity: String, outstanding: String = "800000",
                      product: String = "business", extra: [Event] = []) -> ClientState {
    TestBank.client(id, [
        TestBank.profile(id, ["name": "李四", "managerId": "M1", "segment": "corporate"], id: "P-\(id)"),
        loanEvent("L-\(id)", client: id, loan: loan, ["product": .string(product), "principal": "1000000",
                                                       "outstanding": .string(outstanding), "maturityDate": .string(maturity),
                                                       "status": "active", "overdueDays": 0]),
    ] + extra)
}

private func renewals(_ clients: [ClientState], on date: String, calendar: WorkingCalendar = .weekendsOnly,
                      _ edit: (inout LoanRenewalConfiguration) -> Void = { _ in }) throws -> [LeadDraft] {
    var configuration = LoanRenewalConfiguration()
    edit(&configuration)
    let plugin = try LoanRenewalPlugin(configuration: configuration)
    return try plugin.tick(TestBank.tick(date, at: "08:00"),
                           context: TestBank.context(now: "\(date)T08:00:00+08:00", state: InMemoryState(clients: clients),
                                                     calendar: calendar))
}

@Suite struct LoanRenewalTests {
    @Test func aLoanInGoodStandingGetsOneLeadPerWindow() throws {
        let client = borrower(maturity: "2026-12-18")
        // 30 days before: the 30-day window.
        let first = try renewals([client], on: "2026-11-18")
        #expect(first.map(\.key) == ["LN0001:2026-12-18:30"])
        #expect(first.first?.kind == "loan_renewal")
        #expect(first.first?.priority == .normal, "¥800,000 is in the normal tier")
        // 31 days before: nothing yet.
        #expect(try renewals([client], on: "2026-11-17").isEmpty)
        // Inside 7 days: the 7-day window only.
        #expect(try renewals([client], on: "2026-12-11").map(\.key) == ["LN0001:2026-12-18:7"])
        #expect(try renewals([client], on: "2026-12-12").map(\.key) == ["LN0001:2026-12-18:7"], "same key: the ledger keeps one")
        // Past maturity: nothing.
        #expect(try renewals([client], on: "2026-12-19").isEmpty)
    }

    @Test func overdueLoansNeverGetARenewalLead() throws {
        let overdue = borrower(maturity: "2026-12-18", extra: [
            loanEvent("L2", at: "2026-11-05T09:00:00+08:00", ["status": "overdue", "overdueDays": 3]),
        ])
        #expect(try renewals([overdue], on: "2026-11-20").isEmpty)
        // Cured, but overdue within the 180-day look-back: still not in good standing.
        let cured = borrower(maturity: "2026-12-18", extra: [
            loanEvent("L2", at: "2026-08-01T09:00:00+08:00", ["status": "overdue", "overdueDays": 3]),
            loanEvent("L3", at: "2026-08-10T09:00:00+08:00", ["status": "active", "overdueDays": 0]),
        ])
        #expect(try renewals([cured], on: "2026-11-20").isEmpty)
        // Overdue long ago (beyond the look-back): in good standing again.
        let old = borrower(maturity: "2026-12-18", extra: [
            loanEvent("L2", at: "2026-03-01T09:00:00+08:00", ["status": "overdue", "overdueDays": 3]),
            loanEvent("L3", at: "2026-03-10T09:00:00+08:00", ["status": "active", "overdueDays": 0]),
        ])
        #expect(try renewals([old], on: "2026-11-20").count == 1)
        let repaid = borrower(maturity: "2026-12-18", extra: [loanEvent("L2", ["status": "repaid"])])
        #expect(try renewals([repaid], on: "2026-11-20").isEmpty)
    }

    @Test func priorityScalesWithOutstanding() throws {
        let big = borrower("C1", loan: "LN1", maturity: "2026-12-01", outstanding: "6000000")
        let mid = borrower("C2", loan: "LN2", maturity: "2026-12-01", outstanding: "600000")
        let small = borrower("C3", loan: "LN3", maturity: "2026-12-01", outstanding: "60000")
        let drafts = try renewals([big, mid, small], on: "2026-11-20")
        #expect(drafts.map(\.priority) == [.high, .normal, .low])
        let tuned = try renewals([mid], on: "2026-11-20") {
            $0.priorities = [.init(from: 100_000, priority: .urgent)]
        }
        #expect(tuned.first?.priority == .urgent)
    }

    @Test func workingDayWindowsSkipHolidaysAndDueDatesMoveBeforeThem() throws {
        let calendar = WorkingCalendar(holidays: [.init(name: "国庆节", days: (1...7).map { TestBank.date("2026-10-0\($0)") })],
                                       makeUpDays: [TestBank.date("2026-10-10")], years: [2026])
        // Maturing 2026-10-09 (Friday). From 2026-09-28 (Monday): working days 29, 30 Sep, 8, 9 Oct = 4; plus
        // make-up Sunday 27 Sep is before. 11 calendar days.
        let client = borrower(maturity: "2026-10-09")
        let calendarDays = try renewals([client], on: "2026-09-28", calendar: calendar) { $0.windows = [5] }
        #expect(calendarDays.isEmpty, "11 calendar days is outside a 5-day window")
        let workingDays = try renewals([client], on: "2026-09-28", calendar: calendar) {
            $0.windows = [5]
            $0.windowUnit = .workingDays
        }
        #expect(workingDays.map(\.key) == ["LN0001:2026-10-09:5"])
        #expect(workingDays.first?.evidence.contains { $0.key == "window" && $0.value == "剩余4个工作日，在5个工作日提醒范围内" } == true)
        // Maturing on a holiday (2026-10-05): due on the last working day before it, 2026-09-30.
        let holiday = try renewals([borrower(maturity: "2026-10-05")], on: "2026-09-20", calendar: calendar)
        #expect(holiday.first?.dueAt == TestBank.instant("2026-09-30T00:00:00+08:00"))
    }

    @Test func aWorkingDayWindowReachesTheWeekendAfterItsLastDay() throws {
        // Friday 2026-03-06, a 5-working-day window: the last working day is Friday 03-13, and a loan maturing
        // on Saturday 03-14 also has 5 working days left.
        let saturday = try renewals([borrower(maturity: "2026-03-14")], on: "2026-03-06") {
            $0.windows = [5]
            $0.windowUnit = .workingDays
        }
        #expect(saturday.map(\.key) == ["LN0001:2026-03-14:5"])
        let monday = try renewals([borrower(maturity: "2026-03-16")], on: "2026-03-06") {
            $0.windows = [5]
            $0.windowUnit = .workingDays
        }
        #expect(monday.isEmpty, "6 working days left")
    }

    @Test func productFilterLimitsRenewals() throws {
        let mortgage = borrower(maturity: "2026-12-01", product: "mortgage")
        #expect(try renewals([mortgage], on: "2026-11-20") { $0.products = ["business", "working_capital"] }.isEmpty)
        #expect(try renewals([mortgage], on: "2026-11-20").count == 1)
    }

    @Test func earlyRepaymentYieldsARelendingLead() throws {
        let plugin = try LoanRenewalPlugin(configuration: LoanRenewalConfiguration())
        func handle(_ repaidDate: String, client: ClientState) throws -> [LeadDraft] {
            let event = loanEvent("R1", at: "\(repaidDate)T15:00:00+08:00", ["status": "repaid", "repaidDate": .string(repaidDate),
                                                                              "outstanding": "0"])
            var state = client
            state.apply(event)
            return try plugin.handle(event, context: TestBank.context(now: "\(repaidDate)T15:00:00+08:00", client: state))
        }
        let early = try handle("2026-10-01", client: borrower(maturity: "2026-12-18"))
        #expect(early.map(\.key) == ["relending:LN0001:2026-10-01"])
        #expect(early.first?.kind == "relending")
        #expect(early.first?.priority == .normal, "the principal of ¥1,000,000 sets the tier")
        #expect(early.first?.title == "李*提前78天结清经营贷款")
        #expect(early.first?.sourceEvents == ["R1"])
        // Repaid 20 days early: not more than 30.
        #expect(try handle("2026-11-28", client: borrower(maturity: "2026-12-18")).isEmpty)
        // Overdue within the look-back: no re-lending lead.
        let troubled = borrower(maturity: "2026-12-18", extra: [
            loanEvent("L2", at: "2026-09-01T09:00:00+08:00", ["status": "overdue", "overdueDays": 10]),
        ])
        #expect(try handle("2026-10-01", client: troubled).isEmpty)
    }

    @Test func leadsExplainThemselvesWithMaskedIdentifiers() throws {
        let draft = try #require(try renewals([borrower(maturity: "2026-12-18")], on: "2026-11-20").first)
        #expect(draft.title == "李*经营贷款¥800,000将于12月18日到期")
        #expect(draft.summary.contains("还有28个自然日"))
        #expect(!draft.suggestedAction.isEmpty)
        let evidence = Dictionary(uniqueKeysWithValues: draft.evidence.map { ($0.key, $0.value) })
        #expect(evidence["loan"] == "**0001 经营贷款")
        #expect(evidence["window"] == "剩余28天，在30天提醒范围内")
        #expect(evidence["goodStanding"] == "贷款状态正常，当前无逾期，近180天无逾期")
        #expect(draft.evidence.map(\.label) == ["贷款", "贷款余额", "到期日", "提醒范围", "还款记录"])
        #expect(draft.dueAt == TestBank.instant("2026-12-18T00:00:00+08:00"))
        let english = try LoanRenewalPlugin(configuration: LoanRenewalConfiguration()).tick(
            TestBank.tick("2026-11-20"), context: TestBank.context(now: "2026-11-20T08:00:00+08:00",
                                                                   state: InMemoryState(clients: [borrower(maturity: "2026-12-18")]), locale: "en"))
        #expect(english.first?.title == "李*: business loan of CNY 800,000 matures on 18 Dec")
    }

    @Test func badWindowsAreRefused() throws {
        for bad in [#"{"windows": []}"#, #"{"windows": [30, 30]}"#, #"{"windows": [0]}"#, #"{"window_unit": "weeks"}"#] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(LoanRenewalConfiguration.self, from: Data(bad.utf8)) }
        }
    }
}
