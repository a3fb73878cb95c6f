import Foundation
import GRDB
import InsightCore

/// How far back each kind of row is kept (`retention:` in the main config).
public struct RetentionCutoffs: Sendable {
    /// Journaled events received before this go, once the dispatcher has handled them.
    public var journal: Date
    public var quarantine: Date
    /// Leads created before this go, with their history and their finished deliveries.
    public var leads: Date
    /// Sent, cancelled and digested outbox rows last touched before this go (dead, held and pending stay).
    public var delivered: Date
    public var webhookIds: Date

    public init(journal: Date, quarantine: Date, leads: Date, delivered: Date, webhookIds: Date) {
        self.journal = journal
        self.quarantine = quarantine
        self.leads = leads
        self.delivered = delivered
        self.webhookIds = webhookIds
    }
}

/// Rows each prune removed.
public struct PruneReport: Sendable, Hashable {
    public var journal = 0
    public var quarantine = 0
    public var leads = 0
    public var deliveries = 0
    public var webhookIds = 0
    public var other = 0

    public var total: Int { journal + quarantine + leads + deliveries + webhookIds + other }

    public init() {}
}

extension AppDatabase {
    /// Deletes what retention lets go, in batches of `batch` rows per transaction so the dispatcher and the
    /// outbox never wait long for the writer. Never touches an event the dispatcher has not handled, nor a
    /// delivery that is pending, held or dead.
    public func prune(_ cutoffs: RetentionCutoffs, now: Date, batch: Int = 5_000) throws -> PruneReport {
        var report = PruneReport()
        func repeatedly(_ step: (Database) throws -> Int) throws -> Int {
            var removed = 0
            while true {
                let count = try pool.write { db in try step(db) }
                removed += count
                if count < batch { return removed }
            }
        }
        report.journal = try repeatedly { db in
            // Up to where both the leads and the client state are written: a restart dispatches again from the
            // state's position, so the events after it stay.
            let handled = try Int64.fetchOne(db, sql: "SELECT position FROM consumer WHERE name = ?",
                                             arguments: [Self.dispatcherConsumer]) ?? 0
            let state = try Int64.fetchOne(db, sql: "SELECT position FROM consumer WHERE name = ?",
                                           arguments: [Self.stateConsumer]) ?? handled
            try db.execute(sql: """
                DELETE FROM journal WHERE seq IN (
                    SELECT seq FROM journal WHERE seq <= ? AND received_ms < ? ORDER BY seq LIMIT ?)
                """, arguments: [min(handled, state), cutoffs.journal.milliseconds, batch])
            return db.changesCount
        }
        report.quarantine = try repeatedly { db in
            try db.execute(sql: """
                DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine WHERE received_ms < ? ORDER BY id LIMIT ?)
                """, arguments: [cutoffs.quarantine.milliseconds, batch])
            return db.changesCount
        }
        report.deliveries = try repeatedly { db in
            let ids = try String.fetchAll(db, sql: """
                SELECT id FROM delivery WHERE status IN ('sent', 'cancelled', 'batched') AND updated_ms < ? LIMIT ?
                """, arguments: [cutoffs.delivered.milliseconds, batch])
            try Self.deleteDeliveries(ids, db: db)
            return ids.count
        }
        report.leads = try repeatedly { db in
            let ids = try String.fetchAll(db, sql: "SELECT id FROM lead WHERE created_ms < ? ORDER BY seq LIMIT ?",
                                          arguments: [cutoffs.leads.milliseconds, batch])
            for id in ids {
                try db.execute(sql: "DELETE FROM lead_activity WHERE lead_id = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM lead_decision WHERE lead_id = ?", arguments: [id])
                try Self.deleteDeliveries(try String.fetchAll(db, sql: "SELECT id FROM delivery WHERE lead_id = ?", arguments: [id]),
                                          db: db)
                try db.execute(sql: "DELETE FROM lead WHERE id = ?", arguments: [id])
            }
            return ids.count
        }
        report.webhookIds = try pruneWebhookIds(before: cutoffs.webhookIds)
        report.other = try pool.write { db in
            // Daily cap counts past their day, snoozes long over, CRM interactions as old as the leads kept.
            let today = LocalDate(now, in: TimeZone(secondsFromGMT: 0) ?? .current).adding(days: -2).description
            try db.execute(sql: "DELETE FROM route_count WHERE local_date < ?", arguments: [today])
            var removed = db.changesCount
            try db.execute(sql: "DELETE FROM snooze WHERE until_ms < ?", arguments: [cutoffs.delivered.milliseconds])
            removed += db.changesCount
            try db.execute(sql: "DELETE FROM interaction WHERE at_ms < ?", arguments: [cutoffs.leads.milliseconds])
            removed += db.changesCount
            return removed
        }
        return report
    }

    private static func deleteDeliveries(_ ids: [String], db: Database) throws {
        for id in ids {
            try db.execute(sql: "DELETE FROM delivery_attempt WHERE delivery_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM delivery WHERE id = ?", arguments: [id])
        }
    }

    /// After a prune: folds the WAL back into the database and truncates it, and rebuilds the file when at
    /// least a quarter of it (and 64 MiB or more) is free pages. Returns whether it vacuumed.
    @discardableResult
    public func compact() throws -> Bool {
        let (pages, free, pageSize) = try pool.read { db in
            (try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0, try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0,
             try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096)
        }
        let vacuum = pages > 0 && free * 4 >= pages && free * pageSize >= 64 << 20
        try pool.writeWithoutTransaction { db in
            if vacuum { try db.execute(sql: "VACUUM") }
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        return vacuum
    }
}
