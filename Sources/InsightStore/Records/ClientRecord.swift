import GRDB

/// A client's profile (JSON) and the columns queries filter on.
struct ClientRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "client"

    var id: String
    var profile: String?
    var managerId: String?
    var branchId: String?
    var segment: String?
    var lastEventMs: Int64?
    var lastInteractionMs: Int64?
    /// ``Birthdays/key(birthDate:calendar:)``, indexed for the daily birthday query.
    var birthdayKey: Int?
    var lastWealthBuyMs: Int64?
    /// Each plugin's memory of the client, as a JSON object by plugin id.
    var memory: String?

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let profile = Column(CodingKeys.profile)
        static let managerId = Column(CodingKeys.managerId)
        static let branchId = Column(CodingKeys.branchId)
        static let segment = Column(CodingKeys.segment)
        static let lastEventMs = Column(CodingKeys.lastEventMs)
        static let lastInteractionMs = Column(CodingKeys.lastInteractionMs)
        static let birthdayKey = Column(CodingKeys.birthdayKey)
        static let lastWealthBuyMs = Column(CodingKeys.lastWealthBuyMs)
        static let memory = Column(CodingKeys.memory)
    }

    enum CodingKeys: String, CodingKey {
        case id = "id"
        case profile = "profile"
        case managerId = "manager_id"
        case branchId = "branch_id"
        case segment = "segment"
        case lastEventMs = "last_event_ms"
        case lastInteractionMs = "last_interaction_ms"
        case birthdayKey = "birthday_key"
        case lastWealthBuyMs = "last_wealth_buy_ms"
        case memory = "memory"
    }
}
