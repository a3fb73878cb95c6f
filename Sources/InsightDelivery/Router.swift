import Foundation
import InsightCore

/// One entry of `routes:` as the router reads it: what it matches and how its leads go out.
public struct Route: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable {
        case immediate, digest
    }

    /// Each list is one condition (any of its values); an absent list matches everything.
    public struct Match: Sendable, Hashable {
        public var plugins: Set<String>?
        public var kinds: Set<String>?
        public var priorities: Set<LeadPriority>?
        public var branches: Set<String>?
        public var segments: Set<String>?

        public init(plugins: Set<String>? = nil, kinds: Set<String>? = nil, priorities: Set<LeadPriority>? = nil,
                    branches: Set<String>? = nil, segments: Set<String>? = nil) {
            self.plugins = plugins
            self.kinds = kinds
            self.priorities = priorities
            self.branches = branches
            self.segments = segments
        }

        public func matches(_ lead: Lead) -> Bool {
            func accepts<T>(_ allowed: Set<T>?, _ value: T?) -> Bool {
                guard let allowed else { return true }
                return value.map(allowed.contains) ?? false
            }
            return accepts(plugins, lead.plugin) && accepts(kinds, lead.kind) && accepts(priorities, lead.priority)
                && accepts(branches, lead.manager?.branchId) && accepts(segments, lead.client?.segment)
        }
    }

    /// A daily local window, possibly across midnight (`21:00-08:00`).
    public struct Window: Sendable, Hashable, CustomStringConvertible {
        public var start: LocalTime
        public var end: LocalTime

        public init(start: LocalTime, end: LocalTime) {
            self.start = start
            self.end = end
        }

        public func contains(_ time: LocalTime) -> Bool {
            start < end ? (time >= start && time < end) : (time >= start || time < end)
        }

        public var description: String { "\(start)-\(end)" }
    }

    /// Its position in `routes:` (0-based), for explanations.
    public var index: Int
    public var match: Match
    public var receivers: [String]
    public var mode: Mode
    public var digestAt: LocalTime?
    public var quietHours: Window?
    public var maxPerManagerPerDay: Int?
    public var `continue`: Bool
    /// Used when a primary receiver's retries are exhausted.
    public var fallback: String?
    /// A high or urgent lead nobody acknowledged within `escalateAfter` goes to `escalation`.
    public var escalateAfter: TimeInterval?
    public var escalation: [String]

    public init(index: Int, match: Match = Match(), receivers: [String], mode: Mode = .immediate, digestAt: LocalTime? = nil,
                quietHours: Window? = nil, maxPerManagerPerDay: Int? = nil, continue: Bool = false,
                fallback: String? = nil, escalateAfter: TimeInterval? = nil, escalation: [String] = []) {
        self.index = index
        self.match = match
        self.receivers = receivers
        self.mode = mode
        self.digestAt = digestAt
        self.quietHours = quietHours
        self.maxPerManagerPerDay = maxPerManagerPerDay
        self.continue = `continue`
        self.fallback = fallback
        self.escalateAfter = escalateAfter
        self.escalation = escalation
    }
}

/// Where and when one lead goes to one receiver.
public struct RoutedDelivery: Sendable, Hashable {
    public enum Timing: String, Sendable, Hashable {
        /// Now.
        case immediate
        /// Held by the route's quiet hours until they end.
        case afterQuietHours
        /// In the manager's digest (the route is a digest route).
        case digest
        /// Over the route's per-manager daily cap: moved into the next digest, never dropped.
        case overCap
    }

    public var route: Int
    public var receiver: String
    /// Immediate and held leads go alone; digest and over-cap leads go in the manager's digest at `notBefore`.
    public var timing: Timing
    public var notBefore: Date
    public var fallback: String?
    /// When the lead escalates if nobody acknowledged it, and to whom.
    public var escalateAt: Date?
    public var escalation: [String]

    public var inDigest: Bool { timing == .digest || timing == .overCap }
}

