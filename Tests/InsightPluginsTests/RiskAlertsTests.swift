import Foundation
import InsightCore
import InsightPlugins
import InsightTesting
import Logging
import Testing

private let shanghai = TimeZone(identifier: "Asia/Shanghai")!

/// An instant `minutes` after `base` (RFC 3339, Shanghai), as RFC 3339 text for the fixtures.
private func time(_ base: String = "2026-11-20T08:00:00+08:00", plus minutes: Int = 0) -> String {
    RFC3339.format(RFC3339.parse(base)!.addingTimeInterval(Double(minutes) * 60), timeZone: shanghai)
}

private func debit(_ id: String, _ amount: String, at: String, account: String = "6222020200112233",
                   channel: String = "transfer") -> Event {
    EventFixtures.transaction(id, client: "C1", amount: amount, direction: "debit", channel: channel, account: account, at: at)
}

private func credit(_ id: String, _ amount: String, at: String, account: String = "6222020200112233",
                    channel: String = "transfer") -> Event {
    EventFixtures.transaction(id, client: "C1", amount: amount, direction: "credit", channel: channel, account: account, at: at)
}

private func balance(_ id: String, asOf: String, aum: String) -> Event {
    EventFixtures.event(id, EventType.accountBalance, client: "C1", at: asOf + "T20:00:00+08:00",
                        data: ["asOf": .string(asOf), "aum": .string(aum)])
}

private func loan(_ id: String, days: Int, status: String, at: String, loanId: String = "LN2026000123") -> Event {
    EventFixtures.event(id, EventType.loanAccount, client: "C1", at: at, data: [
        "loanId": .string(loanId), "product": .string("business"), "outstanding": .string("800000"),
        "status": .string(status), "overdueDays": .number(String(days)),
    ])
}

private func financials(_ id: String, period: String, assets: String, liabilities: String, cashFlow: String) -> Event {
    EventFixtures.event(id, EventType.corporateFinancials, client: "C1", at: "2026-11-20T10:00:00+08:00", data: [
        "period": .string(period), "totalAssets": .string(assets), "totalLiabilities": .string(liabilities),
        "operatingCashFlow": .string(cashFlow),
    ])
}

private func configuration(_ json: String) throws -> RiskAlertsConfiguration {
    try JSONDecoder().decode(RiskAlertsConfiguration.self, from: Data(json.utf8))
}

/// Runs events through the plugin the way the dispatcher does: each event is projected into its client's
/// state first, then handed to the plugin with that client's stored memory (as JSON, so every event goes
/// through the memory's round trip), which is kept for the next event.
private struct Harness {
    let plugin: RiskAlertsPlugin
    let loaded: LoadedPlugin
    var locale = "zh-CN"
    var states: [String: ClientState] = [:]
    var stored: [String: JSONValue] = [:]

    init(_ configuration: RiskAlertsConfiguration = RiskAlertsConfiguration(), locale: String = "zh-CN") throws {
        plugin = try RiskAlertsPlugin(configuration: configuration)
        loaded = LoadedPlugin(plugin)
        self.locale = locale
    }

    init(json: String) throws {
        try self.init(configuration(json))
    }

    func context(now: Date, client: ClientState?) -> PluginContext {
        PluginContext(now: now, timeZone: shanghai, locale: locale, logger: Logger(label: "test"), state: InMemoryState(),
                      client: client)
    }

    /// The drafts for one event; `now` is the event time (as in replay) unless given.
    mutating func send(_ event: Event, now: Date? = nil) throws -> [LeadDraft] {
        let id = try #require(event.clientId)
        states[id, default: ClientState(id: id)].apply(event)
        guard loaded.subscribes(to: event.type) else { return [] }
        var memory = stored[id]
        let drafts = try loaded.handle(event, context: context(now: now ?? event.time, client: states[id]), memory: &memory)
        stored[id] = memory
        return drafts
    }

    /// The drafts of all events, in order.
    mutating func send(_ events: [Event]) throws -> [LeadDraft] {
        try events.flatMap { try send($0) }
    }

    func memory(_ client: String = "C1") throws -> RiskMemory {
        try stored[client].map(RiskMemory.init(json:)) ?? RiskMemory()
    }
}

@Suite("risk-alerts: large transactions")
struct RiskLargeTransactionTests {
    @Test func aCashTransactionAtTheCashThresholdIsAnUrgentAMLLead() throws {
        var harness = try Harness()
        let event = debit("E1", "50000.00", at: time(), channel: "cash")

        let drafts = try harness.send(event)

        let draft = try #require(drafts.first)
        #expect(drafts.count == 1)
        #expect(draft.kind == "risk_large_transaction")
        #expect(draft.priority == .urgent)
        #expect(draft.key == "large_transaction:core-banking:E1")
        #expect(draft.clientId == "C1")
        #expect(draft.sourceEvents == ["E1"])
        #expect(draft.dueAt == event.time, "urgent alerts are due at once (context.now)")
        #expect(draft.title == "大额现金交易：¥50,000")
        #expect(draft.summary.contains("支出¥50,000"))
        #expect(draft.summary.contains("渠道：现金"))
        #expect(draft.suggestedAction.contains("反洗钱"))
        #expect(draft.evidence.contains(Evidence(key: "threshold", label: "预警标准", value: "≥¥50,000（现金）")))
        #expect(draft.evidence.contains(Evidence(key: "accountId", label: "账户", value: "************2233")))
    }

    @Test func belowTheThresholdsNothingIsMade() throws {
        var harness = try Harness()
        #expect(try harness.send(debit("E1", "49999.99", at: time(), channel: "cash")).isEmpty)
        // 60,000 by transfer is far above the cash threshold but below the transfer one.
        #expect(try harness.send(credit("E2", "60000", at: time(plus: 1))).isEmpty)
        #expect(try harness.send(credit("E3", "1999999.99", at: time(plus: 2))).isEmpty)
    }

    @Test func aTransferAtTheTransferThresholdLeads() throws {
        var harness = try Harness()
        let drafts = try harness.send(credit("E1", "2000000", at: time()))
        #expect(drafts.map(\.kind) == ["risk_large_transaction"])
        #expect(drafts.first?.title == "大额转账交易：¥2,000,000")
        #expect(drafts.first?.summary.contains("收入¥2,000,000") == true)
    }

    @Test func aNonCNYTransactionIsNotMeasuredAgainstCNYThresholds() throws {
        var harness = try Harness()
        let event = EventFixtures.event("E1", EventType.accountTransaction, client: "C1", data: [
            "accountId": .string("6222020200112233"), "amount": .string("90000"), "direction": .string("debit"),
            "channel": .string("cash"), "currency": .string("USD"),
        ])
        #expect(try harness.send(event).isEmpty)
    }

