import Foundation
import InsightCore
import InsightPlugins
import InsightStore
import InsightTesting
import Logging
import Testing

private let shanghai = TimeZone(identifier: "Asia/Shanghai") ?? TimeZone(secondsFromGMT: 8 * 3600)!

private func date(_ text: String) -> LocalDate {
    guard let date = LocalDate(text) else { preconditionFailure("bad date literal \(text)") }
    return date
}

private func instant(_ text: String) -> Date {
    guard let date = RFC3339.parse(text) else { preconditionFailure("bad RFC 3339 literal \(text)") }
    return date
}

private func client(_ id: String, name: String? = "张三", birth: String? = nil, calendar: BirthCalendar? = nil,
                    segment: String? = "affluent", manager: String? = "M1", consent: Bool? = nil, status: String? = nil,
                    aum: String? = nil) -> ClientState {
    var state = ClientState(id: id)
    state.profile.name = name
    state.profile.birthDate = birth.map(date)
    state.profile.birthCalendar = calendar
    state.profile.segment = segment
    state.profile.managerId = manager
    state.profile.marketingConsent = consent
    state.profile.status = status
    if let aum, let value = Decimal(string: aum) {
        state.balance = BalanceSnapshot(asOf: date("2026-09-01"), aum: value)
    }
    return state
}

private func configuration(_ json: String = "{}") throws -> BirthdayCareConfiguration {
    try JSONDecoder().decode(BirthdayCareConfiguration.self, from: Data(json.utf8))
}

private func plugin(_ json: String = "{}") throws -> BirthdayCarePlugin {
    try BirthdayCarePlugin(configuration: configuration(json))
}

/// Runs the daily tick at 08:30 on `today`, Shanghai time.
private func tick(_ plugin: BirthdayCarePlugin, today: String, state: any StateReader, locale: String = "zh-CN",
                  calendar: WorkingCalendar = .weekendsOnly) throws -> [LeadDraft] {
    let now = instant("\(today)T08:30:00+08:00")
    let context = PluginContext(now: now, timeZone: shanghai, locale: locale, logger: Logger(label: "test"),
                                state: state, client: nil, workingCalendar: calendar)
    return try plugin.tick(ScheduleTick(scheduledAt: now, localDate: date(today)), context: context)
}

private func birthdays(_ drafts: [LeadDraft]) -> [LeadDraft] { drafts.filter { $0.kind == "birthday" } }
private func greetings(_ drafts: [LeadDraft]) -> [LeadDraft] { drafts.filter { $0.kind == "holiday_greeting" } }

@Suite("birthday-care: birthdays on both calendars, priorities, skips, holiday greetings, due dates")
struct BirthdayCareTests {
    @Test func aGregorianBirthdayInTheWindowGivesOneLead() throws {
        let state = InMemoryState(clients: [
            client("C1", birth: "1980-11-22"),
            client("C2", birth: "1980-11-24", segment: "mass"),  // today + 4: outside days_ahead 3
            client("C3", birth: "1980-11-19"),  // yesterday
            client("C4", name: nil, birth: nil),
        ])
        let drafts = try tick(plugin(), today: "2026-11-20", state: state)
        #expect(drafts.count == 1)
        let lead = try #require(drafts.first)
        #expect(lead.key == "C1:2026")
        #expect(lead.kind == "birthday")
        #expect(lead.clientId == "C1")
        #expect(lead.priority == .normal)
        #expect(lead.title == "张*生日：11月22日")
        #expect(lead.summary == "客户张*将于11月22日迎来46岁生日，还有2天。")
        #expect(lead.suggestedAction == "生日当天致电或微信送上祝福；以关怀为主，不做产品推介。")
        #expect(lead.evidence.contains(Evidence(key: "birthDate", label: "生日", value: "11-22 → 2026-11-22")))
        #expect(lead.evidence.contains(Evidence(key: "calendar", label: "历法", value: "公历")))
        #expect(lead.evidence.contains(Evidence(key: "age", label: "年龄", value: "46")))
        #expect(!"\(lead)".contains("张三"), "the full name never appears")
        // The window's last day is included; the day after it is not.
        #expect(try tick(plugin(), today: "2026-11-21", state: state).map(\.key) == ["C1:2026", "C2:2026"])
    }

