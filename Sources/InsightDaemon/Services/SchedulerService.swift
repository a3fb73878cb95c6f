import Foundation
import InsightCore
import InsightEngine
import InsightStore
import Logging
import ServiceLifecycle

/// Fires each scheduled plugin's daily tick at its local time in the bank's time zone. On start (and
/// after any pause) it runs the ticks missed in the last 24 hours, each once.
public struct SchedulerService: Service {
    let dispatcher: Dispatcher
    let database: AppDatabase
    let settings: SettingsBox
    let timeSource: any TimeSource
    let logger: Logger
    /// The longest sleep, so a clock jump or a reload is noticed within a minute.
    var maximumSleep: Duration = .seconds(60)

    public init(dispatcher: Dispatcher, database: AppDatabase, settings: SettingsBox, timeSource: any TimeSource, logger: Logger) {
        self.dispatcher = dispatcher
        self.database = database
        self.settings = settings
        self.timeSource = timeSource
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let current = settings.current
            let schedules = current.schedules
            let now = timeSource.now()
            do {
                try await runDueTicks(now: now)
            } catch {
                logger.error("scheduled ticks failed; will retry", metadata: ["error": "\(error)"])
            }
            var sleep = maximumSleep
            if let next = SchedulePlanner.nextTick(schedules: schedules, after: now, timeZone: current.timeZone) {
                let seconds = max(0.05, next.timeIntervalSince(timeSource.now()))
                sleep = min(sleep, .milliseconds(Int64(seconds * 1000)))
            }
            let interval = sleep
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Runs every tick due as of `now` that has not run yet (the last 24 hours), oldest first.
    public func runDueTicks(now: Date) async throws {
        let current = settings.current
        let schedules = current.schedules
        let timeZone = current.timeZone
        guard !schedules.isEmpty else { return }
        let since = LocalDate(now, in: timeZone).adding(days: -3)
        var ran: [String: Set<LocalDate>] = [:]
        for plugin in schedules.keys { ran[plugin] = try database.scheduleRuns(plugin: plugin, since: since) }
        let due = SchedulePlanner.dueTicks(schedules: schedules, now: now, timeZone: timeZone) { plugin, date in
            ran[plugin]?.contains(date) ?? false
        }
        for item in due {
            let leads = try await dispatcher.runTick(item.tick, plugin: item.plugin)
            logger.info("daily tick ran", metadata: [
                "plugin.id": "\(item.plugin)", "tick.date": "\(item.tick.localDate)", "leads.new": "\(leads.count)",
            ])
        }
    }
}
