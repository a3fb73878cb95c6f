import Foundation
import InsightCore
import InsightEngine
import InsightTesting
import Testing

@Suite struct SchedulePlannerTests {
    let schedules = ["birthday-care": LocalTime(hour: 8, minute: 30), "loan-renewal": LocalTime(hour: 7, minute: 0)]

    private func at(_ text: String) throws -> Date { try #require(RFC3339.parse(text)) }

    @Test func nothingIsDueBeforeTheLocalTime() throws {
        let due = SchedulePlanner.dueTicks(schedules: ["p": LocalTime(hour: 8, minute: 30)],
                                           now: try at("2026-11-20T08:29:59+08:00"), timeZone: shanghai,
                                           lookback: 3600) { _, _ in false }
        #expect(due.isEmpty)
    }

    @Test func aTickIsDueAtItsLocalTimeInTheBankTimeZone() throws {
        // 08:30 in Shanghai is 00:30 UTC.
        let due = SchedulePlanner.dueTicks(schedules: ["p": LocalTime(hour: 8, minute: 30)],
                                           now: try at("2026-11-20T00:30:00Z"), timeZone: shanghai) { _, _ in false }
        #expect(due.count == 1, "yesterday's tick is exactly 24 h old, outside the catch-up window")
        #expect(due.last?.tick.localDate.description == "2026-11-20")
        #expect(due.last?.tick.scheduledAt == (try at("2026-11-20T08:30:00+08:00")))
    }

    @Test func catchUpCoversTheLast24HoursOnlyAndSkipsTicksThatRan() throws {
        let now = try at("2026-11-21T10:00:00+08:00")
        let due = SchedulePlanner.dueTicks(schedules: schedules, now: now, timeZone: shanghai) { plugin, date in
            plugin == "loan-renewal" && date.description == "2026-11-21"
        }
        let described = due.map { "\($0.plugin)@\($0.tick.localDate)" }
        // 2026-11-20 08:30 is more than 24 h ago; 2026-11-20 07:00 too.
        #expect(described == ["birthday-care@2026-11-21"])
    }

    @Test func afterAnOutageEveryMissedTickWithinADayRunsOldestFirst() throws {
        let now = try at("2026-11-21T08:00:00+08:00")
        let due = SchedulePlanner.dueTicks(schedules: schedules, now: now, timeZone: shanghai) { _, _ in false }
        #expect(due.map { "\($0.plugin)@\($0.tick.localDate)" } == [
            "birthday-care@2026-11-20", "loan-renewal@2026-11-21",
        ])
    }

    @Test func nextTickIsTheEarliestUpcomingInstant() throws {
        let next = SchedulePlanner.nextTick(schedules: schedules, after: try at("2026-11-21T07:00:00+08:00"),
                                            timeZone: shanghai)
        #expect(next == (try at("2026-11-21T08:30:00+08:00")))
        let tomorrow = SchedulePlanner.nextTick(schedules: schedules, after: try at("2026-11-21T09:00:00+08:00"),
                                                timeZone: shanghai)
        #expect(tomorrow == (try at("2026-11-22T07:00:00+08:00")))
        #expect(SchedulePlanner.nextTick(schedules: [:], after: Date(), timeZone: shanghai) == nil)
    }
}
