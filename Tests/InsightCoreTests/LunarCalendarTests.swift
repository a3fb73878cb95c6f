import Foundation
import InsightCore
import Testing

private func date(_ text: String) -> LocalDate {
    guard let date = LocalDate(text) else { preconditionFailure("bad date literal \(text)") }
    return date
}

@Suite("Lunar calendar: conversions, month lengths, anniversaries")
struct LunarCalendarTests {
    // The expected dates below were checked independently against the Hong Kong Observatory tables (via the
    // Python `lunardate` package), not derived from Foundation.

    @Test("known festivals", arguments: [
        ("2026-09-25", 8, 15),  // Mid-Autumn 2026
        ("2027-02-06", 1, 1),  // Spring Festival 2027
        ("2026-02-17", 1, 1),  // Spring Festival 2026
        ("2026-06-19", 5, 5),  // Dragon Boat 2026
        ("2026-11-13", 10, 5),
        ("1966-09-29", 8, 15),  // Mid-Autumn 1966
    ])
    func knownFestivals(_ text: String, _ month: Int, _ day: Int) throws {
        let lunar = LunarCalendar.lunar(date(text))
        #expect(lunar.month == month)
        #expect(lunar.day == day)
        #expect(!lunar.isLeapMonth)
        let back = try #require(LunarCalendar.gregorian(lunar))
        #expect(back == date(text))
    }

    @Test func leapMonths() throws {
        // 2023 had a leap 2nd month, 2020 a leap 4th month, 2025 a leap 6th month.
        let leap2 = LunarCalendar.lunar(date("2023-03-22"))
        #expect(leap2.month == 2 && leap2.day == 1 && leap2.isLeapMonth)
        let leap4 = LunarCalendar.lunar(date("2020-05-23"))
        #expect(leap4.month == 4 && leap4.day == 1 && leap4.isLeapMonth)
        #expect(LunarCalendar.gregorian(leap4) == date("2020-05-23"))
        // The regular month of the same number is a month earlier.
        let regular4 = LunarDate(year: leap4.year, month: 4, day: 1, isLeapMonth: false)
        #expect(LunarCalendar.gregorian(regular4) == date("2020-04-23"))
        let leap6 = LunarDate(year: LunarCalendar.lunar(date("2025-07-01")).year, month: 6, day: 1, isLeapMonth: true)
        #expect(LunarCalendar.gregorian(leap6) == date("2025-07-25"))
        #expect(leap2.description == "leap 02-01")
        #expect(LunarCalendar.lunar(date("2026-11-13")).description == "10-05")
    }

    @Test func runningYearNumbersAreContinuousAcrossASixtyYearCycle() throws {
        // 2043 is year 60 of the 78th cycle, 2044 year 1 of the 79th: the running number must step by one.
        let year60 = LunarCalendar.lunar(date("2043-02-10"))
        let year1 = LunarCalendar.lunar(date("2044-01-30"))
        #expect(year60.month == 1 && year60.day == 1)
        #expect(year1.month == 1 && year1.day == 1)
        #expect(year1.year == year60.year + 1)
        #expect(year60.year == 4740)
        #expect(LunarCalendar.lunar(date("2026-02-17")).year == 4723)
        #expect(LunarCalendar.gregorian(year60) == date("2043-02-10"))
        #expect(LunarCalendar.gregorian(year1) == date("2044-01-30"))
        #expect(LunarCalendar.gregorian(LunarDate(year: 4740, month: 12, day: 1, isLeapMonth: false)) != nil)
    }

    /// Spring Festival 1950–2050 from the Hong Kong Observatory tables.
    static let springFestivals = [
        "1950-02-17", "1951-02-06", "1952-01-27", "1953-02-14", "1954-02-03", "1955-01-24", "1956-02-12", "1957-01-31",
        "1958-02-18", "1959-02-08", "1960-01-28", "1961-02-15", "1962-02-05", "1963-01-25", "1964-02-13", "1965-02-02",
        "1966-01-21", "1967-02-09", "1968-01-30", "1969-02-17", "1970-02-06", "1971-01-27", "1972-02-15", "1973-02-03",
        "1974-01-23", "1975-02-11", "1976-01-31", "1977-02-18", "1978-02-07", "1979-01-28", "1980-02-16", "1981-02-05",
        "1982-01-25", "1983-02-13", "1984-02-02", "1985-02-20", "1986-02-09", "1987-01-29", "1988-02-17", "1989-02-06",
        "1990-01-27", "1991-02-15", "1992-02-04", "1993-01-23", "1994-02-10", "1995-01-31", "1996-02-19", "1997-02-07",
        "1998-01-28", "1999-02-16", "2000-02-05", "2001-01-24", "2002-02-12", "2003-02-01", "2004-01-22", "2005-02-09",
        "2006-01-29", "2007-02-18", "2008-02-07", "2009-01-26", "2010-02-14", "2011-02-03", "2012-01-23", "2013-02-10",
        "2014-01-31", "2015-02-19", "2016-02-08", "2017-01-28", "2018-02-16", "2019-02-05", "2020-01-25", "2021-02-12",
        "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13",
        "2030-02-03", "2031-01-23", "2032-02-11", "2033-01-31", "2034-02-19", "2035-02-08", "2036-01-28", "2037-02-15",
        "2038-02-04", "2039-01-24", "2040-02-12", "2041-02-01", "2042-01-22", "2043-02-10", "2044-01-30", "2045-02-17",
        "2046-02-06", "2047-01-26", "2048-02-14", "2049-02-02", "2050-01-23",
    ]

