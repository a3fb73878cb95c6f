import Foundation
import InsightCore
@testable import InsightStore
import Testing

/// A lead's stored body is built directly (``AppDatabase/encodeLeadBody(_:)``); `JSONEncoder`'s form is the
/// reference. Both must read back as the same lead, whatever its shape, texts and dates.
@Suite("Lead body: the stored form built directly reads back as JSONEncoder's does")
struct LeadBodyTests {
    static let texts = ["", "plain", "quote \" and \\ backslash", "a/b</script>", "line\nbreak\ttab\r", "\u{01}\u{1F}\u{7F}",
                        "\u{2028}\u{2029}", "中文，全角：１３８", "😀 family 👨‍👩‍👧", "e\u{301}"]
    /// Whole milliseconds, fractions of one, before 1970, and far ahead; 1764000720.922582 is one of the times finer
    /// than a millisecond that come back a fraction of a microsecond off (through either form).
    static let dates: [Double] = [1_764_000_000, 1_764_000_000.123, 1_764_000_000.1234567, 0.0005, -86_400.25, 4_102_444_800.999,
                                  1_763_990_000.000_001, 1_764_000_720.922_582, 1e-5, 1e13]

    static func lead(_ text: String, date: Date, full: Bool) -> Lead {
        Lead(id: "ld_0123456789abcdef", key: "risk-alerts:C1:\(text)", plugin: "risk-alerts", kind: "risk_velocity",
             priority: full ? .urgent : .low,
             client: full ? ClientReference(id: "C1", name: "王*", segment: text) : ClientReference(id: "C2", name: nil, segment: nil),
             manager: full ? ManagerReference(id: "M1", name: text, branchId: "B-01") : nil,
             title: "大额交易 " + text, summary: text, suggestedAction: "核实 / verify: " + text,
             evidence: full ? [Evidence(key: "debitTotal", label: "支出合计", value: "¥50,000.00"), Evidence(key: text, label: text, value: "")] : [],
             products: full ? [ProductSuggestion(id: "P/1", name: text, riskLevel: "R2", reason: "适合 " + text)] : [],
             dueAt: full ? date.addingTimeInterval(86_400) : nil, createdAt: date,
             sourceEvents: full ? ["e1", text] : [], status: full ? .suppressed : .new, tags: full ? ["marketing", text] : nil)
    }

