import GRDB

/// One daily balance snapshot; history is kept for AUM-drop detection.
struct BalanceSnapshotRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "balance_snapshot"

    var clientId: String
    var asOf: String
    var aum: String
    var deposits: String?
    var wealth: String?
    var loans: String?

    enum Columns {
        static let clientId = Column(CodingKeys.clientId)
        static let asOf = Column(CodingKeys.asOf)
        static let aum = Column(CodingKeys.aum)
        static let deposits = Column(CodingKeys.deposits)
        static let wealth = Column(CodingKeys.wealth)
        static let loans = Column(CodingKeys.loans)
    }

    enum CodingKeys: String, CodingKey {
        case clientId = "client_id"
        case asOf = "as_of"
        case aum = "aum"
        case deposits = "deposits"
        case wealth = "wealth"
        case loans = "loans"
    }
}