    @Test func springFestivalsOfACentury() throws {
        for (offset, text) in Self.springFestivals.enumerated() {
            let festival = date(text)
            let lunar = LunarCalendar.lunar(festival)
            #expect(lunar.month == 1 && lunar.day == 1 && !lunar.isLeapMonth, "\(text)")
            #expect(lunar.year == 1950 + offset + 2697, "\(text): running year number")
            let eve = LunarCalendar.lunar(festival.adding(days: -1))
            #expect(eve.month == 12 && eve.year == lunar.year - 1, "\(text): the day before is in the 12th month of the year before")
        }
    }

    /// Leap months 1950–2050 from the Hong Kong Observatory tables: year → leap month number.
    static let leapMonths: [Int: Int] = [
        1952: 5, 1955: 3, 1957: 8, 1960: 6, 1963: 4, 1966: 3, 1968: 7, 1971: 5, 1974: 4, 1976: 8, 1979: 6, 1982: 4,
        1984: 10, 1987: 6, 1990: 5, 1993: 3, 1995: 8, 1998: 5, 2001: 4, 2004: 2, 2006: 7, 2009: 5, 2012: 4, 2014: 9,
        2017: 6, 2020: 4, 2023: 2, 2025: 6, 2028: 5, 2031: 3, 2033: 11, 2036: 6, 2039: 5, 2042: 2, 2044: 7, 2047: 5,
        2050: 3,
    ]

    @Test func leapMonthsOfACentury() {
        for year in 1950...2050 {
            let running = year + 2697
            for month in 1...12 {
                let exists = LunarCalendar.monthLength(year: running, month: month, isLeapMonth: true) != nil
                #expect(exists == (Self.leapMonths[year] == month), "\(year) leap month \(month)")
            }
        }
    }

    @Test func roundTripsEveryDayFrom2020Through2030() throws {
        var day = date("2020-01-01")
        let end = date("2030-12-31")
        var previous = LunarCalendar.lunar(day.adding(days: -1))
        var leapDays = 0
        while day <= end {
            let lunar = LunarCalendar.lunar(day)
            #expect(LunarCalendar.gregorian(lunar) == day, "\(day) → \(lunar)")
            #expect(LunarCalendar.lunar(day) == lunar, "\(day): remembered as converted")
            // Consecutive days: the next lunar day, or day 1 of the next month after day 29 or 30.
            if lunar.day == 1 {
                #expect(previous.day == 29 || previous.day == 30, "\(day): a month ends on day 29 or 30")
            } else {
                #expect(lunar.day == previous.day + 1 && lunar.month == previous.month
                        && lunar.isLeapMonth == previous.isLeapMonth && lunar.year == previous.year, "\(day)")
            }
            if lunar.isLeapMonth { leapDays += 1 }
            previous = lunar
            day = day.adding(days: 1)
        }
        // Leap months in that range: 2020 (4), 2023 (2), 2025 (6), 2028 (5): 4 months of 29 or 30 days.
        #expect((4 * 29...4 * 30).contains(leapDays))
    }

    @Test func monthLengths() throws {
        let y2026 = LunarCalendar.lunar(date("2026-02-17")).year
        // Lunar 2026: 30, 29, 30, 29, 29, 30, 29, 29, 30, 30, 30, 29 days.
        let expected = [30, 29, 30, 29, 29, 30, 29, 29, 30, 30, 30, 29]
        #expect((1...12).map { LunarCalendar.monthLength(year: y2026, month: $0) } == expected)
        #expect(LunarCalendar.monthLength(year: y2026, month: 4, isLeapMonth: true) == nil, "2026 has no leap month")
        let y2025 = LunarCalendar.lunar(date("2025-01-29")).year
        #expect(LunarCalendar.monthLength(year: y2025, month: 6, isLeapMonth: true) == 29)
        #expect(LunarCalendar.monthLength(year: y2025, month: 6) == 30)
    }

    @Test func nonexistentDatesAreNil() {
        let y2026 = LunarCalendar.lunar(date("2026-02-17")).year
        #expect(LunarCalendar.gregorian(LunarDate(year: y2026, month: 2, day: 30, isLeapMonth: false)) == nil,
                "2026's second month has 29 days")
        #expect(LunarCalendar.gregorian(LunarDate(year: y2026, month: 3, day: 1, isLeapMonth: true)) == nil,
                "2026 has no leap month")
        #expect(LunarCalendar.gregorian(LunarDate(year: y2026, month: 2, day: 29, isLeapMonth: false)) == date("2026-04-16"))
    }

    @Test func anniversaries() throws {
        let y2026 = LunarCalendar.lunar(date("2026-02-17")).year
        // Day 30 of month 2 in lunar 2026 (a 29-day month) is kept on day 29.
        #expect(LunarCalendar.anniversary(month: 2, day: 30, inLunarYear: y2026) == date("2026-04-16"))
        #expect(LunarCalendar.anniversary(month: 2, day: 29, inLunarYear: y2026) == date("2026-04-16"))
        // In a 30-day month, day 30 is day 30.
        #expect(LunarCalendar.anniversary(month: 1, day: 30, inLunarYear: y2026) == date("2026-03-18"))
        #expect(LunarCalendar.anniversary(month: 8, day: 15, inLunarYear: y2026) == date("2026-09-25"))
        // Always the regular month, also in a year that has a leap month of that number.
        let y2020 = LunarCalendar.lunar(date("2020-01-25")).year
        #expect(LunarCalendar.anniversary(month: 4, day: 1, inLunarYear: y2020) == date("2020-04-23"))
    }
}

