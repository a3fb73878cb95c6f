import Foundation
import InsightCore
import InsightPlugins
import InsightTesting
import Testing

private let catalog = ProductCatalog(products: [
    Product(id: "TD-1Y", name: "一年期定期存款", kind: .deposit, riskLevel: risk(1), minAmount: 50, tags: ["deposit"]),
    Product(id: "WM-CASH", name: "现金管理", kind: .wealth, riskLevel: risk(1), minAmount: 1, tags: ["liquidity"]),
    Product(id: "WM-R2", name: "稳健固收", kind: .wealth, riskLevel: risk(2), minAmount: 10_000, tags: ["fixed-income"]),
    Product(id: "WM-R2-VIP", name: "固收增强", kind: .wealth, riskLevel: risk(2), minAmount: 50_000, segments: ["hnw", "private"]),
    Product(id: "FD-R3", name: "均衡混合基金", kind: .fund, riskLevel: risk(3), minAmount: 1000),
    Product(id: "FD-R4", name: "成长股票基金", kind: .fund, riskLevel: risk(4), minAmount: 1000),
    Product(id: "ALT-R5", name: "另类配置", kind: .wealth, riskLevel: risk(5), minAmount: 1_000_000, requires: ["qualified-investor"]),
    Product(id: "INS-HOME", name: "安居家财险", kind: .insurance, riskLevel: risk(1), minAmount: 500, tags: ["home-insurance"]),
    Product(id: "INS-EDU", name: "教育金保险", kind: .insurance, riskLevel: risk(1), minAmount: 10_000, tags: ["education-savings"]),
    Product(id: "INS-PENSION", name: "养老年金", kind: .insurance, riskLevel: risk(2), minAmount: 20_000, tags: ["pension"]),
])

private func risk(_ level: Int) -> ProductRisk {
    guard let value = ProductRisk(level) else { preconditionFailure("risk level \(level)") }
    return value
}

private func plugin(_ edit: (inout ProductMatchConfiguration) -> Void = { _ in },
                    catalog: ProductCatalog = catalog) throws -> ProductMatchPlugin {
    var configuration = ProductMatchConfiguration()
    edit(&configuration)
    return try ProductMatchPlugin(configuration: configuration, catalog: catalog)
}

private let now = "2026-11-20T10:00:00+08:00"

/// A client with a profile: segment, risk level and assessment date.
private func customer(_ id: String = "C1", segment: String = "affluent", riskLevel: Int? = 3,
                      assessed: String? = "2026-03-01", extra: [String: JSONValue] = [:]) -> [Event] {
    var fields: [String: JSONValue] = ["name": "张三丰", "segment": .string(segment), "managerId": "M1"]
    if let riskLevel { fields["riskLevel"] = .number(String(riskLevel)) }
    if let assessed { fields["riskAssessedAt"] = .string(assessed) }
    for (key, value) in extra { fields[key] = value }
    return [TestBank.profile(id, fields, id: "P-\(id)")]
}

/// Runs events through the plugin in order, threading memory, and returns every draft.
private func run(_ plugin: ProductMatchPlugin, client id: String, _ events: [Event], state: InMemoryState = InMemoryState(),
                 locale: String = "zh-CN") throws -> [LeadDraft] {
    var client = ClientState(id: id)
    var memory = ProductMatchMemory()
    var drafts: [LeadDraft] = []
    for event in events {
        client.apply(event)
        let context = TestBank.context(now: RFC3339.format(event.time, timeZone: TestBank.shanghai), client: client,
                                       state: state, locale: locale)
        drafts += try plugin.handle(event, context: context, memory: &memory)
    }
    return drafts
}

private func credit(_ id: String, _ amount: String, client: String = "C1", at time: String = now) -> Event {
    EventFixtures.transaction(id, client: client, amount: amount, direction: "credit", at: time)
}

