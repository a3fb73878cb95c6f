import Foundation
import InsightCore
import InsightEngine
import InsightStore
import Logging
import ServiceLifecycle

/// Fires each scheduled plugin's daily tick at its local time in the bank's time zone. On start (and
/// after any pause) it runs the ticks missed in the last 24 hours, each once.
public struct SchedulerService: Service {
    /// The local dates on which a plugin's tick ran, since a date.
    public typealias RanDates = @Sendable (_ plugin: String, _ since: LocalDate) async throws -> Set<LocalDate>
    /// Runs a tick; nil when another instance of the cluster has it.
    public typealias RunTick = @Sendable (_ tick: ScheduleTick, _ plugin: String) async throws -> [Lead]?

    let ranDates: RanDates
    let runTick: RunTick
    let settings: SettingsBox
    let timeSource: any TimeSource
    let logger: Logger
    /// The longest sleep, so a clock jump or a reload is noticed within a minute.
    var maximumSleep: Duration = .seconds(60)

    /// A single instance: its dispatcher runs every tick, recorded in its database.
    public init(dispatcher: Dispatcher, database: AppDatabase, settings: SettingsBox, timeSource: any TimeSource, logger: Logger) {
        self.init(ranDates: { plugin, since in try database.scheduleRuns(plugin: plugin, since: since) },
                  runTick: { tick, plugin in try await dispatcher.runTick(tick, plugin: plugin) },
                  settings: settings, timeSource: timeSource, logger: logger)
    }

    public init(ranDates: @escaping RanDates, runTick: @escaping RunTick, settings: SettingsBox, timeSource: any TimeSource,
                logger: Logger) {
        self.ranDates = ranDates
        self.runTick = runTick
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
        for plugin in schedules.keys { ran[plugin] = try await ranDates(plugin, since) }
        let due = SchedulePlanner.dueTicks(schedules: schedules, now: now, timeZone: timeZone) { plugin, date in
            ran[plugin]?.contains(date) ?? false
        }
        for item in due {
            guard let leads = try await runTick(item.tick, item.plugin) else {
                logger.debug("daily tick left to another instance", metadata: [
                    "plugin.id": "\(item.plugin)", "tick.date": "\(item.tick.localDate)",
                ])
                continue
            }
            logger.info("daily tick ran", metadata: [
                "plugin.id": "\(item.plugin)", "tick.date": "\(item.tick.localDate)", "leads.new": "\(leads.count)",
            ])
        }
    }
}
