import Foundation
import InsightCore
import InsightDaemon
import InsightDelivery
import InsightEngine
import InsightStore
import InsightTesting
import Logging
import Testing

/// Every lead kind of every shipped plugin (plugins-config/ as shipped, rules.yaml included), rendered in
/// `zh-CN` and `en`, as the lead JSON and as the console and digest messages a manager reads.
///
/// In Chinese, no English word (three letters or more) may remain outside ids, amounts and product codes;
/// in English, no Chinese may remain in titles and evidence labels (client names and product names are the
/// bank's data and are stripped first).
@Suite struct LocalizationTests {
    static let zone = TimeZone(identifier: "Asia/Shanghai") ?? .current

    static let names = ["张三", "李四", "欧阳娜娜", "赵六", "孙七", "王芳", "周八", "吴九", "郑十", "冯十一", "陈十二", "褚十三",
                        "卫十四", "蒋十五", "沈十六", "李娜", "深圳某贸易有限公司", "香港某投资有限公司"]

    static func event(_ id: String, _ type: String, _ client: String?, _ time: String, source: String = "core-banking",
                      _ data: [String: JSONValue]) -> Event {
        EventFixtures.event(id, type, client: client, at: time, source: source, data: data)
    }

    static func profile(_ id: String, _ client: String, _ name: String, segment: String, risk: String = "C3",
                        assessed: String = "2026-03-01", extra: [String: JSONValue] = [:]) -> Event {
        var data: [String: JSONValue] = [
            "name": .string(name), "birthDate": "1980-06-30", "segment": .string(segment), "riskLevel": .string(risk),
            "riskAssessedAt": .string(assessed), "managerId": "M001", "branchId": "B01", "marketingConsent": true,
            "status": "active",
        ]
        data.merge(extra) { $1 }
        return event(id, EventType.clientProfile, client, "2026-04-01T09:00:00+08:00", source: "crm", data)
    }

