import Testing
@testable import InsightCore

/// One document that must be rejected, with where and why.
struct InvalidJSONCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let line: Int
    let column: Int
    let message: String

    init(_ name: String, _ text: String, line: Int, column: Int, _ message: String) {
        self.init(name, bytes: Array(text.utf8), line: line, column: column, message)
    }

    init(_ name: String, bytes: [UInt8], line: Int, column: Int, _ message: String) {
        self.name = name
        self.bytes = bytes
        self.line = line
        self.column = column
        self.message = message
    }

    var testDescription: String { name }
}

/// One document that must parse, with the value it must give.
struct ValidJSONCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let expected: JSONValue

    init(_ name: String, _ text: String, _ expected: JSONValue) {
        self.init(name, bytes: Array(text.utf8), expected)
    }

    init(_ name: String, bytes: [UInt8], _ expected: JSONValue) {
        self.name = name
        self.bytes = bytes
        self.expected = expected
    }

    var testDescription: String { name }
}

private let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

@Suite("JSONParser")
struct JSONParserTests {
    static let validCases: [ValidJSONCase] = [
        ValidJSONCase("nested object and array", #"{"a": [1, {"b": null, "c": true}], "d": "x", "e": false}"#,
                      .object([
                          "a": .array([.number("1"), .object(["b": .null, "c": .bool(true)])]),
                          "d": .string("x"), "e": .bool(false),
                      ])),
        ValidJSONCase("empty containers", #"{"o": {}, "a": []}"#, .object(["o": .object([:]), "a": .array([])])),
        ValidJSONCase("surrounding white space", " \t\r\n[ ] \n", .array([])),
        ValidJSONCase("top-level scalar", "null", .null),
        ValidJSONCase("simple escapes", #""a\"b\\c\/d\b\f\n\r\t""#, .string("a\"b\\c/d\u{08}\u{0C}\n\r\t")),
        ValidJSONCase("\\u BMP escapes", #""\u00e9\u4E2D\u6587""#, .string("é中文")),
        ValidJSONCase("\\u surrogate pair", #""\uD83D\uDE00""#, .string("😀")),
        ValidJSONCase("\\u lowercase surrogate pair", #""x\ud83d\ude00y""#, .string("x😀y")),
        ValidJSONCase("\\u0000", #""a\u0000b""#, .string("a\u{0}b")),
        ValidJSONCase("raw UTF-8", #""张三 😀""#, .string("张三 😀")),
        ValidJSONCase("escape after raw UTF-8", #""张\n三""#, .string("张\n三")),
        ValidJSONCase("money keeps its trailing zero", "1234.50", .number("1234.50")),
        ValidJSONCase("exponent keeps its text", "1e3", .number("1e3")),
        ValidJSONCase("signed exponent", "-12.5E-3", .number("-12.5E-3")),
        ValidJSONCase("plus exponent", "1E+10", .number("1E+10")),
        ValidJSONCase("negative zero", "-0", .number("-0")),
        ValidJSONCase("zero with fraction", "0.05", .number("0.05")),
        ValidJSONCase("numbers in an array", "[0,-1,2.50]", .array([.number("0"), .number("-1"), .number("2.50")])),
        ValidJSONCase("byte order mark", bytes: bom + Array(#"{"a":1}"#.utf8), .object(["a": .number("1")])),
        ValidJSONCase("byte order mark then white space", bytes: bom + Array(" \n[true]".utf8), .array([.bool(true)])),
    ]

    @Test("valid documents", arguments: validCases)
    func parsesValid(_ testCase: ValidJSONCase) throws {
        let value = try JSONParser.parse(testCase.bytes)
        #expect(value == testCase.expected)
    }

    @Test func stringAndByteEntryPointsAgree() throws {
        let text = #"{"amount": 1234.50, "name": "张三"}"#
        let fromString = try JSONParser.parse(text)
        let fromBytes = try JSONParser.parse(Array(text.utf8))
        #expect(fromString == fromBytes)
        #expect(fromString["amount"] == .number("1234.50"))
    }

    @Test func nestingOfExactlyMaximumDepthIsAccepted() throws {
        let depth = JSONParser.maximumDepth
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var value = try JSONParser.parse(text)
        var levels = 0
        while case .array(let items) = value {
            levels += 1
            guard let first = items.first else { break }
            value = first
        }
        #expect(levels == depth)
    }

    static let invalidCases: [InvalidJSONCase] = [
        InvalidJSONCase("empty input", "", line: 1, column: 1, "empty input"),
        InvalidJSONCase("only white space", "  \n  ", line: 2, column: 3, "empty input"),
        InvalidJSONCase("trailing comma in array", "[1,2,]", line: 1, column: 6, "unexpected character ']'"),
        InvalidJSONCase("trailing comma in object", #"{"a":1,}"#, line: 1, column: 8, "expected a quoted object key"),
        InvalidJSONCase("trailing comma on its own line", "[\n  1,\n  2,\n]", line: 4, column: 1,
                        "unexpected character ']'"),
        InvalidJSONCase("CRLF line endings", "[1,\r\n]", line: 2, column: 1, "unexpected character ']'"),
        InvalidJSONCase("leading zero", "[01]", line: 1, column: 3, "leading zero"),
        InvalidJSONCase("negative leading zero", "-012", line: 1, column: 3, "leading zero"),
        InvalidJSONCase("lone minus", "-", line: 1, column: 2, "expected a digit"),
        InvalidJSONCase("dot without digits", "1.", line: 1, column: 3, "expected a digit after '.'"),
        InvalidJSONCase("exponent without digits", "1e+", line: 1, column: 4, "expected exponent digits"),
        InvalidJSONCase("leading dot", ".5", line: 1, column: 1, "unexpected character '.'"),
        InvalidJSONCase("leading plus", "+1", line: 1, column: 1, "unexpected character '+'"),
        InvalidJSONCase("unterminated string", #"{"a": "abc"#, line: 1, column: 7, "unterminated string"),
        InvalidJSONCase("unterminated string on line 2", "[\n  \"abc", line: 2, column: 3, "unterminated string"),
        InvalidJSONCase("unterminated string after escape", #"["a\n"#, line: 1, column: 2, "unterminated string"),
        InvalidJSONCase("raw tab in string", "[\"a\tb\"]", line: 1, column: 4, "control character"),
        InvalidJSONCase("raw newline in string", "{\"a\":\n\"x\ny\"}", line: 2, column: 3, "control character"),
        InvalidJSONCase("control character after an escape", "[\"\\n\u{01}\"]", line: 1, column: 5, "control character"),
        InvalidJSONCase("invalid escape", #""\x""#, line: 1, column: 3, #"invalid escape \'x'"#),
        InvalidJSONCase("short \\u escape", #""\u12""#, line: 1, column: 4, "incomplete \\u escape"),
        InvalidJSONCase("bad hex digit", #""\u12G4""#, line: 1, column: 6, "invalid hex digit"),
        InvalidJSONCase("lone high surrogate", #""\uD83D""#, line: 1, column: 8, "unpaired UTF-16 surrogate"),
        InvalidJSONCase("lone low surrogate", #""\uDE00""#, line: 1, column: 8, "unpaired UTF-16 surrogate"),
        InvalidJSONCase("high surrogate then non-surrogate", #""\uD83D\u0041""#, line: 1, column: 14,
                        "invalid UTF-16 low surrogate"),
        InvalidJSONCase("duplicate key", #"{"a":1,"a":2}"#, line: 1, column: 13, #"duplicate object key "a""#),
        InvalidJSONCase("duplicate key on line 3", "{\n\"a\": 1,\n\"a\": 2\n}", line: 3, column: 7,
                        #"duplicate object key "a""#),
        InvalidJSONCase("nesting deeper than 64", String(repeating: "[", count: 65) + String(repeating: "]", count: 65),
                        line: 1, column: 65, "nesting deeper than 64 levels"),
        InvalidJSONCase("object nesting deeper than 64",
                        String(repeating: #"{"k":"#, count: 65) + "1" + String(repeating: "}", count: 65),
                        line: 1, column: 5 * 64 + 1, "nesting deeper than 64 levels"),
        InvalidJSONCase("trailing garbage", #"{"a":1} x"#, line: 1, column: 9, "unexpected data after the JSON value"),
        InvalidJSONCase("two documents", "1 2", line: 1, column: 3, "unexpected data after the JSON value"),
        InvalidJSONCase("number followed by letters", "12abc", line: 1, column: 3, "unexpected data after the JSON value"),
        InvalidJSONCase("missing colon", #"{"a" 1}"#, line: 1, column: 6, "expected ':'"),
        InvalidJSONCase("unquoted key", "{a:1}", line: 1, column: 2, "expected a quoted object key"),
        InvalidJSONCase("missing comma in array", "[1 2]", line: 1, column: 4, "expected ',' or ']'"),
        InvalidJSONCase("missing comma in object", #"{"a":1 "b":2}"#, line: 1, column: 8, "expected ',' or '}'"),
        InvalidJSONCase("unclosed array", "[1,", line: 1, column: 4, "unexpected end of input"),
        InvalidJSONCase("truncated literal", "tru", line: 1, column: 4, "unexpected end of input in literal true"),
        InvalidJSONCase("misspelled literal", "nul1", line: 1, column: 4, "invalid literal: expected null"),
        InvalidJSONCase("single quotes", "['a']", line: 1, column: 2, "unexpected character '''"),
        InvalidJSONCase("invalid UTF-8 in string", bytes: Array(#"[""#.utf8) + [0x61, 0xFF] + Array(#""]"#.utf8),
                        line: 1, column: 3, "not valid UTF-8"),
        InvalidJSONCase("overlong UTF-8 in string", bytes: [0x22, 0xC0, 0x80, 0x22], line: 1, column: 2, "not valid UTF-8"),
        InvalidJSONCase("truncated UTF-8 sequence before an escape",
                        bytes: [0x22, 0xE4, 0xB8, 0x5C, 0x6E, 0x22], line: 1, column: 2, "not valid UTF-8"),
        InvalidJSONCase("invalid UTF-8 outside a string", bytes: [0x5B, 0xFF, 0x5D], line: 1, column: 2,
                        "unexpected character byte 0xff"),
        InvalidJSONCase("byte order mark only", bytes: bom, line: 1, column: 4, "empty input"),
        InvalidJSONCase("byte order mark not at the start", bytes: [0x20] + bom + [0x31], line: 1, column: 2,
                        "unexpected character byte 0xef"),
    ]

    @Test("invalid documents report line and column", arguments: invalidCases)
    func rejectsInvalid(_ testCase: InvalidJSONCase) throws {
        let failure = try #require(throws: JSONParser.Failure.self) {
            try JSONParser.parse(testCase.bytes)
        }
        #expect(failure.line == testCase.line)
        #expect(failure.column == testCase.column)
        #expect(failure.message.contains(testCase.message), "message was: \(failure.message)")
    }

    /// `parseMembers` keeps a small root object as its members: the same value as `parse` for every valid case,
    /// the same error for every invalid one.
    @Test("parseMembers gives what parse gives", arguments: validCases)
    func membersAgreeWithParse(_ testCase: ValidJSONCase) throws {
        let document = try testCase.bytes.withUnsafeBufferPointer { try JSONParser.parseMembers($0) }
        switch document {
        case .members(let members):
            #expect(JSONValue.object(members.object) == testCase.expected)
            for (key, value) in testCase.expected.objectValue ?? [:] { #expect(members[key] == value) }
        case .value(let value):
            #expect(value == testCase.expected)
            #expect(value.objectValue == nil, "a small object is kept as its members")
        }
    }

    @Test("parseMembers reports the errors parse reports", arguments: invalidCases)
    func membersRejectAsParseDoes(_ testCase: InvalidJSONCase) throws {
        let failure = try #require(throws: JSONParser.Failure.self) {
            try testCase.bytes.withUnsafeBufferPointer { try JSONParser.parseMembers($0) }
        }
        let reference = try #require(throws: JSONParser.Failure.self) { try JSONParser.parse(testCase.bytes) }
        #expect(failure == reference)
    }

    @Test func membersKeepOrderAndLargeObjectsStayDictionaries() throws {
        guard case .members(let members) = try JSONParser.parseMembers(#" {"b": 1, "a": {"c": [2]}} "#) else {
            Issue.record("a small object is kept as its members")
            return
        }
        #expect(members.members.map(\.key) == ["b", "a"])
        #expect(members["a"] == .object(["c": .array([.number("2")])]))
        #expect(members["c"] == nil)
        let large = "{" + (0..<17).map { "\"k\($0)\": \($0)" }.joined(separator: ",") + "}"
        guard case .value(let value) = try JSONParser.parseMembers(large) else {
            Issue.record("an object of more than 16 members is a dictionary")
            return
        }
        #expect(value.objectValue?.count == 17)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parseMembers(#"{"k": 1, "k": 2}"#) }
    }

    @Test func failureOffsetIsZeroBasedByteOffset() throws {
        let failure = try #require(throws: JSONParser.Failure.self) {
            try JSONParser.parse("[\n  1,\n  2,\n]")
        }
        #expect(failure.offset == 12)
        #expect(failure.line == 4)
        #expect(failure.column == 1)
    }

    @Test func failureDescriptionNamesLineAndColumn() throws {
        let failure = try #require(throws: JSONParser.Failure.self) {
            try JSONParser.parse("{\n  \"a\": 1,\n}")
        }
        #expect(failure.description == "line 3, column 1: expected a quoted object key")
    }
}