    @Test("every shape, text and date", arguments: [true, false])
    func directReadsBackAsTheReference(full: Bool) throws {
        for text in Self.texts {
            for seconds in Self.dates {
                let lead = Self.lead(text, date: Date(timeIntervalSince1970: seconds), full: full)
                let direct = try AppDatabase.encodeLeadBody(lead)
                let reference = try AppDatabase.referenceLeadBody(lead)
                let decoded = try JSONDecoder().decodeStoredLead(Data(direct.utf8))
                let expected = try JSONDecoder().decodeStoredLead(Data(reference.utf8))
                #expect(decoded == expected, "\(text.debugDescription) at \(seconds)")
                // Read back directly, from the new form and from JSONEncoder's (the bodies stored before it).
                #expect(try AppDatabase.storedLead(direct) == expected, "\(text.debugDescription) at \(seconds)")
                #expect(try AppDatabase.storedLead(reference) == expected, "\(text.debugDescription) at \(seconds)")
                if seconds != 1_764_000_720.922_582 { #expect(decoded == lead, "\(text.debugDescription) at \(seconds)") }
                // The same members, in the same (sorted) order.
                let keys = { (body: String) throws -> [String] in
                    guard case .object(let object) = try JSONParser.parse(body) else { return [] }
                    return object.keys.sorted()
                }
                #expect(try keys(direct) == keys(reference))
                #expect(direct.hasPrefix("{\"client\":"))
            }
        }
    }

    /// Bodies edited member by member: the direct reading accepts what `JSONDecoder` accepts, with the same lead,
    /// and refuses what it refuses.
    @Test("edited bodies read back as JSONDecoder reads them", arguments: [
        ("title", nil), ("title", JSONValue.null), ("title", .number("5")), ("priority", .string("mega")), ("status", .string("x")),
        ("client", .null), ("client", .object([:])), ("client", .object(["id": .string("C9")])),
        ("client", .object(["id": .string("C9"), "name": .null, "segment": .number("1")])), ("manager", .array([])),
        ("evidence", .array([.object(["label": .string("只有标签"), "value": .string("v")])])), ("evidence", .array([.string("x")])),
        ("evidence", .null), ("evidence", nil), ("products", .null), ("products", .array([])),
        ("products", .array([.object(["id": .string("P"), "name": .string("n"), "riskLevel": .string("R1")])])),
        ("tags", .null), ("tags", .array([])), ("tags", .array([.number("1")])), ("dueAt", .null), ("dueAt", .string("2026-01-01")),
        ("dueAt", .number("1764000000123.5")), ("createdAt", .string("x")), ("createdAt", .number("1.764e12")), ("createdAt", nil),
        ("createdAt", .number("1e-400")), ("createdAt", .number("-2e-324")), ("createdAt", .number("0e400")),
        ("createdAt", .number("1e400")), ("dueAt", .number("0.0")), ("dueAt", .number("-0")),
        ("unknownMember", .string("ignored")), ("sourceEvents", .array([.number("1")])), ("sourceEvents", .array([])),
    ] as [(String, JSONValue?)])
    func editedBodies(member: String, value: JSONValue?) throws {
        let lead = Self.lead("x", date: Date(timeIntervalSince1970: 1_764_000_000.25), full: true)
        guard case .object(var fields) = try JSONParser.parse(try AppDatabase.referenceLeadBody(lead)) else {
            Issue.record("not an object"); return
        }
        fields[member] = value
        let body = JSONWriter.string(.object(fields))
        let reference = Result { try JSONDecoder().decodeStoredLead(Data(body.utf8)) }
        let direct = Result { try AppDatabase.storedLead(body) }
        switch (reference, direct) {
        case (.success(let expected), .success(let actual)): #expect(actual == expected, "\(body)")
        case (.failure, .failure(let error)): #expect("\(error)".contains(member), "the error names the member: \(error)")
        case (.success, .failure(let error)): Issue.record("refused what JSONDecoder reads: \(error) in \(body)")
        case (.failure(let error), .success): Issue.record("read what JSONDecoder refuses (\(error)): \(body)")
        }
    }

    /// Where the text itself is at fault, the direct reading is stricter than `JSONDecoder` (which keeps the first
    /// of two equal keys): no writer of a lead body makes such text.
    @Test func aBodyWithADuplicateKeyIsRefused() throws {
        let body = try AppDatabase.encodeLeadBody(Self.lead("x", date: Date(timeIntervalSince1970: 0), full: false))
        #expect(throws: (any Error).self) { try AppDatabase.storedLead("{\"title\":\"other\"," + body.dropFirst()) }
    }

    @Test func aBodyThatIsNotAnObjectIsRefused() {
        #expect(throws: (any Error).self) { try AppDatabase.storedLead("[]") }
        #expect(throws: (any Error).self) { try AppDatabase.storedLead("{\"id\":") }
    }

    /// The literal of `createdAt` in a body.
    static func createdAtLiteral(_ body: String) throws -> String? {
        guard case .object(let fields) = try JSONParser.parse(body), case .number(let literal)? = fields["createdAt"] else { return nil }
        return literal
    }

    @Test("a date's milliseconds are the number JSONEncoder writes, whole when whole",
          arguments: [1_764_000_000.0, 1_764_000_000.5, 1_764_000_000.000_25, 0.0, -1.0, -0.0015, 1e13, 1_764_000_720.922_582])
    func millisecondsAreTheEncodersNumber(seconds: Double) throws {
        let lead = Self.lead("x", date: Date(timeIntervalSince1970: seconds), full: false)
        let direct = try #require(try Self.createdAtLiteral(AppDatabase.encodeLeadBody(lead)))
        let reference = try #require(try Self.createdAtLiteral(AppDatabase.referenceLeadBody(lead)))
        #expect(Double(direct) == Double(reference), "\(direct) against \(reference)")
        let milliseconds = seconds * 1000
        if milliseconds.rounded() == milliseconds { #expect(direct == String(Int64(milliseconds))) } else { #expect(direct.contains(".")) }
    }

    @Test func aDateThatIsNotFiniteIsRefused() {
        var lead = Self.lead("x", date: Date(timeIntervalSince1970: 1_764_000_000), full: true)
        lead.dueAt = Date(timeIntervalSince1970: .infinity)
        #expect(throws: EncodingError.self) { try AppDatabase.encodeLeadBody(lead) }
    }
}
