import Foundation
@testable import InsightCore
import InsightTesting
import Logging
import Mustache
import Testing

private func date(_ text: String) -> LocalDate {
    guard let date = LocalDate(text) else { preconditionFailure("bad date literal \(text)") }
    return date
}

private func instant(_ text: String) -> Date {
    guard let date = RFC3339.parse(text) else { preconditionFailure("bad RFC 3339 literal \(text)") }
    return date
}

private let shanghai = TimeZone(identifier: "Asia/Shanghai") ?? TimeZone(secondsFromGMT: 8 * 3600)!

/// Part of the official 2026 schedule: Mid-Autumn and National Day, with their make-up Sunday and Saturday.
private let autumn2026 = WorkingCalendar(
    holidays: [
        .init(name: "中秋节", days: [date("2026-09-25"), date("2026-09-26"), date("2026-09-27")]),
        .init(name: "国庆节", days: (1...7).map { date("2026-10-0\($0)") }),
    ],
    makeUpDays: [date("2026-09-20"), date("2026-10-10")],
    years: [2026])

@Suite("Working calendar: weekends, holidays, make-up days, working-day arithmetic")
struct WorkingCalendarTests {
    @Test func weekendsOnly() {
        let calendar = WorkingCalendar.weekendsOnly
        // 2026-11-16 is a Monday.
        let week = (16...22).map { calendar.isWorkingDay(date("2026-11-\($0)")) }
        #expect(week == [true, true, true, true, true, false, false])
        #expect(calendar.isWorkingDay(date("1970-01-01")), "a Thursday")
        #expect(!calendar.isWorkingDay(date("1969-12-28")), "a Sunday before the epoch")
        #expect(calendar.isWorkingDay(date("1969-12-29")), "a Monday before the epoch")
        #expect(!calendar.covers(2026))
    }

    @Test func holidaysAndMakeUpDays() {
        #expect(!autumn2026.isWorkingDay(date("2026-10-01")), "National Day, a Thursday")
        #expect(!autumn2026.isWorkingDay(date("2026-09-25")), "Mid-Autumn, a Friday")
        #expect(autumn2026.holidays[date("2026-10-05")] == "国庆节")
        #expect(autumn2026.isWorkingDay(date("2026-09-20")), "a make-up Sunday")
        #expect(autumn2026.isWorkingDay(date("2026-10-10")), "a make-up Saturday")
        #expect(!autumn2026.isWorkingDay(date("2026-10-11")), "an ordinary Sunday")
        #expect(autumn2026.isWorkingDay(date("2026-09-30")))
        #expect(autumn2026.covers(2026))
        #expect(!autumn2026.covers(2027))
    }

    @Test func workingDayOnOrBefore() {
        #expect(autumn2026.workingDay(onOrBefore: date("2026-09-30")) == date("2026-09-30"), "itself")
        #expect(autumn2026.workingDay(onOrBefore: date("2026-10-07")) == date("2026-09-30"), "across the whole holiday")
        #expect(autumn2026.workingDay(onOrBefore: date("2026-09-27")) == date("2026-09-24"), "holiday weekend")
        #expect(autumn2026.workingDay(onOrBefore: date("2026-10-11")) == date("2026-10-10"), "back to the make-up Saturday")
        #expect(WorkingCalendar.weekendsOnly.workingDay(onOrBefore: date("2026-11-22")) == date("2026-11-20"))
    }

