import Foundation
import InsightCore

/// `plugins-config/calendar.yaml`: the bank's statutory holidays and make-up working days (调休) per year.
struct WorkingCalendarFile: Decodable {
    static let name = "calendar"

    struct Year: Decodable {
        var holidays: [HolidayRange]
        var workingDays: [LocalDate]
        /// True while the year's schedule is an estimate, before the official announcement.
        var provisional: Bool

        enum CodingKeys: String, CodingKey, CaseIterable {
            case holidays, provisional
            case workingDays = "working_days"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            holidays = try c.decodeIfPresent([HolidayRange].self, forKey: .holidays) ?? []
            workingDays = try c.decodeIfPresent([LocalDate].self, forKey: .workingDays) ?? []
            provisional = try c.decodeIfPresent(Bool.self, forKey: .provisional) ?? false
        }
    }

    struct HolidayRange: Decodable {
        var name: String
        var from: LocalDate
        var to: LocalDate

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, from, to
        }

        /// Every day from `from` to `to`.
        var days: [LocalDate] {
            (0...from.days(until: to)).map { from.adding(days: $0) }
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            from = try c.decode(LocalDate.self, forKey: .from)
            to = try c.decodeIfPresent(LocalDate.self, forKey: .to) ?? from
            guard from <= to, from.days(until: to) < 31 else {
                throw DecodingError.dataCorruptedError(forKey: .to, in: c,
                                                       debugDescription: "must be on or after from (\(from)) and within 31 days of it")
            }
        }
    }

    var years: [String: Year]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case years
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        years = try c.decodeIfPresent([String: Year].self, forKey: .years) ?? [:]
    }

    /// Semantic checks, as (key path, message) pairs: dates outside their year, make-up days that are not
    /// weekends, a day both off and on.
    func problems() -> [(path: [String], message: String)] {
        var problems: [(path: [String], message: String)] = []
        let weekends = WorkingCalendar.weekendsOnly
        for (yearText, year) in years {
            guard let number = Int(yearText), (1900...2200).contains(number) else {
                problems.append((["years", yearText], "a year is a number such as 2026"))
                continue
            }
            var off = Set<LocalDate>()
            for (index, holiday) in year.holidays.enumerated() {
                if holiday.from.year != number && holiday.to.year != number {
                    problems.append((["years", yearText, "holidays", "\(index)", "from"], "\(holiday.from) is not in \(number)"))
                }
                off.formUnion(holiday.days)
            }
            for (index, day) in year.workingDays.enumerated() {
                let path = ["years", yearText, "working_days", "\(index)"]
                if weekends.isWorkingDay(day) {
                    problems.append((path, "\(day) is a weekday already; working_days lists weekend days that are worked (调休)"))
                } else if off.contains(day) {
                    problems.append((path, "\(day) is also listed as a holiday"))
                }
            }
        }
        return problems
    }

    var calendar: WorkingCalendar {
        var holidays: [WorkingCalendar.Holiday] = []
        var makeUp = Set<LocalDate>()
        var covered = Set<Int>()
        for (yearText, year) in years {
            guard let number = Int(yearText) else { continue }
            covered.insert(number)
            for holiday in year.holidays {
                holidays.append(.init(name: holiday.name, days: holiday.days))
            }
            makeUp.formUnion(year.workingDays)
        }
        return WorkingCalendar(holidays: holidays, makeUpDays: makeUp, years: covered)
    }
}
