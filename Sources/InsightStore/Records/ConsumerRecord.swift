import GRDB

/// How far a journal consumer has processed: its last handled sequence number.
struct ConsumerRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "consumer"

    var name: String
    var position: Int64
    var updatedMs: Int64

    enum Columns {
        static let name = Column(CodingKeys.name)
        static let position = Column(CodingKeys.position)
        static let updatedMs = Column(CodingKeys.updatedMs)
    }

    enum CodingKeys: String, CodingKey {
        case name = "name"
        case position = "position"
        case updatedMs = "updated_ms"
    }
}
