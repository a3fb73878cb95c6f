import Foundation
import InsightCore
import InsightPlugins
import InsightTesting
import Logging
import Testing


private let shanghai = TimeZone(identifier: "Asia/Shanghai")!

private func context(now: String = "2026-11-20T12:00:00+08:00") -> PluginContext {
    PluginContext(now: RFC3339.parse(now)!, timeZone: shanghai, locale: "zh-CN", logger: Logger(label: "test"),
                  state: InMemoryState(), client: nil)
}

/// One rule as JSON. Condition literals are JSON strings: the rules schema reads every literal as text.
private func rule(_ id: String, type: String = "account.transaction", all: [String] = [], any: [String] = [],
                  once: String? = nil, extra: String = "") -> String {
    var when = "\"type\": \"\(type)\""
    if !all.isEmpty { when += ", \"all\": [\(all.joined(separator: ", "))]" }
    if !any.isEmpty { when += ", \"any\": [\(any.joined(separator: ", "))]" }
    let onceField = once.map { ", \"once\": \"\($0)\"" } ?? ""
    return """
        {"id": "\(id)", "when": {\(when)}, "lead": {"kind": "k_\(id)", "title": "Title \(id)"\(extra)}\(onceField)}
        """
}

private func configuration(_ rules: [String]) throws -> RulesConfiguration {
    try JSONDecoder().decode(RulesConfiguration.self, from: Data("{\"rules\": [\(rules.joined(separator: ", "))]}".utf8))
}

private func plugin(_ rules: String...) throws -> RulesPlugin {
    try RulesPlugin(configuration: configuration(rules))
}

/// The ids of the rules that fired, in rule order (the draft key starts with the rule id).
private func fired(_ plugin: RulesPlugin, _ event: Event) throws -> [String] {
    try plugin.handle(event, context: context()).map { String($0.key.prefix { $0 != ":" }) }
}

private func event(_ data: [String: JSONValue], type: String = EventType.accountTransaction, id: String = "E1",
                   client: String? = "C1", at time: String = "2026-11-20T10:00:00+08:00") -> Event {
    EventFixtures.event(id, type, client: client, at: time, data: data)
}

/// The message of a decoding error, for checking that it points at the problem.
private func message(of error: any Error) -> String {
    guard let error = error as? DecodingError else { return "\(error)" }
    switch error {
    case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context),
         .valueNotFound(_, let context):
        return context.debugDescription
    @unknown default:
        return "\(error)"
    }
}

/// One operator against one event value: does `{field: data.v, <condition>}` match?
struct OperatorCase: Sendable, CustomTestStringConvertible {
    let value: JSONValue?
    let condition: String
    let matches: Bool

    init(_ value: JSONValue?, _ condition: String, _ matches: Bool) {
        self.value = value
        self.condition = condition
        self.matches = matches
    }

    var testDescription: String { "\(value.map { "\($0)" } ?? "absent") {\(condition)} → \(matches)" }
}