    /// A bank small enough to read, in which every lead kind of every shipped plugin fires once at least.
    static var events: [Event] {
        let credit = "credit", debit = "debit"
        func transaction(_ id: String, _ client: String, _ time: String, _ amount: String, _ direction: String,
                         channel: String = "transfer", account: String, counterparty: String? = nil) -> Event {
            var data: [String: JSONValue] = ["accountId": .string(account), "amount": .string(amount),
                                             "direction": .string(direction), "channel": .string(channel)]
            if let counterparty { data["counterparty"] = .string(counterparty) }
            return event(id, EventType.accountTransaction, client, time, data)
        }
        func balance(_ id: String, _ client: String, _ asOf: String, aum: String, deposits: String) -> Event {
            event(id, EventType.accountBalance, client, asOf + "T20:00:00+08:00",
                  ["asOf": .string(asOf), "aum": .string(aum), "deposits": .string(deposits)])
        }
        return [
            event("evt-m1", EventType.managerProfile, nil, "2026-04-01T08:00:00+08:00", source: "crm",
                  ["managerId": "M001", "name": "李娜", "branchId": "B01", "mobile": "13900001111"]),
            // Lunar 60th birthday on 22 Nov; a cash withdrawal (risk and rules); a lapsed policy (rules).
            profile("evt-p101", "C000101", "张三", segment: "affluent",
                    extra: ["birthDate": "1966-11-25", "birthCalendar": "chinese"]),
            // High net worth: a large inflow (product-match, rules) and the New Year greeting list.
            profile("evt-p102", "C000102", "李四", segment: "hnw", risk: "C4", assessed: "2026-06-15"),
            profile("evt-p103", "C000103", "欧阳娜娜", segment: "private"),
            // A business loan maturing on 15 Dec (loan-renewal).
            profile("evt-p104", "C000104", "赵六", segment: "corporate"),
            // A consumer loan repaid early (relending).
            profile("evt-p105", "C000105", "孙七", segment: "mass"),
            // A maturing deposit and an expired risk assessment (product-match).
            profile("evt-p106", "C000106", "王芳", segment: "mass", risk: "2", assessed: "2025-01-10"),
            // An idle balance (product-match).
            profile("evt-p107", "C000107", "周八", segment: "affluent"),
            // A new mortgage (product-match life event).
            profile("evt-p108", "C000108", "吴九", segment: "mass"),
            // Retirement (product-match life event from a client tag).
            profile("evt-p109", "C000109", "郑十", segment: "affluent"),
            // Rapid in and out, velocity, a private client's large debit.
            profile("evt-p110", "C000110", "冯十一", segment: "private"),
            // A dormant account waking up.
            profile("evt-p111", "C000111", "陈十二", segment: "mass"),
            // AUM drop.
            profile("evt-p112", "C000112", "褚十三", segment: "affluent"),
            // No wealth purchase for 92 days.
            profile("evt-p113", "C000113", "卫十四", segment: "affluent"),
            // An overdue loan.
            profile("evt-p114", "C000114", "蒋十五", segment: "mass"),
            // Corporate leverage.
            profile("evt-p115", "C000115", "沈十六", segment: "corporate"),

            transaction("evt-t111a", "C000111", "2026-04-02T10:00:00+08:00", "1000", credit, account: "6222020200111111"),
            event("evt-l104", EventType.loanAccount, "C000104", "2026-04-02T09:00:00+08:00", source: "loan-system",
                  ["loanId": "LN2023120088", "product": "business", "principal": "1000000", "outstanding": "800000",
                   "maturityDate": "2026-12-15", "status": "active", "overdueDays": 0]),
            event("evt-l105a", EventType.loanAccount, "C000105", "2026-04-02T09:00:00+08:00", source: "loan-system",
                  ["loanId": "LN2024010001", "product": "consumer", "principal": "300000", "outstanding": "200000",
                   "maturityDate": "2027-06-30", "status": "active", "overdueDays": 0]),
            event("evt-w113", EventType.wealthTrade, "C000113", "2026-08-20T10:00:00+08:00",
                  ["productId": "WM-FIXED-90D", "action": "buy", "amount": "100000"]),
            balance("evt-b107a", "C000107", "2026-10-01", aum: "400000", deposits: "400000"),
            balance("evt-b108", "C000108", "2026-10-01", aum: "100000", deposits: "100000"),
            balance("evt-b109", "C000109", "2026-10-01", aum: "500000", deposits: "100000"),
            balance("evt-b112a", "C000112", "2026-11-01", aum: "1000000", deposits: "200000"),
            event("evt-l108", EventType.loanAccount, "C000108", "2026-11-01T09:00:00+08:00", source: "loan-system",
                  ["loanId": "LN2026110008", "product": "mortgage", "principal": "2000000", "outstanding": "2000000",
                   "maturityDate": "2056-11-01", "status": "active", "overdueDays": 0]),
            event("evt-p109b", EventType.clientProfile, "C000109", "2026-11-02T09:00:00+08:00", source: "crm",
                  ["tags": ["retirement"]]),
            balance("evt-b107b", "C000107", "2026-11-05", aum: "400000", deposits: "400000"),
            event("evt-l105b", EventType.loanAccount, "C000105", "2026-11-10T15:00:00+08:00", source: "loan-system",
                  ["loanId": "LN2024010001", "outstanding": "0", "status": "repaid", "repaidDate": "2026-11-10"]),
            event("evt-l114", EventType.loanAccount, "C000114", "2026-11-15T07:00:00+08:00", source: "loan-system",
                  ["loanId": "LN2025030002", "product": "consumer", "principal": "150000", "outstanding": "120000",
                   "maturityDate": "2027-03-01", "status": "overdue", "overdueDays": 35]),
            event("evt-f115a", EventType.corporateFinancials, "C000115", "2026-07-20T09:00:00+08:00",
                  ["period": "2026Q2", "totalAssets": "100000000", "totalLiabilities": "60000000",
                   "operatingCashFlow": "-1000000", "revenue": "30000000"]),
            event("evt-f115b", EventType.corporateFinancials, "C000115", "2026-10-20T09:00:00+08:00",
                  ["period": "2026Q3", "totalAssets": "100000000", "totalLiabilities": "75000000",
                   "operatingCashFlow": "-2000000", "revenue": "28000000"]),
            balance("evt-b112b", "C000112", "2026-11-18", aum: "600000", deposits: "200000"),
            event("evt-d106", EventType.depositTerm, "C000106", "2026-11-19T09:00:00+08:00",
                  ["depositId": "TD20231201001", "amount": "150000.00", "openDate": "2023-12-01", "maturityDate": "2026-12-01",
                   "status": "active"]),

            // After the morning ticks of 20 Nov.
            transaction("evt-t102", "C000102", "2026-11-20T10:00:00+08:00", "800000", credit, account: "6222020200112233",
                        counterparty: "深圳某贸易有限公司"),
            transaction("evt-t101", "C000101", "2026-11-20T11:30:00+08:00", "60000", debit, channel: "cash",
                        account: "6222020200223344"),
            event("evt-i101", "insurance.policy", "C000101", "2026-11-20T12:00:00+08:00", source: "insurer",
                  ["policyId": "P-88", "status": "lapsed"]),
            transaction("evt-t110a", "C000110", "2026-11-20T09:40:00+08:00", "1200000", credit, account: "6222020200554433",
                        counterparty: "深圳某贸易有限公司"),
            transaction("evt-t110b", "C000110", "2026-11-20T11:55:00+08:00", "1000000", debit, account: "6222020200554433",
                        counterparty: "香港某投资有限公司"),
            transaction("evt-t111b", "C000111", "2026-11-20T14:00:00+08:00", "60000", credit, account: "6222020200111111"),
        ]
    }