@Suite struct ProductMatchTests {
    @Test func aLargeCreditSuggestsSuitableProductsWithTheirChecks() throws {
        let drafts = try run(plugin(), client: "C1", customer() + [credit("T1", "500000")])
        let draft = try #require(drafts.first)
        #expect(drafts.count == 1)
        #expect(draft.kind == "product_match")
        #expect(draft.key == "C1:large_credit:core-banking:T1")
        let products = try #require(draft.products)
        #expect(products.count == 3, "top_n")
        // Wealth and funds first for an inflow; never above C3; not the hnw-only or qualified-only ones.
        #expect(products.map(\.id) == ["WM-R2", "WM-CASH", "FD-R3"])
        #expect(products.allSatisfy { (ProductRisk($0.riskLevel)?.value ?? 9) <= 3 })
        for product in products {
            let check = try #require(draft.evidence.first { $0.key == "suitability \(product.id)" })
            #expect(check.label == "适当性 \(product.id)")
            #expect(check.value.contains("≤ 客户C3（2026-03-01测评，有效期至2027-03-01）"))
            #expect(!product.reason.isEmpty)
        }
        #expect(draft.evidence.contains { $0.key == "credit" && $0.label == "入账金额" && $0.value == "¥500,000（标准：≥¥200,000）" })
        #expect(draft.title.contains("张*") && !draft.title.contains("张三丰"))
        #expect(draft.sourceEvents == ["T1"])
    }

