import Foundation
import InsightCore
import InsightStore
import Logging
import ServiceLifecycle

/// Applies `retention:` once a day (a minute after start, then at `run_at`, 03:30 by default, in the bank's
/// time zone): prunes the
/// journal (only what the dispatcher handled), quarantine, seen webhook ids, finished outbox rows and old
/// leads, then checkpoints the WAL and vacuums when much of the file is free.
public struct RetentionService: Service {
    let database: AppDatabase
    let retention: RetentionConfig
    let timeZone: TimeZone
    let timeSource: any TimeSource
    let logger: Logger

    public init(database: AppDatabase, retention: RetentionConfig, timeZone: TimeZone, timeSource: any TimeSource, logger: Logger) {
        self.database = database
        self.retention = retention
        self.timeZone = timeZone
        self.timeSource = timeSource
        self.logger = logger
    }

    public func cutoffs(at now: Date) -> RetentionCutoffs {
        func days(_ count: Int) -> Date { now.addingTimeInterval(-TimeInterval(count) * 86_400) }
        return RetentionCutoffs(journal: days(retention.journalDays), quarantine: days(retention.quarantineDays),
                                leads: days(retention.leadsDays), delivered: days(retention.deliveredDays),
                                webhookIds: days(max(7, retention.webhookIdsDays)))
    }

    /// One pass: prune, then compact. Returns what was pruned.
    @discardableResult
    public func runOnce() throws -> PruneReport {
        let now = timeSource.now()
        let started = ContinuousClock.now
        let report = try database.prune(cutoffs(at: now), now: now)
        let vacuumed = try database.compact()
        logger.info("retention applied", metadata: [
            "pruned.journal": "\(report.journal)", "pruned.quarantine": "\(report.quarantine)", "pruned.leads": "\(report.leads)",
            "pruned.deliveries": "\(report.deliveries)", "pruned.webhook_ids": "\(report.webhookIds)",
            "pruned.other": "\(report.other)", "vacuumed": "\(vacuumed)", "elapsed": "\(ContinuousClock.now - started)",
        ])
        return report
    }

    public func run() async throws {
        var wait = Duration.seconds(60)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let delay = wait
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
            guard !Task.isShuttingDownGracefully && !Task.isCancelled else { break }
            do {
                try runOnce()
            } catch {
                logger.error("retention failed; it runs again at the next scheduled time", metadata: ["error": "\(error)"])
            }
            let now = timeSource.now()
            let today = LocalDate(now, in: timeZone)
            var next = today.instant(at: retention.runAt, in: timeZone)
            if next <= now { next = today.adding(days: 1).instant(at: retention.runAt, in: timeZone) }
            wait = .seconds(max(60, Int64(next.timeIntervalSince(now))))
        }
    }
}