    /// The kinds the bank above must produce: every kind of every shipped plugin and rule.
    static let kinds: Set<String> = [
        "birthday-care/birthday", "birthday-care/holiday_greeting", "loan-renewal/loan_renewal", "loan-renewal/relending",
        "product-match/product_match", "risk-alerts/risk_large_transaction", "risk-alerts/risk_velocity",
        "risk-alerts/risk_rapid_in_out", "risk-alerts/risk_dormant_reactivation", "risk-alerts/risk_aum_drop",
        "risk-alerts/risk_no_purchase", "risk-alerts/risk_overdue", "risk-alerts/risk_corporate_leverage",
        "rules/large_inflow", "rules/large_cash_withdrawal", "rules/large_outflow", "rules/policy_lapse",
    ]

    /// Runs the shipped plugins over the bank: events up to the morning of 20 Nov, every daily tick of that
    /// day, the day's later events, then the birthday-care tick of 28 Dec (New Year greetings).
    static func leads(locale: String) async throws -> [Lead] {
        let directory = TemporaryDirectory()
        let database = try AppDatabase.open(directory: directory.path)
        let shipped = try ConfigLoader().loadPluginsDirectory(repositoryRoot + "/plugins-config")
        let settings = SettingsBox(PipelineSettings(plugins: shipped.loaded, timeZone: zone, locale: locale,
                                                    workingCalendar: shipped.calendar))
        let dispatcher = try Dispatcher(database: database, settings: settings, clock: .eventTime, shards: 1,
                                        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let all = events.sorted { $0.time < $1.time }
        let morning = try #require(RFC3339.parse("2026-11-20T08:00:00+08:00"))
        func feed(_ batch: [Event]) async throws {
            _ = try database.append(batch, receivedAt: Date(timeIntervalSince1970: 0))
            try await dispatcher.drain()
        }
        func ticks(_ date: String, only: String? = nil) async throws {
            let day = try #require(LocalDate(date))
            for plugin in shipped.loaded.sorted(by: { ($0.schedule?.description ?? "", $0.id) < ($1.schedule?.description ?? "", $1.id) })
            where plugin.enabled && (only == nil || plugin.id == only) {
                guard let time = plugin.schedule else { continue }
                try await dispatcher.runTick(ScheduleTick(scheduledAt: day.instant(at: time, in: zone), localDate: day),
                                             plugin: plugin.id)
            }
        }
        try await feed(all.filter { $0.time < morning })
        try await ticks("2026-11-20")
        try await feed(all.filter { $0.time >= morning })
        try await ticks("2026-12-28", only: "birthday-care")
        let leads = try database.leads(LeadQuery(limit: Int.max))
        try database.close()
        return leads
    }

    /// The console message of each lead, and one digest of them all, as the manager receives them.
    static func messages(_ leads: [Lead], locale: String) throws -> [String] {
        let templates = try MessageTemplates(locale: locale, timeZone: zone)
        func delivery(_ purpose: DeliveryPurpose, lead: Lead?, members: [String]) -> OutboxDelivery {
            let now = Date(timeIntervalSince1970: 0)
            return OutboxDelivery(id: "dl_0000000000000001", leadId: lead?.id, receiver: "console", managerId: "M001", route: 0,
                                  purpose: purpose, timing: "immediate", status: .pending, parentId: nil, members: members,
                                  fallback: nil, attempts: 0, notBefore: now, nextAttempt: now, createdAt: now, updatedAt: now,
                                  sentAt: nil, lastError: nil)
        }
        var texts: [String] = []
        for lead in leads {
            for purpose in [DeliveryPurpose.lead, .escalation] {
                let message = templates.render(OutboundMessage(delivery: delivery(purpose, lead: lead, members: []), leads: [lead],
                                                               manager: nil), style: .text)
                texts += [message.title, message.body]
            }
        }
        let digest = templates.render(OutboundMessage(delivery: delivery(.digest, lead: nil, members: leads.map(\.id)),
                                                      leads: leads, manager: nil), style: .text)
        return texts + [digest.title, digest.body]
    }

    /// Every text of a lead a manager can read.
    static func texts(_ lead: Lead) -> [String] {
        [lead.title, lead.summary, lead.suggestedAction] + lead.evidence.flatMap { [$0.label, $0.value] }
            + (lead.products ?? []).flatMap { [$0.name, $0.reason] }
    }

    /// What may stay ASCII in Chinese texts: ids and codes of the test data, masked numbers, amounts.
    static func strippingIdentifiers(_ text: String) -> String {
        // ASCII boundaries: Chinese characters are word characters to \b, so an id between them has none.
        let patterns = [
            #"ld_[0-9a-f]{16}"#,                        // lead ids
            #"evt-[a-z0-9]+"#,                          // event ids
            #"[CMB]\d{3,6}"#,                           // client, manager, branch ids
            #"LN\d+"#, #"TD\d+"#,                       // loan and deposit ids (masked or not)
            #"[A-Z]{2,3}(-[A-Z0-9]+)+"#,                // product codes: WM-FIXED-90D, INS-HOME-01
            #"20\d\dQ\d"#,                              // reporting periods: 2026Q3
            #"insurance\.policy"#,                      // an event type the bank defines (no built-in name)
            #"large-inflow|large-cash-withdrawal|private-client-large-debit|policy-lapse"#,  // rule ids
            #"AUM"#,                                    // the banking term, as Chinese bankers write it
        ].map { "(?<![A-Za-z0-9_-])(" + $0 + ")(?![A-Za-z0-9_-])" }
        var result = text
        for pattern in patterns {
            result = result.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
        }
        return result
    }

    static func englishWords(_ text: String) -> [String] {
        let stripped = strippingIdentifiers(text)
        guard let regex = try? NSRegularExpression(pattern: "[A-Za-z]{3,}") else { return [] }
        return regex.matches(in: stripped, range: NSRange(stripped.startIndex..., in: stripped)).compactMap {
            Range($0.range, in: stripped).map { String(stripped[$0]) }
        }
    }

    static func hasChinese(_ text: String) -> Bool {
        var stripped = text
        for name in names + names.map(Masking.name) { stripped = stripped.replacingOccurrences(of: name, with: " ") }
        return stripped.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) || (0x3000...0x303F).contains($0.value) }
    }

    @Test func everyLeadKindReadsInChineseOnly() async throws {
        let leads = try await Self.leads(locale: "zh-CN")
        let seen = Set(leads.map { "\($0.plugin)/\($0.kind)" })
        #expect(seen.isSuperset(of: Self.kinds), "missing kinds: \(Self.kinds.subtracting(seen).sorted())")
        for lead in leads {
            for text in Self.texts(lead) {
                let words = Self.englishWords(text)
                #expect(words.isEmpty, "\(lead.plugin)/\(lead.kind): English \(words) in \"\(text)\"")
            }
        }
        for text in try Self.messages(leads, locale: "zh-CN") {
            let words = Self.englishWords(text)
            #expect(words.isEmpty, "message: English \(words) in \"\(text)\"")
        }
    }

    @Test func everyLeadKindReadsInEnglishWithoutChinese() async throws {
        let leads = try await Self.leads(locale: "en")
        let seen = Set(leads.map { "\($0.plugin)/\($0.kind)" })
        // Rules texts come from rules.yaml: every shipped rule has English texts too.
        #expect(seen.isSuperset(of: Self.kinds), "missing kinds: \(Self.kinds.subtracting(seen).sorted())")
        for lead in leads {
            for text in [lead.title, lead.suggestedAction] + lead.evidence.map(\.label) {
                #expect(!Self.hasChinese(text), "\(lead.plugin)/\(lead.kind): Chinese in \"\(text)\"")
            }
        }
    }

    @Test func evidenceKeysAreTheSameInEveryLocale() async throws {
        let chinese = try await Self.leads(locale: "zh-CN")
        let english = Dictionary(uniqueKeysWithValues: try await Self.leads(locale: "en").map { ($0.id, $0) })
        #expect(chinese.count == english.count)
        for lead in chinese {
            let other = try #require(english[lead.id], "the same lead in English: \(lead.key)")
            #expect(lead.evidence.map(\.key) == other.evidence.map(\.key), "\(lead.key)")
            #expect(lead.evidence.allSatisfy { $0.key.unicodeScalars.allSatisfy(\.isASCII) }, "keys are machine names: \(lead.key)")
        }
        let inflow = try #require(chinese.first { $0.kind == "large_inflow" })
        #expect(inflow.evidence.contains { $0.key == "data.amount" && $0.label == "金额" && $0.value.hasPrefix("¥") },
                "a rule shows the money it compared as an amount")
        let velocity = try #require(chinese.first { $0.kind == "risk_velocity" })
        #expect(velocity.evidence.contains { $0.key == "debitTotal" && $0.label == "支出合计" && $0.value.hasPrefix("¥1,000,000") })
    }
}
