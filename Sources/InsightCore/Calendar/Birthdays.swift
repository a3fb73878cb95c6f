import Foundation

/// When a birthday is celebrated, on the Gregorian or the Chinese calendar.
///
/// `birthDate` is always the Gregorian date of birth. A client with `birthCalendar: chinese` celebrates the
/// lunar anniversary: the birth date's lunar month/day, found in the current lunar year. Born in a leap
/// month: the regular month of that number. Day 30 in a 29-day month: day 29. A Gregorian Feb 29 in a
/// non-leap year: Feb 28.
public enum Birthdays {
    public struct Occurrence: Sendable, Hashable {
        /// The Gregorian date it is celebrated on.
        public let date: LocalDate
        /// The age reached that day (lunar years for a lunar birthday).
        public let age: Int
        /// The lunar month/day celebrated, for a lunar birthday.
        public let lunar: LunarDate?

        /// The year a lead key names, one per celebration: the Gregorian year, or for a lunar birthday the
        /// Gregorian year its lunar year begins in (a lunar 腊月 birthday can fall twice in one Gregorian year).
        public var keyYear: Int {
            guard let lunar else { return date.year }
            return lunar.year - LunarCalendar.gregorianYearOffset
        }
    }

    /// The key a client is indexed under: the Gregorian `MMDD`, or `10000 + MMDD` of the lunar birth date.
    public static func key(birthDate: LocalDate, calendar: BirthCalendar?) -> Int {
        switch calendar ?? .gregorian {
        case .gregorian:
            return birthDate.month * 100 + birthDate.day
        case .chinese:
            let lunar = LunarCalendar.lunar(birthDate)
            return 10_000 + lunar.month * 100 + lunar.day
        }
    }

    /// Every index key whose birthday is celebrated on one of `dates`.
    public static func keys(celebratedOn dates: some Sequence<LocalDate>) -> Set<Int> {
        var keys = Set<Int>()
        for date in dates {
            keys.insert(date.month * 100 + date.day)
            if date.month == 2, date.day == 28, RFC3339.daysIn(month: 2, year: date.year) == 28 { keys.insert(229) }
            let lunar = LunarCalendar.lunar(date)
            guard !lunar.isLeapMonth else { continue }  // leap-month birthdays are kept in the regular month
            keys.insert(10_000 + lunar.month * 100 + lunar.day)
            if lunar.day == 29, LunarCalendar.monthLength(year: lunar.year, month: lunar.month) == 29 {
                keys.insert(10_000 + lunar.month * 100 + 30)
            }
        }
        return keys
    }

    /// The first celebration on or after `from`.
    public static func next(birthDate: LocalDate, calendar: BirthCalendar?, onOrAfter from: LocalDate) -> Occurrence? {
        switch calendar ?? .gregorian {
        case .gregorian:
            for year in from.year...(from.year + 1) {
                let date = LocalDate(year: year, month: birthDate.month, day: birthDate.day)
                    ?? LocalDate(year: year, month: 2, day: 28)
                if let date, date >= from, date > birthDate {
                    return Occurrence(date: date, age: year - birthDate.year, lunar: nil)
                }
            }
            return nil
        case .chinese:
            let birth = LunarCalendar.lunar(birthDate)
            let current = LunarCalendar.lunar(from).year
            for year in (current - 1)...(current + 1) {
                guard let date = LunarCalendar.anniversary(month: birth.month, day: birth.day, inLunarYear: year),
                      date >= from, date > birthDate else { continue }
                let celebrated = LunarCalendar.lunar(date)
                return Occurrence(date: date, age: year - birth.year, lunar: celebrated)
            }
            return nil
        }
    }
}
