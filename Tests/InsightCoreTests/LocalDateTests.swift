import Foundation
import Testing
@testable import InsightCore

@Suite("LocalDate and LocalTime")
struct LocalDateTests {
    // MARK: Parsing

    @Test func parsesLeapDay() throws {
        let date = try #require(LocalDate("2024-02-29"))
        #expect(date.year == 2024)
        #expect(date.month == 2)
        #expect(date.day == 29)
        #expect(date.description == "2024-02-29")
    }

    @Test("invalid dates", arguments: [
        "2025-02-29", "1900-02-29", "2024-02-30", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00", "2024-01-32",
        "2024-2-29", "24-02-29", "2024-02-29T00:00", "20240229", "2024/02/29", "abcd-ef-gh", "", "2024-02", "2024-02-29-",
        " 2024-02-29",
    ])
    func rejectsInvalid(_ text: String) {
        #expect(LocalDate(text) == nil)
    }

    @Test("signs are not digits", arguments: ["2024-+1-05", "2024-01-+5", "+024-01-05"])
    func rejectsSignedComponents(_ text: String) {
        // `Int("+1")` is 1, so the component check must not rely on `Int(_:)` alone.
        #expect(LocalDate(text) == nil)
    }

    @Test func memberwiseValidation() {
        #expect(LocalDate(year: 2024, month: 2, day: 29) != nil)
        #expect(LocalDate(year: 2025, month: 2, day: 29) == nil)
        #expect(LocalDate(year: 2026, month: 12, day: 31) != nil)
        #expect(LocalDate(year: 2026, month: 0, day: 1) == nil)
        #expect(LocalDate(year: 2026, month: 6, day: 31) == nil)
    }

    @Test func descriptionPadsYearMonthAndDay() throws {
        #expect(try #require(LocalDate(year: 5, month: 1, day: 2)).description == "0005-01-02")
        #expect(try #require(LocalDate(year: 2026, month: 11, day: 5)).description == "2026-11-05")
    }

    // MARK: Instants to local dates

    @Test(arguments: [
        ("2026-11-24T16:30:00Z", "Asia/Shanghai", "2026-11-25"),
        ("2026-11-24T16:30:00Z", "UTC", "2026-11-24"),
        ("2026-11-24T15:59:59Z", "Asia/Shanghai", "2026-11-24"),
        ("2026-11-24T16:00:00Z", "Asia/Shanghai", "2026-11-25"),
        ("2026-12-31T16:00:00Z", "Asia/Shanghai", "2027-01-01"),
        ("2026-11-25T03:00:00Z", "America/New_York", "2026-11-24"),
        ("2026-07-01T03:59:59Z", "America/New_York", "2026-06-30"),
        ("2026-07-01T04:00:00Z", "America/New_York", "2026-07-01"),
        ("1969-12-31T23:00:00Z", "UTC", "1969-12-31"),
        ("1970-01-01T00:00:00Z", "UTC", "1970-01-01"),
    ])
    func localDateOfInstant(instant: String, timeZone: String, expected: String) throws {
        let date = try #require(RFC3339.parse(instant))
        let local = LocalDate(date, in: try zone(timeZone))
        #expect(local.description == expected)
    }

    @Test func fractionalSecondBeforeTheEpochBelongsToThePreviousDay() throws {
        let local = LocalDate(Date(timeIntervalSince1970: -0.5), in: try zone("UTC"))
        #expect(local == LocalDate(year: 1969, month: 12, day: 31))
    }

    // MARK: Day arithmetic

    @Test(arguments: [
        ("2026-01-31", 1, "2026-02-01"),
        ("2024-02-28", 1, "2024-02-29"),
        ("2025-02-28", 1, "2025-03-01"),
        ("2026-12-31", 1, "2027-01-01"),
        ("2027-01-01", -1, "2026-12-31"),
        ("2024-03-01", -1, "2024-02-29"),
        ("2026-11-25", 0, "2026-11-25"),
        ("2026-11-25", 365, "2027-11-25"),
        ("2024-01-01", 366, "2025-01-01"),
        ("1970-01-01", -1, "1969-12-31"),
    ])
    func addingDays(start: String, days: Int, expected: String) throws {
        let date = try #require(LocalDate(start))
        let result = date.adding(days: days)
        #expect(result.description == expected)
        #expect(date.days(until: result) == days)
    }

