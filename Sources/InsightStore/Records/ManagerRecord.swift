import GRDB

/// A relationship manager's profile (JSON).
struct ManagerRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "manager"

    var id: String
    var profile: String

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let profile = Column(CodingKeys.profile)
    }

    enum CodingKeys: String, CodingKey {
        case id = "id"
        case profile = "profile"
    }
}
