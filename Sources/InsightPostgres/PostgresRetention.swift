import Foundation
import InsightCore
import InsightStore
import PostgresNIO

extension PostgresStore {
    /// What retention lets go, as on SQLite (`AppDatabase.prune`), in transactions of `batch` rows. The journal goes
    /// only up to the lowest position of every partition: an event some partition has not handled stays (a partition
    /// never handled holds everything back). Autovacuum reclaims the space; nothing is compacted here.
    public func prune(_ cutoffs: RetentionCutoffs, now: Date, partitions: Int, batch: Int = 5_000) async throws -> PruneReport {
        var report = PruneReport()
        func repeatedly(_ step: @escaping @Sendable (PostgresSession) throws -> Int) async throws -> Int {
            var removed = 0
            while true {
                let count = try await transaction(step)
                removed += count
                if count < batch { return removed }
            }
        }
        let journalBefore = cutoffs.journal.milliseconds
        report.journal = try await repeatedly { session in
            // Handled by every partition: everything before the first event some partition has not handled (a partition
            // that never had an event holds nothing back; one never dispatched holds back all of its events).
            var positions = Array(repeating: Int64(0), count: max(1, partitions))
            // The state position: a partition's next holder handles its events again from there.
            for row in try session.rows("""
                SELECT part, COALESCE(state_position, position) FROM partition_offset WHERE part < \(partitions)
                """) {
                let (part, position) = try row.decode((Int, Int64).self)
                positions[part] = position
            }
            let handled = try session.value(Int64.self, """
                SELECT COALESCE((SELECT MIN(seq) FROM journal WHERE seq > (\(positions)::int8[])[client_hash % \(partitions) + 1]) - 1,
                                (SELECT MAX(seq) FROM journal), 0)::bigint
                """) ?? 0
            return try session.execute("""
                DELETE FROM journal WHERE seq IN (
                    SELECT seq FROM journal WHERE seq <= \(handled) AND received_ms < \(journalBefore) ORDER BY seq LIMIT \(batch))
                """)
        }
        let quarantineBefore = cutoffs.quarantine.milliseconds
        report.quarantine = try await repeatedly { session in
            try session.execute("""
                DELETE FROM quarantine WHERE id IN (
                    SELECT id FROM quarantine WHERE received_ms < \(quarantineBefore) ORDER BY id LIMIT \(batch))
                """)
        }
        let deliveredBefore = cutoffs.delivered.milliseconds
        report.deliveries = try await repeatedly { session in
            let ids = try session.rows("""
                SELECT id FROM delivery WHERE status IN ('sent', 'cancelled', 'batched') AND updated_ms < \(deliveredBefore)
                LIMIT \(batch)
                """).map { try $0.decode(String.self) }
            try Self.deleteDeliveries(ids, session: session)
            return ids.count
        }
        let leadsBefore = cutoffs.leads.milliseconds
        report.leads = try await repeatedly { session in
            let ids = try session.rows("SELECT id FROM lead WHERE created_ms < \(leadsBefore) ORDER BY seq LIMIT \(batch)")
                .map { try $0.decode(String.self) }
            guard !ids.isEmpty else { return 0 }
            try session.execute("DELETE FROM lead_activity WHERE lead_id = ANY(\(ids)::text[])")
            try session.execute("DELETE FROM lead_decision WHERE lead_id = ANY(\(ids)::text[])")
            let deliveries = try session.rows("SELECT id FROM delivery WHERE lead_id = ANY(\(ids)::text[])")
                .map { try $0.decode(String.self) }
            try Self.deleteDeliveries(deliveries, session: session)
            try session.execute("DELETE FROM lead WHERE id = ANY(\(ids)::text[])")
            return ids.count
        }
        report.webhookIds = try await pruneWebhookIds(before: cutoffs.webhookIds)
        let today = LocalDate(now, in: TimeZone(secondsFromGMT: 0) ?? .current).adding(days: -2).description
        report.other = try await transaction { session in
            // Daily cap counts past their day, snoozes long over, CRM interactions as old as the leads kept, plugin
            // failures as old as the journal kept.
            var removed = try session.execute("DELETE FROM route_count WHERE local_date < \(today)")
            removed += try session.execute("DELETE FROM snooze WHERE until_ms < \(deliveredBefore)")
            removed += try session.execute("DELETE FROM interaction WHERE at_ms < \(leadsBefore)")
            removed += try session.execute("DELETE FROM plugin_failure WHERE at_ms < \(journalBefore)")
            // Tick and retention claims of days long past.
            let week = LocalDate(now, in: TimeZone(secondsFromGMT: 0) ?? .current).adding(days: -7).description
            removed += try session.execute("DELETE FROM tick_claim WHERE local_date < \(week)")
            return removed
        }
        return report
    }

    private static func deleteDeliveries(_ ids: [String], session: PostgresSession) throws {
        guard !ids.isEmpty else { return }
        try session.execute("DELETE FROM delivery_attempt WHERE delivery_id = ANY(\(ids)::text[])")
        try session.execute("DELETE FROM delivery WHERE id = ANY(\(ids)::text[])")
    }
}