@Suite("Birthdays: Gregorian and lunar occurrences, the birthday index")
struct BirthdaysTests {
    @Test func gregorianBirthday() throws {
        let later = try #require(Birthdays.next(birthDate: date("1980-11-25"), calendar: .gregorian, onOrAfter: date("2026-11-20")))
        #expect(later.date == date("2026-11-25"))
        #expect(later.age == 46)
        #expect(later.lunar == nil)
        let today = try #require(Birthdays.next(birthDate: date("1980-11-25"), calendar: nil, onOrAfter: date("2026-11-25")))
        #expect(today.date == date("2026-11-25"), "on the day itself")
        let passed = try #require(Birthdays.next(birthDate: date("1980-11-19"), calendar: .gregorian, onOrAfter: date("2026-11-20")))
        #expect(passed.date == date("2027-11-19"))
        #expect(passed.age == 47)
    }

    @Test func leapDayBirthday() throws {
        let nonLeap = try #require(Birthdays.next(birthDate: date("1964-02-29"), calendar: .gregorian, onOrAfter: date("2026-02-01")))
        #expect(nonLeap.date == date("2026-02-28"))
        #expect(nonLeap.age == 62)
        let leap = try #require(Birthdays.next(birthDate: date("1964-02-29"), calendar: .gregorian, onOrAfter: date("2028-02-01")))
        #expect(leap.date == date("2028-02-29"))
        #expect(leap.age == 64)
        // The day after Feb 28 in a non-leap year: next year's.
        let after = try #require(Birthdays.next(birthDate: date("1964-02-29"), calendar: .gregorian, onOrAfter: date("2026-03-01")))
        #expect(after.date == date("2027-02-28"))
    }

    @Test func lunarBirthday() throws {
        // Born on Mid-Autumn 1966 (lunar 8/15): celebrates on Mid-Autumn 2026.
        let birth = date("1966-09-29")
        #expect(Birthdays.key(birthDate: birth, calendar: .chinese) == 10_815)
        let occurrence = try #require(Birthdays.next(birthDate: birth, calendar: .chinese, onOrAfter: date("2026-09-01")))
        #expect(occurrence.date == date("2026-09-25"))
        #expect(occurrence.age == 60, "lunar years")
        #expect(occurrence.lunar?.month == 8 && occurrence.lunar?.day == 15)
        // After it has passed: next lunar year's Mid-Autumn (2027-09-15).
        let next = try #require(Birthdays.next(birthDate: birth, calendar: .chinese, onOrAfter: date("2026-09-26")))
        #expect(next.date == date("2027-09-15"))
        #expect(next.age == 61)
        // The same person on the Gregorian calendar.
        let gregorian = try #require(Birthdays.next(birthDate: birth, calendar: .gregorian, onOrAfter: date("2026-09-01")))
        #expect(gregorian.date == date("2026-09-29"))
    }

