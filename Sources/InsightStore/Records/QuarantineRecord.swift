import GRDB

import Foundation

/// An input item that was not accepted, kept with the reason so nothing is silently dropped. The payload is
/// a BLOB: raw input may hold NUL bytes, which a TEXT column read would cut off.
struct QuarantineRecord: Codable, Sendable, Hashable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "quarantine"

    var id: Int64?
    var receivedMs: Int64
    var source: String
    var origin: String
    var eventId: String?
    var reason: String
    var payload: Data

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let receivedMs = Column(CodingKeys.receivedMs)
        static let source = Column(CodingKeys.source)
        static let origin = Column(CodingKeys.origin)
        static let eventId = Column(CodingKeys.eventId)
        static let reason = Column(CodingKeys.reason)
        static let payload = Column(CodingKeys.payload)
    }

    enum CodingKeys: String, CodingKey {
        case id = "id"
        case receivedMs = "received_ms"
        case source = "source"
        case origin = "origin"
        case eventId = "event_id"
        case reason = "reason"
        case payload = "payload"
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
