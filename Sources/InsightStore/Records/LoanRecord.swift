import GRDB

/// A loan account.
struct LoanRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "loan"

    var id: String
    var clientId: String
    var product: String?
    var principal: String?
    var outstanding: String?
    var currency: String
    var maturityDate: String?
    var status: String?
    var overdueDays: Int
    var lastOverdueMs: Int64?
    var repaidDate: String?

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let clientId = Column(CodingKeys.clientId)
        static let product = Column(CodingKeys.product)
        static let principal = Column(CodingKeys.principal)
        static let outstanding = Column(CodingKeys.outstanding)
        static let currency = Column(CodingKeys.currency)
        static let maturityDate = Column(CodingKeys.maturityDate)
        static let status = Column(CodingKeys.status)
        static let overdueDays = Column(CodingKeys.overdueDays)
        static let lastOverdueMs = Column(CodingKeys.lastOverdueMs)
        static let repaidDate = Column(CodingKeys.repaidDate)
    }

    enum CodingKeys: String, CodingKey {
        case id = "id"
        case clientId = "client_id"
        case product = "product"
        case principal = "principal"
        case outstanding = "outstanding"
        case currency = "currency"
        case maturityDate = "maturity_date"
        case status = "status"
        case overdueDays = "overdue_days"
        case lastOverdueMs = "last_overdue_ms"
        case repaidDate = "repaid_date"
    }
}
