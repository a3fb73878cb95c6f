import Foundation
import InsightCore

/// Where a plugin's `context.now` comes from.
public enum DispatchClock: Sendable {
    /// The time source's now (the system clock in the daemon, a fixed instant in tests).
    case live(any TimeSource)
    /// Each event's own time, and each tick's scheduled instant: replay and backtests.
    case eventTime
    /// Live, but an event up to `through` is being handled again (after going back to the state's checkpoint): it
    /// gets `at`, when the last of those outputs was committed (at most a checkpoint interval and a batch after its
    /// own), not the time it happens to be handled again, so that what plugins remember of it (a rule's cooldown)
    /// starts about when it first did, not after the restart.
    case handlingAgain(through: Int64, at: Date, then: any TimeSource)

    func now(for event: Event) -> Date {
        switch self {
        case .live(let source): source.now()
        case .eventTime: event.time
        case .handlingAgain(let through, let at, let then): event.sequence <= through ? at : then.now()
        }
    }

    /// A tick runs as of its instant, live or not: a catch-up tick or `POST /v1/admin/tick {"at": …}` computes
    /// `createdAt`, due dates, days left and ages from `at`, never from the wall clock.
    func now(for tick: ScheduleTick) -> Date {
        tick.scheduledAt
    }

    /// The clock to handle a batch with, when events up to `through` were handled before (committed at `at`).
    func handlingAgain(through: Int64, at: Date?) -> DispatchClock {
        guard case .live(let source) = self, let at else { return self }
        return .handlingAgain(through: through, at: at, then: source)
    }

    func commitTime(fallback: Date) -> Date {
        switch self {
        case .live(let source): source.now()
        case .eventTime: fallback
        case .handlingAgain(_, _, let then): then.now()
        }
    }
}
