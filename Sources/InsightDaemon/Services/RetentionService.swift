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
    /// Prunes up to the cutoffs; returns what went and whether the store was compacted.
    public typealias Prune = @Sendable (_ cutoffs: RetentionCutoffs, _ now: Date) async throws -> (PruneReport, compacted: Bool)
    /// Whether this instance runs the day's pass (in a cluster, one instance does).
    public typealias Claim = @Sendable (_ day: LocalDate) async throws -> Bool
    /// Records the day's pass done (in a cluster, no instance runs it again that day).
    public typealias Finish = @Sendable (_ day: LocalDate) async throws -> Void

    let prune: Prune
    let claim: Claim
    let finish: Finish
    let retention: RetentionConfig
    let timeZone: TimeZone
    let timeSource: any TimeSource
    let logger: Logger

    /// The single instance's SQLite store: prune, then compact.
    public init(database: AppDatabase, retention: RetentionConfig, timeZone: TimeZone, timeSource: any TimeSource, logger: Logger) {
        self.init(prune: { cutoffs, now in
                      let report = try database.prune(cutoffs, now: now)
                      return (report, try database.compact())
                  },
                  claim: { _ in true }, finish: { _ in }, retention: retention, timeZone: timeZone, timeSource: timeSource,
                  logger: logger)
    }

    public init(prune: @escaping Prune, claim: @escaping Claim, finish: @escaping Finish, retention: RetentionConfig,
                timeZone: TimeZone, timeSource: any TimeSource, logger: Logger) {
        self.prune = prune
        self.claim = claim
        self.finish = finish
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

    /// One pass: prune, then compact. Returns what was pruned, or nil when another instance has today's pass.
    @discardableResult
    public func runOnce() async throws -> PruneReport? {
        let now = timeSource.now()
        let day = LocalDate(now, in: timeZone)
        guard try await claim(day) else { return nil }
        let started = ContinuousClock.now
        let (report, vacuumed) = try await prune(cutoffs(at: now), now)
        try await finish(day)
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
            var failed = false
            do {
                try await runOnce()
            } catch {
                failed = true
                logger.error("retention failed; it runs again in an hour", metadata: ["error": "\(error)"])
            }
            let now = timeSource.now()
            let today = LocalDate(now, in: timeZone)
            var next = today.instant(at: retention.runAt, in: timeZone)
            if next <= now { next = today.adding(days: 1).instant(at: retention.runAt, in: timeZone) }
            wait = failed ? .seconds(3600) : .seconds(max(60, Int64(next.timeIntervalSince(now))))
        }
    }
}
