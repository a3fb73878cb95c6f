import GRDB

/// A corporate client's financial statement for one period.
struct FinancialsRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "financials"

    var clientId: String
    var period: String
    var totalAssets: String?
    var totalLiabilities: String?
    var operatingCashFlow: String?
    var revenue: String?

    enum Columns {
        static let clientId = Column(CodingKeys.clientId)
        static let period = Column(CodingKeys.period)
        static let totalAssets = Column(CodingKeys.totalAssets)
        static let totalLiabilities = Column(CodingKeys.totalLiabilities)
        static let operatingCashFlow = Column(CodingKeys.operatingCashFlow)
        static let revenue = Column(CodingKeys.revenue)
    }

    enum CodingKeys: String, CodingKey {
        case clientId = "client_id"
        case period = "period"
        case totalAssets = "total_assets"
        case totalLiabilities = "total_liabilities"
        case operatingCashFlow = "operating_cash_flow"
        case revenue = "revenue"
    }
}
