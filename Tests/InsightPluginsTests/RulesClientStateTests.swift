import Foundation
import InsightCore
import InsightPlugins
import InsightTesting
import Testing

private func rules(_ yamlishJSON: String) throws -> RulesPlugin {
    try RulesPlugin(configuration: JSONDecoder().decode(RulesConfiguration.self, from: Data(yamlishJSON.utf8)))
}

private let vip = TestBank.client("C1", [
    TestBank.profile("C1", ["name": "王五", "segment": "private", "riskLevel": 4, "tags": ["vip", "pension"], "managerId": "M1"]),
    EventFixtures.event("S1", EventType.accountBalance, client: "C1", data: ["asOf": "2026-11-19", "aum": "12000000"]),
])
private let mass = TestBank.client("C2", [TestBank.profile("C2", ["segment": "mass", "riskLevel": 2, "tags": []])])

private func debit(_ id: String, client: String, amount: String = "1500000", at time: String = "2026-11-20T10:00:00+08:00") -> Event {
    EventFixtures.transaction(id, client: client, amount: amount, direction: "debit", at: time)
}

/// Handles events in order for one client state, threading the rules memory as the host does.
private func run(_ plugin: RulesPlugin, client: ClientState, _ events: [Event], locale: String = "zh-CN") throws -> [LeadDraft] {
    var memory = RulesMemory()
    var state = client
    return try events.flatMap { event in
        state.apply(event)
        let context = TestBank.context(now: RFC3339.format(event.time, timeZone: TestBank.shanghai), client: state, locale: locale)
        return try plugin.handle(event, context: context, memory: &memory)
    }
}

@Suite struct RulesClientStateTests {
    private let segmentRule = """
        {"rules": [{"id": "vip-outflow", "when": {"type": "account.transaction", "all": [
            {"field": "data.direction", "eq": "debit"},
            {"field": "client.segment", "in": ["hnw", "private"]},
            {"field": "client.aum", "gte": "10000000"},
            {"field": "client.riskLevel", "gte": "4"},
            {"field": "client.tags", "eq": "vip"}]},
          "lead": {"kind": "vip_outflow", "title": "VIP outflow"}}]}
        """

