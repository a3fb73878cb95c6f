import Foundation
import InsightCore
import Synchronization

/// A time source that says what the test tells it to.
public final class FixedTimeSource: TimeSource {
    private let instant: Mutex<Date>

    public init(_ date: Date) {
        instant = Mutex(date)
    }

    /// Parses an RFC 3339 time; traps on a bad literal (tests only).
    public convenience init(_ rfc3339: String) {
        guard let date = RFC3339.parse(rfc3339) else { preconditionFailure("bad RFC 3339 literal \(rfc3339)") }
        self.init(date)
    }

    public func now() -> Date { instant.withLock { $0 } }

    public func set(_ date: Date) { instant.withLock { $0 = date } }

    public func advance(by seconds: TimeInterval) { instant.withLock { $0 = $0.addingTimeInterval(seconds) } }
}
