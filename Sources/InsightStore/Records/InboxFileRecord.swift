import GRDB

/// How far the inbox got in one file: committed with the events read up to `byteOffset`.
struct InboxFileRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "inbox_file"

    var source: String
    var fileKey: String
    var fileName: String
    var byteOffset: Int64
    var line: Int
    var finished: Bool
    var updatedMs: Int64

    enum Columns {
        static let source = Column(CodingKeys.source)
        static let fileKey = Column(CodingKeys.fileKey)
    }

    enum CodingKeys: String, CodingKey {
        case source
        case fileKey = "file_key"
        case fileName = "file_name"
        case byteOffset = "byte_offset"
        case line
        case finished
        case updatedMs = "updated_ms"
    }
}