    @Test func addingWorkingDays() {
        #expect(autumn2026.adding(workingDays: 0, to: date("2026-09-30")) == date("2026-09-30"))
        #expect(autumn2026.adding(workingDays: 0, to: date("2026-10-03")) == date("2026-10-08"), "0: the next working day")
        #expect(autumn2026.adding(workingDays: 1, to: date("2026-09-30")) == date("2026-10-08"))
        #expect(autumn2026.adding(workingDays: 2, to: date("2026-10-08")) == date("2026-10-10"), "the make-up Saturday counts")
        #expect(autumn2026.adding(workingDays: 3, to: date("2026-10-08")) == date("2026-10-12"))
        #expect(autumn2026.adding(workingDays: 1, to: date("2026-10-01")) == date("2026-10-09"),
                "from a holiday: the first working day, then one more")
        #expect(WorkingCalendar.weekendsOnly.adding(workingDays: 5, to: date("2026-11-20")) == date("2026-11-27"))
    }

    @Test func countingWorkingDays() {
        #expect(autumn2026.workingDays(from: date("2026-09-30"), to: date("2026-10-10")) == 3, "10-08, 10-09, 10-10")
        #expect(autumn2026.workingDays(from: date("2026-09-24"), to: date("2026-09-28")) == 1, "only 09-28")
        #expect(autumn2026.workingDays(from: date("2026-09-30"), to: date("2026-09-30")) == 0)
        #expect(autumn2026.workingDays(from: date("2026-10-10"), to: date("2026-09-30")) == 0)
        #expect(WorkingCalendar.weekendsOnly.workingDays(from: date("2026-11-20"), to: date("2026-11-27")) == 5)
    }

    @Test func addingAndCountingAreInverse() {
        var day = date("2026-09-01")
        while day <= date("2026-10-31") {
            let start = autumn2026.adding(workingDays: 0, to: day)
            #expect(autumn2026.isWorkingDay(start))
            for count in 0...15 {
                let end = autumn2026.adding(workingDays: count, to: start)
                #expect(autumn2026.isWorkingDay(end))
                #expect(autumn2026.workingDays(from: start, to: end) == count, "\(start) + \(count)")
            }
            day = day.adding(days: 1)
        }
    }
}

@Suite("PluginContext.dueAt: previous working day, never before today")
struct DueDateTests {
    private func context(now: String, calendar: WorkingCalendar = autumn2026) -> PluginContext {
        PluginContext(now: instant(now), timeZone: shanghai, locale: "zh-CN", logger: Logger(label: "test"),
                      state: InMemoryState(), client: nil, workingCalendar: calendar)
    }

    @Test func aWorkingDayIsDueAtItsStart() {
        let context = context(now: "2026-09-22T09:00:00+08:00")
        #expect(context.today == date("2026-09-22"))
        #expect(context.dueAt(date("2026-09-23")) == instant("2026-09-23T00:00:00+08:00"))
        #expect(context.dueAt(date("2026-09-22")) == instant("2026-09-22T00:00:00+08:00"))
    }

    @Test func aHolidayOrWeekendMovesToThePreviousWorkingDay() {
        let context = context(now: "2026-09-22T09:00:00+08:00")
        #expect(context.dueAt(date("2026-09-25")) == instant("2026-09-24T00:00:00+08:00"), "Mid-Autumn Friday")
        #expect(context.dueAt(date("2026-09-27")) == instant("2026-09-24T00:00:00+08:00"), "holiday Sunday")
        #expect(context.dueAt(date("2026-10-05")) == instant("2026-09-30T00:00:00+08:00"), "National Day week")
        #expect(context.dueAt(date("2026-10-10")) == instant("2026-10-10T00:00:00+08:00"), "a make-up Saturday is worked")
    }

    @Test func neverBeforeToday() {
        // Saturday: a lead about Sunday would move to Friday, which has passed; it is due today.
        let saturday = context(now: "2026-11-21T08:30:00+08:00", calendar: .weekendsOnly)
        #expect(saturday.dueAt(date("2026-11-22")) == instant("2026-11-21T00:00:00+08:00"))
        // During the National Day holiday, a lead about its last day is due today.
        let holiday = context(now: "2026-10-03T08:30:00+08:00")
        #expect(holiday.dueAt(date("2026-10-07")) == instant("2026-10-03T00:00:00+08:00"))
        // A date already passed (a greeting due the day before a holiday that is today) is due today.
        #expect(holiday.dueAt(date("2026-10-02")) == instant("2026-10-03T00:00:00+08:00"))
        #expect(saturday.dueAt(date("2026-11-19")) == instant("2026-11-21T00:00:00+08:00"))
    }