    @Test func aCreditBelowTheThresholdSuggestsNothing() throws {
        #expect(try run(plugin(), client: "C1", customer() + [credit("T1", "199999.99")]).isEmpty)
        #expect(try run(plugin(), client: "C1", customer() + [
            EventFixtures.transaction("T2", client: "C1", amount: "900000", direction: "debit"),
        ]).isEmpty)
    }

    @Test func anExpiredOrMissingAssessmentGetsR1OnlyAndAsksForAReassessment() throws {
        for events in [customer(assessed: "2025-11-19"), customer(assessed: nil), customer(riskLevel: nil)] {
            let draft = try #require(try run(plugin(), client: "C1", events + [credit("T1", "500000")]).first)
            let products = try #require(draft.products)
            #expect(!products.isEmpty)
            #expect(products.allSatisfy { $0.riskLevel == "R1" })
            #expect(draft.suggestedAction.contains("风险测评"))
            #expect(draft.evidence.contains { $0.key == "riskAssessment" && $0.value.contains("仅可推荐R1级产品") })
        }
        // 365 days old is still valid.
        let valid = try #require(try run(plugin(), client: "C1", customer(assessed: "2025-11-20") + [credit("T1", "500000")]).first)
        #expect(valid.products?.contains { $0.riskLevel == "R3" } == true)
    }

    @Test func heldProductsOtherSegmentsUnaffordableAndUnqualifiedProductsAreExcluded() throws {
        var events = customer(segment: "mass", riskLevel: 5)
        events.append(EventFixtures.event("W1", EventType.wealthTrade, client: "C1", data: [
            "productId": "WM-R2", "action": "buy", "amount": "20000"]))
        events.append(credit("T1", "500000"))
        let draft = try #require(try run(plugin { $0.topN = 10 }, client: "C1", events).first)
        let ids = try #require(draft.products).map(\.id)
        #expect(!ids.contains("WM-R2"), "already held")
        #expect(!ids.contains("WM-R2-VIP"), "hnw/private only")
        #expect(!ids.contains("ALT-R5"), "needs ¥1,000,000 and the qualified-investor tag")
        #expect(ids.contains("FD-R4"), "C5 may take R4")
        // A smaller credit cannot cover the deposit's minimum... but covers ¥1 cash management.
        let small = try #require(try run(plugin { $0.triggers.largeCredit.minAmount = 10 }, client: "C1",
                                         customer() + [credit("T2", "20")]).first)
        #expect(small.products?.map(\.id) == ["WM-CASH"])
    }

    @Test func oneLeadPerClientPerCooldown() throws {
        let events = customer() + [
            credit("T1", "500000", at: "2026-11-01T10:00:00+08:00"),
            credit("T2", "600000", at: "2026-11-14T10:00:00+08:00"),  // 13 days later: cooling down
            credit("T3", "700000", at: "2026-11-15T10:00:01+08:00"),  // 14 days later: allowed again
        ]
        let drafts = try run(plugin(), client: "C1", events)
        #expect(drafts.map { $0.sourceEvents } == [["T1"], ["T3"]])
        // A lead made by the daily tick (in the ledger) also counts.
        var state = InMemoryState()
        state.leads = [(plugin: "product-match", client: "C1", createdAt: TestBank.instant("2026-11-10T08:45:00+08:00"))]
        #expect(try run(plugin(), client: "C1", customer() + [credit("T4", "500000")], state: state).isEmpty)
    }

    @Test func aNewRiskLevelWithoutItsAssessmentDateFallsBackToR1() throws {
        // Assessed C2 in March; a later profile update raises the level to C5 without a new assessment date.
        let events = customer(riskLevel: 2) + [TestBank.profile("C1", ["riskLevel": "C5"], id: "P2", at: "2026-11-10T09:00:00+08:00")]
        let draft = try #require(try run(plugin { $0.topN = 10 }, client: "C1", events + [credit("T1", "500000")]).first)
        #expect(try #require(draft.products).allSatisfy { $0.riskLevel == "R1" })
        // With the date, the new level counts.
        let assessed = customer(riskLevel: 2) + [TestBank.profile("C1", ["riskLevel": "C5", "riskAssessedAt": "2026-11-10"],
                                                                  id: "P2", at: "2026-11-10T09:00:00+08:00")]
        let again = try #require(try run(plugin { $0.topN = 10 }, client: "C1", assessed + [credit("T1", "500000")]).first)
        #expect(again.products?.contains { $0.riskLevel == "R4" } == true)
        // The same level sent again keeps the assessment.
        let same = customer(riskLevel: 3) + [TestBank.profile("C1", ["riskLevel": 3], id: "P2", at: "2026-11-10T09:00:00+08:00")]
        let kept = try #require(try run(plugin(), client: "C1", same + [credit("T1", "500000")]).first)
        #expect(kept.products?.contains { $0.riskLevel == "R3" } == true)
    }

    @Test func zeroOrNegativeTriggerAmountsAreRefused() {
        for bad in [#"{"triggers": {"large_credit": {"min_amount": 0}}}"#, #"{"triggers": {"idle_balance": {"min_balance": "-5"}}}"#] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(ProductMatchConfiguration.self, from: Data(bad.utf8)) }
        }
    }

    @Test func closedClientsAndClientsWithoutMarketingConsentGetNothing() throws {
        #expect(try run(plugin(), client: "C1", customer(extra: ["marketingConsent": false]) + [credit("T1", "500000")]).isEmpty)
        #expect(try run(plugin(), client: "C1", customer(extra: ["status": "closed"]) + [credit("T1", "500000")]).isEmpty)
    }

    @Test func maturingDepositsAreFoundByTheDailyTick() throws {
        var client = TestBank.client("C1", customer())
        client.apply(EventFixtures.event("D1", EventType.depositTerm, client: "C1", data: [
            "depositId": "TD0001", "amount": "300000", "maturityDate": "2026-12-01", "status": "active"]))
        var far = TestBank.client("C2", customer("C2"))
        far.apply(EventFixtures.event("D2", EventType.depositTerm, client: "C2", data: [
            "depositId": "TD0002", "amount": "300000", "maturityDate": "2026-12-31"]))
        let state = InMemoryState(clients: [client, far])
        let drafts = try plugin().tick(TestBank.tick("2026-11-20", at: "08:45"),
                                       context: TestBank.context(now: "2026-11-20T08:45:00+08:00", state: state))
        let draft = try #require(drafts.first)
        #expect(drafts.count == 1, "C2's deposit matures beyond 15 days")
        #expect(draft.key == "C1:maturing_deposit:deposit:\(Masking.reference("TD0001")):2026-12-01")
        #expect(!draft.key.contains("TD0001"), "the deposit number stays out of the key")
        #expect(draft.products?.first?.id == "TD-1Y", "deposits first for a maturing deposit")
        #expect(draft.summary.contains("12月1日"))
    }

    @Test func anIdleBalanceNeedsItsFullPeriod() throws {
        func balance(_ id: String, _ amount: String, _ time: String) -> Event {
            EventFixtures.event(id, EventType.accountTransaction, client: "C1", at: time, data: [
                "accountId": "6222000011112222", "amount": "1", "direction": "credit", "channel": "transfer",
                "balanceAfter": .string(amount)])
        }
        let quiet = try run(plugin(), client: "C1", customer() + [
            balance("B1", "400000", "2026-10-01T10:00:00+08:00"),
            balance("B2", "400001", "2026-10-30T10:00:00+08:00"),  // 29 days
        ])
        #expect(quiet.isEmpty)
        let interrupted = try run(plugin(), client: "C1", customer() + [
            balance("B1", "400000", "2026-10-01T10:00:00+08:00"),
            balance("B2", "100000", "2026-10-10T10:00:00+08:00"),  // fell below: the clock restarts
            balance("B3", "400000", "2026-10-11T10:00:00+08:00"),
            balance("B4", "400000", "2026-11-01T10:00:00+08:00"),
        ])
        #expect(interrupted.isEmpty)
        let idle = try run(plugin(), client: "C1", customer() + [
            balance("B1", "400000", "2026-10-01T10:00:00+08:00"),
            balance("B2", "400000", "2026-10-31T10:00:00+08:00"),  // 30 days
        ])
        #expect(idle.map(\.key) == ["C1:idle_balance:idle:2026-10-01"])
    }

    /// A balance snapshot: life events weigh products against the client's AUM.
    private let wealthy = EventFixtures.event("S1", EventType.accountBalance, client: "C1", at: "2026-10-31T23:00:00+08:00",
                                              data: ["asOf": "2026-10-31", "aum": "800000"])

    @Test func lifeEventsSuggestTheMappedProducts() throws {
        let mortgage = try run(plugin(), client: "C1", customer() + [wealthy,
            EventFixtures.event("L1", EventType.loanAccount, client: "C1", data: [
                "loanId": "LN01", "product": "mortgage", "principal": "2000000", "outstanding": "2000000",
                "maturityDate": "2046-11-20", "status": "active"]),
            EventFixtures.event("L2", EventType.loanAccount, client: "C1", at: "2026-12-20T10:00:00+08:00", data: [
                "loanId": "LN01", "outstanding": "1990000"]),  // the same mortgage again: not a new life event
        ])
        #expect(mortgage.count == 1)
        #expect(mortgage.first?.products?.map(\.id) == ["INS-HOME"])
        let baby = try run(plugin(), client: "C1", [wealthy] + customer(extra: ["tags": ["maternity"]]) + [
            TestBank.profile("C1", ["tags": ["maternity", "vip"]], id: "P2", at: "2026-12-20T10:00:00+08:00"),
        ])
        #expect(baby.count == 1, "the tag is acted on once")
        #expect(baby.first?.products?.map(\.id) == ["INS-EDU"])
    }

    @Test func englishTextsRenderInTheEnLocale() throws {
        let draft = try #require(try run(plugin(), client: "C1", customer() + [credit("T1", "500000")], locale: "en").first)
        #expect(draft.title.hasPrefix("张**: large inflow, 3 suitable products"))
        #expect(draft.summary.contains("received CNY 500,000"))
        #expect(draft.suggestedAction.contains("promise no returns"))
    }

    @Test func productNamesArePublishedForComplianceReview() throws {
        let texts = try plugin().publishedTexts
        #expect(texts.contains { $0.file == "products" && $0.path == ["products", "0", "name"] && $0.text == "一年期定期存款" })
        #expect(texts.contains { $0.path == ["templates", "zh-CN", "product_match", "title"] })
    }

    @Test func aCatalogWithDuplicateIdsOrUnknownLifeEventTagsIsRefused() throws {
        let duplicated = ProductCatalog(products: catalog.products + [catalog.products[0]])
        #expect(throws: PluginConfigurationError.self) { try plugin(catalog: duplicated) }
        #expect(throws: PluginConfigurationError.self) { try plugin { $0.triggers.lifeEvents.tags = ["wedding": ["honeymoon"]] } }
    }

    @Test func memoryRoundTripsThroughJSON() throws {
        var memory = ProductMatchMemory()
        let events = customer(extra: ["tags": ["retirement"]]) + [wealthy]
        let client = TestBank.client("C1", events)
        let drafts = try plugin().handle(events[0], context: TestBank.context(now: now, client: client), memory: &memory)
        #expect(client.aum == 800_000)
        #expect(drafts.first?.products?.map(\.id) == ["INS-PENSION"])
        let restored = try ProductMatchMemory(json: memory.json)
        #expect(restored.json == memory.json)
        #expect(!restored.isEmpty)
        #expect(memory.json["lifeTags"] == .array(["retirement"]))
        #expect(memory.json["lastLeadMs"] == .number(String(Int64(TestBank.instant(now).timeIntervalSince1970 * 1000))))
        #expect(throws: PluginMemoryError.self) { try ProductMatchMemory(json: .string("garbage")) }
    }
}

