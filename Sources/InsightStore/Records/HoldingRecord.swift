import GRDB

/// A client's net holding of one wealth product.
struct HoldingRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "holding"

    var clientId: String
    var productId: String
    var amount: String
    var lastTradeMs: Int64?

    enum Columns {
        static let clientId = Column(CodingKeys.clientId)
        static let productId = Column(CodingKeys.productId)
        static let amount = Column(CodingKeys.amount)
        static let lastTradeMs = Column(CodingKeys.lastTradeMs)
    }

    enum CodingKeys: String, CodingKey {
        case clientId = "client_id"
        case productId = "product_id"
        case amount = "amount"
        case lastTradeMs = "last_trade_ms"
    }
}