    @Test func inTheBankTimeZone() {
        // 2026-11-20T20:00Z is already Saturday 11-21 in Shanghai.
        let context = context(now: "2026-11-20T20:00:00Z", calendar: .weekendsOnly)
        #expect(context.today == date("2026-11-21"))
        #expect(context.dueAt(date("2026-11-23")) == instant("2026-11-23T00:00:00+08:00"))
    }
}

@Suite("LeadFormat: amounts, dates, lunar dates, percentages")
struct LeadFormatTests {
    private func decimal(_ text: String) -> Decimal {
        guard let value = Decimal(string: text) else { preconditionFailure("bad decimal \(text)") }
        return value
    }

    @Test("amounts in Chinese", arguments: [
        ("800000", "¥800,000"),
        ("1234.5", "¥1,234.50"),
        ("1234.567", "¥1,234.57"),
        ("1234.005", "¥1,234.01"),
        ("1234.004", "¥1,234"),
        ("999.999", "¥1,000"),
        ("0.5", "¥0.50"),
        ("0", "¥0"),
        ("999", "¥999"),
        ("1000", "¥1,000"),
        ("100000", "¥100,000"),
        ("1234567.891", "¥1,234,567.89"),
        ("12345678901234567.89", "¥12,345,678,901,234,567.89"),
        ("-1234.5", "¥-1,234.50"),
        ("-999999.995", "¥-1,000,000"),
        ("-0.001", "¥0"),
    ])
    func chineseAmounts(_ value: String, _ expected: String) {
        #expect(LeadFormat.amount(decimal(value), locale: "zh-CN") == expected)
    }

    @Test func englishAndOtherCurrencies() {
        #expect(LeadFormat.amount(decimal("800000"), locale: "en") == "CNY 800,000")
        #expect(LeadFormat.amount(decimal("-1234.5"), locale: "en") == "CNY -1,234.50")
        #expect(LeadFormat.amount(decimal("2500.1"), currency: "USD", locale: "zh-CN") == "USD 2,500.10")
        #expect(LeadFormat.amount(decimal("2500"), currency: "HKD", locale: "en") == "HKD 2,500")
    }

    @Test func percentages() {
        #expect(LeadFormat.percent(decimal("0.4567")) == "45.7%")
        #expect(LeadFormat.percent(decimal("0.45")) == "45%")
        #expect(LeadFormat.percent(decimal("0.4")) == "40%")
        #expect(LeadFormat.percent(decimal("0.12345")) == "12.3%")
        #expect(LeadFormat.percent(decimal("0.00049")) == "0%")
        #expect(LeadFormat.percent(decimal("-0.123")) == "-12.3%")
        #expect(LeadFormat.percent(decimal("12.3456")) == "1234.6%", "no grouping in percentages")
    }

    @Test func dates() {
        #expect(LeadFormat.date(date("2026-11-25"), locale: "zh-CN") == "11月25日")
        #expect(LeadFormat.date(date("2026-01-05"), locale: "zh-CN") == "1月5日")
        #expect(LeadFormat.date(date("2026-11-25"), locale: "en") == "25 Nov")
        #expect(LeadFormat.date(date("2026-01-05"), locale: "en") == "5 Jan")
        #expect(LeadFormat.date(date("2026-12-31"), locale: "en") == "31 Dec")
    }

