import Foundation
import Testing
@testable import InsightCore

@Suite("LeadJSON: the lead's JSON built directly equals its Codable form")
struct LeadJSONTests {
    static func lead(full: Bool, text: String) -> Lead {
        Lead(id: "ld_0123456789abcdef", key: "risk-alerts:C1:\(text)", plugin: "risk-alerts", kind: "risk_velocity",
             priority: full ? .urgent : .low,
             client: full ? ClientReference(id: "C1", name: "王*", segment: text) : nil,
             manager: full ? ManagerReference(id: "M1", name: text, branchId: "B-01") : nil,
             title: "大额交易 " + text, summary: text, suggestedAction: "核实 / verify: " + text,
             evidence: full ? [Evidence(key: "debitTotal", label: "支出合计", value: "¥50,000.00"),
                               Evidence(key: text, label: text, value: "")] : [],
             products: full ? [ProductSuggestion(id: "P/1", name: text, riskLevel: "R2", reason: "适合 " + text)] : nil,
             dueAt: full ? Date(timeIntervalSince1970: 1_764_000_000.123) : nil,
             createdAt: Date(timeIntervalSince1970: 1_763_990_000),
             sourceEvents: full ? ["e1", text] : [], status: full ? .suppressed : .new, tags: full ? ["marketing", text] : nil)
    }

    /// Texts that JSON writers treat differently: escapes, slashes, line separators, control characters, emoji.
    static let texts = ["", "plain", "quote \" and \\ backslash", "a/b</script>", "line\nbreak\ttab\r", "\u{01}\u{1F}\u{7F}",
                        "\u{2028}\u{2029}", "中文，全角：１３８", "😀 family 👨‍👩‍👧", "e\u{301}"]

    @Test("every lead shape and text, in two time zones", arguments: [true, false])
    func directEqualsReference(full: Bool) throws {
        for zone in ["Asia/Shanghai", "UTC"] {
            let timeZone = try #require(TimeZone(identifier: zone))
            for text in Self.texts {
                let lead = Self.lead(full: full, text: text)
                #expect(try LeadJSON.value(lead, timeZone: timeZone) == LeadJSON.referenceValue(lead, timeZone: timeZone),
                        "\(text.debugDescription) in \(zone)")
            }
        }
    }

    /// The members that are optional inside a reference, and empty lists where a list is optional.
    @Test("a client and manager without optional members, and empty products and tags")
    func partialReferencesAndEmptyLists() throws {
        let references: [(ClientReference, ManagerReference)] = [
            (ClientReference(id: "C1", name: nil, segment: nil), ManagerReference(id: "M1", name: nil, branchId: nil)),
            (ClientReference(id: "C1", name: "王*", segment: nil), ManagerReference(id: "M1", name: nil, branchId: "B-01")),
            (ClientReference(id: "C1", name: nil, segment: "vip"), ManagerReference(id: "M1", name: "李*", branchId: nil)),
        ]
        for (client, manager) in references {
            for (products, tags) in [([ProductSuggestion](), [String]()), ([], nil), (nil, [])] as [([ProductSuggestion]?, [String]?)] {
                let lead = Lead(id: "ld_1", key: "k", plugin: "p", kind: "k", priority: .normal, client: client, manager: manager,
                                title: "t", summary: "", suggestedAction: "", evidence: [], products: products, dueAt: nil,
                                createdAt: Date(timeIntervalSince1970: 0), sourceEvents: [], status: .new, tags: tags)
                let direct = try LeadJSON.value(lead, timeZone: .gmt)
                #expect(try direct == LeadJSON.referenceValue(lead, timeZone: .gmt),
                        "\(client) \(manager) products \(String(describing: products)) tags \(String(describing: tags))")
            }
        }
    }

    @Test("a lead with every member set shows every stored property (a new one must be added to the direct form)")
    func everyPropertyIsWritten() throws {
        let lead = Self.lead(full: true, text: "x")
        let keys = Set(try #require(LeadJSON.value(lead, timeZone: .gmt).objectValue).keys)
        let properties = Set(Mirror(reflecting: lead).children.compactMap(\.label))
        #expect(keys == properties)
    }
}
