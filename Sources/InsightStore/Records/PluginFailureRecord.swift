import GRDB

/// A plugin error on one event or tick, kept for operators; the pipeline went on.
struct PluginFailureRecord: Codable, Sendable, Hashable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "plugin_failure"

    var id: Int64?
    var plugin: String
    var journalSeq: Int64?
    var eventId: String?
    var error: String
    var atMs: Int64

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let plugin = Column(CodingKeys.plugin)
        static let journalSeq = Column(CodingKeys.journalSeq)
        static let eventId = Column(CodingKeys.eventId)
        static let error = Column(CodingKeys.error)
        static let atMs = Column(CodingKeys.atMs)
    }

    enum CodingKeys: String, CodingKey {
        case id = "id"
        case plugin = "plugin"
        case journalSeq = "journal_seq"
        case eventId = "event_id"
        case error = "error"
        case atMs = "at_ms"
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
