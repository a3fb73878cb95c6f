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

    /// A tick runs as of its instant, live or not: a catch-up tick or `POST /v1/admin/tick {"at": …}` computes
    /// `createdAt`, due dates, days left and ages from `at`, never from the wall clock.
    func now(for tick: ScheduleTick) -> Date {
        tick.scheduledAt
    }

    func commitTime(fallback: Date) -> Date {
        switch self {
        case .live(let source): source.now()
        case .eventTime: fallback
        }
    }
}
