import Foundation
import Synchronization

/// A date on the Chinese lunisolar calendar.
public struct LunarDate: Sendable, Hashable, CustomStringConvertible {
    /// The lunar year as a running number (cycle × 60 + year in cycle), so years compare and subtract.
    public let year: Int
    public let month: Int
    public let day: Int
    public let isLeapMonth: Bool

    public init(year: Int, month: Int, day: Int, isLeapMonth: Bool) {
        self.year = year
        self.month = month
        self.day = day
        self.isLeapMonth = isLeapMonth
    }

    /// `10-05`, or `闰4-12` style `leap 04-12` for a leap month.
    public var description: String {
        let text = (month < 10 ? "0\(month)" : "\(month)") + "-" + (day < 10 ? "0\(day)" : "\(day)")
        return isLeapMonth ? "leap " + text : text
    }
}

/// Conversions between Gregorian dates and the Chinese calendar, on Foundation's `Calendar(identifier: .chinese)`.
///
/// Dates are converted at noon UTC so no time zone can move them across a day boundary.
public enum LunarCalendar {
    /// A running lunar year minus this is the Gregorian year in which that lunar year begins (4723 → 2026).
    public static let gregorianYearOffset = 2697

    private static let utc = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? .current

    private static let chinese: Calendar = {
        var calendar = Calendar(identifier: .chinese)
        calendar.timeZone = utc
        return calendar
    }()

    private static let gregorian: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc
        return calendar
    }()

    private static func noon(_ date: LocalDate) -> Date {
        Date(timeIntervalSince1970: Double(date.dayNumber * 86_400 + 43_200))
    }

    /// Lunar dates already converted, by day number: Foundation's Chinese calendar takes microseconds a date, and a
    /// client's birthday index key is worked out on every write of its profile. Emptied when it reaches
    /// ``memoLimit`` entries (a book's birth dates span a few tens of thousands of days).
    private static let memo = Mutex<[Int: LunarDate]>([:])
    static let memoLimit = 100_000

    /// The lunar date of a Gregorian date.
    public static func lunar(_ date: LocalDate) -> LunarDate {
        let day = date.dayNumber
        if let known = memo.withLock({ $0[day] }) { return known }
        let lunar = convert(date)
        memo.withLock { known in
            if known.count >= memoLimit { known.removeAll(keepingCapacity: true) }
            known[day] = lunar
        }
        return lunar
    }

    private static func convert(_ date: LocalDate) -> LunarDate {
        let parts = chinese.dateComponents([.era, .year, .month, .day], from: noon(date))
        let leap = chinese.dateComponents([.month], from: noon(date)).isLeapMonth ?? false
        return LunarDate(year: (parts.era ?? 0) * 60 + (parts.year ?? 0), month: parts.month ?? 1, day: parts.day ?? 1,
                         isLeapMonth: leap)
    }

    /// The Gregorian date of a lunar date, or nil when that month (or leap month) or day does not exist.
    public static func gregorian(_ lunar: LunarDate) -> LocalDate? {
        var parts = DateComponents()
        parts.era = lunar.year / 60
        parts.year = lunar.year % 60
        if parts.year == 0 {  // year 60 of a cycle
            parts.era = lunar.year / 60 - 1
            parts.year = 60
        }
        parts.month = lunar.month
        parts.day = lunar.day
        parts.isLeapMonth = lunar.isLeapMonth
        parts.hour = 12
        guard let date = chinese.date(from: parts) else { return nil }
        let result = LocalDate(date, in: utc)
        // Foundation rolls invalid components over (day 30 of a 29-day month, a missing leap month): refuse those.
        guard self.lunar(result) == LunarDate(year: lunar.year, month: lunar.month, day: lunar.day,
                                             isLeapMonth: lunar.isLeapMonth) else { return nil }
        return result
    }

    /// Days in a lunar month (29 or 30), or nil when the month does not exist in that year.
    public static func monthLength(year: Int, month: Int, isLeapMonth: Bool = false) -> Int? {
        guard let first = gregorian(LunarDate(year: year, month: month, day: 1, isLeapMonth: isLeapMonth)) else { return nil }
        return lunar(first.adding(days: 29)).day == 30 ? 30 : 29
    }

    /// Where a lunar anniversary falls in lunar year `year`: in the regular (non-leap) month `month`, with day
    /// 30 moved to day 29 when that month is short this year.
    public static func anniversary(month: Int, day: Int, inLunarYear year: Int) -> LocalDate? {
        guard let length = monthLength(year: year, month: month) else { return nil }
        return gregorian(LunarDate(year: year, month: month, day: min(day, length), isLeapMonth: false))
    }
}
