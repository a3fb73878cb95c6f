import Foundation
import Testing
@testable import InsightCore

/// Builds an instant from UTC components with Foundation's calendar, as an independent oracle.
func utcDate(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0) throws -> Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
    let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    return try #require(calendar.date(from: components))
}

func zone(_ identifier: String) throws -> TimeZone {
    try #require(TimeZone(identifier: identifier))
}

@Suite("RFC3339")
struct RFC3339Tests {
    @Test func parsesZulu() throws {
        let date = try #require(RFC3339.parse("2026-11-20T02:00:00Z"))
        #expect(date == (try utcDate(2026, 11, 20, 2)))
    }

    @Test func parsesPositiveOffset() throws {
        let date = try #require(RFC3339.parse("2026-11-20T10:00:00+08:00"))
        #expect(date == (try utcDate(2026, 11, 20, 2)))
    }

    @Test func parsesNegativeHalfHourOffset() throws {
        let date = try #require(RFC3339.parse("2026-11-20T10:00:00-05:30"))
        #expect(date == (try utcDate(2026, 11, 20, 15, 30)))
    }

    @Test func offsetCrossesMidnightBackwards() throws {
        let date = try #require(RFC3339.parse("2026-01-01T03:00:00+08:00"))
        #expect(date == (try utcDate(2025, 12, 31, 19)))
    }

    @Test func acceptsLowercaseSeparatorAndZulu() throws {
        let date = try #require(RFC3339.parse("2026-11-20t02:00:00z"))
        #expect(date == (try utcDate(2026, 11, 20, 2)))
    }

    @Test func acceptsSpaceSeparator() throws {
        let date = try #require(RFC3339.parse("2026-11-20 02:00:00Z"))
        #expect(date == (try utcDate(2026, 11, 20, 2)))
    }

    @Test(arguments: [
        ("2026-11-20T02:00:00.5Z", 0.5),
        ("2026-11-20T02:00:00.123Z", 0.123),
        ("2026-11-20T10:00:00.250+08:00", 0.25),
        ("2026-11-20T02:00:00.000001Z", 0.000001),
    ])
    func parsesFractionalSeconds(text: String, fraction: Double) throws {
        let date = try #require(RFC3339.parse(text))
        let base = try utcDate(2026, 11, 20, 2)
        #expect(abs(date.timeIntervalSince(base) - fraction) < 1e-6)
    }

    @Test func leapSecondIsClampedToFiftyNine() throws {
        let date = try #require(RFC3339.parse("2026-12-31T23:59:60Z"))
        #expect(date == (try utcDate(2026, 12, 31, 23, 59, 59)))
    }

    @Test func beforeTheEpoch() throws {
        let date = try #require(RFC3339.parse("1969-12-31T23:59:59Z"))
        #expect(date.timeIntervalSince1970 == -1)
    }

    @Test(arguments: [
        ("2024-02-29T12:00:00+08:00", true),
        ("2000-02-29T00:00:00Z", true),
        ("2025-02-29T00:00:00Z", false),
        ("1900-02-29T00:00:00Z", false),
        ("2100-02-29T00:00:00Z", false),
    ])
    func leapDay(text: String, valid: Bool) {
        #expect((RFC3339.parse(text) != nil) == valid)
    }

    @Test func leapDayInstant() throws {
        let date = try #require(RFC3339.parse("2024-02-29T12:00:00+08:00"))
        #expect(date == (try utcDate(2024, 2, 29, 4)))
    }

    @Test("rejections", arguments: [
        "2026-13-01T00:00:00Z",       // month 13
        "2026-00-10T00:00:00Z",       // month 0
        "2026-02-30T00:00:00Z",       // Feb 30
        "2026-04-31T00:00:00Z",       // Apr 31
        "2026-11-00T00:00:00Z",       // day 0
        "2026-11-20T24:00:00Z",       // hour 24
        "2026-11-20T10:60:00Z",       // minute 60
        "2026-11-20T10:00:61Z",       // second 61
        "2026-11-20T10:00:00",        // missing offset
        "2026-11-20T10:00:00.123",    // missing offset after a fraction
        "2026-11-20T10:00:00.Z",      // fraction without digits
        "2026-11-20T10:00:00Zjunk",   // trailing junk after Z
        "2026-11-20T10:00:00+08:00x", // trailing junk after an offset
        "2026-11-20T10:00:00+08:00 ", // trailing space
        "2026-11-20T10:00:00+0800",   // offset without a colon
        "2026-11-20T10:00:00+8:00",   // one-digit offset hour
        "2026-11-20T10:00:00+24:00",  // offset hour 24
        "2026-11-20T10:00:00+08:60",  // offset minute 60
        "2026-11-20T10:00:00 Z",      // space before Z
        "2026-11-20X10:00:00Z",       // bad separator
        "2026/11/20T10:00:00Z",       // bad date separator
        "2026-11-20T10-00-00Z",       // bad time separator
        "26-11-20T10:00:00Z",         // two-digit year
        "2026-1-20T10:00:00Z",        // one-digit month
        "2026-11-20",                 // too short: a date only
        "2026-11-20T10:00Z",          // too short: no seconds
        "",
    ])
    func rejects(_ text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func formatsInShanghai() throws {
        let date = try utcDate(2026, 11, 24, 16)
        #expect(RFC3339.format(date, timeZone: try zone("Asia/Shanghai")) == "2026-11-25T00:00:00+08:00")
    }

    @Test func formatsInUTCWithZ() throws {
        let date = try utcDate(2026, 11, 24, 16, 5, 9)
        #expect(RFC3339.format(date, timeZone: try zone("UTC")) == "2026-11-24T16:05:09Z")
    }

    @Test func formatsNegativeOffset() throws {
        let date = try utcDate(2026, 11, 20, 15, 30)
        let tz = try #require(TimeZone(secondsFromGMT: -(5 * 3600 + 30 * 60)))
        #expect(RFC3339.format(date, timeZone: tz) == "2026-11-20T10:00:00-05:30")
    }

    @Test func formatsMilliseconds() throws {
        let date = try utcDate(2026, 11, 24, 16).addingTimeInterval(0.123)
        #expect(RFC3339.format(date, timeZone: try zone("UTC")) == "2026-11-24T16:00:00.123Z")
        #expect(RFC3339.format(date, timeZone: try zone("Asia/Shanghai")) == "2026-11-25T00:00:00.123+08:00")
    }

    @Test func formatsLeapDayAndBeforeTheEpoch() throws {
        #expect(RFC3339.format(try utcDate(2024, 2, 29, 4), timeZone: try zone("Asia/Shanghai"))
                == "2024-02-29T12:00:00+08:00")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -1), timeZone: try zone("UTC")) == "1969-12-31T23:59:59Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -0.5), timeZone: try zone("UTC"))
                == "1969-12-31T23:59:59.500Z")
    }

    @Test(arguments: [
        "2026-11-25T00:00:00+08:00", "2026-11-24T16:05:09Z", "2024-02-29T12:00:00+08:00", "1999-12-31T23:59:59.250Z",
    ])
    func formatThenParseRoundTrips(text: String) throws {
        let date = try #require(RFC3339.parse(text))
        for identifier in ["UTC", "Asia/Shanghai", "America/New_York"] {
            let formatted = RFC3339.format(date, timeZone: try zone(identifier))
            #expect(RFC3339.parse(formatted) == date, "\(identifier): \(formatted)")
        }
    }
}