    @Test func aBirthdayTodayAndOneInTheNextYear() throws {
        let state = InMemoryState(clients: [client("C1", birth: "1990-11-20"), client("C2", birth: "1990-01-01")])
        let today = try #require(try tick(plugin(), today: "2026-11-20", state: state).first)
        #expect(today.summary.contains("就是今天"))
        #expect(today.suggestedAction.hasPrefix("今天致电"))
        // Seen at the end of December, a New Year's Day birthday belongs to the next year's key.
        let next = try tick(plugin("{\"holidays\": {\"enabled\": false}}"), today: "2026-12-30", state: state)
        #expect(next.map(\.key) == ["C2:2027"])
    }

    @Test func aLunarBirthdayIsFoundOnItsGregorianDate() throws {
        // Born 1966-09-29, lunar 8/15: in 2026 celebrated on Mid-Autumn, 2026-09-25 (60 lunar years).
        let state = InMemoryState(clients: [
            client("L1", birth: "1966-09-29", calendar: .chinese, segment: "mass"),
            client("G1", birth: "1966-09-29", calendar: .gregorian, segment: "mass"),
        ])
        let plugin = try plugin("{\"holidays\": {\"enabled\": false}}")
        let drafts = try tick(plugin, today: "2026-09-23", state: state)
        #expect(drafts.map(\.key) == ["L1:2026"], "the Gregorian anniversary, 09-29, is 6 days away")
        let lead = try #require(drafts.first)
        #expect(lead.title == "张*60岁整寿：9月25日（农历八月十五）")
        #expect(lead.priority == .high, "a milestone")
        #expect(lead.evidence.contains(Evidence(key: "calendar", label: "历法", value: "农历")))
        #expect(lead.evidence.contains(Evidence(key: "birthDate", label: "生日", value: "09-29（农历八月十五） → 2026-09-25（农历八月十五）")))
        #expect(lead.dueAt == instant("2026-09-25T00:00:00+08:00"), "a Friday, with weekends-only working days")
        // Six days later the Gregorian one is due and the lunar one has passed.
        #expect(try tick(plugin, today: "2026-09-27", state: state).map(\.key) == ["G1:2026"])
    }

    @Test func aLeapMonthBirthAndADay30BirthAreCelebrated() throws {
        let state = InMemoryState(clients: [
            client("LEAP", birth: "2020-05-23", calendar: .chinese),  // leap 4/1 → regular 4/1 2026 = 2026-05-17
            client("D30", birth: "1966-03-21", calendar: .chinese),  // lunar 2/30 → 2/29 2026 = 2026-04-16
        ])
        let plugin = try plugin("{\"holidays\": {\"enabled\": false}}")
        #expect(try tick(plugin, today: "2026-05-15", state: state).map(\.key) == ["LEAP:2026"])
        #expect(try tick(plugin, today: "2026-05-18", state: state).isEmpty)
        let d30 = try #require(try tick(plugin, today: "2026-04-14", state: state).first)
        #expect(d30.key == "D30:2026")
        #expect(d30.title.contains("4月16日（农历二月廿九）"))
    }