    @Test func thresholdsAndCashChannelsComeFromTheConfiguration() throws {
        var harness = try Harness(json: #"{"large_transaction": {"cash_threshold": "10000", "cash_channels": ["cash", "atm"]}}"#)
        #expect(try harness.send(debit("E1", "10000", at: time(), channel: "atm")).map(\.kind) == ["risk_large_transaction"])
        #expect(try harness.send(debit("E2", "9999", at: time(plus: 1), channel: "cash")).isEmpty)

        var off = try Harness(json: #"{"large_transaction": {"enabled": false}}"#)
        #expect(try off.send(debit("E1", "90000", at: time(), channel: "cash")).isEmpty)
    }
}

@Suite("risk-alerts: velocity")
struct RiskVelocityTests {
    /// 11 debits of ¥1,000, evenly spread over `span` minutes.
    private func burst(over span: Int, start: String = "2026-11-20T08:00:00+08:00", prefix: String = "D") -> [Event] {
        (0..<11).map { debit("\(prefix)\($0)", "1000", at: time(start, plus: span * $0 / 10)) }
    }

    @Test func elevenDebitsWithin23h59mLead() throws {
        var harness = try Harness()
        let events = burst(over: 23 * 60 + 59)

        let drafts = try harness.send(events)

        let draft = try #require(drafts.first)
        #expect(drafts.count == 1)
        #expect(draft.kind == "risk_velocity")
        #expect(draft.priority == .urgent)
        #expect(draft.key == "velocity:core-banking:D10")
        #expect(draft.sourceEvents == events.map(\.id))
        #expect(draft.title == "交易频次异常：24小时内支出11笔，合计¥11,000")
        #expect(draft.summary.contains("笔数超过10笔"))
        #expect(!draft.summary.contains("金额超过"))
        #expect(draft.evidence.contains(Evidence(key: "debitCount", label: "支出笔数", value: "11笔（超过10笔预警）")))
        #expect(draft.evidence.contains(Evidence(key: "firstDebitAt", label: "首笔支出时间", value: "2026-11-20 08:00:00")))
        #expect(draft.evidence.contains(Evidence(key: "lastDebitAt", label: "末笔支出时间", value: "2026-11-21 07:59:00")))
    }

    @Test func elevenDebitsSpanning24hAnd1mDoNotLead() throws {
        var harness = try Harness()
        #expect(try harness.send(burst(over: 24 * 60 + 1)).isEmpty)
    }

    @Test func theWindowIncludesBothEnds() throws {
        var harness = try Harness()
        #expect(try harness.send(burst(over: 24 * 60)).map(\.kind) == ["risk_velocity"])
    }

    @Test func tenDebitsAreNotMoreThanTen() throws {
        var harness = try Harness()
        let ten = (0..<10).map { debit("D\($0)", "1000", at: time(plus: $0)) }
        #expect(try harness.send(ten).isEmpty)
        // Credits do not count.
        #expect(try harness.send(credit("C1", "1000", at: time(plus: 11))).isEmpty)
    }

    @Test func aDebitTotalAboveTheLimitLeadsButTheLimitItselfDoesNot() throws {
        var harness = try Harness()
        #expect(try harness.send(debit("D1", "300000", at: time())).isEmpty)
        #expect(try harness.send(debit("D2", "200000", at: time(plus: 60))).isEmpty, "500,000 is not above 500,000")
        let drafts = try harness.send(debit("D3", "0.01", at: time(plus: 120)))
        #expect(drafts.map(\.kind) == ["risk_velocity"])
        #expect(drafts.first?.title == "短时大额支出：24小时内支出3笔，合计¥500,000.01")
        #expect(drafts.first?.summary.contains("金额超过¥500,000") == true)
        #expect(drafts.first?.summary.contains("笔数超过") == false)
    }

    @Test func oneLeadPerBurstThenANewOneAfterAWindow() throws {
        var harness = try Harness()
        let first = try harness.send(burst(over: 60))
        #expect(first.count == 1)
        // The burst goes on: more debits within the window of the alert make nothing new.
        let more = try harness.send((0..<20).map { debit("M\($0)", "1000", at: time(plus: 70 + $0 * 60)) })
        #expect(more.isEmpty)
        // A day and a half later another burst is a new episode.
        let later = try harness.send(burst(over: 60, start: time(plus: 36 * 60 + 60 * 24), prefix: "L"))
        #expect(later.map(\.key) == ["velocity:core-banking:L10"])
    }

    @Test func countAndWindowComeFromTheConfiguration() throws {
        var harness = try Harness(json: #"{"velocity": {"max_debit_count": 2, "window_hours": 1}}"#)
        #expect(try harness.send([debit("D1", "1", at: time()), debit("D2", "1", at: time(plus: 30)),
                                  debit("D3", "1", at: time(plus: 61))]).isEmpty, "D1 left the 1h window")
        #expect(try harness.send(debit("D4", "1", at: time(plus: 62))).map(\.key) == ["velocity:core-banking:D4"])
    }
}

@Suite("risk-alerts: rapid in-out")
struct RiskRapidInOutTests {
    @Test func mostOfALargeCreditPaidOutWithinTheWindowLeadsOnce() throws {
        var harness = try Harness()
        let events = [
            credit("IN", "600000", at: time(), account: "6222020200110001"),
            debit("OUT1", "300000", at: time(plus: 60), account: "6222020200110001"),
            debit("OUT2", "180000", at: time(plus: 5 * 60), account: "6222020200119999"),
        ]
        #expect(try harness.send(Array(events.prefix(2))).isEmpty)

        let drafts = try harness.send(events[2])

        let draft = try #require(drafts.first)
        #expect(drafts.count == 1)
        #expect(draft.kind == "risk_rapid_in_out")
        #expect(draft.priority == .urgent)
        #expect(draft.key == "rapid_in_out:core-banking:IN")
        #expect(draft.sourceEvents == ["IN", "OUT1", "OUT2"])
        #expect(draft.title == "快进快出：¥600,000入账后5小时内转出80%")
        #expect(draft.evidence.contains { $0.key == "credit" && $0.label == "入账" && $0.value == "¥600,000于2026-11-20 08:00:00转入************0001（事件IN）" })
        #expect(draft.evidence.contains { $0.key == "debit1" && $0.label == "第1笔支出" && $0.value.contains("从************0001转出") })
        #expect(draft.evidence.contains { $0.key == "debit2" && $0.value.hasPrefix("¥180,000于") && $0.value.contains("从************9999转出") })
        #expect(draft.evidence.contains { $0.key == "debitTotal" && $0.label == "支出合计" && $0.value.contains("占入账金额80%") })

        // Further debits do not report the same credit again.
        #expect(try harness.send(debit("OUT3", "10000", at: time(plus: 6 * 60))).isEmpty)
    }

