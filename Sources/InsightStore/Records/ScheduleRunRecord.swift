import GRDB

/// A daily tick that ran, so catch-up after a restart runs each missed tick once.
struct ScheduleRunRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "schedule_run"

    var plugin: String
    var localDate: String
    var scheduledMs: Int64
    var ranMs: Int64
    var leadCount: Int

    enum Columns {
        static let plugin = Column(CodingKeys.plugin)
        static let localDate = Column(CodingKeys.localDate)
        static let scheduledMs = Column(CodingKeys.scheduledMs)
        static let ranMs = Column(CodingKeys.ranMs)
        static let leadCount = Column(CodingKeys.leadCount)
    }

    enum CodingKeys: String, CodingKey {
        case plugin = "plugin"
        case localDate = "local_date"
        case scheduledMs = "scheduled_ms"
        case ranMs = "ran_ms"
        case leadCount = "lead_count"
    }
}
