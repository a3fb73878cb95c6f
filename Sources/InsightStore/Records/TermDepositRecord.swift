import GRDB

/// A term deposit.
struct TermDepositRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "term_deposit"

    var id: String
    var clientId: String
    var amount: String
    var currency: String
    var openDate: String?
    var maturityDate: String
    var status: String?

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let clientId = Column(CodingKeys.clientId)
        static let amount = Column(CodingKeys.amount)
        static let currency = Column(CodingKeys.currency)
        static let openDate = Column(CodingKeys.openDate)
        static let maturityDate = Column(CodingKeys.maturityDate)
        static let status = Column(CodingKeys.status)
    }

    enum CodingKeys: String, CodingKey {
        case id = "id"
        case clientId = "client_id"
        case amount = "amount"
        case currency = "currency"
        case openDate = "open_date"
        case maturityDate = "maturity_date"
        case status = "status"
    }
}
