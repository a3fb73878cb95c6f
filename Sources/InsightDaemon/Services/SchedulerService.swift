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

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let current = settings.current
            let schedules = current.schedules
            let now = timeSource.now()
            do {
                try await runDueTicks(schedules: schedules, now: now, timeZone: current.timeZone)
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

    func runDueTicks(schedules: [String: LocalTime], now: Date, timeZone: TimeZone) async throws {
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
