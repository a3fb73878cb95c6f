import Foundation
import InsightCore
import InsightDaemon
import InsightTesting
import Testing

private let shippedRules = (try? String(contentsOfFile: repositoryRoot + "/plugins-config/rules.yaml", encoding: .utf8)) ?? ""

private func date(_ text: String) -> LocalDate {
    guard let date = LocalDate(text) else { preconditionFailure("bad date literal \(text)") }
    return date
}

/// A configuration with the shipped rules.yaml and the given extra plugin-directory files.
private func fixture(main: String = "plugins_dir: plugins\n", _ files: [String: String]) -> ConfigFixture {
    ConfigFixture(main: main, plugins: files.merging(["rules.yaml": shippedRules]) { mine, _ in mine })
}

/// Every error's description with the fixture's directory removed.
private func errors(_ fixture: ConfigFixture) -> [String] {
    do {
        _ = try fixture.load()
        return []
    } catch {
        return error.errors.map { $0.description.replacingOccurrences(of: fixture.directory.path + "/", with: "") }
    }
}

@Suite("calendar.yaml: located errors, the weekends-only fallback")
struct CalendarConfigTests {
    @Test func aMakeUpDayThatIsAWeekdayIsAnError() {
        let calendar = """
            years:
              2026:
                holidays:
                  - {name: 国庆节, from: 2026-10-01, to: 2026-10-07}
                working_days: [2026-09-20, 2026-10-09]
            """
        #expect(errors(fixture(["calendar.yaml": calendar])) == [
            "plugins/calendar.yaml:5:32: years[2026].working_days[1]: 2026-10-09 is a weekday already; working_days lists weekend days that are worked (调休)",
        ])
    }

    @Test func aMakeUpDayThatIsAlsoAHolidayIsAnError() {
        let calendar = """
            years:
              2026:
                holidays:
                  - {name: 国庆节, from: 2026-10-01, to: 2026-10-07}
                working_days:
                  - 2026-10-03
            """
        #expect(errors(fixture(["calendar.yaml": calendar])) == [
            "plugins/calendar.yaml:6:9: years[2026].working_days[0]: 2026-10-03 is also listed as a holiday",
        ])
    }

    @Test func aHolidayEndingBeforeItStartsIsAnError() {
        let calendar = """
            years:
              2026:
                holidays:
                  - name: 国庆节
                    from: 2026-10-07
                    to: 2026-10-01
            """
        #expect(errors(fixture(["calendar.yaml": calendar])) == [
            "plugins/calendar.yaml:6:13: years[2026].holidays[0].to: must be on or after from (2026-10-07) and within 31 days of it",
        ])
    }

    @Test func aHolidayOutsideItsYearAndAYearThatIsNotANumberAreErrors() {
        let calendar = """
            years:
              2026:
                holidays:
                  - {name: NewYear, from: 2025-12-31}
              next: {}
            """
        let found = errors(fixture(["calendar.yaml": calendar])).sorted()
        #expect(found == [
            "plugins/calendar.yaml:4:31: years[2026].holidays[0].from: 2025-12-31 is not in 2026",
            "plugins/calendar.yaml:5:9: years.next: a year is a number such as 2026",
        ])
    }

    @Test func aMissingCalendarIsAWarningAndMeansWeekendsOnly() throws {
        let loaded = try fixture([:]).load()
        #expect(loaded.workingCalendar == .weekendsOnly)
        #expect(loaded.warnings.contains { $0.hasSuffix("/plugins: no calendar.yaml; only weekends count as days off") },
                "\(loaded.warnings)")
        #expect(loaded.pipelineSettings.workingCalendar == .weekendsOnly)
    }

    @Test func aValidCalendarIsLoaded() throws {
        let calendar = """
            years:
              2026:
                holidays:
                  - {name: 国庆节, from: 2026-10-01, to: 2026-10-07}
                working_days: [2026-10-10]
              2027:
                provisional: true
                holidays:
                  - {name: 元旦, from: 2027-01-01}
            """
        let loaded = try fixture(["calendar.yaml": calendar]).load()
        let working = loaded.workingCalendar
        #expect(working.years == [2026, 2027])
        #expect(working.holidays[date("2026-10-04")] == "国庆节")
        #expect(!working.isWorkingDay(date("2027-01-01")))
        #expect(working.isWorkingDay(date("2026-10-10")))
        #expect(working.workingDay(onOrBefore: date("2026-10-07")) == date("2026-09-30"))
        #expect(loaded.pipelineSettings.workingCalendar == working, "the pipeline gets it")
        #expect(loaded.warnings.contains { $0.hasSuffix("calendar.yaml: the 2027 schedule is provisional; replace it with the official one when it is published") })
        #expect(!loaded.warnings.contains { $0.contains("no calendar.yaml") })
    }
}

@Suite("Compliance: forbidden promise wording in plugin texts")
struct ComplianceConfigTests {
    static let promiseTemplate = """
        enabled: true
        templates:
          zh-CN:
            birthday:
              title: "保本理财生日礼"
        """

