import Foundation
import InsightCore

/// Where a plugin's `context.now` comes from.
public enum DispatchClock: Sendable {
    /// The time source's now (the system clock in the daemon, a fixed instant in tests).
    case live(any TimeSource)
    /// Each event's own time, and each tick's scheduled instant: replay and backtests.
    case eventTime

    func now(for event: Event) -> Date {
        switch self {
        case .live(let source): source.now()
        case .eventTime: event.time
        }
    }

    func now(for tick: ScheduleTick) -> Date {
        switch self {
        case .live(let source): source.now()
        case .eventTime: tick.scheduledAt
        }
    }

    func commitTime(fallback: Date) -> Date {
        switch self {
        case .live(let source): source.now()
        case .eventTime: fallback
        }
    }
}
