/// A strict RFC 8259 JSON parser producing ``JSONValue``.
///
/// Foundation's decoders turn numbers into `Double` (losing decimal money) and report errors without a
/// position. This parser keeps number literals exact and reports line and column, which integration
/// engineers need when a nightly file has one bad line. It is the one place JSON text is decoded; the
/// ``EventDecoding`` protocol keeps it replaceable by a faster engine.
public struct JSONParser {
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public let offset: Int
        public let line: Int
        public let column: Int
        /// The text may be valid JSON, but it holds more top-level elements than the caller allows.
        public var exceedsLimit = false
        public var description: String { "line \(line), column \(column): \(message)" }
    }

    public static let maximumDepth = 64

    /// The text being parsed: borrowed for the parse only, never copied (a parser lives inside one call).
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index: Int
    /// Where the root object's `data` member's value lies in `bytes`, once parsed.
    private var dataRange: Range<Int>?
    /// The members of the objects being parsed, innermost last (see `parseObject`).
    private var members: [(key: String, value: JSONValue)] = []
    /// The most elements a top-level array may have (see ``parse(_:maximumTopLevelElements:)``).
    private var topLevelLimit = Int.max

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.index = 0
    }

    /// Parses exactly one JSON document (surrounding white space allowed).
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        return try parser.parseDocument()
    }

    public static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(Failure) in try parse(buffer) }
    }

    /// Parses as ``parse(_:)-swift.type.method`` does, but stops at the element after the first `limit` of a
    /// top-level array, with a failure whose ``Failure/exceedsLimit`` is set: a batch of millions of tiny items
    /// is refused before it takes memory for each.
    public static func parse(_ bytes: [UInt8], maximumTopLevelElements limit: Int) throws(Failure) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(Failure) in
            var parser = JSONParser(bytes: buffer)
            parser.topLevelLimit = limit
            return try parser.parseDocument()
        }
    }

    public static func parse(_ bytes: some Collection<UInt8>) throws(Failure) -> JSONValue {
        try parse(Array(bytes))
    }

    public static func parse(_ text: String) throws(Failure) -> JSONValue {
        var text = text
        return try text.withUTF8 { buffer in Result { () throws(Failure) in try parse(buffer) } }.get()
    }

    /// Parses an event envelope as ``parse(_:)-swift.type.method`` does, and also returns the original text of
    /// its root object's `data` member (nil when it has none), so the journal can store the bytes it was sent
    /// instead of writing them again. The text is valid UTF-8: the parser checked every string in it, and
    /// everything else in JSON is ASCII.
    public static func parseEnvelope(_ bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> (value: JSONValue, dataText: String?) {
        var parser = JSONParser(bytes: bytes)
        let value = try parser.parseDocument()
        let text = parser.dataRange.map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
        return (value, text)
    }

    /// Parses exactly one JSON document as ``parse(_:)-swift.type.method`` does (the same errors at the same
    /// places), keeping a root object of up to 16 members as its members instead of building its dictionary.
    public static func parseMembers(_ bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> JSONDocument {
        var parser = JSONParser(bytes: bytes)
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { parser.index = 3 }
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "{") else { return .value(try parser.parseDocument()) }
        let document = try parser.parseObject(depth: 0, asMembers: true)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.failure("unexpected data after the JSON value") }
        return document
    }

    public static func parseMembers(_ text: String) throws(Failure) -> JSONDocument {
        var text = text
        return try text.withUTF8 { buffer in Result { () throws(Failure) in try parseMembers(buffer) } }.get()
    }

    /// The members of a flat native event envelope, read straight from its bytes: no object is built for the
    /// envelope, only the `data` member's value (the typed fast path of ``EventBatch``). Nil unless the bytes
    /// are one JSON object whose members are among `id`, `type`, `time`, `source`, `clientId` and `data`,
    /// each at most once and each key written without escapes; anything else (invalid JSON, a CloudEvent's
    /// `specversion`, an extra member) is left to ``parse(_:)-swift.type.method``, which finds the same members
    /// or the precise error. The same members give the same event either way.
    public static func scanEnvelope(_ bytes: UnsafeBufferPointer<UInt8>) -> EnvelopeMembers? {
        var parser = JSONParser(bytes: bytes)
        return try? parser.scanEnvelopeMembers()
    }

    private mutating func parseDocument() throws(Failure) -> JSONValue {
        // A UTF-8 byte order mark is tolerated at the very start.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        skipWhitespace()
        guard index < bytes.count else { throw failure("empty input: expected a JSON value") }
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard index == bytes.count else { throw failure("unexpected data after the JSON value") }
        return value
    }

    /// See ``scanEnvelope(_:)``: nil for a shape it leaves to the full parse; throws for invalid JSON.
    private mutating func scanEnvelopeMembers() throws(Failure) -> EnvelopeMembers? {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        skipWhitespace()
        guard peek() == UInt8(ascii: "{") else { return nil }
        index += 1
        var members = EnvelopeMembers()
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\""), let member = scanMemberName() else { return nil }
                skipWhitespace()
                guard peek() == UInt8(ascii: ":") else { return nil }
                index += 1
                skipWhitespace()
                let valueStart = index
                switch member {
                case .id: guard members.id == nil else { return nil }; members.id = try parseValue(depth: 1)
                case .type: guard members.type == nil else { return nil }; members.type = try parseValue(depth: 1)
                case .time: guard members.time == nil else { return nil }; members.time = try parseValue(depth: 1)
                case .source: guard members.source == nil else { return nil }; members.source = try parseValue(depth: 1)
                case .clientId: guard members.clientId == nil else { return nil }; members.clientId = try parseValue(depth: 1)
                case .data:
                    guard members.data == nil else { return nil }
                    // An object is kept as its members (``JSONObjectMembers``): no dictionary on the data path.
                    members.data = peek() == UInt8(ascii: "{")
                        ? try parseObject(depth: 1, asMembers: true) : .value(try parseValue(depth: 1))
                    members.dataRange = valueStart..<index
                }
                skipWhitespace()
                switch peek() {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"): index += 1
                    skipWhitespace()
                    return index == bytes.count ? members : nil
                default: return nil
                }
            }
        }
        skipWhitespace()
        return index == bytes.count ? members : nil
    }

    /// Reads a quoted key at `index` and names the envelope member it is; nil (index anywhere) for any other
    /// key, or one with an escape or a control character.
    private mutating func scanMemberName() -> EnvelopeMembers.Member? {
        let start = index + 1
        var end = start
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            end += 1
        }
        guard end < bytes.count else { return nil }
        let key = UnsafeBufferPointer(rebasing: bytes[start..<end])
        index = end + 1
        func named(_ name: StaticString) -> Bool {
            key.count == name.utf8CodeUnitCount
                && key.elementsEqual(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        }
        switch key.count {
        case 2: return named("id") ? .id : nil
        case 4: return named("type") ? .type : named("time") ? .time : named("data") ? .data : nil
        case 6: return named("source") ? .source : nil
        case 8: return named("clientId") ? .clientId : nil
        default: return nil
        }
    }

    private mutating func parseValue(depth: Int) throws(Failure) -> JSONValue {
        guard depth < Self.maximumDepth else { throw failure("nesting deeper than \(Self.maximumDepth) levels") }
        guard index < bytes.count else { throw failure("unexpected end of input: expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            guard case .value(let object) = try parseObject(depth: depth, asMembers: false) else {
                preconditionFailure("an object parsed as a value is a value")
            }
            return object
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw failure("unexpected character \(describe(bytes[index])): expected a value")
        }
    }

    /// An object at `index`; `asMembers` keeps one of up to ``linearMembers`` members as its members (a larger one
    /// is always a dictionary).
    private mutating func parseObject(depth: Int, asMembers: Bool) throws(Failure) -> JSONDocument {
        index += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { index += 1; return asMembers ? .members(JSONObjectMembers(uniqueKeys: [])) : .value(.object([:])) }
        // Members gather on a stack shared by the nested objects, and the dictionary is made once at the end
        // with room for exactly them: no growth, and half the memory of a guessed capacity (a batch of
        // decoded events is mostly these dictionaries). A duplicate key is found as it is read, by comparing
        // with the members before it; a large object switches to a dictionary, so a hostile one stays linear.
        let base = members.count
        // An object kept as its members with nothing under it on the stack (an event's `data`) takes the stack
        // itself as its members when it ends, instead of a copy of it: room for a typical event's few members.
        let takesStack = asMembers && base == 0
        // Room for a typical object's members at once, not grown one doubling at a time on every parse.
        if members.capacity == 0 { members.reserveCapacity(takesStack ? Self.typicalMembers : Self.linearMembers) }
        defer { popMembers(to: base) }
        var large: [String: JSONValue]?
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw failure("expected a quoted object key") }
            // A key is quoted in a failure through `EventRejection.excerpt`: failures become rejection reasons,
            // and a key may be megabytes long.
            let key = try parseString()
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw failure("expected ':' after object key \(EventRejection.excerpt(key))") }
            index += 1
            skipWhitespace()
            let valueStart = index
            let value = try parseValue(depth: depth + 1)
            if depth == 0, key == "data" { dataRange = valueStart..<index }
            if large != nil {
                guard large?.updateValue(value, forKey: key) == nil else { throw failure("duplicate object key \(EventRejection.excerpt(key))") }
            } else {
                for member in members[base...] where member.key == key {
                    throw failure("duplicate object key \(EventRejection.excerpt(key))")
                }
                members.append((key, value))
                if members.count - base > Self.linearMembers {
                    var dictionary = [String: JSONValue](minimumCapacity: 4 * Self.linearMembers)
                    for member in members[base...] { dictionary[member.key] = member.value }
                    popMembers(to: base)
                    large = dictionary
                }
            }
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                if let large { return .value(.object(large)) }
                // Taken only when most of its room is used: a stack grown by nested objects is copied to size.
                if takesStack, members.capacity <= 2 * members.count {
                    var taken: [(key: String, value: JSONValue)] = []
                    swap(&taken, &members)
                    return .members(JSONObjectMembers(uniqueKeys: taken))
                }
                if asMembers { return .members(JSONObjectMembers(uniqueKeys: Array(members[base...]))) }
                var object = [String: JSONValue](minimumCapacity: members.count - base)
                for member in members[base...] { object[member.key] = member.value }
                return .value(.object(object))
            default: throw failure("expected ',' or '}' in object")
            }
        }
    }

    /// Objects up to this many members find duplicates by comparison; larger ones through a dictionary.
    private static let linearMembers = 16
    /// The members most events' `data` has at most (a transaction's: account, amount, currency, direction, channel,
    /// counterparty, balance after, time): the room an event's members are parsed into, kept as its storage.
    private static let typicalMembers = 8

    /// Drops the members above `base` (one object's, at most one more than ``linearMembers``) one at a time, where
    /// `removeSubrange` (and `removeLast(_:)`, which calls it) would run the generic range replacement for every object.
    private mutating func popMembers(to base: Int) {
        while members.count > base { members.removeLast() }
    }

    private mutating func parseArray(depth: Int) throws(Failure) -> JSONValue {
        index += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") { index += 1; return .array(array) }
        while true {
            skipWhitespace()
            if depth == 0, array.count == topLevelLimit {
                var limitFailure = failure("more than \(topLevelLimit) elements in the top-level array")
                limitFailure.exceedsLimit = true
                throw limitFailure
            }
            array.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(array)
            default: throw failure("expected ',' or ']' in array")
            }
        }
    }

    private mutating func parseString() throws(Failure) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes. ASCII text (most keys and values) is valid UTF-8 without a check.
        var high: UInt8 = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let end = index
                index += 1
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<end])
                let text = high < 0x80 ? String(decoding: slice, as: UTF8.self) : Self.string(slice)
                guard let text else { throw failure("string is not valid UTF-8", at: start) }
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw failure("control character in string (escape it)") }
            high |= byte
            index += 1
        }
        var buffer = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let text = buffer.withUnsafeBufferPointer(Self.string) else {
                    throw failure("string is not valid UTF-8", at: start)
                }
                return text
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { break }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): buffer.append(0x22)
                case UInt8(ascii: "\\"): buffer.append(0x5C)
                case UInt8(ascii: "/"): buffer.append(0x2F)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                              bytes[index + 1] == UInt8(ascii: "u") else {
                            throw failure("unpaired UTF-16 surrogate in \\u escape")
                        }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw failure("invalid UTF-16 low surrogate in \\u escape")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw failure("unpaired UTF-16 surrogate in \\u escape")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid \\u escape") }
                    buffer.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    throw failure("invalid escape \\\(describe(escape))", at: index - 1)
                }
            default:
                if byte < 0x20 { throw failure("control character in string (escape it)") }
                buffer.append(byte)
                index += 1
            }
        }
        throw failure("unterminated string", at: start - 1)
    }

    /// The UTF-8 bytes as a string, or nil when they are not valid UTF-8. `String(decoding:)` is the
    /// stdlib's specialized fast path; it repairs invalid input with U+FFFD, which a byte comparison detects.
    private static func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.utf8.elementsEqual(bytes) ? text : nil
    }

    private mutating func parseHex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("incomplete \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw failure("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func parseNumber() throws(Failure) -> String {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), isDigit(first) else { throw failure("invalid number: expected a digit") }
        if first == UInt8(ascii: "0") {
            index += 1
            if let next = peek(), isDigit(next) { throw failure("invalid number: leading zero") }
        } else {
            while let next = peek(), isDigit(next) { index += 1 }
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard let next = peek(), isDigit(next) else { throw failure("invalid number: expected a digit after '.'") }
            while let next = peek(), isDigit(next) { index += 1 }
        }
        if let next = peek(), next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
            index += 1
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
            guard let digit = peek(), isDigit(digit) else { throw failure("invalid number: expected exponent digits") }
            while let next = peek(), isDigit(next) { index += 1 }
        }
        // Only ASCII digits and signs were consumed, so this cannot fail.
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    }

    private mutating func expectLiteral(_ literal: String) throws(Failure) {
        for expected in literal.utf8 {
            guard index < bytes.count else { throw failure("unexpected end of input in literal \(literal)") }
            guard bytes[index] == expected else { throw failure("invalid literal: expected \(literal)") }
            index += 1
        }
    }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }
    private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private func describe(_ byte: UInt8) -> String {
        byte >= 0x21 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }

    private func failure(_ message: String, at position: Int? = nil) -> Failure {
        let offset = min(position ?? index, bytes.count)
        var line = 1
        var lineStart = 0
        for position in 0..<offset where bytes[position] == 0x0A {
            line += 1
            lineStart = position + 1
        }
        return Failure(message: message, offset: offset, line: line, column: offset - lineStart + 1)
    }
}