/// The routing decision: a pure function of the lead, the routes, the time and the manager's count of leads
/// already sent today per route. It has its own tests, and `insightd routes test` prints it.
public struct Router: Sendable {
    public let routes: [Route]
    public let timeZone: TimeZone
    /// Where a lead for a client with no manager goes (for example the branch queue), instead of the routes.
    public let unassigned: [String]

    /// Over-cap leads of a route without `digest_at` go in a digest at this local time, the next morning.
    public static let defaultOverflowDigest = LocalTime(hour: 8, minute: 30)

    public init(routes: [Route], timeZone: TimeZone, unassigned: [String] = []) {
        self.routes = routes
        self.timeZone = timeZone
        self.unassigned = unassigned
    }

    /// The routes a lead matches: the first match, and after it every further match while the matched route
    /// says `continue: true`.
    public func matchingRoutes(_ lead: Lead) -> [Route] {
        var matched: [Route] = []
        for route in routes where route.match.matches(lead) {
            matched.append(route)
            if !route.continue { break }
        }
        return matched
    }

    /// - Parameter sentToday: how many leads of this lead's manager each route (by index) already sent alone
    ///   on the day the lead would go, for the per-manager cap.
    public func route(_ lead: Lead, at now: Date, sentToday: [Int: Int] = [:]) -> [RoutedDelivery] {
        route(lead, at: now, sent: { route, _ in sentToday[route] ?? 0 })
    }

    /// - Parameter sent: how many leads of this lead's manager a route (by index) sends alone on a local day:
    ///   the cap counts the day a lead goes out (after quiet hours), not the day it was routed.
    public func route(_ lead: Lead, at now: Date, sent: (Int, LocalDate) -> Int) -> [RoutedDelivery] {
        guard lead.manager != nil else {
            return unassigned.map {
                RoutedDelivery(route: -1, receiver: $0, timing: .immediate, notBefore: now, fallback: nil,
                               escalateAt: nil, escalation: [])
            }
        }
        var deliveries: [RoutedDelivery] = []
        for route in matchingRoutes(lead) {
            let (timing, notBefore) = schedule(lead, on: route, at: now, sent: sent)
            let escalates = lead.priority >= .high && route.escalateAfter != nil && !route.escalation.isEmpty
            let escalateAt = escalates ? route.escalateAfter.map { notBefore.addingTimeInterval($0) } : nil
            for receiver in route.receivers {
                deliveries.append(RoutedDelivery(route: route.index, receiver: receiver, timing: timing, notBefore: notBefore,
                                                 fallback: route.fallback, escalateAt: escalateAt,
                                                 escalation: escalates ? route.escalation : []))
            }
        }
        return deliveries
    }

    private func schedule(_ lead: Lead, on route: Route, at now: Date, sent: (Int, LocalDate) -> Int) -> (RoutedDelivery.Timing, Date) {
        // Urgent leads go at once, whatever the route's quiet hours, digest or cap say.
        if lead.priority == .urgent { return (.immediate, now) }
        if route.mode == .digest, let digestAt = route.digestAt { return (.digest, next(digestAt, after: now)) }
        var timing = RoutedDelivery.Timing.immediate
        var goes = now
        if let quiet = route.quietHours, quiet.contains(localTime(of: now)) {
            timing = .afterQuietHours
            goes = next(quiet.end, after: now)
        }
        if let cap = route.maxPerManagerPerDay, sent(route.index, LocalDate(goes, in: timeZone)) >= cap {
            return (.overCap, next(route.digestAt ?? Self.defaultOverflowDigest, after: goes, notToday: route.digestAt == nil))
        }
        return (timing, goes)
    }

    private func localTime(of date: Date) -> LocalTime {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return LocalTime(hour: parts.hour ?? 0, minute: parts.minute ?? 0)
    }

    /// The next instant at local `time` strictly after `now` (or from tomorrow on, with `notToday`).
    private func next(_ time: LocalTime, after now: Date, notToday: Bool = false) -> Date {
        let today = LocalDate(now, in: timeZone)
        let candidate = today.instant(at: time, in: timeZone)
        return candidate > now && !notToday ? candidate : today.adding(days: 1).instant(at: time, in: timeZone)
    }
}
