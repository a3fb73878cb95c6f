import Foundation
import Testing
@testable import InsightCore

@Suite("EventPattern")
struct EventPatternTests {
    @Test(arguments: [
        ("account.*", "account.transaction", true),
        ("account.*", "account.balance", true),
        ("account.*", "account.x.y", true),
        ("account.*", "accounts.x", false),
        ("account.*", "account", false),
        ("account.*", "loan.account", false),
        ("account.*", "xaccount.transaction", false),
        ("*", "account.transaction", true),
        ("*", "custom", true),
        ("account.transaction", "account.transaction", true),
        ("account.transaction", "account.transactions", false),
        ("account.transaction", "account.transaction.x", false),
        ("account.transaction", "account.balance", false),
        ("custom_alert-1", "custom_alert-1", true),
        ("客户.*", "客户.生日", true),
    ])
    func matching(pattern: String, type: String, matches: Bool) throws {
        let parsed = try #require(EventPattern(pattern))
        #expect(parsed.matches(type) == matches)
        #expect(parsed.pattern == pattern)
        #expect(parsed.description == pattern)
    }

    @Test("invalid patterns", arguments: [
        "", "account*", "*.account", ".account", "account.", ".*", "account.**", "account.*.*", "**", "a*b",
        "account transaction", "account/transaction", "account.?", "*account",
    ])
    func invalid(_ pattern: String) {
        #expect(EventPattern(pattern) == nil)
    }

    @Test func decodesFromAString() throws {
        let patterns = try JSONDecoder().decode([EventPattern].self, from: Data(#"["account.*","*","loan.account"]"#.utf8))
        #expect(patterns.map(\.pattern) == ["account.*", "*", "loan.account"])
    }

    @Test func decodingAnInvalidPatternThrows() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([EventPattern].self, from: Data(#"["account*"]"#.utf8))
        }
    }
}