    @Test func debitsOutsideTheWindowOrBelowTheRatioDoNotLead() throws {
        var harness = try Harness()
        #expect(try harness.send([
            credit("IN", "600000", at: time()),
            debit("OUT1", "300000", at: time(plus: 60)),
            debit("OUT2", "179999.99", at: time(plus: 120)),  // 79.99 %
            debit("OUT3", "20000", at: time(plus: 24 * 60 + 1)),  // after the 24h window
        ]).isEmpty)
    }

    @Test func aCreditBelowTheMinimumIsNotWatched() throws {
        var harness = try Harness()
        #expect(try harness.send([credit("IN", "499999", at: time()), debit("OUT", "499999", at: time(plus: 10))]).isEmpty)
        #expect(try harness.memory().credits.isEmpty)
    }

    @Test func ratioAndWindowComeFromTheConfiguration() throws {
        var harness = try Harness(json: #"{"rapid_in_out": {"min_credit": 100000, "out_ratio": "0.5", "window_hours": 2}}"#)
        let drafts = try harness.send([credit("IN", "100000", at: time()), debit("OUT", "50000", at: time(plus: 120))])
        #expect(drafts.map(\.key) == ["rapid_in_out:core-banking:IN"])
        #expect(drafts.first?.title == "快进快出：¥100,000入账后2小时内转出50%")
    }
}

@Suite("risk-alerts: dormant reactivation")
struct RiskDormantTests {
    @Test func anAccountQuietFor180DaysMovingALargeAmountLeads() throws {
        var harness = try Harness()
        #expect(try harness.send(credit("E1", "100", at: "2026-05-01T10:00:00+08:00")).isEmpty)

        let drafts = try harness.send(debit("E2", "60000", at: "2026-10-28T10:00:00+08:00"))

        let draft = try #require(drafts.first)
        #expect(drafts.map(\.kind) == ["risk_dormant_reactivation"])
        #expect(draft.priority == .urgent)
        #expect(draft.key == "dormant_reactivation:core-banking:E2")
        #expect(draft.title == "休眠账户异动：沉寂180天后支出¥60,000")
        #expect(draft.evidence.contains(Evidence(key: "previousTransactionAt", label: "上次交易时间", value: "2026-05-01 10:00:00")))
        #expect(draft.evidence.contains(Evidence(key: "quietDays", label: "无交易天数", value: "180天（休眠标准180天）")))
    }

    @Test func aShorterQuietOrASmallerAmountDoesNotLead() throws {
        var harness = try Harness()
        #expect(try harness.send(credit("E1", "100", at: "2026-05-01T10:00:00+08:00")).isEmpty)
        #expect(try harness.send(debit("E2", "60000", at: "2026-10-28T09:59:00+08:00")).isEmpty, "179 days and 23:59")

        var small = try Harness()
        #expect(try small.send(credit("E1", "100", at: "2026-01-01T10:00:00+08:00")).isEmpty)
        #expect(try small.send(debit("E2", "49999", at: "2026-11-20T10:00:00+08:00")).isEmpty)
    }

    @Test func anotherAccountsHistoryDoesNotCount() throws {
        var harness = try Harness()
        #expect(try harness.send(credit("E1", "100", at: "2026-01-01T10:00:00+08:00", account: "6222000000000001")).isEmpty)
        // The first transaction ever seen on an account has no quiet period to measure.
        #expect(try harness.send(debit("E2", "60000", at: "2026-11-20T10:00:00+08:00", account: "6222000000000002")).isEmpty)
    }
}

@Suite("risk-alerts: AUM drop")
struct RiskAUMDropTests {
    @Test func aFallOf30PercentFromThePeakLeadsOncePerEpisode() throws {
        var harness = try Harness()
        #expect(try harness.send([
            balance("B1", asOf: "2026-11-01", aum: "1000000"),
            balance("B2", asOf: "2026-11-10", aum: "900000"),
        ]).isEmpty)

        let drafts = try harness.send(balance("B3", asOf: "2026-11-20", aum: "690000"))

        let draft = try #require(drafts.first)
        #expect(drafts.count == 1)
        #expect(draft.kind == "risk_aum_drop")
        #expect(draft.priority == .normal)
        #expect(draft.key == "aum_drop:C1:2026-11-01")
        #expect(draft.title == "资产流失预警：AUM较近期高点下降31%")
        #expect(draft.dueAt == LocalDate("2026-11-20")?.instant(in: shanghai), "churn leads are due today")
        #expect(draft.evidence.contains(Evidence(key: "peakAum", label: "近期资产高点", value: "¥1,000,000（2026-11-01）")))

        // The slide goes on: the same episode makes nothing new.
        #expect(try harness.send(balance("B4", asOf: "2026-11-21", aum: "650000")).isEmpty)
        // A recovery, then a new fall of 30 %: a new episode, keyed on the new peak.
        #expect(try harness.send(balance("B5", asOf: "2026-11-25", aum: "1200000")).isEmpty)
        #expect(try harness.send(balance("B6", asOf: "2026-11-28", aum: "800000")).map(\.key) == ["aum_drop:C1:2026-11-25"])
    }

    @Test func aSmallerFallOrAPeakOutsideTheLookbackDoesNotLead() throws {
        var harness = try Harness()
        #expect(try harness.send([
            balance("B1", asOf: "2026-11-01", aum: "1000000"),
            balance("B2", asOf: "2026-11-20", aum: "700000.01"),
        ]).isEmpty, "29.99999 %")

        var old = try Harness()
        #expect(try old.send([
            balance("B1", asOf: "2026-10-01", aum: "1000000"),
            balance("B2", asOf: "2026-11-20", aum: "100000"),
        ]).isEmpty, "the peak is 50 days back")
        #expect(try old.memory().snapshots.map(\.asOf.description) == ["2026-11-20"], "the old snapshot expired")
    }
}

@Suite("risk-alerts: no wealth purchase")
struct RiskNoPurchaseTests {
    private func client(_ id: String, segment: String, lastPurchase: String?, closed: Bool = false) -> ClientState {
        var state = ClientState(id: id)
        state.profile.segment = segment
        state.profile.status = closed ? "closed" : "active"
        state.lastWealthPurchaseAt = lastPurchase.flatMap(RFC3339.parse)
        state.holdings["P1"] = Holding(productId: "P1", amount: 200_000)
        return state
    }