    @Test func aForbiddenPhraseInATemplateIsALocatedError() {
        #expect(errors(fixture(["birthday-care.yaml": Self.promiseTemplate])) == [
            "plugins/birthday-care.yaml:5:14: templates.zh-CN.birthday.title: contains the forbidden promise wording \"保本\" (compliance.forbidden_phrases); reword it",
        ])
    }

    @Test func aForbiddenPhraseInAHolidayNameIsALocatedError() {
        let file = """
            holidays:
              list:
                - id: wealth-day
                  month: 5
                  day: 20
                  names: {zh-CN: 零风险理财日}
            """
        #expect(errors(fixture(["birthday-care.yaml": file])) == [
            "plugins/birthday-care.yaml:6:22: holidays.list[0].names.zh-CN: contains the forbidden promise wording \"零风险\" (compliance.forbidden_phrases); reword it",
        ])
    }

    @Test func aForbiddenPhraseInAProductNameIsALocatedErrorInTheCatalog() {
        let catalog = """
            products:
              - {id: TD-1Y, name: 一年期定期存款, kind: deposit, risk_level: R1, min_amount: 50}
              - {id: WM-X, name: 稳赚宝, kind: wealth, risk_level: R2, min_amount: 1000}
              - {id: INS-HOME, name: 安居家财险, kind: insurance, risk_level: R1, tags: [home-insurance]}
              - {id: INS-EDU, name: 教育金, kind: insurance, risk_level: R1, tags: [education-savings, pension]}
            """
        #expect(errors(fixture(["product-match.yaml": "enabled: true\n", "products.yaml": catalog])) == [
            "plugins/products.yaml:3:22: products[1].name: contains the forbidden promise wording \"稳赚\" (compliance.forbidden_phrases); reword it",
        ])
    }

    @Test func aForbiddenPhraseInARuleIsALocatedError() {
        let rules = """
            rules:
              - id: promise
                when: {type: account.transaction}
                lead: {kind: k, title: "Guaranteed return on your deposit"}
            """
        #expect(errors(ConfigFixture(main: "plugins_dir: plugins\n", plugins: ["rules.yaml": rules])) == [
            "plugins/rules.yaml:4:28: rules[0].lead.title: contains the forbidden promise wording \"guaranteed return\" (compliance.forbidden_phrases); reword it",
        ])
    }

    @Test func aBrokenCatalogIsALocatedErrorInTheCatalog() {
        let catalog = """
            products:
              - {id: WM-X, name: 理财, kind: wealth, risk_level: R7}
            """
        let found = errors(fixture(["product-match.yaml": "enabled: true\n", "products.yaml": catalog]))
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("plugins/products.yaml:2:") == true)
        #expect(found.first?.contains("must be R1 to R5, got \"R7\"") == true)
    }

    @Test func phrasesMatchRegardlessOfCase() {
        let file = """
            templates:
              en:
                birthday:
                  summary: "A GUARANTEED RETURN for your birthday"
            """
        #expect(errors(fixture(["birthday-care.yaml": file])).first?.contains("\"guaranteed return\"") == true)
    }

    @Test func configuredPhrasesReplaceTheDefaults() throws {
        let main = "plugins_dir: plugins\ncompliance:\n  forbidden_phrases: [稳稳的幸福]\n"
        // 保本 is no longer forbidden...
        let loaded = try fixture(main: main, ["birthday-care.yaml": Self.promiseTemplate]).load()
        #expect(loaded.plugins.map(\.id).contains("birthday-care"))
        #expect(loaded.config.compliance.forbiddenPhrases == ["稳稳的幸福"])
        // ...and the configured phrase is.
        let file = "templates:\n  zh-CN:\n    birthday:\n      suggested_action: \"送上稳稳的幸福\"\n"
        #expect(errors(fixture(main: main, ["birthday-care.yaml": file])) == [
            "plugins/birthday-care.yaml:4:25: templates.zh-CN.birthday.suggested_action: contains the forbidden promise wording \"稳稳的幸福\" (compliance.forbidden_phrases); reword it",
        ])
    }

    @Test func theBuiltInTextsPassTheDefaultReview() throws {
        let loaded = try fixture(["birthday-care.yaml": "enabled: true\n"]).load()
        let plugin = try #require(loaded.plugins.first { $0.id == "birthday-care" })
        #expect(!plugin.publishedTexts.isEmpty)
        #expect(plugin.publishedTexts.allSatisfy { loaded.config.compliance.violation(in: $0.text) == nil })
    }

    @Test func anEmptyPhraseIsAnError() {
        let found = errors(fixture(main: "plugins_dir: plugins\ncompliance:\n  forbidden_phrases: [保本, \" \"]\n", [:]))
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("insightd.yaml:3:") == true)
        #expect(found.first?.hasSuffix("compliance.forbidden_phrases: an empty phrase would match every text; remove it") == true)
    }
}
