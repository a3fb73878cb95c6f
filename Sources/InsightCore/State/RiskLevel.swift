/// A client's assessed risk tolerance, C1 (lowest) to C5.
public struct RiskLevel: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let value: Int

    public init?(_ value: Int) {
        guard (1...5).contains(value) else { return nil }
        self.value = value
    }

    /// Accepts `3`, `"3"` and `"C3"`.
    public init?(_ json: JSONValue) {
        switch json {
        case .number(let literal): guard let number = Int(literal) else { return nil }; self.init(number)
        case .string(let text):
            let digits = text.hasPrefix("C") || text.hasPrefix("c") ? String(text.dropFirst()) : text
            guard let number = Int(digits) else { return nil }
            self.init(number)
        default: return nil
        }
    }

    public var description: String { "C\(value)" }
    public static func < (lhs: RiskLevel, rhs: RiskLevel) -> Bool { lhs.value < rhs.value }
}