    @Test func priorityByMilestoneAndSegment() throws {
        let state = InMemoryState(clients: [
            client("A60", birth: "1966-11-21", segment: "mass"),
            client("A61", birth: "1965-11-21", segment: "mass"),
            client("A70", birth: "1956-11-21", segment: nil),
            client("HNW", birth: "1990-11-21", segment: "hnw"),
            client("PRV", birth: "1990-11-21", segment: "private"),
            client("AFF", birth: "1990-11-21", segment: "affluent"),
        ])
        let drafts = try tick(plugin(), today: "2026-11-20", state: state)
        let priorities = Dictionary(uniqueKeysWithValues: drafts.map { ($0.clientId ?? "", $0.priority) })
        #expect(priorities == ["A60": .high, "A61": .normal, "A70": .high, "HNW": .high, "PRV": .high, "AFF": .normal])
        #expect(drafts.first { $0.clientId == "A60" }?.title == "张*60岁整寿：11月21日")
        #expect(drafts.first { $0.clientId == "A60" }?.evidence.contains(Evidence(key: "age", label: "年龄", value: "60（整寿）")) == true)
        // Configured priorities replace the defaults.
        let custom = try plugin(#"{"milestone_ages": [61], "milestone_priority": "urgent", "segment_priority": {"mass": "low"}}"#)
        let customPriorities = Dictionary(uniqueKeysWithValues: try tick(custom, today: "2026-11-20", state: state)
            .map { ($0.clientId ?? "", $0.priority) })
        #expect(customPriorities == ["A60": .low, "A61": .urgent, "A70": .normal, "HNW": .normal, "PRV": .normal, "AFF": .normal])
    }

    @Test func closedClientsClientsWithoutAManagerAndRefusedConsentAreSkipped() throws {
        let state = InMemoryState(clients: [
            client("CLOSED", birth: "1980-11-21", status: "closed"),
            client("NOMGR", birth: "1980-11-21", manager: nil),
            client("REFUSED", birth: "1980-11-21", consent: false),
            client("ABSENT", birth: "1980-11-21", consent: nil),
            client("AGREED", birth: "1980-11-21", consent: true),
            client("ACTIVE", birth: "1980-11-21", status: "active"),
        ])
        let keys = try tick(plugin(), today: "2026-11-20", state: state).map(\.key)
        #expect(keys == ["ABSENT:2026", "ACTIVE:2026", "AGREED:2026"])
    }

    @Test func holidayGreetingsListEachManagersClientsByAUM() throws {
        let state = InMemoryState(clients: [
            client("H1", name: "张三", segment: "hnw", manager: "M1", aum: "5000000"),
            client("P1", name: "李四", segment: "private", manager: "M1", aum: "8000000"),
            client("H2", name: "钱七", segment: "hnw", manager: "M1", aum: "5000000"),  // same AUM as H1: by id
            client("MASS", name: "王五", segment: "mass", manager: "M1", aum: "10000000"),
            client("CLOSED", name: "孙八", segment: "hnw", manager: "M1", status: "closed", aum: "9000000"),
            client("REFUSED", name: "周九", segment: "hnw", manager: "M1", consent: false, aum: "9000000"),
            client("NOMGR", name: "吴十", segment: "hnw", manager: nil, aum: "9000000"),
            client("H3", name: "赵六", segment: "hnw", manager: "M2", aum: "1000000"),
            client("MASS3", name: "郑一", segment: "mass", manager: "M3", aum: "1000000"),
        ])
        // Mid-Autumn 2026 is 09-25; National Day (10-01) is outside the 7 days.
        let drafts = try tick(plugin(), today: "2026-09-20", state: state)
        #expect(birthdays(drafts).isEmpty)
        let list = greetings(drafts)
        #expect(list.map(\.key) == ["holiday:mid-autumn:2026-09-25:M1", "holiday:mid-autumn:2026-09-25:M2"],
                "one per manager; none for M3, who has only mass clients")
        let m1 = try #require(list.first)
        #expect(m1.managerId == "M1")
        #expect(m1.clientId == nil)
        #expect(m1.priority == .normal)
        #expect(m1.title == "中秋节客户问候：3位客户")
        #expect(m1.summary == "中秋节（9月25日）将至。您名下高净值客户、私人银行客户共3位，按资产从高到低：李*、张*、钱*。")
        #expect(m1.evidence.filter { $0.key.hasPrefix("client ") }.map(\.key) == ["client P1", "client H1", "client H2"])
        #expect(m1.evidence.contains(Evidence(key: "client P1", label: "客户 P1", value: "李*，私人银行客户，金融资产¥8,000,000")))
        #expect(m1.evidence.contains(Evidence(key: "holiday", label: "节日", value: "中秋节 2026-09-25（农历八月十五）")))
        #expect(m1.dueAt == instant("2026-09-24T00:00:00+08:00"), "the day before the holiday")
        for name in ["张三", "李四", "钱七", "王五", "赵六"] {
            #expect(!"\(list)".contains(name), "no full name: \(name)")
        }
        #expect(list[1].summary.contains("共1位，按资产从高到低：赵*。"))
    }

