import Foundation
import InsightCore

/// Pure daily-schedule arithmetic: which ticks are due, and when to wake next.
public enum SchedulePlanner {
    public struct Due: Sendable, Hashable {
        public let plugin: String
        public let tick: ScheduleTick
    }

    /// Ticks whose instant is in `(now - lookback, now]` and that have not run yet, oldest first.
    /// With the default 24-hour look-back this is also the catch-up after a restart.
    public static func dueTicks(schedules: [String: LocalTime], now: Date, timeZone: TimeZone,
                                lookback: TimeInterval = 86_400,
                                hasRun: (String, LocalDate) -> Bool) -> [Due] {
        let today = LocalDate(now, in: timeZone)
        var due: [Due] = []
        for (plugin, time) in schedules {
            for offset in -2...0 {
                let date = today.adding(days: offset)
                let instant = date.instant(at: time, in: timeZone)
                guard instant <= now, instant > now.addingTimeInterval(-lookback), !hasRun(plugin, date) else { continue }
                due.append(Due(plugin: plugin, tick: ScheduleTick(scheduledAt: instant, localDate: date)))
            }
        }
        return due.sorted { ($0.tick.scheduledAt, $0.plugin) < ($1.tick.scheduledAt, $1.plugin) }
    }

    /// The next tick instant strictly after `now`, or nil when nothing is scheduled.
    public static func nextTick(schedules: [String: LocalTime], after now: Date, timeZone: TimeZone) -> Date? {
        let today = LocalDate(now, in: timeZone)
        var next: Date?
        for time in schedules.values {
            for offset in 0...2 {
                let instant = today.adding(days: offset).instant(at: time, in: timeZone)
                if instant > now {
                    if next.map({ instant < $0 }) ?? true { next = instant }
                    break
                }
            }
        }
        return next
    }
}