    private func tick(_ plugin: RiskAlertsPlugin, clients: [ClientState]) throws -> [LeadDraft] {
        let now = try #require(RFC3339.parse("2026-11-20T09:00:00+08:00"))
        let context = PluginContext(now: now, timeZone: shanghai, locale: "zh-CN", logger: Logger(label: "test"),
                                    state: InMemoryState(clients: clients), client: nil)
        return try plugin.tick(ScheduleTick(scheduledAt: now, localDate: LocalDate(now, in: shanghai)), context: context)
    }

    @Test func wealthClientsWithoutAPurchaseFor90DaysLeadOncePerLapse() throws {
        let plugin = try RiskAlertsPlugin(configuration: RiskAlertsConfiguration())
        let clients = [
            client("C1", segment: "affluent", lastPurchase: "2026-08-19T15:00:00+08:00"),  // 93 days
            client("C2", segment: "mass", lastPurchase: "2026-08-19T15:00:00+08:00"),
            client("C3", segment: "hnw", lastPurchase: "2026-08-19T15:00:00+08:00", closed: true),
            client("C4", segment: "private", lastPurchase: "2026-09-01T10:00:00+08:00"),  // 80 days
            client("C5", segment: "private", lastPurchase: "2026-08-22T08:59:00+08:00"),  // just over 90 days
            client("C6", segment: "hnw", lastPurchase: "2026-08-22T09:01:00+08:00"),  // just under 90 days
            client("C7", segment: "affluent", lastPurchase: nil),
        ]

        let drafts = try tick(plugin, clients: clients)

        #expect(drafts.map(\.key) == ["no_purchase:C1:2026-08-19", "no_purchase:C5:2026-08-22"])
        let draft = try #require(drafts.first)
        #expect(draft.kind == "risk_no_purchase")
        #expect(draft.priority == .normal)
        #expect(draft.clientId == "C1")
        #expect(draft.title == "93天未购买理财产品")
        #expect(draft.dueAt == RFC3339.parse("2026-11-20T00:00:00+08:00"))
        #expect(draft.evidence.contains(Evidence(key: "wealthHoldings", label: "理财持仓", value: "¥200,000")))
        #expect(plugin.schedule == LocalTime(hour: 9, minute: 0))
    }

    @Test func aLapseOlderThanTheCatchUpBandIsNotFoundAgain() throws {
        let plugin = try RiskAlertsPlugin(configuration: RiskAlertsConfiguration())
        let drafts = try tick(plugin, clients: [client("C1", segment: "affluent", lastPurchase: "2026-08-10T10:00:00+08:00")])
        #expect(drafts.isEmpty, "102 days: past 90 + 7 days, found by earlier ticks")
    }

    @Test func segmentsDaysAndScheduleComeFromTheConfiguration() throws {
        let plugin = try RiskAlertsPlugin(configuration: configuration(
            #"{"no_purchase": {"segments": ["mass"], "days": 30, "schedule": "07:30", "catch_up_days": 1}}"#))
        let drafts = try tick(plugin, clients: [
            client("C1", segment: "mass", lastPurchase: "2026-10-20T10:00:00+08:00"),
            client("C2", segment: "affluent", lastPurchase: "2026-10-20T10:00:00+08:00"),
        ])
        #expect(drafts.map(\.key) == ["no_purchase:C1:2026-10-20"])
        #expect(plugin.schedule == LocalTime(hour: 7, minute: 30))

        let off = try RiskAlertsPlugin(configuration: configuration(#"{"no_purchase": {"enabled": false}}"#))
        #expect(off.schedule == nil)
    }
}

@Suite("risk-alerts: overdue loans")
struct RiskOverdueTests {
    @Test func aLoanLeadsWhenNewlyOverdueAndAtEachThreshold() throws {
        var harness = try Harness()
        #expect(try harness.send(loan("L0", days: 0, status: "active", at: "2026-11-01T08:00:00+08:00")).isEmpty)

        let first = try harness.send(loan("L1", days: 1, status: "overdue", at: "2026-11-02T08:00:00+08:00"))
        let draft = try #require(first.first)
        #expect(first.count == 1)
        #expect(draft.kind == "risk_overdue")
        #expect(draft.priority == .high)
        #expect(draft.key == "overdue:C1:LN2026000123:2026-11-01:1")
        #expect(draft.title == "贷款逾期1天：********0123")
        #expect(draft.summary.hasPrefix("经营贷款********0123（余额¥800,000）自11月1日起逾期，当前逾期1天"))
        #expect(draft.summary.contains("已达1天提示节点"))
        #expect(draft.dueAt == RFC3339.parse("2026-11-02T00:00:00+08:00"))

        #expect(try harness.send(loan("L2", days: 15, status: "overdue", at: "2026-11-16T08:00:00+08:00")).isEmpty)
        #expect(try harness.send(loan("L3", days: 30, status: "overdue", at: "2026-12-01T08:00:00+08:00")).map(\.key)
            == ["overdue:C1:LN2026000123:2026-11-01:30"])
        #expect(try harness.send(loan("L4", days: 31, status: "overdue", at: "2026-12-02T08:00:00+08:00")).isEmpty)
        // A missed file: 31 → 95 days crosses 60 and 90; one lead names the highest.
        #expect(try harness.send(loan("L5", days: 95, status: "overdue", at: "2027-02-04T08:00:00+08:00")).map(\.key)
            == ["overdue:C1:LN2026000123:2026-11-01:90"])
    }

    @Test func aCuredLoanEndsTheEpisodeAndANewOneLeadsAgain() throws {
        var harness = try Harness()
        #expect(try harness.send(loan("L1", days: 3, status: "overdue", at: "2026-11-04T08:00:00+08:00")).count == 1)
        #expect(try harness.memory().overdueLoans["LN2026000123"]?.days == 3)

        #expect(try harness.send(loan("L2", days: 0, status: "active", at: "2026-11-05T08:00:00+08:00")).isEmpty)
        #expect(try harness.memory().overdueLoans.isEmpty)
        #expect(try harness.memory().isEmpty)

        #expect(try harness.send(loan("L3", days: 2, status: "overdue", at: "2027-01-10T08:00:00+08:00")).map(\.key)
            == ["overdue:C1:LN2026000123:2027-01-08:1"])
    }

    @Test func aLoanInGoodStandingDoesNotLead() throws {
        var harness = try Harness()
        #expect(try harness.send(loan("L1", days: 0, status: "active", at: "2026-11-04T08:00:00+08:00")).isEmpty)
        #expect(try harness.send(loan("L2", days: 0, status: "repaid", at: "2026-11-05T08:00:00+08:00")).isEmpty)
        #expect(try harness.memory().isEmpty)
    }

    @Test func statusOverdueWithoutDaysIsNewlyOverdue() throws {
        var harness = try Harness(json: #"{"overdue": {"thresholds": [30, 60]}}"#)
        let drafts = try harness.send(loan("L1", days: 0, status: "overdue", at: "2026-11-04T08:00:00+08:00"))
        #expect(drafts.map(\.key) == ["overdue:C1:LN2026000123:2026-11-04:0"])
        #expect(drafts.first?.title == "贷款转为逾期：********0123")
        #expect(drafts.first?.summary.contains("新转逾期") == true)
        #expect(try harness.send(loan("L2", days: 5, status: "overdue", at: "2026-11-09T08:00:00+08:00")).isEmpty)
    }
}

@Suite("risk-alerts: corporate leverage")
struct RiskCorporateLeverageTests {
    @Test func aHighRisingRatioAndTwoNegativeCashFlowsLeadOncePerReason() throws {
        var harness = try Harness()
        #expect(try harness.send(financials("F1", period: "2025Q4", assets: "1000000", liabilities: "550000", cashFlow: "-1000"))
            .isEmpty)
        // An annual report is not the previous period of a quarter, though "2026" sorts between 2025Q4 and 2026Q1.
        #expect(try harness.send(financials("F2", period: "2026", assets: "1000000", liabilities: "100000", cashFlow: "5"))
            .isEmpty)

        let drafts = try harness.send(financials("F3", period: "2026Q1", assets: "1000000", liabilities: "720000",
                                                 cashFlow: "-20000"))

        #expect(drafts.map(\.key) == [
            "corporate_leverage:C1:2026Q1:debt_ratio",
            "corporate_leverage:C1:2026Q1:debt_ratio_rise",
            "corporate_leverage:C1:2026Q1:negative_cash_flow",
        ])
        #expect(drafts.allSatisfy { $0.kind == "risk_corporate_leverage" && $0.priority == .high && $0.sourceEvents == ["F3"] })
        #expect(drafts.map(\.title) == ["资产负债率偏高：72%（2026Q1）", "资产负债率上升17个百分点（2026Q1）",
                                        "经营现金流连续2期为负（2026Q1）"])
        #expect(drafts[1].summary.contains("由2025Q4的55%升至2026Q1的72%"))
        #expect(drafts[2].evidence.contains(Evidence(key: "operatingCashFlow", label: "经营活动现金流", value: "2025Q4 ¥-1,000、2026Q1 ¥-20,000")))
    }

    @Test func aSoundCompanyDoesNotLead() throws {
        var harness = try Harness()
        #expect(try harness.send([
            financials("F1", period: "2025", assets: "1000000", liabilities: "550000", cashFlow: "-1000"),
            financials("F2", period: "2026", assets: "1000000", liabilities: "640000", cashFlow: "3000"),  // +9 points
        ]).isEmpty)
        // 70 % is not above 70 %.
        #expect(try harness.send(financials("F3", period: "2027", assets: "1000000", liabilities: "700000", cashFlow: "1"))
            .isEmpty)
    }
}

