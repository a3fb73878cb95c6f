import GRDB

/// A Standard Webhooks `webhook-id` already accepted from a source: a replay is answered as a duplicate.
struct WebhookSeenRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "webhook_seen"

    var source: String
    var webhookId: String
    var receivedMs: Int64

    enum Columns {
        static let source = Column(CodingKeys.source)
        static let webhookId = Column(CodingKeys.webhookId)
        static let receivedMs = Column(CodingKeys.receivedMs)
    }

    enum CodingKeys: String, CodingKey {
        case source
        case webhookId = "webhook_id"
        case receivedMs = "received_ms"
    }
}
