import Foundation
import InsightCore

/// A deterministic synthetic bank: client and manager profiles (some with lunar birthdays), loans maturing
/// through the period, term deposits, daily balances, transactions (with a few large and AML-like moves),
/// wealth trades, corporate financials and CRM interactions. The same seed always gives the same events.
///
/// It feeds the plugin benchmark now, and the demo and `insightd simulate` later.
public struct SyntheticBank: Sendable {
    public var clients: Int
    public var managers: Int
    public var start: Date
    public var days: Int
    public var seed: UInt64

    public init(clients: Int, managers: Int? = nil, start: Date, days: Int, seed: UInt64 = 1) {
        self.clients = max(1, clients)
        self.managers = max(1, managers ?? max(1, clients / 200))
        self.start = start
        self.days = max(1, days)
        self.seed = seed
    }

    public static let source = "synthetic-core"

    /// The opening snapshot: one `manager.profile` per manager, then per client a `client.profile`, and for
    /// some a loan and a term deposit. All stamped at `start`.
    public func openingEvents(loanShare: Double = 0.3, depositShare: Double = 0.3) -> [Event] {
        var random = SeededRandom(seed: seed)
        var events: [Event] = []
        events.reserveCapacity(managers + clients * 2)
        for index in 0..<managers {
            events.append(event("mgr-\(index)", EventType.managerProfile, client: nil, at: start, data: [
                "managerId": .string(managerId(index)), "name": .string(Self.surnames[index % Self.surnames.count] + "经理"),
                "branchId": .string("B\(String(format: "%02d", index % 20))"), "mobile": .string("1380000\(String(format: "%04d", index % 10_000))"),
                "wecomUserId": .string("rm\(index)"), "active": true,
            ]))
        }
        let today = LocalDate(start, in: Self.zone)
        for index in 0..<clients {
            let id = clientId(index)
            let segmentRoll = random.unit()
            let segment = segmentRoll < 0.70 ? "mass" : segmentRoll < 0.90 ? "affluent" : segmentRoll < 0.96 ? "hnw"
                : segmentRoll < 0.98 ? "private" : "corporate"
            let birth = LocalDate(dayNumber: Self.day1950 + random.int(0..<(50 * 365)))
            var tags: [JSONValue] = []
            if random.unit() < 0.02 { tags.append("maternity") }
            if random.unit() < 0.05 { tags.append("retirement") }
            if segment == "private" { tags.append("qualified-investor") }
            events.append(event("cp-\(index)", EventType.clientProfile, client: id, at: start, data: [
                "name": .string(Self.surnames[random.int(0..<Self.surnames.count)] + Self.givenNames[random.int(0..<Self.givenNames.count)]),
                "birthDate": .string(birth.description),
                "birthCalendar": .string(random.unit() < 0.2 ? "chinese" : "gregorian"),
                "segment": .string(segment), "riskLevel": .number(String(1 + random.int(0..<5))),
                "riskAssessedAt": .string(today.adding(days: -random.int(0..<500)).description),
                "managerId": .string(managerId(random.int(0..<managers))), "branchId": .string("B\(String(format: "%02d", index % 20))"),
                "tags": .array(tags), "phone": .string("139\(String(format: "%08d", index))"),
                "idNumber": .string("11010119\(String(format: "%010d", index))"),
                "marketingConsent": .bool(random.unit() < 0.9), "status": "active",
            ]))
            if random.unit() < loanShare {
                let principal = (1 + random.int(0..<200)) * 10_000
                events.append(event("ln-\(index)", EventType.loanAccount, client: id, at: start, data: [
                    "loanId": .string("LN\(String(format: "%08d", index))"),
                    "product": .string(["mortgage", "consumer", "business", "working_capital"][random.int(0..<4)]),
                    "principal": .number(String(principal)), "outstanding": .number(String(principal * (20 + random.int(0..<80)) / 100)),
                    "maturityDate": .string(today.adding(days: random.int(0..<(3 * 365))).description),
                    "status": "active", "overdueDays": 0,
                ]))
            }
            if random.unit() < depositShare {
                events.append(event("td-\(index)", EventType.depositTerm, client: id, at: start, data: [
                    "depositId": .string("TD\(String(format: "%08d", index))"), "amount": .number(String((1 + random.int(0..<100)) * 10_000)),
                    "openDate": .string(today.adding(days: -random.int(0..<300)).description),
                    "maturityDate": .string(today.adding(days: random.int(0..<400)).description), "status": "active",
                ]))
            }
        }
        return events
    }

