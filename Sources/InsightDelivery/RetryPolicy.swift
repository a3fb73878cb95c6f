import Foundation

/// When a failed delivery is tried again (pure). `schedule[n]` is the wait before attempt n+1: the default
/// `[0s, 5s, 5m, 30m, 2h, 5h, 10h, 10h]` tries at once, then after 5 s, 5 min, … — eight attempts in all,
/// then the delivery is dead. Waits get ±`jitter` (a fraction) so a receiver that comes back is not hit by
/// every retry at the same instant. A receiver's `Retry-After` (on 429 or 503) replaces the scheduled wait.
public struct RetryPolicy: Sendable, Hashable {
    public static let defaultSchedule: [TimeInterval] = [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000]

    public var schedule: [TimeInterval]
    public var jitter: Double
    /// A longer `Retry-After` is cut to this.
    public var maximumRetryAfter: TimeInterval

    public init(schedule: [TimeInterval] = RetryPolicy.defaultSchedule, jitter: Double = 0.2,
                maximumRetryAfter: TimeInterval = 86_400) {
        self.schedule = schedule.isEmpty ? [0] : schedule
        self.jitter = max(0, min(jitter, 0.9))
        self.maximumRetryAfter = maximumRetryAfter
    }

    public var maximumAttempts: Int { schedule.count }

    /// When attempt `attempts + 1` goes, after `attempts` attempts failed (the last at `now`); nil when the
    /// schedule is exhausted.
    public func nextAttempt(afterFailedAttempts attempts: Int, at now: Date, retryAfter: TimeInterval? = nil,
                            using random: inout some RandomNumberGenerator) -> Date? {
        guard attempts < schedule.count else { return nil }
        if let retryAfter {
            return now.addingTimeInterval(min(max(0, retryAfter), maximumRetryAfter))
        }
        let wait = schedule[attempts]
        guard wait > 0, jitter > 0 else { return now.addingTimeInterval(wait) }
        return now.addingTimeInterval(wait * Double.random(in: (1 - jitter)...(1 + jitter), using: &random))
    }

    public func nextAttempt(afterFailedAttempts attempts: Int, at now: Date, retryAfter: TimeInterval? = nil) -> Date? {
        var random = SystemRandomNumberGenerator()
        return nextAttempt(afterFailedAttempts: attempts, at: now, retryAfter: retryAfter, using: &random)
    }

    /// A `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3). Nil when absent or unreadable.
    public static func retryAfter(_ header: String?, now: Date) -> TimeInterval? {
        guard let text = header?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Int(text) { return TimeInterval(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text).map { max(0, $0.timeIntervalSince(now)) }
    }
}
