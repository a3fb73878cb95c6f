import Foundation
import InsightCore
import InsightTesting
import Logging

/// Builds client states and plugin contexts for plugin tests.
enum TestBank {
    static let shanghai = TimeZone(identifier: "Asia/Shanghai") ?? .current

    static func instant(_ text: String) -> Date {
        guard let date = RFC3339.parse(text) else { preconditionFailure("bad RFC 3339 literal \(text)") }
        return date
    }

    static func date(_ text: String) -> LocalDate {
        guard let date = LocalDate(text) else { preconditionFailure("bad date literal \(text)") }
        return date
    }

    /// A client built by applying events in order, as the dispatcher does.
    static func client(_ id: String, _ events: [Event]) -> ClientState {
        var state = ClientState(id: id)
        for event in events { state.apply(event) }
        return state
    }

    static func profile(_ client: String, _ fields: [String: JSONValue], id: String = "P-\(UUID().uuidString)",
                        at time: String = "2026-11-01T09:00:00+08:00") -> Event {
        EventFixtures.event(id, EventType.clientProfile, client: client, at: time, data: .init(uniqueKeysWithValues: fields.map { ($0.key, $0.value) }))
    }

    static func context(now: String, client: ClientState? = nil, state: InMemoryState = InMemoryState(),
                        locale: String = "zh-CN", calendar: WorkingCalendar = .weekendsOnly) -> PluginContext {
        PluginContext(now: instant(now), timeZone: shanghai, locale: locale, logger: Logger(label: "test"), state: state,
                      client: client, workingCalendar: calendar)
    }

    static func tick(_ date: String, at time: String = "08:30") -> ScheduleTick {
        let local = self.date(date)
        let parts = time.split(separator: ":").compactMap { Int($0) }
        return ScheduleTick(scheduledAt: local.instant(at: LocalTime(hour: parts[0], minute: parts[1]), in: shanghai),
                            localDate: local)
    }
}