    /// The `index`-th activity event, in time order across the period: mostly transactions, then daily
    /// balances, wealth trades, loan updates, CRM interactions and corporate financials.
    public func activityEvent(_ index: Int, of total: Int) -> Event {
        var random = SeededRandom(seed: seed &+ UInt64(index) &* 0x9E37_79B9)
        let seconds = Double(days * 86_400) * Double(index) / Double(max(1, total))
        let time = start.addingTimeInterval(1 + seconds)
        let clientIndex = random.int(0..<clients)
        let id = clientId(clientIndex)
        let roll = random.unit()
        if roll < 0.80 {
            let large = random.unit() < 0.01
            let amount = large ? (50 + random.int(0..<300)) * 10_000 : 10 + random.int(0..<20_000)
            let channel = random.unit() < 0.1 ? "cash" : random.unit() < 0.5 ? "card" : "transfer"
            return event("tx-\(index)", EventType.accountTransaction, client: id, at: time, data: [
                "accountId": .string("6222020\(String(format: "%09d", clientIndex))"), "amount": .number("\(amount).\(random.int(0..<100))"),
                "currency": "CNY", "direction": .string(random.unit() < 0.5 ? "credit" : "debit"), "channel": .string(channel),
                "counterparty": .string(Self.surnames[random.int(0..<Self.surnames.count)] + "某"),
                "balanceAfter": .number(String(baseBalance(clientIndex) * (95 + random.int(0..<11)) / 100)),
            ])
        } else if roll < 0.90 {
            // AUM moves a few percent around the client's level; now and then a client moves money out.
            let aum = baseBalance(clientIndex) * 2 * (random.unit() < 0.02 ? 40 + random.int(0..<30) : 95 + random.int(0..<11)) / 100
            return event("bal-\(index)", EventType.accountBalance, client: id, at: time, data: [
                "asOf": .string(LocalDate(time, in: Self.zone).description), "aum": .number(String(aum)),
                "deposits": .number(String(aum / 2)), "wealth": .number(String(aum / 3)), "loans": 0,
            ])
        } else if roll < 0.95 {
            return event("wt-\(index)", EventType.wealthTrade, client: id, at: time, data: [
                "productId": .string(["WM-CASH-01", "WM-FIXED-90D", "FD-BAL-01", "FD-EQ-01"][random.int(0..<4)]),
                "action": .string(random.unit() < 0.7 ? "buy" : "redeem"), "amount": .number(String((1 + random.int(0..<50)) * 1000)),
            ])
        } else if roll < 0.97 {
            let overdue = random.unit() < 0.1 ? 1 + random.int(0..<90) : 0
            return event("lu-\(index)", EventType.loanAccount, client: id, at: time, data: [
                "loanId": .string("LN\(String(format: "%08d", clientIndex))"),
                "status": .string(overdue > 0 ? "overdue" : "active"), "overdueDays": .number(String(overdue)),
            ])
        } else if roll < 0.99 {
            return event("crm-\(index)", EventType.crmInteraction, client: id, at: time, data: [
                "managerId": .string(managerId(clientIndex % managers)), "channel": "call", "outcome": "reached",
            ])
        } else {
            let assets = (10 + random.int(0..<1000)) * 100_000
            return event("fin-\(index)", EventType.corporateFinancials, client: id, at: time, data: [
                "period": .string("2026Q\(1 + index % 4)"), "totalAssets": .number(String(assets)),
                "totalLiabilities": .number(String(assets * (30 + random.int(0..<70)) / 100)),
                "operatingCashFlow": .number(String(random.int(0..<2_000_000) - 600_000)), "revenue": .number(String(assets / 3)),
            ])
        }
    }

    /// A client's typical current-account balance: most hold little, a tenth hold ¥300,000 or more.
    func baseBalance(_ clientIndex: Int) -> Int {
        var random = SeededRandom(seed: seed ^ (UInt64(clientIndex) &* 0xD6E8_FEB8_6659_FD93))
        let tier = random.unit()
        if tier < 0.70 { return 1_000 + random.int(0..<49_000) }
        if tier < 0.90 { return 50_000 + random.int(0..<250_000) }
        return 300_000 + random.int(0..<2_700_000)
    }

    public func clientId(_ index: Int) -> String { "C" + String(format: "%07d", index) }
    public func managerId(_ index: Int) -> String { "M" + String(format: "%04d", index) }

    private func event(_ id: String, _ type: String, client: String?, at time: Date, data: [String: JSONValue]) -> Event {
        Event(id: id, source: Self.source, type: type, time: time, clientId: client, data: .object(data))
    }

    /// 1950-01-01 as days since 1970-01-01.
    static let day1950 = -7305
    static let zone = TimeZone(identifier: "Asia/Shanghai") ?? TimeZone(secondsFromGMT: 8 * 3600) ?? .current
    static let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"]
    static let givenNames = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞"]
}