    @Test func dayNumberIsDaysSinceTheEpoch() throws {
        #expect(try #require(LocalDate("1970-01-01")).dayNumber == 0)
        #expect(try #require(LocalDate("1970-01-02")).dayNumber == 1)
        #expect(try #require(LocalDate("1969-12-31")).dayNumber == -1)
        let date = try #require(LocalDate("2026-11-25"))
        #expect(LocalDate(dayNumber: date.dayNumber) == date)
        // Cross-check with Foundation.
        let midnight = try utcDate(2026, 11, 25)
        #expect(date.dayNumber * 86_400 == Int(midnight.timeIntervalSince1970))
    }

    @Test func ordering() throws {
        let earlier = try #require(LocalDate("2026-11-24"))
        let later = try #require(LocalDate("2026-11-25"))
        let nextYear = try #require(LocalDate("2027-01-01"))
        #expect(earlier < later)
        #expect(later < nextYear)
        #expect(!(later < earlier))
        #expect([nextYear, earlier, later].sorted() == [earlier, later, nextYear])
    }

    // MARK: Local dates to instants

    @Test func instantAtMidnightInShanghai() throws {
        let date = try #require(LocalDate("2026-11-25"))
        #expect(date.instant(in: try zone("Asia/Shanghai")) == (try utcDate(2026, 11, 24, 16)))
    }

    @Test(arguments: [
        ("2026-11-25", "08:30", "Asia/Shanghai", "2026-11-25T00:30:00Z"),
        ("2026-11-25", "07:59", "Asia/Shanghai", "2026-11-24T23:59:00Z"),
        ("2026-11-25", "08:30", "UTC", "2026-11-25T08:30:00Z"),
        ("2026-01-15", "00:00", "America/New_York", "2026-01-15T05:00:00Z"),
        ("2026-07-01", "00:00", "America/New_York", "2026-07-01T04:00:00Z"),
        ("2026-03-08", "12:00", "America/New_York", "2026-03-08T16:00:00Z"),
        ("2026-03-08", "00:30", "America/New_York", "2026-03-08T05:30:00Z"),
    ])
    func instantAtLocalTime(date: String, time: String, timeZone: String, expected: String) throws {
        let local = try #require(LocalDate(date))
        let at = try #require(LocalTime(time))
        let tz = try zone(timeZone)
        let instant = local.instant(at: at, in: tz)
        #expect(instant == RFC3339.parse(expected))
        #expect(LocalDate(instant, in: tz) == local)
    }

    @Test func codableUsesTheDateText() throws {
        let date = try #require(LocalDate("2024-02-29"))
        let data = try JSONEncoder().encode([date])
        #expect(String(decoding: data, as: UTF8.self) == #"["2024-02-29"]"#)
        #expect(try JSONDecoder().decode([LocalDate].self, from: data) == [date])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([LocalDate].self, from: Data(#"["2025-02-29"]"#.utf8))
        }
    }

    // MARK: LocalTime

    @Test(arguments: [("08:30", 8, 30), ("8:30", 8, 30), ("00:00", 0, 0), ("23:59", 23, 59), ("0:05", 0, 5)])
    func parsesTime(text: String, hour: Int, minute: Int) throws {
        let time = try #require(LocalTime(text))
        #expect(time.hour == hour)
        #expect(time.minute == minute)
        #expect(time.minuteOfDay == hour * 60 + minute)
    }

    @Test("invalid times", arguments: [
        "24:00", "08:3", "ab:cd", "08:60", "", "0830", "08:30:00", "123:00", ":30", "08:", "-1:30", " 8:30", "8 :30",
    ])
    func rejectsInvalidTime(_ text: String) {
        #expect(LocalTime(text) == nil)
    }

    @Test("signs are not digits in times", arguments: ["+8:30", "08:+5"])
    func rejectsSignedTime(_ text: String) {
        #expect(LocalTime(text) == nil)
    }

    @Test func timeDescriptionIsZeroPadded() throws {
        #expect(try #require(LocalTime("8:05")).description == "08:05")
        #expect(LocalTime(hour: 23, minute: 59).description == "23:59")
    }

    @Test func memberwiseTimeIsClamped() {
        let time = LocalTime(hour: 25, minute: -3)
        #expect(time.hour == 23)
        #expect(time.minute == 0)
    }

    @Test func timeOrdering() {
        #expect(LocalTime(hour: 8, minute: 30) < LocalTime(hour: 9, minute: 0))
        #expect(!(LocalTime(hour: 9, minute: 0) < LocalTime(hour: 8, minute: 59)))
    }

    @Test func timeCodable() throws {
        let data = try JSONEncoder().encode([LocalTime(hour: 8, minute: 5)])
        #expect(String(decoding: data, as: UTF8.self) == #"["08:05"]"#)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([LocalTime].self, from: Data(#"["24:00"]"#.utf8))
        }
    }
}
