/// An event type pattern: `account.transaction`, `account.*` (a prefix up to a dot), or `*` (everything).
public struct EventPattern: Sendable, Hashable, CustomStringConvertible, Decodable {
    public let pattern: String

    public init?(_ pattern: String) {
        guard !pattern.isEmpty else { return nil }
        if pattern != "*" {
            let body = pattern.hasSuffix(".*") ? String(pattern.dropLast(2)) : pattern
            guard !body.isEmpty, !body.contains("*"), !body.hasPrefix("."), !body.hasSuffix("."),
                  body.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" })
            else { return nil }
        }
        self.pattern = pattern
    }

    public func matches(_ type: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix(".*") { return type.hasPrefix(pattern.dropLast(1)) }
        return type == pattern
    }

    public var description: String { pattern }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let pattern = EventPattern(text) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "\"\(text)\" is not an event type pattern; use a type such as account.transaction, a prefix such as account.*, or *"))
        }
        self = pattern
    }
}