@Suite("risk-alerts: memory")
struct RiskMemoryTests {
    @Test func theMemoryRoundTripsThroughJSON() throws {
        var harness = try Harness()
        _ = try harness.send([
            credit("IN", "600000.50", at: time()),
            debit("OUT", "1000.25", at: time(plus: 1)),
            balance("B1", asOf: "2026-11-01", aum: "1000000"),
            balance("B2", asOf: "2026-11-20", aum: "500000"),
            loan("L1", days: 3, status: "overdue", at: time(plus: 3)),
        ] + (0..<11).map { debit("D\($0)", "1", at: time(plus: 10 + $0)) })
        let memory = try harness.memory()
        #expect(memory.credits.map(\.amount) == [Decimal(string: "600000.50")!])
        #expect(memory.debits.count == 12)
        #expect(memory.velocityAlertAt != nil)
        #expect(memory.aumAlertAsOf == LocalDate("2026-11-20"))
        #expect(memory.overdueLoans["LN2026000123"] == RiskMemory.OverdueLoan(days: 3, since: LocalDate("2026-11-17")!))

        let restored = try RiskMemory(json: memory.json)

        #expect(restored == memory)
        #expect(JSONWriter.string(restored.json) == JSONWriter.string(memory.json))
        #expect(!memory.isEmpty)
        #expect(RiskMemory().isEmpty)
        #expect(try RiskMemory(json: RiskMemory().json).isEmpty)
    }

    /// Every combination of members (64), with awkward texts: the text written directly is what `JSONWriter`
    /// makes of ``RiskMemory/json``.
    @Test func theDirectTextIsTheWritersTextOfTheJSON() throws {
        let members: [(String, JSONValue)] = [
            ("aum", .array([.array([.string("2026-11-01"), .number("1000000")]), .array([.string("2026-11-20"), .number("-0.5")])])),
            ("aumAlertAsOf", .string("2026-11-20")),
            ("credits", .array([
                .array([.number("1764000000000"), .number("600000.50"), .string("E\"1\\/"), .string("core-banking"), .string("A1"), .bool(true)]),
                .array([.number("-5"), .number("1e3"), .string("中文\n"), .string(""), .string("A\u{1}"), .bool(false)]),
            ])),
            ("debits", .array([
                .array([.number("1764000000001"), .number("12345678901234567890.12"), .string("D1"), .string("62220202\u{2028}")]),
                .array([.number("0"), .number("0"), .string(""), .string("")]),
            ])),
            ("overdueLoans", .object([
                "LN2": .array([.number("3"), .string("2026-11-17")]), "LN10": .array([.number("90"), .string("2026-08-01")]),
                "贷款\"": .array([.number("1"), .string("2026-01-01")]),
            ])),
            ("velocityAlertAt", .number("1764000000002")),
        ]
        for mask in 0..<(1 << members.count) {
            var object: [String: JSONValue] = [:]
            for (index, member) in members.enumerated() where mask & (1 << index) != 0 { object[member.0] = member.1 }
            let memory = try RiskMemory(json: .object(object))
            var direct = ""
            memory.writeJSON(into: &direct)
            #expect(direct == JSONWriter.string(memory.json), "members \(object.keys.sorted())")
            #expect(direct == JSONWriter.string(.object(object)), "members \(object.keys.sorted())")
        }
    }

    @Test(arguments: ["1234.50", "-0.01", "0", "1e3", "12345678901234567890.12", "9999999999999999999"])
    func storedAmountsReadBackExactly(_ literal: String) throws {
        let json = JSONValue.object(["debits": .array([.array([.number("1"), .number(literal), .string("E1"), .string("A1")])])])
        let memory = try RiskMemory(json: json)
        #expect(memory.debits.first?.amount == Decimal(string: literal))
        #expect(memory.json == json, "the amount is written back as it was stored")
    }

