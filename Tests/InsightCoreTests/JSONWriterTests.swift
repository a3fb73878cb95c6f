import Testing
@testable import InsightCore

struct RoundTripCase: Sendable, CustomTestStringConvertible {
    let name: String
    let value: JSONValue
    init(_ name: String, _ value: JSONValue) {
        self.name = name
        self.value = value
    }
    var testDescription: String { name }
}

@Suite("JSONWriter")
struct JSONWriterTests {
    @Test func objectKeysAreSortedAndThereIsNoWhiteSpace() {
        let value = JSONValue.object([
            "b": .number("1"), "a": .array([.bool(true), .null, .bool(false)]), "c": .string("x"),
        ])
        #expect(JSONWriter.string(value) == #"{"a":[true,null,false],"b":1,"c":"x"}"#)
    }

    @Test func keysSortByCodePointIncludingNestedObjects() {
        let value = JSONValue.object([
            "b": .object(["z": .number("1"), "y": .number("2")]), "a": .null, "B": .null, "aa": .null, "_": .null,
        ])
        #expect(JSONWriter.string(value) == #"{"B":null,"_":null,"a":null,"aa":null,"b":{"y":2,"z":1}}"#)
    }

    @Test func outputDoesNotDependOnInsertionOrder() {
        var first: [String: JSONValue] = [:]
        var second: [String: JSONValue] = [:]
        let keys = (0..<50).map { "key\($0)" }
        for key in keys { first[key] = .string(key) }
        for key in keys.reversed() { second[key] = .string(key) }
        #expect(JSONWriter.string(.object(first)) == JSONWriter.string(.object(second)))
    }

    @Test func emptyContainersAndScalars() {
        #expect(JSONWriter.string(.object([:])) == "{}")
        #expect(JSONWriter.string(.array([])) == "[]")
        #expect(JSONWriter.string(.null) == "null")
        #expect(JSONWriter.string(.bool(true)) == "true")
        #expect(JSONWriter.string(.bool(false)) == "false")
    }

    @Test("numbers are written as their literal text", arguments: ["1234.50", "1e3", "-0", "0.10", "-12.5E-3"])
    func numbersKeepLiteral(_ literal: String) {
        #expect(JSONWriter.string(.number(literal)) == literal)
    }

    @Test func stringEscapes() {
        let text = "a\"b\\c\nd\re\tf\u{01}g\u{1F}h\u{08}i\u{0C}j/k"
        #expect(JSONWriter.string(.string(text)) == #""a\"b\\c\nd\re\tf\u0001g\u001fh\bi\fj/k""#)
    }

    @Test func membersWrittenByHandMakeAnObject() {
        var output = "", members = 0
        JSONWriter.writeMemberName("a", members: &members, into: &output)
        output += "1"
        JSONWriter.writeMemberName("b\"", members: &members, into: &output)
        output += "[]}"
        #expect(output == #"{"a":1,"b\"":[]}"#)
        #expect(members == 2)
    }

    @Test func nonASCIIIsWrittenAsIs() {
        #expect(JSONWriter.string(.string("张三 😀 é")) == "\"张三 😀 é\"")
        #expect(JSONWriter.string(.string("张\n三")) == "\"张\\n三\"")
    }

    @Test func writeStringAppendsToExistingOutput() {
        var output = "prefix:"
        JSONWriter.writeString("a\"b", into: &output)
        #expect(output == #"prefix:"a\"b""#)
        JSONWriter.write(.array([.number("1")]), into: &output)
        #expect(output == #"prefix:"a\"b"[1]"#)
    }

    @Test func canonicalizesParsedText() throws {
        let parsed = try JSONParser.parse(#"{ "b" : [ 1 , 2.50 ] ,"a" : { "d" : "\u00e9" , "c" : null } }"#)
        #expect(JSONWriter.string(parsed) == #"{"a":{"c":null,"d":"é"},"b":[1,2.50]}"#)
    }

    static let roundTripCases: [RoundTripCase] = [
        RoundTripCase("null", .null),
        RoundTripCase("bool", .bool(false)),
        RoundTripCase("money", .number("1234.50")),
        RoundTripCase("exponent", .number("-1.5E+3")),
        RoundTripCase("plain string", .string("hello")),
        RoundTripCase("empty string", .string("")),
        RoundTripCase("every control character", .string(String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }))),
        RoundTripCase("quotes and backslashes", .string(#"\"\\/"\"#)),
        RoundTripCase("non-ASCII", .string("张三 😀 é")),
        RoundTripCase("event envelope", .object([
            "id": .string("evt-1"), "type": .string("account.transaction"),
            "time": .string("2026-11-20T10:00:00+08:00"), "clientId": .string("C000123"),
            "data": .object([
                "accountId": .string("A1"), "amount": .number("1234.50"), "direction": .string("credit"),
                "tags": .array([.string("vip"), .string("新客")]), "note": .null,
            ]),
        ])),
        RoundTripCase("nested arrays", .array([.array([.array([])]), .object([:]), .array([.number("0")])])),
        RoundTripCase("odd keys", .object(["": .null, "a\"b": .bool(true), "\n": .number("1"), "键": .string("值")])),
    ]

    @Test("parse(write(x)) == x", arguments: roundTripCases)
    func roundTrip(_ testCase: RoundTripCase) throws {
        let text = JSONWriter.string(testCase.value)
        let parsed = try JSONParser.parse(text)
        #expect(parsed == testCase.value)
        // Canonical output is a fixed point.
        #expect(JSONWriter.string(parsed) == text)
    }
}
