import Foundation
import Synchronization

/// The pipeline's sign of life: the dispatcher beats after every step, busy or idle. The watchdog is fed
/// only while beats are recent, so a wedged pipeline gets restarted by systemd.
public final class Heartbeat: Sendable {
    private let last = Mutex<ContinuousClock.Instant>(ContinuousClock.now)

    public init() {}

    public func beat() {
        last.withLock { $0 = ContinuousClock.now }
    }

    public func isFresh(within limit: Duration) -> Bool {
        last.withLock { ContinuousClock.now - $0 } <= limit
    }
}