    @Test("lunar dates in Chinese", arguments: [
        (10, 5, false, "十月初五"),
        (1, 1, false, "正月初一"),
        (1, 10, false, "正月初十"),
        (2, 11, false, "二月十一"),
        (3, 19, false, "三月十九"),
        (11, 20, false, "冬月二十"),
        (8, 21, false, "八月廿一"),
        (8, 15, false, "八月十五"),
        (9, 29, false, "九月廿九"),
        (12, 30, false, "腊月三十"),
        (4, 1, true, "闰四月初一"),
        (2, 15, true, "闰二月十五"),
    ])
    func chineseLunarDates(_ month: Int, _ day: Int, _ leap: Bool, _ expected: String) {
        #expect(LeadFormat.lunar(LunarDate(year: 4723, month: month, day: day, isLeapMonth: leap), locale: "zh-CN") == expected)
    }

    @Test func englishLunarDates() {
        #expect(LeadFormat.lunar(LunarDate(year: 4723, month: 10, day: 5, isLeapMonth: false), locale: "en") == "lunar 10/5")
        #expect(LeadFormat.lunar(LunarDate(year: 4723, month: 4, day: 15, isLeapMonth: true), locale: "en") == "lunar leap 4/15")
        // From a real conversion: 2026-11-13 is lunar 10/5.
        #expect(LeadFormat.lunar(LunarCalendar.lunar(date("2026-11-13")), locale: "zh-CN") == "十月初五")
    }
}

@Suite("LeadTexts: built-in Mustache texts, field overrides, locale fallback, errors")
struct LeadTextsTests {
    static let builtIn: [String: [String: LeadTextSource]] = [
        "zh-CN": [
            "greet": LeadTextSource(title: "问候{{name}}", summary: "{{name}}今年{{age}}岁{{#vip}}，贵宾{{/vip}}。",
                                    suggestedAction: "致电{{name}}"),
            "other": LeadTextSource(title: "其他", summary: "其他摘要", suggestedAction: "其他行动"),
        ],
        "en": [
            "greet": LeadTextSource(title: "Greet {{name}}", summary: "{{name}} is {{age}}{{#vip}}, VIP{{/vip}}.",
                                    suggestedAction: "Call {{name}}"),
        ],
    ]

    static var values: [String: Any] { ["name": "张*", "age": 60, "vip": true] }

    @Test func rendersTheBuiltInTexts() throws {
        let texts = try LeadTexts(builtIn: Self.builtIn, overrides: nil)
        let zh = texts.render("greet", locale: "zh-CN", values: Self.values)
        #expect(zh == LeadTexts.Rendered(title: "问候张*", summary: "张*今年60岁，贵宾。", suggestedAction: "致电张*"))
        let en = texts.render("greet", locale: "en", values: ["name": "A****", "age": 45, "vip": false])
        #expect(en == LeadTexts.Rendered(title: "Greet A****", summary: "A**** is 45.", suggestedAction: "Call A****"))
    }

