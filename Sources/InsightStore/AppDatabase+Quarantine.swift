import Foundation
import GRDB
import InsightCore

extension AppDatabase {
    public func quarantine(_ items: [QuarantinedItem]) throws {
        guard !items.isEmpty else { return }
        try pool.write { db in try Self.insertQuarantine(items, db: db) }
    }

    static func insertQuarantine(_ items: [QuarantinedItem], db: Database) throws {
        for item in items {
            var record = QuarantineRecord(id: nil, receivedMs: item.receivedAt.milliseconds, source: item.source,
                                          origin: item.origin, eventId: item.eventId, reason: item.reason,
                                          payload: Data(item.payload.utf8))
            try record.insert(db)
        }
    }

    public func quarantinedItems(limit: Int = 100) throws -> [QuarantinedItem] {
        try pool.read { db in
            try QuarantineRecord.order(QuarantineRecord.Columns.id.desc).limit(limit).fetchAll(db).map { record in
                var item = QuarantinedItem(receivedAt: Date(milliseconds: record.receivedMs), source: record.source,
                                           origin: record.origin, eventId: record.eventId, reason: record.reason,
                                           payload: String(decoding: record.payload, as: UTF8.self))
                item.id = record.id
                return item
            }
        }
    }
}
