import Foundation
import InsightCore

/// `plugins-config/birthday-care.yaml`.
public struct BirthdayCareConfiguration: PluginConfiguration {
    public var enabled: Bool
    /// The daily tick, local time.
    public var schedule: LocalTime
    /// Birthdays in `[today, today + days_ahead]` get a lead.
    public var daysAhead: Int
    /// Ages that raise the lead to `milestone_priority`.
    public var milestoneAges: [Int]
    public var milestonePriority: LeadPriority
    /// Priority by client segment (e.g. hnw/private → high); other segments are `normal`.
    public var segmentPriority: [String: LeadPriority]
    public var holidays: HolidayGreetings
    public var templates: [String: [String: LeadTextSource]]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, schedule, holidays, templates
        case daysAhead = "days_ahead"
        case milestoneAges = "milestone_ages"
        case milestonePriority = "milestone_priority"
        case segmentPriority = "segment_priority"
    }

    public init() {
        enabled = true
        schedule = LocalTime(hour: 8, minute: 30)
        daysAhead = 3
        milestoneAges = [60, 70, 80]
        milestonePriority = .high
        segmentPriority = ["hnw": .high, "private": .high]
        holidays = HolidayGreetings()
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        schedule = try c.decodeIfPresent(LocalTime.self, forKey: .schedule) ?? schedule
        daysAhead = try c.decodeIfPresent(Int.self, forKey: .daysAhead) ?? daysAhead
        guard (0...60).contains(daysAhead) else {
            throw DecodingError.dataCorruptedError(forKey: .daysAhead, in: c, debugDescription: "must be between 0 and 60 days")
        }
        milestoneAges = try c.decodeIfPresent([Int].self, forKey: .milestoneAges) ?? milestoneAges
        milestonePriority = try c.decodeIfPresent(LeadPriority.self, forKey: .milestonePriority) ?? milestonePriority
        segmentPriority = try c.decodeIfPresent([String: LeadPriority].self, forKey: .segmentPriority) ?? segmentPriority
        holidays = try c.decodeIfPresent(HolidayGreetings.self, forKey: .holidays) ?? holidays
        templates = try c.decodeIfPresent([String: [String: LeadTextSource]].self, forKey: .templates)
    }
}

/// Holiday greeting lists: before each holiday, every manager gets one lead listing their clients in the
/// chosen segments, largest AUM first.
public struct HolidayGreetings: Sendable, Decodable {
    public var enabled: Bool
    public var daysAhead: Int
    public var segments: [String]
    /// How many clients one lead lists by name; the rest are counted.
    public var maxClientsListed: Int
    public var list: [Holiday]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, segments, list
        case daysAhead = "days_ahead"
        case maxClientsListed = "max_clients_listed"
    }

    public init() {
        enabled = true
        daysAhead = 7
        segments = ["hnw", "private"]
        maxClientsListed = 30
        list = [
            Holiday(id: "new-year", calendar: .gregorian, month: 1, day: 1, names: ["zh-CN": "元旦", "en": "New Year's Day"]),
            Holiday(id: "spring-festival", calendar: .chinese, month: 1, day: 1, names: ["zh-CN": "春节", "en": "Spring Festival"]),
            Holiday(id: "dragon-boat", calendar: .chinese, month: 5, day: 5, names: ["zh-CN": "端午节", "en": "Dragon Boat Festival"]),
            Holiday(id: "mid-autumn", calendar: .chinese, month: 8, day: 15, names: ["zh-CN": "中秋节", "en": "Mid-Autumn Festival"]),
            Holiday(id: "national-day", calendar: .gregorian, month: 10, day: 1, names: ["zh-CN": "国庆节", "en": "National Day"]),
        ]
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        daysAhead = try c.decodeIfPresent(Int.self, forKey: .daysAhead) ?? daysAhead
        guard (0...60).contains(daysAhead) else {
            throw DecodingError.dataCorruptedError(forKey: .daysAhead, in: c, debugDescription: "must be between 0 and 60 days")
        }
        segments = try c.decodeIfPresent([String].self, forKey: .segments) ?? segments
        maxClientsListed = try c.decodeIfPresent(Int.self, forKey: .maxClientsListed) ?? maxClientsListed
        guard maxClientsListed >= 1 else {
            throw DecodingError.dataCorruptedError(forKey: .maxClientsListed, in: c, debugDescription: "must be at least 1")
        }
        list = try c.decodeIfPresent([Holiday].self, forKey: .list) ?? list
    }
}

public struct Holiday: Sendable, Decodable, Hashable {
    /// Part of the lead key; letters, digits and `-`.
    public var id: String
    public var calendar: BirthCalendar
    public var month: Int
    public var day: Int
    /// The holiday's name per locale (`zh-CN`, `en`).
    public var names: [String: String]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, calendar, month, day, names
    }

    public init(id: String, calendar: BirthCalendar, month: Int, day: Int, names: [String: String]) {
        self.id = id
        self.calendar = calendar
        self.month = month
        self.day = day
        self.names = names
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: c, debugDescription: "must be letters, digits, - or _")
        }
        let calendarText = try c.decodeIfPresent(String.self, forKey: .calendar) ?? "gregorian"
        guard let calendar = BirthCalendar(rawValue: calendarText) else {
            throw DecodingError.dataCorruptedError(forKey: .calendar, in: c,
                                                   debugDescription: "must be gregorian or chinese, got \"\(calendarText)\"")
        }
        self.calendar = calendar
        month = try c.decode(Int.self, forKey: .month)
        guard (1...12).contains(month) else {
            throw DecodingError.dataCorruptedError(forKey: .month, in: c, debugDescription: "must be 1 to 12")
        }
        day = try c.decode(Int.self, forKey: .day)
        // A Gregorian day must exist in its month (in a leap year, so Feb 29 is allowed).
        let valid = calendar == .chinese ? (1...30).contains(day) : LocalDate(year: 2000, month: month, day: day) != nil
        guard valid else {
            throw DecodingError.dataCorruptedError(forKey: .day, in: c, debugDescription: calendar == .chinese
                ? "must be 1 to 30" : "month \(month) has no day \(day)")
        }
        names = try c.decodeIfPresent([String: String].self, forKey: .names) ?? [:]
        guard names[LeadTexts.defaultLocale] != nil else {
            throw DecodingError.dataCorruptedError(forKey: .names, in: c, debugDescription: "needs at least a zh-CN name")
        }
    }

    /// The Gregorian dates this holiday falls on around `date` (this year and next).
    func dates(around date: LocalDate) -> [LocalDate] {
        switch calendar {
        case .gregorian:
            return [date.year, date.year + 1].compactMap { LocalDate(year: $0, month: month, day: day) }
        case .chinese:
            let year = LunarCalendar.lunar(date).year
            return [year - 1, year, year + 1].compactMap { LunarCalendar.anniversary(month: month, day: day, inLunarYear: $0) }
        }
    }
}
