import GRDB

/// One plugin's memory of one client (sliding windows, cooldowns), as JSON.
struct PluginMemoryRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "plugin_memory"

    var clientId: String
    var plugin: String
    var data: String

    enum Columns {
        static let clientId = Column(CodingKeys.clientId)
        static let plugin = Column(CodingKeys.plugin)
        static let data = Column(CodingKeys.data)
    }

    enum CodingKeys: String, CodingKey {
        case clientId = "client_id"
        case plugin = "plugin"
        case data = "data"
    }
}
