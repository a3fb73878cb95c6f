import Foundation
import InsightCore

/// A money amount in a config file: a YAML number or a decimal string, read exactly (never through Double).
public struct ConfigDecimal: Sendable, Decodable {
    public let value: Decimal

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Decimal(exactly: text.replacingOccurrences(of: "_", with: "")) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected an amount such as 500000 or 1234.50, got \"\(text)\"")
        }
        self.value = value
    }
}