@Suite("rules plugin: conditions, groups, patterns, dedupe keys, evidence, validation")
struct RulesPluginTests {
    static let stringCases: [OperatorCase] = [
        .init(.string("credit"), #""eq": "credit""#, true),
        .init(.string("credit"), #""eq": "debit""#, false),
        .init(.string("credit"), #""eq": "Credit""#, false),
        .init(.string("credit"), #""ne": "debit""#, true),
        .init(.string("credit"), #""ne": "credit""#, false),
        .init(.string("credit"), #""gt": "alpha""#, true),
        .init(.string("credit"), #""gt": "credit""#, false),
        .init(.string("credit"), #""gte": "credit""#, true),
        .init(.string("credit"), #""gte": "delta""#, false),
        .init(.string("credit"), #""lt": "delta""#, true),
        .init(.string("credit"), #""lt": "credit""#, false),
        .init(.string("credit"), #""lte": "credit""#, true),
        .init(.string("credit"), #""lte": "alpha""#, false),
        .init(.string("credit"), #""in": ["debit", "credit"]"#, true),
        .init(.string("credit"), #""in": ["debit", "cash"]"#, false),
        .init(.string("credit"), #""in": []"#, false),
        .init(.string("credit"), #""exists": true"#, true),
        .init(.string("credit"), #""exists": false"#, false),
        .init(.string(""), #""exists": true"#, true),
    ]

    static let numberCases: [OperatorCase] = [
        .init(.number("800000.10"), #""eq": "800000.1""#, true),
        .init(.number("800000.10"), #""eq": "800000.11""#, false),
        .init(.number("800000.10"), #""ne": "800000.100""#, false),
        .init(.number("800000.10"), #""ne": "800000""#, true),
        .init(.number("800000.10"), #""gt": "800000.09""#, true),
        .init(.number("800000.10"), #""gt": "800000.10""#, false),
        .init(.number("800000.10"), #""gt": "1e5""#, true),
        .init(.number("800000.10"), #""gte": "800000.10""#, true),
        .init(.number("800000.10"), #""gte": "800000.11""#, false),
        .init(.number("800000.10"), #""lt": "800000.11""#, true),
        .init(.number("800000.10"), #""lt": "800000.10""#, false),
        .init(.number("800000.10"), #""lte": "800000.1""#, true),
        .init(.number("800000.10"), #""lte": "800000.09""#, false),
        .init(.number("800000.10"), #""in": ["1", "800000.10"]"#, true),
        .init(.number("800000.10"), #""in": ["800000"]"#, false),
        .init(.number("800000.10"), #""exists": true"#, true),
        .init(.number("800000.10"), #""eq": "high""#, false),
        .init(.number("-5"), #""lt": "0""#, true),
        .init(.number("-5"), #""gte": "-4.99""#, false),
        // 0.1 + 0.2 style: exact decimals, not binary floating point.
        .init(.number("0.3"), #""eq": "0.30""#, true),
        .init(.number("0.30000000000000004"), #""gt": "0.3""#, true),
    ]

    static let decimalStringCases: [OperatorCase] = [
        .init(.string("500000.00"), #""gte": "500000""#, true),
        .init(.string("499999.99"), #""gte": "500000""#, false),
        .init(.string("500000.00"), #""eq": "500000""#, true),
        .init(.string("500000.00"), #""gt": "500000""#, false),
        .init(.string("500000.00"), #""lt": "500000.01""#, true),
        .init(.string("500000.00"), #""ne": "500000.0""#, false),
        .init(.string("500000.00"), #""in": ["400000", "500000"]"#, true),
        .init(.string("499999.99"), #""lt": "500000""#, true),
        .init(.string("499999.99"), #""lte": "499999.98""#, false),
        // Numeric, not text, order: as text "9" > "10".
        .init(.string("9"), #""gt": "10""#, false),
        .init(.string("9"), #""lt": "10""#, true),
        .init(.string(" 12.5 "), #""eq": "12.50""#, true),
    ]

    static let booleanCases: [OperatorCase] = [
        .init(.bool(true), #""eq": "true""#, true),
        .init(.bool(true), #""eq": "TRUE""#, true),
        .init(.bool(true), #""eq": "false""#, false),
        .init(.bool(true), #""ne": "false""#, true),
        .init(.bool(true), #""ne": "true""#, false),
        .init(.bool(true), #""in": ["false", "true"]"#, true),
        .init(.bool(true), #""in": ["false"]"#, false),
        .init(.bool(true), #""gt": "false""#, false),
        .init(.bool(true), #""exists": true"#, true),
        .init(.bool(false), #""eq": "false""#, true),
        .init(.bool(false), #""eq": "true""#, false),
        .init(.bool(false), #""exists": true"#, true),
    ]

    /// A missing field makes every comparison false; only `exists: false` matches. JSON null counts as missing.
    static let missingCases: [OperatorCase] = [nil, JSONValue.null].flatMap { value in [
        OperatorCase(value, #""eq": "credit""#, false),
        OperatorCase(value, #""ne": "credit""#, false),
        OperatorCase(value, #""gt": "0""#, false),
        OperatorCase(value, #""gte": "0""#, false),
        OperatorCase(value, #""lt": "0""#, false),
        OperatorCase(value, #""lte": "0""#, false),
        OperatorCase(value, #""in": ["credit"]"#, false),
        OperatorCase(value, #""exists": true"#, false),
        OperatorCase(value, #""exists": false"#, true),
    ] }

    @Test(arguments: stringCases + numberCases + decimalStringCases + booleanCases + missingCases)
    func operators(_ example: OperatorCase) throws {
        let rules = try plugin(rule("r", all: [#"{"field": "data.v", \#(example.condition)}"#]))
        var data: [String: JSONValue] = ["other": .string("x")]
        data["v"] = example.value

        let drafts = try rules.handle(event(data), context: context())

        #expect(drafts.count == (example.matches ? 1 : 0))
    }

    @Test(arguments: [
        ("2026-11-20", #""lt": "2026-12-01""#, true),
        ("2026-11-20", #""gt": "2026-11-19""#, true),
        ("2026-11-20", #""eq": "2026-11-25""#, false),
        ("2026-11-20", #""gte": "2026-11-21""#, false),
    ])
    func isoDatesCompareAsText(value: String, condition: String, matches: Bool) throws {
        // rules.yaml and RuleCondition promise: "other strings compare as text (so YYYY-MM-DD dates order correctly)".
        let rules = try plugin(rule("r", type: EventType.depositTerm, all: [#"{"field": "data.maturityDate", \#(condition)}"#]))

        let drafts = try rules.handle(event(["maturityDate": .string(value)], type: EventType.depositTerm), context: context())

        #expect(drafts.count == (matches ? 1 : 0))
    }

    @Test(arguments: [
        ("E2", #""eq": "E1""#, false),
        ("E2", #""in": ["E1", "E3"]"#, false),
        ("E2", #""ne": "E1""#, true),
        ("1.2.3", #""eq": "1.2""#, false),
        ("12e", #""eq": "12""#, false),
    ])
    func textThatOnlyStartsLikeANumberComparesAsText(value: String, condition: String, matches: Bool) throws {
        let rules = try plugin(rule("r", type: "*", all: [#"{"field": "data.ref", \#(condition)}"#]))

        let drafts = try rules.handle(event(["ref": .string(value)], type: "crm.note"), context: context())

        #expect(drafts.count == (matches ? 1 : 0))
    }

    @Test func nestedPathsAndEventRootFieldsCanBeCompared() throws {
        let rules = try plugin(
            rule("nested", type: "*", all: [#"{"field": "data.counterparty.country", "eq": "HK"}"#]),
            rule("client", type: "*", all: [#"{"field": "clientId", "in": ["C1", "C9"]}"#]),
            rule("source", type: "*", all: [#"{"field": "source", "eq": "core-banking"}"#]),
            rule("type", type: "*", all: [#"{"field": "type", "eq": "account.transaction"}"#]),
            rule("id", type: "*", all: [#"{"field": "id", "eq": "E1"}"#]),
            rule("time", type: "*", all: [#"{"field": "time", "gte": "2026-11-20T02:00:00Z"}"#]),
            rule("no-client", type: "*", all: [#"{"field": "clientId", "exists": false}"#])
        )

        let first = event(["counterparty": .object(["country": .string("HK")])], at: "2026-11-20T10:00:00+08:00")
        #expect(try fired(rules, first) == ["nested", "client", "source", "type", "id", "time"])

        let second = event(["counterparty": .string("HK")], type: "insurance.policy", id: "X2", client: nil,
                           at: "2026-11-20T09:59:59+08:00")
        #expect(try fired(rules, second) == ["source", "no-client"])
    }

    @Test func allAndAnyGroupsNest() throws {
        // credit AND (cash OR (100 <= amount < 200))
        let rules = try plugin(rule("g", all: [
            #"{"field": "data.direction", "eq": "credit"}"#,
            #"""
            {"any": [
                {"field": "data.channel", "eq": "cash"},
                {"all": [{"field": "data.amount", "gte": "100"}, {"field": "data.amount", "lt": "200"}]}
            ]}
            """#,
        ]))
        func matches(_ direction: String, _ channel: String, _ amount: String) throws -> Bool {
            try !rules.handle(event(["direction": .string(direction), "channel": .string(channel), "amount": .string(amount)]),
                              context: context()).isEmpty
        }

        #expect(try matches("credit", "cash", "5000"))
        #expect(try matches("credit", "transfer", "150.00"))
        #expect(try matches("credit", "transfer", "100"))
        #expect(try !matches("credit", "transfer", "200"))
        #expect(try !matches("credit", "transfer", "99.99"))
        #expect(try !matches("debit", "cash", "150"))
    }

    @Test func whenAllAndWhenAnyCombine() throws {
        let rules = try plugin(rule("w",
            all: [#"{"field": "data.amount", "gte": "1000"}"#],
            any: [#"{"field": "data.channel", "eq": "cash"}"#, #"{"field": "data.channel", "eq": "atm"}"#]))

        #expect(try fired(rules, event(["amount": .string("1000"), "channel": .string("atm")])) == ["w"])
        #expect(try fired(rules, event(["amount": .string("1000"), "channel": .string("transfer")])).isEmpty)
        #expect(try fired(rules, event(["amount": .string("999"), "channel": .string("cash")])).isEmpty)
    }

    @Test func aRuleWithoutConditionsMatchesEveryEventOfItsType() throws {
        let rules = try plugin(rule("any-loan", type: EventType.loanAccount))
        #expect(try fired(rules, event([:], type: EventType.loanAccount)) == ["any-loan"])
        #expect(try fired(rules, event([:], type: EventType.accountTransaction)).isEmpty)
    }

    @Test func typePatternsSelectEventsAndSubscriptionsListTheDistinctPatterns() throws {
        let rules = try plugin(
            rule("prefix", type: "account.*"),
            rule("exact", type: "account.transaction"),
            rule("everything", type: "*"),
            rule("prefix-again", type: "account.*"),
            rule("loans", type: "loan.account")
        )

        #expect(rules.subscriptions.map(\.pattern) == ["*", "account.*", "account.transaction", "loan.account"])
        #expect(try fired(rules, event([:], type: "account.transaction")) == ["prefix", "exact", "everything", "prefix-again"])
        #expect(try fired(rules, event([:], type: "account.balance")) == ["prefix", "everything", "prefix-again"])
        #expect(try fired(rules, event([:], type: "loan.account")) == ["everything", "loans"])
        #expect(try fired(rules, event([:], type: "accounting.entry")) == ["everything"])
        #expect(try fired(rules, event([:], type: "account")) == ["everything"])
    }

    @Test func anUnknownEventTypeIsMatchedByItsPrefix() throws {
        let rules = try plugin(rule("policy-lapse", type: "insurance.*",
                                    any: [#"{"field": "data.status", "in": ["lapsed", "cancelled"]}"#]))
        #expect(rules.subscriptions.map(\.pattern) == ["insurance.*"])

        let lapsed = event(["status": .string("lapsed"), "policyNo": .string("P-1")], type: "insurance.policy")
        let active = event(["status": .string("active")], type: "insurance.policy", id: "E2")
        let otherType = event(["status": .string("lapsed")], type: "pension.policy", id: "E3")

        let drafts = try rules.handle(lapsed, context: context())
        try #require(drafts.count == 1)
        #expect(drafts[0].kind == "k_policy-lapse")
        #expect(drafts[0].clientId == "C1")
        #expect(try fired(rules, active).isEmpty)
        #expect(try fired(rules, otherType).isEmpty)
    }

    @Test func aMatchingRuleEmitsItsLead() throws {
        let rules = try plugin(#"""
            {"id": "large-inflow", "description": "A single credit of 500,000 or more.",
             "when": {"type": "account.transaction", "all": [{"field": "data.amount", "gte": "500000"}]},
             "lead": {"kind": "large_inflow", "priority": "high", "title": "Large inflow received",
                      "suggested_action": "Call the client within two days."}}
            """#)

        let drafts = try rules.handle(EventFixtures.transaction("E1", client: "C1", amount: "500000.00"), context: context())

        let draft = try #require(drafts.first)
        #expect(drafts.count == 1)
        #expect(draft.key == "large-inflow:core-banking:E1")
        #expect(draft.kind == "large_inflow")
        #expect(draft.priority == .high)
        #expect(draft.title == "Large inflow received")
        #expect(draft.summary == "A single credit of 500,000 or more.")  // the description, as no summary is given
        #expect(draft.suggestedAction == "Call the client within two days.")
        #expect(draft.clientId == "C1")
        #expect(draft.sourceEvents == ["E1"])
        #expect(draft.managerId == nil)
    }

    @Test func defaultsApplyWhenTheLeadLeavesThemOut() throws {
        let rules = try plugin(rule("minimal", extra: #", "summary": "Own summary""#))
        let draft = try #require(try rules.handle(event([:]), context: context()).first)
        #expect(draft.priority == .normal)
        #expect(draft.summary == "Own summary")
        #expect(draft.suggestedAction == "")
        #expect(rules.configuration.enabled)
        #expect(rules.configuration.rules.first?.once == .perEvent)
    }

    @Test func onceClientDayKeysOneLeadPerClientPerLocalDay() throws {
        let rules = try plugin(rule("daily", once: "client_day"))
        func key(_ id: String, client: String?, at time: String) throws -> String {
            try #require(try rules.handle(event([:], id: id, client: client, at: time), context: context()).first).key
        }

        // 00:30 and 23:30 in Shanghai fall on different UTC days but the same local day.
        let early = try key("E1", client: "C1", at: "2026-11-20T00:30:00+08:00")
        let late = try key("E2", client: "C1", at: "2026-11-20T23:30:00+08:00")
        let nextDay = try key("E3", client: "C1", at: "2026-11-21T00:10:00+08:00")
        let otherClient = try key("E4", client: "C2", at: "2026-11-20T12:00:00+08:00")
        let noClient = try key("E5", client: nil, at: "2026-11-20T12:00:00+08:00")

        #expect(early == "daily:C1:2026-11-20")
        #expect(late == early)
        #expect(nextDay == "daily:C1:2026-11-21")
        #expect(otherClient == "daily:C2:2026-11-20")
        #expect(noClient == "daily:-:2026-11-20")
    }

    @Test func onceEventKeysOneLeadPerEvent() throws {
        let rules = try plugin(rule("each"), rule("explicit", once: "event"))

        let first = try rules.handle(event([:], id: "E1", at: "2026-11-20T10:00:00+08:00"), context: context()).map(\.key)
        let second = try rules.handle(event([:], id: "E2", at: "2026-11-20T10:00:01+08:00"), context: context()).map(\.key)
        let otherSource = try rules.handle(
            EventFixtures.event("E1", EventType.accountTransaction, client: "C1", source: "crm", data: [:]),
            context: context()).map(\.key)

        #expect(first == ["each:core-banking:E1", "explicit:core-banking:E1"])
        #expect(second == ["each:core-banking:E2", "explicit:core-banking:E2"])
        #expect(otherSource == ["each:crm:E1", "explicit:crm:E1"])
    }

    @Test func evidenceNamesTheRuleTheEventAndTheComparedValues() throws {
        let rules = try plugin(rule("large-inflow",
            all: [#"{"field": "data.direction", "eq": "credit"}"#, #"{"field": "data.amount", "gte": "500000"}"#],
            any: [#"{"field": "data.vip", "eq": "true"}"#, #"{"any": [{"field": "data.note", "exists": false}]}"#]))
        let matching = event(["direction": .string("credit"), "amount": .number("800000.10"), "vip": .bool(true),
                              "currency": .string("CNY")], id: "E42")

        let draft = try #require(try rules.handle(matching, context: context()).first)

        #expect(draft.evidence == [
            Evidence(key: "rule", label: "规则", value: "large-inflow"),
            Evidence(key: "event", label: "触发事件", value: "账户交易 E42"),
            Evidence(key: "data.direction", label: "收支方向", value: "收入"),
            Evidence(key: "data.amount", label: "金额", value: "¥800,000.10"),
            Evidence(key: "data.vip", label: "data.vip", value: "是"),
            Evidence(key: "data.note", label: "data.note", value: "无"),
        ])
    }

    @Test func evidenceShowsStructuredValuesAsJSON() throws {
        let rules = try plugin(rule("obj", all: [#"{"field": "data.meta", "exists": true}"#]))
        let draft = try #require(try rules.handle(
            event(["meta": .object(["b": .number("2"), "a": .array([.string("x"), .null])])]), context: context()).first)
        #expect(draft.evidence.last == Evidence(key: "data.meta", label: "data.meta", value: #"{"a":["x",null],"b":2}"#))
    }

    @Test func anEmptyOrDisabledConfigurationEmitsNothing() throws {
        let empty = try RulesPlugin(configuration: JSONDecoder().decode(RulesConfiguration.self, from: Data("{}".utf8)))
        #expect(empty.subscriptions.isEmpty)
        #expect(try empty.handle(event([:]), context: context()).isEmpty)

        let disabled = try JSONDecoder().decode(RulesConfiguration.self,
                                                from: Data("{\"enabled\": false, \"rules\": [\(rule("r"))]}".utf8))
        #expect(!disabled.enabled)
        #expect(disabled.rules.count == 1)
    }

    @Test func theBuiltinRegistrationBuildsTheRulesPlugin() throws {
        struct Loaded: Decodable {
            let plugin: LoadedPlugin
            init(from decoder: any Decoder) throws {
                guard let registration = BuiltinPlugins.registration(id: "rules") else {
                    throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "rules is not registered"))
                }
                plugin = try registration.load(from: decoder)
            }
        }
        let json = "{\"enabled\": false, \"rules\": [\(rule("p", type: "insurance.*"))]}"

        let loaded = try JSONDecoder().decode(Loaded.self, from: Data(json.utf8)).plugin

        #expect(loaded.id == "rules")
        #expect(!loaded.enabled)
        #expect(loaded.subscribes(to: "insurance.policy"))
        #expect(!loaded.subscribes(to: "account.transaction"))
        #expect(try loaded.handle(event([:], type: "insurance.policy"), context: context()).map(\.key)
            == ["p:core-banking:E1"])
    }

    // MARK: - Invalid configurations

    @Test func duplicateRuleIdsAreRejectedAtTheSecondRule() throws {
        let config = try configuration([rule("same"), rule("same", type: "loan.account")])

        let error = #expect(throws: PluginConfigurationError.self) { try RulesPlugin(configuration: config) }

        #expect(error?.path == ["rules", "1", "id"])
        #expect(error?.message.contains("same") == true)
        #expect(error?.description.hasPrefix("rules.1.id: ") == true)
    }

    @Test(arguments: [
        ("two operators", rule("r", all: [#"{"field": "data.amount", "gte": "1", "lt": "5"}"#]), "exactly one operator"),
        ("no operator", rule("r", all: [#"{"field": "data.amount"}"#]), "found none"),
        ("unknown field root", rule("r", all: [#"{"field": "amount", "gte": "1"}"#]), "data.<path>"),
        ("bare data root", rule("r", all: [#"{"field": "data.", "exists": true}"#]), "data.<path>"),
        ("group with a field", rule("r", all: [#"{"all": [], "field": "data.x"}"#]), "exactly one key"),
        ("group with all and any", rule("r", all: [#"{"all": [], "any": []}"#]), "exactly one key"),
        ("bad priority", rule("r", extra: #", "priority": "urgentt""#), "urgentt"),
        ("bad once", rule("r", once: "client_week"), "client_week"),
        ("bad type pattern", rule("r", type: "account*"), "account*"),
        ("rule id with a space", rule("large inflow"), "rule id"),
        ("empty rule id", rule(""), "rule id"),
        ("missing title", #"{"id": "r", "when": {"type": "*"}, "lead": {"kind": "k"}}"#, "title"),
        ("in without a list", rule("r", all: [#"{"field": "data.x", "in": "a"}"#]), ""),
    ])
    func invalidRulesAreRejectedWithAHint(_ name: String, _ json: String, _ hint: String) throws {
        let error = #expect(throws: DecodingError.self, "\(name)") { try configuration([json]) }
        if let error, !hint.isEmpty {
            let text = message(of: error) + " " + "\(error)"
            #expect(text.contains(hint), "\(name): \(text)")
        }
    }
}

@Suite struct RulesEvidenceMaskingTests {
    @Test func evidenceNeverCarriesAnUnmaskedAccountOrCounterparty() throws {
        let json = """
        {"rules": [{"id": "r", "when": {"type": "account.transaction", "all": [
            {"field": "data.accountId", "exists": true}, {"field": "data.counterparty", "eq": "王小明"}]},
          "lead": {"kind": "k", "title": "t"}}]}
        """
        let plugin = try RulesPlugin(configuration: try JSONDecoder().decode(RulesConfiguration.self, from: Data(json.utf8)))
        let event = Event(id: "E1", source: "s", type: "account.transaction", time: Date(timeIntervalSince1970: 0),
                          clientId: "C1", data: .object(["accountId": .string("6222020200112233"),
                                                          "counterparty": .string("王小明")]))
        let context = PluginContext(now: Date(timeIntervalSince1970: 0), timeZone: TimeZone(secondsFromGMT: 0) ?? .current,
                                    locale: "zh-CN", logger: Logger(label: "test"), state: InMemoryState(), client: nil)
        let draft = try #require(try plugin.handle(event, context: context).first)
        let shown = Dictionary(uniqueKeysWithValues: draft.evidence.map { ($0.key, $0.value) })
        #expect(shown["data.accountId"] == "************2233")
        #expect(shown["data.counterparty"] == "王**")
    }
}
