import GRDB

/// A lead in the ledger: the full lead as canonical JSON in `body`, plus the columns the API filters on. `key` is unique: a replayed batch cannot add a lead twice.
struct LeadRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "lead"

    var id: String
    var key: String
    var plugin: String
    var kind: String
    var priority: String
    var clientId: String?
    var managerId: String?
    var status: String
    var createdMs: Int64
    var journalSeq: Int64?
    var body: String

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let key = Column(CodingKeys.key)
        static let plugin = Column(CodingKeys.plugin)
        static let kind = Column(CodingKeys.kind)
        static let priority = Column(CodingKeys.priority)
        static let clientId = Column(CodingKeys.clientId)
        static let managerId = Column(CodingKeys.managerId)
        static let status = Column(CodingKeys.status)
        static let createdMs = Column(CodingKeys.createdMs)
        static let journalSeq = Column(CodingKeys.journalSeq)
        static let body = Column(CodingKeys.body)
    }

    enum CodingKeys: String, CodingKey {
        case id = "id"
        case key = "key"
        case plugin = "plugin"
        case kind = "kind"
        case priority = "priority"
        case clientId = "client_id"
        case managerId = "manager_id"
        case status = "status"
        case createdMs = "created_ms"
        case journalSeq = "journal_seq"
        case body = "body"
    }
}