    @Test func aMemoryOfTheWrongShapeIsRejected() {
        #expect(throws: PluginMemoryError.self) { try RiskMemory(json: .array([])) }
        #expect(throws: PluginMemoryError.self) { try RiskMemory(json: .object(["debits": .object([:])])) }
        #expect(throws: PluginMemoryError.self) {
            try RiskMemory(json: .object(["debits": .array([.object(["t": .string("x")])])]))
        }
        #expect(throws: PluginMemoryError.self) {
            try RiskMemory(json: .object(["debits": .array([.array([.number("1"), .string("12"), .string("E1"), .string("A")])])]))
        }
        #expect(throws: PluginMemoryError.self) {
            try RiskMemory(json: .object(["debits": .array([.array([.number("1"), .number("1.2.3"), .string("E1"), .string("A")])])]))
        }
    }

    @Test func debitsAndCreditsOlderThanTheLongestWindowExpire() throws {
        var harness = try Harness(json: #"{"velocity": {"window_hours": 24}, "rapid_in_out": {"window_hours": 48}}"#)
        _ = try harness.send([
            credit("IN", "600000", at: time()),
            debit("D1", "10", at: time(plus: 60)),
            debit("D2", "10", at: time(plus: 47 * 60)),
        ])
        #expect(try harness.memory().debits.map(\.eventId) == ["D1", "D2"])
        #expect(try harness.memory().credits.map(\.eventId) == ["IN"])

        _ = try harness.send(debit("D3", "10", at: time(plus: 60 + 48 * 60 + 1)))

        let memory = try harness.memory()
        #expect(memory.debits.map(\.eventId) == ["D2", "D3"], "D1 is more than 48h older than D3")
        #expect(memory.credits.isEmpty)
    }

    @Test func theVelocityAlertExpiresWithItsWindow() throws {
        var harness = try Harness(json: #"{"rapid_in_out": {"enabled": false}}"#)
        _ = try harness.send((0..<11).map { debit("D\($0)", "1", at: time(plus: $0)) })
        #expect(try harness.memory().velocityAlertAt != nil)
        _ = try harness.send(debit("LATE", "1", at: time(plus: 3 * 24 * 60)))
        let memory = try harness.memory()
        #expect(memory.velocityAlertAt == nil)
        #expect(memory.debits.map(\.eventId) == ["LATE"])
    }

    @Test func theDebitListIsCapped() throws {
        var harness = try Harness(json: #"{"velocity": {"enabled": false}}"#)
        _ = try harness.send((0..<(RiskMemory.maximumDebits + 30)).map { debit("D\($0)", "1", at: time(plus: $0)) })
        let memory = try harness.memory()
        #expect(memory.debits.count == RiskMemory.maximumDebits)
        #expect(memory.debits.first?.eventId == "D30")
        #expect(memory.debits.last?.eventId == "D\(RiskMemory.maximumDebits + 29)")
    }

    @Test func aLateDebitIsKeptInEventTimeOrder() throws {
        var harness = try Harness()
        _ = try harness.send([debit("D1", "1", at: time()), debit("D3", "1", at: time(plus: 20)),
                              debit("D2", "1", at: time(plus: 10))])
        #expect(try harness.memory().debits.map(\.eventId) == ["D1", "D2", "D3"])
    }

    @Test func whatASwitchedOffRuleRememberedIsForgottenOnTheNextEvent() throws {
        var before = try Harness()
        _ = try before.send([
            credit("IN", "600000", at: time()), debit("OUT", "10", at: time(plus: 1)),
            balance("B1", asOf: "2026-11-19", aum: "100"), loan("L1", days: 3, status: "overdue", at: time(plus: 2)),
        ])
        let remembered = try before.memory()
        #expect(!remembered.debits.isEmpty && !remembered.credits.isEmpty && !remembered.snapshots.isEmpty
                && !remembered.overdueLoans.isEmpty)

        // After a reload with every remembering rule off, the next event (of a type still watched) clears it.
        var after = try Harness(json: """
            {"velocity": {"enabled": false}, "rapid_in_out": {"enabled": false}, "aum_drop": {"enabled": false},
             "overdue": {"enabled": false}}
            """)
        after.states = before.states
        after.stored = before.stored
        #expect(try after.send(credit("E9", "1", at: time(plus: 3))).isEmpty)
        #expect(after.stored["C1"] == nil)
    }

    @Test func withTheWindowedRulesOffNothingIsRemembered() throws {
        var harness = try Harness(json: #"{"velocity": {"enabled": false}, "rapid_in_out": {"enabled": false}}"#)
        _ = try harness.send([credit("IN", "900000", at: time()), debit("OUT", "900000", at: time(plus: 1))])
        #expect(harness.stored["C1"] == nil, "an empty memory is not stored")
    }
}

@Suite("risk-alerts: configuration, texts, determinism, masking")
struct RiskAlertsPluginTests {
    @Test func theDefaultsAreTheDocumentedOnes() throws {
        let defaults = try configuration("{}")
        #expect(defaults.enabled)
        #expect(defaults.largeTransaction.cashThreshold == 50_000)
        #expect(defaults.largeTransaction.transferThreshold == 2_000_000)
        #expect(defaults.velocity.maxDebitCount == 10)
        #expect(defaults.velocity.maxDebitTotal == 500_000)
        #expect(defaults.velocity.windowHours == 24)
        #expect(defaults.rapidInOut.minCredit == 500_000)
        #expect(defaults.rapidInOut.outRatio == Decimal(string: "0.8"))
        #expect(defaults.dormantReactivation.dormantDays == 180)
        #expect(defaults.aumDrop.dropPercent == 30)
        #expect(defaults.aumDrop.lookbackDays == 30)
        #expect(defaults.noPurchase.days == 90)
        #expect(defaults.noPurchase.segments == ["affluent", "hnw", "private"])
        #expect(defaults.overdue.thresholds == [1, 30, 60, 90])
        #expect(defaults.corporateLeverage.maxDebtRatio == Decimal(string: "0.7"))
        #expect(defaults.corporateLeverage.ratioRisePoints == 10)
        #expect(defaults.corporateLeverage.negativeCashFlowPeriods == 2)
    }

    @Test func subscriptionsFollowTheEnabledRules() throws {
        let all = try RiskAlertsPlugin(configuration: RiskAlertsConfiguration())
        #expect(all.subscriptions.map(\.pattern)
            == ["account.transaction", "account.balance", "loan.account", "corporate.financials"])
        let some = try RiskAlertsPlugin(configuration: configuration("""
            {"large_transaction": {"enabled": false}, "velocity": {"enabled": false}, "rapid_in_out": {"enabled": false},
             "dormant_reactivation": {"enabled": false}, "corporate_leverage": {"enabled": false}}
            """))
        #expect(some.subscriptions.map(\.pattern) == ["account.balance", "loan.account"])
    }

    @Test(arguments: [
        (#"{"rapid_in_out": {"out_ratio": 1.5}}"#, "out_ratio"),
        (#"{"rapid_in_out": {"out_ratio": "eighty"}}"#, "out_ratio"),
        (#"{"large_transaction": {"cash_threshold": 0}}"#, "cash_threshold"),
        (#"{"velocity": {"window_hours": 0}}"#, "window_hours"),
        (#"{"velocity": {"max_debit_count": 500}}"#, "max_debit_count"),
        (#"{"aum_drop": {"drop_percent": 120}}"#, "drop_percent"),
        (#"{"overdue": {"thresholds": [30, 1]}}"#, "thresholds"),
        (#"{"no_purchase": {"segments": ["vip"]}}"#, "segments"),
        (#"{"no_purchase": {"schedule": "25:00"}}"#, "schedule"),
        (#"{"corporate_leverage": {"negative_cash_flow_periods": 0}}"#, "negative_cash_flow_periods"),
    ])
    func invalidValuesAreRejectedAtTheirKey(_ json: String, _ key: String) throws {
        let error = #expect(throws: DecodingError.self) { try configuration(json) }
        guard case .dataCorrupted(let context) = error else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
            return
        }
        #expect(context.codingPath.last?.stringValue == key, "\(json)")
    }

    @Test func aTemplateOverrideRendersAndTheRestStaysBuiltIn() throws {
        var harness = try Harness(json: """
            {"templates": {"zh-CN": {"risk_large_transaction": {"title": "请复核：{{amount}}（{{account}}）"}}}}
            """)
        let draft = try #require(try harness.send(debit("E1", "80000", at: time(), channel: "cash")).first)
        #expect(draft.title == "请复核：¥80,000（************2233）")
        #expect(draft.suggestedAction.contains("反洗钱"), "the built-in action stays")
        #expect(harness.plugin.publishedTexts.contains {
            $0.path == ["templates", "zh-CN", "risk_large_transaction", "title"] && $0.text.hasPrefix("请复核")
        })
    }

    @Test func aTemplateForAnUnknownKindIsRejected() throws {
        let config = try configuration(#"{"templates": {"en": {"risk_velocty": {"title": "x"}}}}"#)
        let error = #expect(throws: PluginConfigurationError.self) { try RiskAlertsPlugin(configuration: config) }
        #expect(error?.path == ["templates", "en", "risk_velocty"])
    }

    @Test func everyKindHasCompleteTextsInBothLocales() throws {
        let plugin = try RiskAlertsPlugin(configuration: RiskAlertsConfiguration())
        for locale in ["zh-CN", "en"] {
            for kind in RiskLeadKind.all {
                for field in ["title", "summary", "suggested_action"] {
                    let text = plugin.publishedTexts.first { $0.path == ["templates", locale, kind, field] }
                    #expect(text.map { !$0.text.isEmpty } == true, "\(locale) \(kind) \(field)")
                }
            }
        }
    }

    @Test func englishTextsRenderForTheEnglishLocale() throws {
        var harness = try Harness(RiskAlertsConfiguration(), locale: "en")
        let draft = try #require(try harness.send(debit("E1", "80000", at: time(), channel: "cash")).first)
        #expect(draft.title == "Large cash transaction: CNY 80,000")
        #expect(draft.suggestedAction.hasPrefix("Review under AML procedure"))
    }

    @Test func theSameEventsGiveTheSameDrafts() throws {
        let events: [Event] = [
            credit("IN", "600000", at: time(), account: "6222020200110001"),
            debit("OUT1", "560000", at: time(plus: 30), channel: "cash"),
            balance("B1", asOf: "2026-11-01", aum: "1000000"),
            balance("B2", asOf: "2026-11-20", aum: "100000"),
            loan("L1", days: 45, status: "overdue", at: time(plus: 60)),
            financials("F1", period: "2026Q3", assets: "100", liabilities: "90", cashFlow: "1"),
        ] + (0..<11).map { debit("D\($0)", "10", at: time(plus: 100 + $0)) }
        var first = try Harness(), second = try Harness()

        let once = try first.send(events)
        let again = try second.send(events)

        #expect(once.count == 6)
        #expect(Set(once.map(\.kind)) == Set(RiskLeadKind.all).subtracting(["risk_no_purchase", "risk_dormant_reactivation"]))
        #expect(once == again)
        #expect(first.stored == second.stored)
    }

    @Test func evidenceAndTextsCarryNoFullAccountNumberOrCounterparty() throws {
        var harness = try Harness()
        let account = "6222020200118888"
        let data: [String: JSONValue] = [
            "accountId": .string(account), "amount": .string("3000000"), "direction": .string("credit"),
            "channel": .string("transfer"), "counterparty": .string("王小明"),
        ]
        let events = [
            EventFixtures.event("E0", EventType.accountTransaction, client: "C1", at: "2026-01-02T10:00:00+08:00", data: data),
            EventFixtures.event("E1", EventType.accountTransaction, client: "C1", at: time(), data: data),
            debit("E2", "2900000", at: time(plus: 10), account: account),
        ]

        let drafts = try harness.send(events)

        #expect(Set(drafts.map(\.kind)) == ["risk_large_transaction", "risk_dormant_reactivation", "risk_velocity",
                                            "risk_rapid_in_out"])
        for draft in drafts {
            let shown = [draft.title, draft.summary, draft.suggestedAction] + draft.evidence.map(\.value)
            #expect(!shown.contains { $0.contains(account) || $0.contains("王小明") || $0.contains("小明") }, "\(draft.kind)")
        }
        let large = try #require(drafts.first { $0.kind == "risk_large_transaction" })
        #expect(large.evidence.contains(Evidence(key: "counterparty", label: "交易对手", value: "王**")))
        #expect(large.summary.contains("交易对手：王**"))
    }

    @Test func theBuiltinRegistrationBuildsThePlugin() throws {
        struct Loaded: Decodable {
            let plugin: LoadedPlugin
            init(from decoder: any Decoder) throws {
                guard let registration = BuiltinPlugins.registration(id: "risk-alerts") else {
                    throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "risk-alerts is not registered"))
                }
                plugin = try registration.load(from: decoder)
            }
        }
        let loaded = try JSONDecoder().decode(Loaded.self, from: Data(#"{"overdue": {"thresholds": [5]}}"#.utf8)).plugin
        #expect(loaded.id == "risk-alerts")
        #expect(loaded.enabled)
        #expect(loaded.usesMemory)
        #expect(loaded.schedule == LocalTime(hour: 9, minute: 0))
        #expect(loaded.subscribes(to: "loan.account"))
        #expect(!loaded.subscribes(to: "client.profile"))
    }
}

/// The memory as the dispatcher keeps it between events: decoded once, changed in place, and reported as
/// changed (so the client's row is written) exactly when its stored form changed.
@Suite("risk-alerts: memory kept decoded")
struct RiskLiveMemoryTests {
    let loaded = LoadedPlugin(try! RiskAlertsPlugin(configuration: RiskAlertsConfiguration()))

    func context(_ event: Event) -> PluginContext {
        var state = ClientState(id: "C1")
        state.apply(event)
        return PluginContext(now: event.time, timeZone: shanghai, locale: "zh-CN", logger: Logger(label: "test"),
                             state: InMemoryState(), client: state)
    }

    /// Handles `event` on `live`; the flag the plugin reports, and the stored form before and after.
    func handle(_ event: Event, _ live: LiveMemory) throws -> (changed: Bool, before: JSONValue?, after: JSONValue?) {
        let before = loaded.storedMemory(live)
        var changed = false
        _ = try loaded.handle(event, context: context(event), live: live, changed: &changed)
        return (changed, before, loaded.storedMemory(live))
    }

    @Test func aSmallCreditChangesNothingADebitDoesAndAnOldDebitExpires() throws {
        let live = loaded.liveMemory(stored: nil)
        let small = try handle(credit("E1", "100", at: time()), live)
        #expect(!small.changed && small.after == nil, "a credit below rapid in-out's minimum is not remembered")

        let first = try handle(debit("E2", "300", at: time(plus: 1)), live)
        #expect(first.changed)
        #expect(try RiskMemory(json: try #require(first.after)).debits.map(\.eventId) == ["E2"])

        let quiet = try handle(credit("E3", "100", at: time(plus: 2)), live)
        #expect(!quiet.changed && quiet.after == quiet.before, "nothing left the window: nothing to write")

        // Three days later the first debit has left every window: the memory changes by the new debit and the expiry.
        let later = try handle(debit("E4", "500", at: time(plus: 3 * 24 * 60)), live)
        #expect(later.changed)
        #expect(try RiskMemory(json: try #require(later.after)).debits.map(\.eventId) == ["E4"])
    }

    /// A debit so late that it is already outside every window is not remembered, and the memory is not reported
    /// as changed (its row would be written for nothing); one late but inside the window is remembered in order.
    @Test func aDebitLateBeyondEveryWindowChangesNothing() throws {
        let live = loaded.liveMemory(stored: nil)
        _ = try handle(debit("E1", "300", at: time(plus: 3 * 24 * 60)), live)
        let tooLate = try handle(debit("E0", "400", at: time()), live)
        #expect(!tooLate.changed && tooLate.after == tooLate.before)
        let lateInside = try handle(debit("E2", "500", at: time(plus: 3 * 24 * 60 - 60)), live)
        #expect(lateInside.changed)
        #expect(try RiskMemory(json: try #require(lateInside.after)).debits.map(\.eventId) == ["E2", "E1"])
    }

    /// Over a mixed sequence (debits, large and small credits, balances, overdue loans, late events), the flag the
    /// plugin reports without a copy agrees with comparing the stored form before and after every event.
    @Test func theReportedChangeAgreesWithComparingTheStoredForm() throws {
        let live = loaded.liveMemory(stored: nil)
        var state: UInt64 = 7
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        var minutes = 0
        var changes = 0, unchanged = 0
        for index in 0..<600 {
            minutes += next(240) - 20  // mostly forward, sometimes a little late
            let at = time(plus: minutes)
            let event: Event = switch next(6) {
            case 0, 1: debit("D\(index)", ["300", "12000.50", "49999.99", "80000"][next(4)], at: at)
            case 2: credit("C\(index)", ["100", "600000"][next(2)], at: at)
            case 3: balance("B\(index)", asOf: String(at.prefix(10)), aum: ["1000000", "400000", "1000000"][next(3)])
            case 4: loan("L\(index)", days: next(3) * 10, status: next(2) == 0 ? "normal" : "overdue", at: at)
            default: credit("S\(index)", "50", at: at)
            }
            let outcome = try handle(event, live)
            #expect(outcome.changed == (outcome.before != outcome.after), "event \(index) (\(event.type))")
            if outcome.changed { changes += 1 } else { unchanged += 1 }
        }
        #expect(changes > 50 && unchanged > 50, "both cases were exercised (\(changes) changed, \(unchanged) not)")
    }

    @Test func anotherPluginsMemoryIsRefused() throws {
        struct Counting: Plugin {
            struct Memory: PluginMemory {
                var count = 0
                init() {}
                init(json: JSONValue) throws { count = Int(json.stringValue ?? "") ?? 0 }
                var json: JSONValue { .string(String(count)) }
                var isEmpty: Bool { count == 0 }
            }
            static let id = "counting"
            static let summary = "counts"
            struct Configuration: PluginConfiguration { var enabled = true }
            let configuration = Configuration()
            init(configuration: Configuration) {}
            var subscriptions: [EventPattern] { [EventPattern("account.*")].compactMap { $0 } }
            func handle(_ event: Event, context: PluginContext, memory: inout Memory) throws -> [LeadDraft] {
                memory.count += 1
                if event.id == "fail" { throw PluginMemoryError("failed after changing its memory") }
                return []
            }
        }
        let counting = LoadedPlugin(Counting(configuration: .init()))
        let event = debit("E1", "300", at: time())
        var changed = false
        #expect(throws: PluginMemoryError.self) {
            try loaded.handle(event, context: context(event), live: counting.liveMemory(stored: nil), changed: &changed)
        }
        // The default for a plugin without its own tracking compares before and after, and changes in place.
        let live = counting.liveMemory(stored: .string("2"))
        _ = try counting.handle(event, context: context(event), live: live, changed: &changed)
        #expect(changed && counting.storedMemory(live) == .string("3"))
        _ = try counting.handle(event, context: context(event), live: live, changed: &changed)
        #expect(counting.storedMemory(live) == .string("4"), "the same decoded memory, changed again")
        // A plugin that fails after changing its memory leaves it as it was: the event is skipped for it.
        changed = false
        let failing = debit("fail", "300", at: time())
        #expect(throws: PluginMemoryError.self) {
            try counting.handle(failing, context: context(failing), live: live, changed: &changed)
        }
        #expect(!changed && counting.storedMemory(live) == .string("4"))
    }
}
