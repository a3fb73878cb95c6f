import Foundation

/// A parsed JSON value.
///
/// Numbers keep their literal text, so money never rounds through a binary floating-point type:
/// `1234.50` stays `"1234.50"` until a plugin asks for a `Decimal`.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// Follows a dotted path such as `balances.aum`.
    public func value(atPath path: some StringProtocol) -> JSONValue? {
        var current: JSONValue? = self
        for component in path.split(separator: ".") {
            current = current?[String(component)]
            if current == nil { return nil }
        }
        return current
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// A JSON number or a decimal string (`"1234.50"`), as an exact `Decimal`.
    public var decimalValue: Decimal? {
        switch self {
        case .number(let literal): return Decimal(exactly: literal)
        case .string(let text):
            // Foundation's trimming bridges through NSString: skip it for the usual untrimmed text. Printable ASCII at
            // both ends (the usual amount) is not whitespace, without asking the Unicode tables about characters.
            func printable(_ byte: UInt8?) -> Bool { byte.map { $0 > 0x20 && $0 < 0x7F } ?? false }
            if printable(text.utf8.first) && printable(text.utf8.last) { return Decimal(exactly: text) }
            guard let first = text.first, let last = text.last, first.isWhitespace || last.isWhitespace else {
                return Decimal(exactly: text)
            }
            return Decimal(exactly: text.trimmingCharacters(in: .whitespaces))
        default: return nil
        }
    }

    /// A short name of the JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension Decimal {
    /// Parses a plain decimal literal (`-12`, `1234.50`, `1e3`) without going through `Double`.
    /// The whole text must be one number: `"12abc"`, `"1.2.3"` and `"--1"` are nil.
    public init?(exactly text: String) {
        if let value = Self.plainDecimal(text.utf8) {
            self = value
            return
        }
        guard Self.isDecimalLiteral(text.utf8), let value = Decimal(string: text, locale: Self.posix), !value.isNaN
        else { return nil }
        self = value
    }

    private static let posix = Locale(identifier: "en_US_POSIX")

    /// The fast path for the common case, on every event: `-1234.50`, at most 19 digits, no exponent.
    /// Anything else is nil here and goes through Foundation's parser.
    static func plainDecimal(_ bytes: String.UTF8View) -> Decimal? {
        var mantissa: UInt64 = 0, digits = 0, scale = 0
        var negative = false, fraction = false, first = true
        for byte in bytes {
            defer { first = false }
            switch byte {
            case 0x30...0x39 where digits < 19:
                mantissa = mantissa * 10 + UInt64(byte - 0x30)
                digits += 1
                if fraction { scale += 1 }
            case 0x2E where !fraction && digits > 0:
                fraction = true
            case 0x2D where first:
                negative = true
            default:
                return nil
            }
        }
        guard digits > 0, !fraction || scale > 0 else { return nil }
        // A negative zero would be NSDecimal's NaN encoding: zero is zero.
        guard mantissa != 0 else { return Decimal(0) }
        return Decimal(sign: negative ? .minus : .plus, exponent: -scale, significand: Decimal(mantissa))
    }

    /// `[+-]? digits ( . digits )? ( [eE] [+-]? digits )?`
    static func isDecimalLiteral(_ bytes: String.UTF8View) -> Bool {
        var iterator = bytes.makeIterator()
        var byte = iterator.next()
        func isDigit(_ value: UInt8?) -> Bool { value.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        if byte == 0x2B || byte == 0x2D { byte = iterator.next() }
        guard isDigit(byte) else { return false }
        while isDigit(byte) { byte = iterator.next() }
        if byte == 0x2E {
            byte = iterator.next()
            guard isDigit(byte) else { return false }
            while isDigit(byte) { byte = iterator.next() }
        }
        if byte == 0x65 || byte == 0x45 {
            byte = iterator.next()
            if byte == 0x2B || byte == 0x2D { byte = iterator.next() }
            guard isDigit(byte) else { return false }
            while isDigit(byte) { byte = iterator.next() }
        }
        return byte == nil
    }
}

/// Literals, for building JSON in code and tests: `["amount": "100.50", "tags": ["vip"], "active": true]`.
extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