/// Suitability as a property: whatever the client and the catalog, no suggested product is riskier than
/// the client's valid assessment allows, and a client without one sees R1 only.
@Suite struct SuitabilityPropertyTests {
    @Test func noSuggestedProductEverExceedsTheClientsRiskLevel() throws {
        var random = SeededRandom(seed: 20261124)
        var suggestions = 0
        for round in 0..<400 {
            let products = (0..<Int.random(in: 3...12, using: &random)).map { index in
                Product(id: "P\(index)", name: "产品\(index)", kind: Product.Kind.allCases.randomElement(using: &random) ?? .wealth,
                        riskLevel: risk(Int.random(in: 1...5, using: &random)),
                        minAmount: Decimal(Int.random(in: 0...200, using: &random) * 1000),
                        segments: Bool.random(using: &random) ? [] : [["mass", "affluent", "hnw", "private"].randomElement(using: &random) ?? "mass"],
                        tags: [["home-insurance", "education-savings", "pension", "x"].randomElement(using: &random) ?? "x"])
            }
            let level = Int.random(in: 0...5, using: &random)  // 0: no level at all
            let assessedDaysAgo = Int.random(in: -5...800, using: &random)
            let assessed = TestBank.date("2026-11-20").adding(days: -assessedDaysAgo)
            let events = customer("C\(round)", segment: ["mass", "affluent", "hnw", "private"].randomElement(using: &random) ?? "mass",
                                  riskLevel: level == 0 ? nil : level, assessed: Bool.random(using: &random) ? assessed.description : nil)
            let amount = Int.random(in: 200...3000, using: &random) * 1000
            var configuration = ProductMatchConfiguration()
            configuration.triggers.lifeEvents.mortgageOpened = []
            configuration.triggers.lifeEvents.tags = [:]
            let matcher = try ProductMatchPlugin(configuration: configuration, catalog: ProductCatalog(products: products))
            let drafts = try run(matcher, client: "C\(round)", events + [credit("T\(round)", String(amount), client: "C\(round)")])
            let client = TestBank.client("C\(round)", events)
            let validLevel: Int? = {
                guard let level = client.profile.riskLevel?.value, let at = client.profile.riskAssessedAt,
                      at <= TestBank.date("2026-11-20"), at.days(until: TestBank.date("2026-11-20")) <= 365 else { return nil }
                return level
            }()
            for suggestion in drafts.flatMap({ $0.products ?? [] }) {
                suggestions += 1
                let productLevel = try #require(ProductRisk(suggestion.riskLevel)).value
                #expect(productLevel <= (validLevel ?? 1), "round \(round): \(suggestion.id) \(suggestion.riskLevel) for client level \(validLevel.map(String.init) ?? "none")")
                let product = try #require(products.first { $0.id == suggestion.id })
                #expect(product.minAmount <= Decimal(amount))
                #expect(product.segments.isEmpty || product.segments.contains(client.profile.segment ?? ""))
            }
        }
        #expect(suggestions > 300, "the property was exercised on real suggestions")
    }
}
