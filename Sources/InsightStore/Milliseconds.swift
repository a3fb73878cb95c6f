import Foundation

extension Date {
    /// Milliseconds since 1970, as stored in `*_ms` columns.
    public var milliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    public init(milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}

extension Decimal {
    /// Exact decimal text for money columns (never through Double).
    public var storedText: String { plainText }

    public init?(stored text: String?) {
        guard let text else { return nil }
        self.init(exactly: text)
    }
}
