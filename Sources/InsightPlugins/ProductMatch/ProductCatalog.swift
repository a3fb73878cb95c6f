import Foundation
import InsightCore

/// `plugins-config/products.yaml`: the bank's product catalog, which product-match suggests from.
public struct ProductCatalog: Sendable, Decodable {
    public var products: [Product]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case products
    }

    public init(products: [Product]) {
        self.products = products
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        products = try c.decodeIfPresent([Product].self, forKey: .products) ?? []
    }

    /// Duplicate ids, as (index, message).
    func problems() -> [(index: Int, message: String)] {
        var seen = Set<String>()
        return products.enumerated().compactMap { index, product in
            seen.insert(product.id).inserted ? nil : (index, "product id \(product.id) is used twice")
        }
    }
}

/// A product risk rating, R1 (lowest) to R5.
public struct ProductRisk: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let value: Int

    public init?(_ value: Int) {
        guard (1...5).contains(value) else { return nil }
        self.value = value
    }

    /// Accepts `R3`, `r3` and `3`.
    public init?(_ text: String) {
        let digits = text.hasPrefix("R") || text.hasPrefix("r") ? String(text.dropFirst()) : text
        guard let number = Int(digits) else { return nil }
        self.init(number)
    }

    /// R1: all a client without a valid risk assessment may be offered.
    public static let lowest = ProductRisk(rated: 1)

    private init(rated value: Int) {
        self.value = value
    }

    public var description: String { "R\(value)" }
    public static func < (lhs: ProductRisk, rhs: ProductRisk) -> Bool { lhs.value < rhs.value }
}

public struct Product: Sendable, Decodable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case deposit, wealth, fund, insurance, loan
    }

    public var id: String
    public var name: String
    public var kind: Kind
    public var riskLevel: ProductRisk
    public var minAmount: Decimal
    /// Client segments it is offered to; empty means every segment.
    public var segments: [String]
    public var tags: [String]
    /// Client tags a client must all have (e.g. a pension account).
    public var requires: [String]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, name, kind, segments, tags, requires
        case riskLevel = "risk_level"
        case minAmount = "min_amount"
    }

    public init(id: String, name: String, kind: Kind, riskLevel: ProductRisk, minAmount: Decimal, segments: [String] = [],
                tags: [String] = [], requires: [String] = []) {
        self.id = id
        self.name = name
        self.kind = kind
        self.riskLevel = riskLevel
        self.minAmount = minAmount
        self.segments = segments
        self.tags = tags
        self.requires = requires
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        guard !id.isEmpty else { throw DecodingError.dataCorruptedError(forKey: .id, in: c, debugDescription: "a product needs an id") }
        name = try c.decode(String.self, forKey: .name)
        let kindText = try c.decode(String.self, forKey: .kind)
        guard let kind = Kind(rawValue: kindText) else {
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription:
                "must be one of \(Kind.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(kindText)\"")
        }
        self.kind = kind
        let riskText = try c.decode(String.self, forKey: .riskLevel)
        guard let risk = ProductRisk(riskText) else {
            throw DecodingError.dataCorruptedError(forKey: .riskLevel, in: c, debugDescription: "must be R1 to R5, got \"\(riskText)\"")
        }
        riskLevel = risk
        minAmount = try c.decodeIfPresent(ConfigDecimal.self, forKey: .minAmount)?.value ?? 0
        guard minAmount >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .minAmount, in: c, debugDescription: "must not be negative")
        }
        segments = try c.decodeIfPresent([String].self, forKey: .segments) ?? []
        tags = try c.decodeIfPresent([String].self, forKey: .tags) ?? []
        requires = try c.decodeIfPresent([String].self, forKey: .requires) ?? []
    }
}