    @Test func leapMonthBirthdayIsCelebratedInTheRegularMonth() throws {
        // Born 2020-05-23, leap 4/1: in lunar 2026 (no leap month) celebrated on regular 4/1, 2026-05-17.
        let birth = date("2020-05-23")
        #expect(Birthdays.key(birthDate: birth, calendar: .chinese) == 10_401)
        let y2026 = LunarCalendar.lunar(date("2026-02-17")).year
        let expected = try #require(LunarCalendar.gregorian(LunarDate(year: y2026, month: 4, day: 1, isLeapMonth: false)))
        #expect(expected == date("2026-05-17"))
        let occurrence = try #require(Birthdays.next(birthDate: birth, calendar: .chinese, onOrAfter: date("2026-01-01")))
        #expect(occurrence.date == expected)
        #expect(occurrence.age == 6)
        #expect(occurrence.lunar == LunarDate(year: y2026, month: 4, day: 1, isLeapMonth: false))
        // The first birthday: regular 4/1 of lunar 2021 (2021-05-12).
        let first = try #require(Birthdays.next(birthDate: birth, calendar: .chinese, onOrAfter: birth))
        #expect(first.date == date("2021-05-12"))
        #expect(first.age == 1)
    }

    @Test func lunarDay30InAShortMonthIsDay29() throws {
        // Born 1966-03-21, lunar 2/30; the second month of lunar 2026 has 29 days.
        let birth = date("1966-03-21")
        let lunar = LunarCalendar.lunar(birth)
        #expect(lunar.month == 2 && lunar.day == 30 && !lunar.isLeapMonth)
        let occurrence = try #require(Birthdays.next(birthDate: birth, calendar: .chinese, onOrAfter: date("2026-04-01")))
        #expect(occurrence.date == date("2026-04-16"))
        #expect(occurrence.lunar?.day == 29)
        #expect(occurrence.age == 60)
        #expect(Birthdays.keys(celebratedOn: [date("2026-04-16")]).contains(10_230))
        #expect(!Birthdays.keys(celebratedOn: [date("2026-04-15")]).contains(10_230))
    }

    @Test func keysOfADay() {
        // 2026-09-25 is lunar 8/15: its Gregorian key and its lunar key.
        #expect(Birthdays.keys(celebratedOn: [date("2026-09-25")]) == [925, 10_815])
        // Feb 28 in a non-leap year also celebrates Feb 29 birthdays; not in a leap year.
        #expect(Birthdays.keys(celebratedOn: [date("2026-02-28")]).contains(229))
        #expect(!Birthdays.keys(celebratedOn: [date("2028-02-28")]).contains(229))
        // A day in a leap month celebrates no lunar birthday.
        #expect(Birthdays.keys(celebratedOn: [date("2020-05-23")]) == [523])
        #expect(Birthdays.keys(celebratedOn: [date("2026-09-25"), date("2026-09-26")]) == [925, 926, 10_815, 10_816])
        #expect(Birthdays.keys(celebratedOn: [LocalDate]()).isEmpty)
    }

    /// For random births on both calendars and random days: a client's key is among the keys celebrated in
    /// `today...today+3` exactly when its next birthday on or after today is within 3 days.
    @Test func keysAgreeWithNext() throws {
        var generator = SeededRandom(seed: 0x1A2B_3C4D)
        let births: [(LocalDate, BirthCalendar)] = (0..<300).map { index in
            let day = LocalDate(dayNumber: Int.random(in: date("1940-01-01").dayNumber...date("2015-12-31").dayNumber,
                                                      using: &generator))
            return (day, index % 2 == 0 ? .gregorian : .chinese)
        }
        // A few births made to hit the edge cases: Feb 29, lunar day 30, leap months.
        let edges: [(LocalDate, BirthCalendar)] = [
            (date("1964-02-29"), .gregorian), (date("1966-03-21"), .chinese), (date("2020-05-23"), .chinese),
            (date("2023-03-22"), .chinese), (date("1984-12-21"), .chinese), (date("1980-02-29"), .chinese),
        ]
        let todays = (0..<120).map { _ in
            LocalDate(dayNumber: Int.random(in: date("2024-01-01").dayNumber...date("2030-12-31").dayNumber, using: &generator))
        } + [date("2026-02-25"), date("2028-02-26"), date("2026-04-13"), date("2026-05-15"), date("2027-02-03")]
        var within = 0
        for today in todays {
            let keys = Birthdays.keys(celebratedOn: (0...3).map { today.adding(days: $0) })
            for (birth, calendar) in births + edges {
                let key = Birthdays.key(birthDate: birth, calendar: calendar)
                let occurrence = try #require(Birthdays.next(birthDate: birth, calendar: calendar, onOrAfter: today))
                #expect(occurrence.date >= today)
                let soon = occurrence.date <= today.adding(days: 3)
                if soon { within += 1 }
                #expect(keys.contains(key) == soon,
                        "\(birth) \(calendar.rawValue) key \(key), today \(today): next \(occurrence.date)")
            }
        }
        #expect(within > 100, "the sample has enough hits to mean something (\(within))")
    }
}