    @Test func anOverrideReplacesOneFieldAndKeepsTheOthers() throws {
        let texts = try LeadTexts(builtIn: Self.builtIn,
                                  overrides: ["zh-CN": ["greet": LeadTextSource(suggestedAction: "上门拜访{{name}}")]])
        let zh = texts.render("greet", locale: "zh-CN", values: Self.values)
        #expect(zh.title == "问候张*")
        #expect(zh.summary == "张*今年60岁，贵宾。")
        #expect(zh.suggestedAction == "上门拜访张*")
        // Other locales keep their own texts.
        #expect(texts.render("greet", locale: "en", values: Self.values).suggestedAction == "Call 张*")
        // The sources carry the override, with its config path, sorted by path.
        #expect(texts.sources.contains(PublishedText(path: ["templates", "zh-CN", "greet", "suggested_action"],
                                                     text: "上门拜访{{name}}")))
        #expect(texts.sources.map(\.path) == texts.sources.map(\.path).sorted { $0.lexicographicallyPrecedes($1) })
        #expect(texts.sources.count == 9, "3 fields × (zh-CN greet, zh-CN other, en greet)")
    }

    @Test func aMissingLocaleOrKindFallsBackToChinese() throws {
        let texts = try LeadTexts(builtIn: Self.builtIn, overrides: nil)
        #expect(texts.render("greet", locale: "fr", values: Self.values).title == "问候张*")
        #expect(texts.render("other", locale: "en", values: [:]).title == "其他", "en has no 'other'")
        // A kind nobody knows renders its name as the title rather than failing.
        #expect(texts.render("unknown", locale: "zh-CN", values: [:]) == LeadTexts.Rendered(title: "unknown", summary: "",
                                                                                           suggestedAction: ""))
    }

    @Test func anOverrideInALocaleWithoutThatKindStartsFromChinese() throws {
        let texts = try LeadTexts(builtIn: Self.builtIn, overrides: ["en": ["other": LeadTextSource(title: "Other")]])
        let rendered = texts.render("other", locale: "en", values: [:])
        #expect(rendered.title == "Other")
        #expect(rendered.summary == "其他摘要")
    }

    @Test func anUnknownKindInOverridesIsAnErrorWithItsPath() {
        do {
            _ = try LeadTexts(builtIn: Self.builtIn, overrides: ["zh-CN": ["birthdy": LeadTextSource(title: "x")]])
            Issue.record("expected an error")
        } catch {
            #expect(error.path == ["templates", "zh-CN", "birthdy"])
            #expect(error.message.contains("birthdy"))
            #expect(error.message.contains("greet, other"), "lists the known kinds: \(error.message)")
        }
    }

    @Test("invalid Mustache is an error naming the field", arguments: ["{{#vip}}unclosed", "{{/vip}}", "{{#a}}x{{/b}}"])
    func invalidMustacheIsAnError(_ template: String) {
        do {
            _ = try LeadTexts(builtIn: Self.builtIn, overrides: ["en": ["greet": LeadTextSource(summary: template)]])
            Issue.record("expected an error for \(template)")
        } catch {
            #expect(error.path == ["templates", "en", "greet", "summary"])
            #expect(error.message.hasPrefix("not a valid Mustache template"))
        }
    }

    static var referenceValues: [String: Any] { [
        "code": "ab<c", "empty": "", "name": "张*", "list": ["x", "y"], "flag": true, "off": false, "n": 7,
        "nested": ["inner": "里", "count": 2] as [String: Any], "amount": "¥1,234.50",
    ] }

    /// LeadTexts hands string values to Mustache in a form of its own (a faster path through the renderer): each
    /// template renders exactly as Mustache renders it with the plain values.
    @Test("a template renders as Mustache renders it with plain strings", arguments: [
        "{{code}}|{{{code}}}|{{&code}}|{{missing}}|{{n}}|{{amount}}",
        "{{#empty}}e:{{.}};{{/empty}}{{^empty}}no{{/empty}}|{{#name}}n={{.}},{{name}}{{/name}}|{{^missing}}m{{/missing}}",
        "{{uppercased(code)}}|{{lowercased(name)}}|{{reversed(code)}}|{{count(list)}}|{{first(list)}}",
        "{{name.count}}|{{name.renderText}}|{{#name}}[{{renderText}}]{{/name}}|{{code.isEmpty}}",
        "{{#list}}{{.}}+{{/list}}|{{#flag}}F{{/flag}}{{^off}}O{{/off}}|{{nested.inner}}|{{#nested}}{{inner}}{{count}}{{name}}{{/nested}}",
        "  {{#flag}}\n  line {{name}}\n  {{/flag}}\n  tail  ",
        "纯文本，无标签。", "",
    ])
    func aTemplateRendersAsMustacheRendersIt(_ source: String) throws {
        let texts = try LeadTexts(builtIn: ["zh-CN": ["k": LeadTextSource(title: source, summary: source,
                                                                        suggestedAction: source)]], overrides: nil)
        let rendered = texts.render("k", locale: "zh-CN", values: Self.referenceValues)
        let reference = try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + source).render(Self.referenceValues)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(rendered.title == reference)
        #expect(rendered.summary == reference)
        #expect(rendered.suggestedAction == reference)
    }

    /// The same, spelled out for the cases that matter most.
    @Test func stringValuesRenderAsPlainStringsDo() throws {
        let texts = try LeadTexts(builtIn: ["zh-CN": ["k": LeadTextSource(
            title: "{{uppercased(code)}}|{{#empty}}e:{{.}};{{/empty}}{{^empty}}no{{/empty}}|{{#name}}n={{.}},{{name}}{{/name}}",
            summary: "{{{name}}}|{{&code}}|{{missing}}|{{name.count}}|{{#list}}{{.}}+{{/list}}|{{#flag}}F{{/flag}}|{{n}}",
            suggestedAction: "  请于 30 日内联系客户。 ")]], overrides: nil)
        let rendered = texts.render("k", locale: "zh-CN", values: [
            "code": "ab<c", "empty": "", "name": "张*", "list": ["x", "y"], "flag": true, "n": 7,
        ])
        // An empty string is a truthy section, as a plain string is; transforms work on the string; no HTML escaping.
        #expect(rendered.title == "AB<C|e:;|n=张*,张*")
        #expect(rendered.summary == "张*|ab<c|||x+y+|F|7")
        #expect(rendered.suggestedAction == "请于 30 日内联系客户。", "a constant text is trimmed as a rendered one")
    }

    /// The renderer skips Foundation's trimming when neither end is white space: it must trim exactly what
    /// Foundation trims, including scalars that are not `Character.isWhitespace` (U+200B) and a space behind a
    /// prepended scalar (U+0600 joins the following space into one Character).
    @Test("texts are trimmed exactly as Foundation trims them",
          arguments: ["大额交易\u{200B}", "\u{200B}x", "abc\u{0600} ", " 问候 ", "\n行动\t", "plain", "", " ", "\u{3000}全角",
                      "尾\u{3000}", "\u{85}x", "x\u{2028}", "e\u{301} ", "\u{FEFF}bom", "\r\n"])
    func textsAreTrimmedAsFoundationTrims(_ text: String) throws {
        let texts = try LeadTexts(builtIn: ["zh-CN": ["k": LeadTextSource(title: "{{{t}}}", summary: "{{{t}}}",
                                                                        suggestedAction: "{{{t}}}")]], overrides: nil)
        let rendered = texts.render("k", locale: "zh-CN", values: ["t": text])
        let expected = text.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Array(rendered.title.unicodeScalars) == Array(expected.unicodeScalars))
        #expect(Array(rendered.summary.unicodeScalars) == Array(expected.unicodeScalars))
    }

    @Test func invalidBuiltInTextIsAnErrorToo() {
        #expect(throws: PluginConfigurationError.self) {
            try LeadTexts(builtIn: ["zh-CN": ["k": LeadTextSource(title: "{{#x}}")]], overrides: nil)
        }
    }

    @Test func noHTMLEscaping() throws {
        let texts = try LeadTexts(builtIn: Self.builtIn, overrides: nil)
        let rendered = texts.render("greet", locale: "zh-CN", values: ["name": "<b>A & B</b> \"q\" 'x'", "age": 1])
        #expect(rendered.title == "问候<b>A & B</b> \"q\" 'x'")
    }

    @Test func whitespaceAroundTheTextIsTrimmed() throws {
        let texts = try LeadTexts(builtIn: ["zh-CN": ["k": LeadTextSource(title: "  \n{{a}}  \n", summary: nil, suggestedAction: nil)]],
                                  overrides: nil)
        #expect(texts.render("k", locale: "zh-CN", values: ["a": "x"]) == LeadTexts.Rendered(title: "x", summary: "",
                                                                                           suggestedAction: ""))
    }
}
