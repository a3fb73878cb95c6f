import Foundation

/// The bank's working days: weekends and statutory holidays off, make-up working days (调休) on.
///
/// Built from `plugins-config/calendar.yaml`, which the bank updates each year when the official schedule
/// is published. A year the file does not list falls back to plain weekends, and ``covers(_:)`` says so.
public struct WorkingCalendar: Sendable, Hashable {
    public struct Holiday: Sendable, Hashable {
        public let name: String
        public let days: [LocalDate]
        public init(name: String, days: [LocalDate]) {
            self.name = name
            self.days = days
        }
    }

    /// Days off that would otherwise be working days.
    public let holidays: [LocalDate: String]
    /// Weekend days that are working days (调休).
    public let makeUpDays: Set<LocalDate>
    /// The years the schedule lists.
    public let years: Set<Int>

    public init(holidays: [Holiday] = [], makeUpDays: Set<LocalDate> = [], years: Set<Int> = []) {
        var byDay: [LocalDate: String] = [:]
        for holiday in holidays { for day in holiday.days { byDay[day] = holiday.name } }
        self.holidays = byDay
        self.makeUpDays = makeUpDays
        self.years = years
    }

    /// Weekends only: what a year without a published schedule falls back to.
    public static let weekendsOnly = WorkingCalendar()

    public func covers(_ year: Int) -> Bool { years.contains(year) }

    public func isWorkingDay(_ date: LocalDate) -> Bool {
        if makeUpDays.contains(date) { return true }
        if holidays[date] != nil { return false }
        let weekday = ((date.dayNumber + 3) % 7 + 7) % 7  // 1970-01-01 was a Thursday; 0 = Monday
        return weekday < 5
    }

    /// `date` itself when it is a working day, else the working day before it.
    public func workingDay(onOrBefore date: LocalDate) -> LocalDate {
        var day = date
        for _ in 0..<60 where !isWorkingDay(day) { day = day.adding(days: -1) }
        return day
    }

    /// The date `count` working days after `date` (`count` ≥ 0; 0 is the next working day on or after it).
    public func adding(workingDays count: Int, to date: LocalDate) -> LocalDate {
        var day = date
        for _ in 0..<400 where !isWorkingDay(day) { day = day.adding(days: 1) }
        var remaining = count
        while remaining > 0 {
            day = day.adding(days: 1)
            if isWorkingDay(day) { remaining -= 1 }
        }
        return day
    }

    /// Working days from `from` (exclusive) to `to` (inclusive); 0 when `to` ≤ `from`.
    public func workingDays(from: LocalDate, to: LocalDate) -> Int {
        guard to > from else { return 0 }
        var count = 0
        var day = from
        while day < to {
            day = day.adding(days: 1)
            if isWorkingDay(day) { count += 1 }
        }
        return count
    }
}
