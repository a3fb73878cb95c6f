import GRDB

/// A current or savings account. Money columns hold exact decimal text.
struct AccountRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "account"

    var id: String
    var clientId: String
    var currency: String
    var balance: String?
    var lastTransactionMs: Int64?
    var transactionCount: Int
    var previousTransactionMs: Int64?

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let clientId = Column(CodingKeys.clientId)
        static let currency = Column(CodingKeys.currency)
        static let balance = Column(CodingKeys.balance)
        static let lastTransactionMs = Column(CodingKeys.lastTransactionMs)
        static let transactionCount = Column(CodingKeys.transactionCount)
        static let previousTransactionMs = Column(CodingKeys.previousTransactionMs)
    }

    enum CodingKeys: String, CodingKey {
        case id = "id"
        case clientId = "client_id"
        case currency = "currency"
        case balance = "balance"
        case lastTransactionMs = "last_transaction_ms"
        case transactionCount = "transaction_count"
        case previousTransactionMs = "previous_transaction_ms"
    }
}
