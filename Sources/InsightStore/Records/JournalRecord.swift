import GRDB

/// One journaled event. `seq` is assigned by SQLite (AUTOINCREMENT: never reused, even after pruning).
struct JournalRecord: Codable, Sendable, Hashable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "journal"

    var seq: Int64?
    var source: String
    var eventId: String
    var type: String
    var clientId: String?
    var timeMs: Int64
    var receivedMs: Int64
    var data: String

    enum Columns {
        static let seq = Column(CodingKeys.seq)
        static let source = Column(CodingKeys.source)
        static let eventId = Column(CodingKeys.eventId)
        static let type = Column(CodingKeys.type)
        static let clientId = Column(CodingKeys.clientId)
        static let timeMs = Column(CodingKeys.timeMs)
        static let receivedMs = Column(CodingKeys.receivedMs)
        static let data = Column(CodingKeys.data)
    }

    enum CodingKeys: String, CodingKey {
        case seq = "seq"
        case source = "source"
        case eventId = "event_id"
        case type = "type"
        case clientId = "client_id"
        case timeMs = "time_ms"
        case receivedMs = "received_ms"
        case data = "data"
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}