    @Test func holidayGreetingsInEnglishAndWithALongList() throws {
        let state = InMemoryState(clients: [
            client("H1", name: "Alice", segment: "hnw", manager: "M1", aum: "5000000"),
            client("H2", name: "Bob", segment: "private", manager: "M1", aum: "6000000"),
            client("H3", name: "Carol", segment: "hnw", manager: "M1", aum: "7000000"),
        ])
        let english = try #require(greetings(try tick(plugin(), today: "2026-09-20", state: state, locale: "en")).first)
        #expect(english.title == "Mid-Autumn Festival greetings: 3 clients")
        #expect(english.summary == "Mid-Autumn Festival is on 25 Sep. Your 3 clients in high net worth, private banking, largest AUM first: C****, B**, A****.")
        let short = try plugin(#"{"holidays": {"max_clients_listed": 2}}"#)
        let listed = try #require(greetings(try tick(short, today: "2026-09-20", state: state)).first)
        #expect(listed.summary.hasSuffix("按资产从高到低：C****、B**等（另有1位）。"))
        #expect(listed.evidence.filter { $0.key.hasPrefix("client ") }.count == 2)
    }

    @Test func holidaysOnBothCalendarsAndTheirWindow() throws {
        let state = InMemoryState(clients: [client("H1", segment: "hnw", aum: "1")])
        // Spring Festival 2027 is 2027-02-06; New Year's Day 2027 is a Gregorian holiday.
        #expect(greetings(try tick(plugin(), today: "2027-01-30", state: state)).map(\.key) == ["holiday:spring-festival:2027-02-06:M1"])
        #expect(greetings(try tick(plugin(), today: "2027-01-29", state: state)).isEmpty)
        #expect(greetings(try tick(plugin(), today: "2026-12-26", state: state)).map(\.key) == ["holiday:new-year:2027-01-01:M1"])
        // Dragon Boat 2026 (06-19) on its own day: still listed, and due today rather than the day before.
        let onTheDay = try #require(greetings(try tick(plugin(), today: "2026-06-19", state: state)).first)
        #expect(onTheDay.key == "holiday:dragon-boat:2026-06-19:M1")
        #expect(onTheDay.dueAt == instant("2026-06-19T00:00:00+08:00"))
        #expect(try tick(plugin(#"{"holidays": {"enabled": false}}"#), today: "2026-09-20", state: state).isEmpty)
    }

    @Test func englishBirthdayTexts() throws {
        let state = InMemoryState(clients: [
            client("C1", name: "Alice", birth: "1980-11-22"),
            client("C2", name: "Bob", birth: "1966-09-29", calendar: .chinese),
        ])
        let lead = try #require(try tick(plugin(), today: "2026-11-20", state: state, locale: "en").first)
        #expect(lead.title == "A**** turns 46 on 22 Nov")
        #expect(lead.summary == "A**** celebrates a birthday on 22 Nov, in 2 days: age 46.")
        let lunar = try #require(birthdays(try tick(plugin(), today: "2026-09-25", state: state, locale: "en")).first)
        #expect(lunar.title == "B** turns 60 on 25 Sep (lunar 8/15)")
        #expect(lunar.summary == "B** celebrates a lunar birthday on 25 Sep (lunar 8/15), today: age 60. A milestone birthday.")
    }

    @Test func aTemplateOverrideChangesOneField() throws {
        let custom = try plugin(#"{"templates": {"zh-CN": {"birthday": {"suggested_action": "赠送{{clientName}}网点定制贺卡"}}}}"#)
        let state = InMemoryState(clients: [client("C1", birth: "1980-11-22")])
        let lead = try #require(try tick(custom, today: "2026-11-20", state: state).first)
        #expect(lead.suggestedAction == "赠送张*网点定制贺卡")
        #expect(lead.title == "张*生日：11月22日")
        #expect(custom.publishedTexts.contains(PublishedText(path: ["templates", "zh-CN", "birthday", "suggested_action"],
                                                             text: "赠送{{clientName}}网点定制贺卡")))
        #expect(custom.publishedTexts.contains(PublishedText(path: ["holidays", "list", "3", "names", "zh-CN"], text: "中秋节")))
    }

    @Test func configurationErrors() throws {
        #expect(throws: DecodingError.self) { try configuration(#"{"days_ahead": 61}"#) }
        #expect(throws: DecodingError.self) { try configuration(#"{"holidays": {"list": [{"id": "x", "month": 13, "day": 1, "names": {"zh-CN": "x"}}]}}"#) }
        #expect(throws: DecodingError.self) { try configuration(#"{"holidays": {"list": [{"id": "x", "calendar": "chinese", "month": 1, "day": 31, "names": {"zh-CN": "x"}}]}}"#) }
        #expect(throws: DecodingError.self) { try configuration(#"{"holidays": {"list": [{"id": "x", "month": 1, "day": 1, "names": {"en": "x"}}]}}"#) }
        do {
            _ = try plugin(#"{"holidays": {"list": [{"id": "a", "month": 1, "day": 1, "names": {"zh-CN": "x"}}, {"id": "a", "month": 2, "day": 1, "names": {"zh-CN": "y"}}]}}"#)
            Issue.record("expected a duplicate id error")
        } catch let error as PluginConfigurationError {
            #expect(error.path == ["holidays", "list", "1", "id"])
        }
        do {
            _ = try plugin(#"{"templates": {"zh-CN": {"birthdays": {"title": "x"}}}}"#)
            Issue.record("expected an unknown kind error")
        } catch let error as PluginConfigurationError {
            #expect(error.path == ["templates", "zh-CN", "birthdays"])
            #expect(error.message.contains("birthday, holiday_greeting"))
        }
    }

    @Test func aBirthdayOnASundayIsDueTheFridayBefore() throws {
        // 2026-11-22 is a Sunday; seen on Wednesday 11-18 with days_ahead 5.
        let state = InMemoryState(clients: [client("C1", birth: "1980-11-22")])
        let lead = try #require(try tick(plugin(#"{"days_ahead": 5}"#), today: "2026-11-18", state: state,
                                         calendar: WorkingCalendar()).first)
        #expect(lead.dueAt == instant("2026-11-20T00:00:00+08:00"))
        // Seen on the Saturday: Friday has passed, so it is due today.
        let saturday = try #require(try tick(plugin(), today: "2026-11-21", state: state, calendar: WorkingCalendar()).first)
        #expect(saturday.dueAt == instant("2026-11-21T00:00:00+08:00"))
        // During a holiday: the working day before it.
        let holidays = WorkingCalendar(holidays: [.init(name: "国庆节", days: (1...7).map { date("2026-10-0\($0)") })])
        let national = InMemoryState(clients: [client("C2", birth: "1980-10-03")])
        let due = try #require(try tick(plugin(), today: "2026-09-30", state: national, calendar: holidays).first)
        #expect(due.dueAt == instant("2026-09-30T00:00:00+08:00"))
    }

    @Test func theSameInputGivesIdenticalDrafts() throws {
        var generator = SeededRandom(seed: 42)
        var clients: [ClientState] = []
        for index in 0..<500 {
            let birth = LocalDate(dayNumber: Int.random(in: date("1940-01-01").dayNumber...date("2005-12-31").dayNumber,
                                                        using: &generator))
            clients.append(client("C\(index)", name: "客户\(index)", birth: birth.description,
                                  calendar: Bool.random(using: &generator) ? .chinese : nil,
                                  segment: ["mass", "hnw", "private"].randomElement(using: &generator),
                                  manager: "M\(index % 7)", aum: "\(Int.random(in: 1...20, using: &generator) * 100_000)"))
        }
        let plugin = try plugin(#"{"days_ahead": 10}"#)
        let first = try tick(plugin, today: "2026-09-20", state: InMemoryState(clients: clients))
        let second = try tick(plugin, today: "2026-09-20", state: InMemoryState(clients: clients.reversed()))
        #expect(first == second)
        #expect(birthdays(first).count > 5)
        #expect(greetings(first).count == 7)
    }

    @Test func throughTheStoreTheTickFindsExactlyTheExpectedBirthdays() throws {
        let directory = TemporaryDirectory("insightd-birthday-test")
        let database = try AppDatabase.open(directory: directory.path)
        var generator = SeededRandom(seed: 2026)
        var clients: [ClientState] = []
        for index in 0..<3_000 {
            let birth = LocalDate(dayNumber: Int.random(in: date("1940-01-01").dayNumber...date("2010-12-31").dayNumber,
                                                        using: &generator))
            let roll = Int.random(in: 0..<20, using: &generator)
            clients.append(client(String(format: "C%05d", index), name: "客户\(index)",
                                  birth: roll == 0 ? nil : birth.description,
                                  calendar: roll % 3 == 0 ? .chinese : (roll % 3 == 1 ? .gregorian : nil),
                                  segment: ["mass", "affluent", "hnw", "private"].randomElement(using: &generator),
                                  manager: roll == 1 ? nil : "M\(index % 9)", consent: roll == 2 ? false : nil,
                                  status: roll == 3 ? "closed" : "active"))
        }
        var step = DispatchCommit()
        step.clients = clients.map { .init(state: $0, changes: [.profile]) }
        try database.commit(step, at: instant("2026-11-20T08:00:00+08:00"))
        let reader = StoreStateReader(database: database)
        let plugin = try plugin(#"{"holidays": {"enabled": false}}"#)

        var total = 0
        for today in ["2026-11-20", "2026-02-26", "2027-02-04", "2028-02-27", "2026-09-23"] {
            let found = try tick(plugin, today: today, state: reader)
            // Expected by brute force over every client, without the index.
            let start = date(today)
            let expected = clients.compactMap { state -> String? in
                let profile = state.profile
                guard let birth = profile.birthDate, !profile.isClosed, profile.managerId != nil,
                      profile.marketingConsent != false,
                      let next = Birthdays.next(birthDate: birth, calendar: profile.birthCalendar, onOrAfter: start),
                      next.date <= start.adding(days: 3) else { return nil }
                return "\(state.id):\(next.keyYear)"
            }
            #expect(found.map(\.key) == expected, "\(today)")
            #expect(try tick(plugin, today: today, state: InMemoryState(clients: clients)) == found, "\(today): same as in memory")
            total += found.count
        }
        #expect(total > 100, "\(total) birthdays")
        try database.close()
    }
}

/// Review findings, each pinned by a test.
@Suite struct BirthdayKeyTests {
    @Test func aLunarBirthdayCelebratedTwiceInOneGregorianYearGetsTwoLeads() throws {
        // 腊月初五 fell on 2024-01-15 (lunar year beginning 2023) and on 2025-01-04 (lunar year beginning 2024);
        // 腊月初一 fell on both 2024-01-11 and 2024-12-31.
        let birth = try #require(LunarCalendar.gregorian(LunarDate(year: 4660, month: 12, day: 1, isLeapMonth: false)))
        let january = try #require(Birthdays.next(birthDate: birth, calendar: .chinese, onOrAfter: TestBank.date("2024-01-01")))
        let december = try #require(Birthdays.next(birthDate: birth, calendar: .chinese, onOrAfter: TestBank.date("2024-02-01")))
        #expect(january.date == TestBank.date("2024-01-11"))
        #expect(december.date == TestBank.date("2024-12-31"))
        #expect(january.keyYear == 2023)
        #expect(december.keyYear == 2024)
        let gregorian = try #require(Birthdays.next(birthDate: TestBank.date("1980-12-31"), calendar: .gregorian,
                                                    onOrAfter: TestBank.date("2024-12-01")))
        #expect(gregorian.keyYear == 2024)
    }
}

@Suite struct BirthdayCareConfigurationTests {
    @Test func aGregorianHolidayOnADayItsMonthLacksIsRefused() throws {
        let bad = #"{"holidays": {"list": [{"id": "x", "calendar": "gregorian", "month": 2, "day": 30, "names": {"zh-CN": "x"}}]}}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(BirthdayCareConfiguration.self, from: Data(bad.utf8)) }
        let leap = #"{"holidays": {"list": [{"id": "x", "calendar": "gregorian", "month": 2, "day": 29, "names": {"zh-CN": "x"}}]}}"#
        #expect(try JSONDecoder().decode(BirthdayCareConfiguration.self, from: Data(leap.utf8)).holidays.list.first?.day == 29)
    }

    @Test func templatesForAnUnknownLocaleAreRefused() throws {
        let configuration = try JSONDecoder().decode(BirthdayCareConfiguration.self, from: Data(
            #"{"templates": {"zh_CN": {"birthday": {"title": "x"}}}}"#.utf8))
        #expect { try BirthdayCarePlugin(configuration: configuration) } throws: { error in
            (error as? PluginConfigurationError)?.path == ["templates", "zh_CN"] && "\(error)".contains("locales: en, zh-CN")
        }
    }
}