    @Test func conditionsReadTheClientsState() throws {
        let plugin = try rules(segmentRule)
        let drafts = try run(plugin, client: vip, [debit("T1", client: "C1")])
        #expect(drafts.map(\.kind) == ["vip_outflow"])
        let evidence = Dictionary(uniqueKeysWithValues: try #require(drafts.first).evidence.map { ($0.key, $0.value) })
        #expect(evidence["client.segment"] == "私人银行客户")
        #expect(evidence["client.aum"] == "¥12,000,000")
        #expect(evidence["client.tags"] == "vip、pension")
        #expect(try run(plugin, client: mass, [debit("T1", client: "C2")]).isEmpty)
    }

    @Test func tagListsMatchAnyElementAndNeMatchesWhenNoneIsEqual() throws {
        let plugin = try rules("""
            {"rules": [
              {"id": "pension", "when": {"type": "account.*", "all": [{"field": "client.tags", "in": ["pension", "retirement"]}]},
               "lead": {"kind": "k", "title": "t"}},
              {"id": "not-vip", "when": {"type": "account.*", "all": [{"field": "client.tags", "ne": "vip"}]},
               "lead": {"kind": "k", "title": "t"}}]}
            """)
        #expect(try run(plugin, client: vip, [debit("T1", client: "C1")]).map { $0.key.prefix { $0 != ":" } } == ["pension"])
        #expect(try run(plugin, client: mass, [debit("T1", client: "C2")]).map { $0.key.prefix { $0 != ":" } } == ["not-vip"])
    }

    @Test func anUnknownClientFieldIsRefusedWithTheKnownOnes() throws {
        #expect {
            try rules(#"{"rules": [{"id": "x", "when": {"type": "*", "all": [{"field": "client.income", "gt": "1"}]}, "lead": {"kind": "k", "title": "t"}}]}"#)
        } throws: { error in
            "\(error)".contains("client.<segment|riskLevel|tags|aum|managerId|branchId|status|marketingConsent|birthCalendar>")
        }
    }

    @Test func aCooldownSilencesTheRuleForThatClientUntilItRunsOut() throws {
        let plugin = try rules("""
            {"rules": [{"id": "outflow", "when": {"type": "account.transaction", "all": [{"field": "data.direction", "eq": "debit"}]},
               "lead": {"kind": "k", "title": "t"}, "cooldown": "7d"}]}
            """)
        let drafts = try run(plugin, client: vip, [
            debit("T1", client: "C1", at: "2026-11-01T10:00:00+08:00"),
            debit("T2", client: "C1", at: "2026-11-07T10:00:00+08:00"),
            debit("T3", client: "C1", at: "2026-11-08T10:00:00+08:00"),
        ])
        #expect(drafts.map(\.sourceEvents) == [["T1"], ["T3"]])
        // The memory keeps only running cooldowns, and survives a round trip through its stored JSON.
        var memory = RulesMemory()
        _ = try plugin.handle(debit("T4", client: "C1"), context: TestBank.context(now: "2026-11-20T10:00:00+08:00", client: vip),
                              memory: &memory)
        let restored = try RulesMemory(json: memory.json)
        #expect(restored.json == memory.json)
        var later = restored
        _ = try plugin.handle(EventFixtures.transaction("T5", client: "C1", amount: "1", direction: "credit"),
                              context: TestBank.context(now: "2026-12-20T10:00:00+08:00", client: vip), memory: &later)
        #expect(later.isEmpty, "an expired cooldown is forgotten")
    }

    @Test func aKeyTemplateSetsTheDedupeKey() throws {
        let plugin = try rules("""
            {"rules": [{"id": "loan-watch", "when": {"type": "loan.account"}, "lead": {"kind": "k", "title": "t"},
               "key": "{{clientId}}:{{data.loanId}}:{{client.segment}}:{{date}}"}]}
            """)
        let event = EventFixtures.event("L1", EventType.loanAccount, client: "C1", data: ["loanId": "LN9", "status": "active"])
        #expect(try run(plugin, client: vip, [event]).map(\.key) == ["loan-watch:C1:LN9:private:2026-11-20"])
        #expect(throws: DecodingError.self) {
            try rules(#"{"rules": [{"id": "x", "when": {"type": "*"}, "lead": {"kind": "k", "title": "t"}, "key": "{{id}}", "once": "event"}]}"#)
        }
        #expect(throws: PluginConfigurationError.self) {
            try rules(#"{"rules": [{"id": "x", "when": {"type": "*"}, "lead": {"kind": "k", "title": "t"}, "key": "{{#id}}"}]}"#)
        }
    }

    @Test func aKeyTemplateNamingAMissingOrNestedFieldFallsBackToOneLeadPerEvent() throws {
        let plugin = try rules("""
            {"rules": [{"id": "w", "when": {"type": "loan.account"}, "lead": {"kind": "k", "title": "t"},
               "key": "{{clientId}}:{{data.loanId}}"},
              {"id": "o", "when": {"type": "loan.account"}, "lead": {"kind": "k", "title": "t"},
               "key": "{{clientId}}:{{data.meta}}"}]}
            """)
        let missing = EventFixtures.event("L1", EventType.loanAccount, client: "C1", data: ["status": "active", "meta": ["a": 1, "b": 2]])
        #expect(try run(plugin, client: vip, [missing]).map(\.key) == ["w:core-banking:L1", "o:core-banking:L1"])
    }

    @Test func badCooldownsAreRefused() throws {
        for bad in ["7", "7w", "-1d", "d"] {
            #expect(throws: DecodingError.self) {
                try rules(#"{"rules": [{"id": "x", "when": {"type": "*"}, "lead": {"kind": "k", "title": "t"}, "cooldown": "\#(bad)"}]}"#)
            }
        }
    }

    @Test func ruleTextsComePerLocaleAndFallBackToChinese() throws {
        let plugin = try rules("""
            {"rules": [{"id": "out", "description": {"zh-CN": "大额转出", "en": "Large outflow"},
               "when": {"type": "account.transaction", "all": [{"field": "data.direction", "eq": "debit"}]},
               "lead": {"kind": "k", "title": {"zh-CN": "大额转出", "en": "Large outflow"}, "suggested_action": {"zh-CN": "致电了解用途"}}}]}
            """)
        let chinese = try #require(try run(plugin, client: vip, [debit("T1", client: "C1")]).first)
        #expect(chinese.title == "大额转出" && chinese.summary == "大额转出" && chinese.suggestedAction == "致电了解用途")
        #expect(chinese.evidence.map(\.label) == ["规则", "触发事件", "收支方向"])
        #expect(chinese.evidence.last?.value == "支出")
        let english = try #require(try run(plugin, client: vip, [debit("T1", client: "C1")], locale: "en").first)
        #expect(english.title == "Large outflow" && english.summary == "Large outflow")
        #expect(english.suggestedAction == "致电了解用途", "a locale without its own text uses zh-CN's")
        #expect(english.evidence.map(\.label) == ["rule", "event", "direction"])
        #expect(english.evidence.map(\.key) == chinese.evidence.map(\.key))
        #expect(plugin.publishedTexts.map(\.path) == [
            ["rules", "0", "lead", "title", "en"], ["rules", "0", "lead", "title", "zh-CN"],
            ["rules", "0", "lead", "suggested_action", "zh-CN"],
            ["rules", "0", "description", "en"], ["rules", "0", "description", "zh-CN"],
        ])
        #expect {
            try rules(#"{"rules": [{"id": "x", "when": {"type": "*"}, "lead": {"kind": "k", "title": {"zh-TW": "t"}}}]}"#)
        } throws: { error in
            "\(error)".contains("unknown locale zh-TW; locales: zh-CN, en")
        }
    }

    @Test func ruleTextsArePublishedForComplianceReview() throws {
        let plugin = try rules(#"{"rules": [{"id": "x", "description": "d", "when": {"type": "*"}, "lead": {"kind": "k", "title": "稳赚", "suggested_action": "a"}}]}"#)
        #expect(plugin.publishedTexts.map(\.path) == [["rules", "0", "lead", "title"], ["rules", "0", "lead", "suggested_action"],
                                                      ["rules", "0", "description"]])
    }
}
