import Foundation
import InsightCore

/// Birthday care on the Gregorian and Chinese lunar calendars, and holiday greeting lists.
///
/// Its daily tick finds, through the birthday index, the clients whose birthday falls within
/// `[today, today + days_ahead]`: one lead per client per birthday year. Closed clients, clients without a
/// manager and clients who refused marketing contact are skipped. Before each configured holiday, every
/// manager gets one list of their clients in the chosen segments, largest AUM first.
public struct BirthdayCarePlugin: Plugin {
    public static let id = "birthday-care"
    public static let summary = "birthdays (Gregorian or lunar) days ahead, milestone ages, holiday greeting lists"

    public let configuration: BirthdayCareConfiguration
    private let texts: LeadTexts

    /// Evidence labels by key.
    static let labels: [String: (zh: String, en: String)] = [
        "birthDate": ("生日", "birthday"), "calendar": ("历法", "calendar"), "age": ("年龄", "age"),
        "segment": ("客户分层", "segment"), "holiday": ("节日", "holiday"), "segments": ("客户分层", "segments"),
        "clients": ("客户数", "clients"),
    ]

    public init(configuration: BirthdayCareConfiguration) throws(PluginConfigurationError) {
        self.configuration = configuration
        texts = try LeadTexts(builtIn: BirthdayCareTexts.builtIn, overrides: configuration.templates)
        var seen = Set<String>()
        for (index, holiday) in configuration.holidays.list.enumerated() where !seen.insert(holiday.id).inserted {
            throw PluginConfigurationError(path: ["holidays", "list", "\(index)", "id"],
                                           message: "holiday id \(holiday.id) is used twice")
        }
    }

    public var schedule: LocalTime? { configuration.schedule }
    public var publishedTexts: [PublishedText] {
        texts.sources + configuration.holidays.list.enumerated().flatMap { index, holiday in
            holiday.names.map { PublishedText(path: ["holidays", "list", "\(index)", "names", $0.key], text: $0.value) }
        }
    }

    public func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft] {
        var drafts = try birthdays(on: tick.localDate, context: context)
        if configuration.holidays.enabled {
            drafts += try holidayGreetings(on: tick.localDate, context: context)
        }
        return drafts
    }

    // MARK: - Birthdays

    func birthdays(on today: LocalDate, context: PluginContext) throws -> [LeadDraft] {
        let last = today.adding(days: configuration.daysAhead)
        let dates = (0...configuration.daysAhead).map { today.adding(days: $0) }
        var drafts: [LeadDraft] = []
        for client in try context.state.clients(birthdayKeys: Birthdays.keys(celebratedOn: dates)) {
            let profile = client.profile
            guard let birthDate = profile.birthDate, !profile.isClosed, profile.managerId != nil,
                  profile.marketingConsent != false,
                  let occurrence = Birthdays.next(birthDate: birthDate, calendar: profile.birthCalendar, onOrAfter: today),
                  occurrence.date <= last else { continue }
            drafts.append(lead(for: client, birthDate: birthDate, occurrence: occurrence, context: context))
        }
        return drafts
    }

    private func lead(for client: ClientState, birthDate: LocalDate, occurrence: Birthdays.Occurrence,
                      context: PluginContext) -> LeadDraft {
        let profile = client.profile
        let locale = context.locale
        let milestone = configuration.milestoneAges.contains(occurrence.age)
        var priority = profile.segment.flatMap { configuration.segmentPriority[$0] } ?? .normal
        if milestone { priority = max(priority, configuration.milestonePriority) }
        let daysLeft = context.today.days(until: occurrence.date)
        let values: [String: Any] = [
            "clientName": profile.name.map(Masking.name) ?? client.id,
            "age": occurrence.age,
            "milestone": milestone,
            "date": LeadFormat.date(occurrence.date, locale: locale),
            "lunarDate": occurrence.lunar.map { LeadFormat.lunar($0, locale: locale) } ?? "",
            "isLunar": occurrence.lunar != nil,
            "daysLeft": daysLeft,
            "isToday": daysLeft == 0,
            "segment": profile.segment.map { LeadFormat.segment($0, locale: locale) } ?? "",
        ]
        let text = texts.render("birthday", locale: locale, values: values)
        let birthMonthDay = String(birthDate.description.dropFirst(5))
        let lunar = { (date: LunarDate) in LeadFormat.text("（农历\(LeadFormat.lunar(date, locale: locale))）",
                                                           " (\(LeadFormat.lunar(date, locale: locale)))", locale: locale) }
        let milestoneNote = milestone ? LeadFormat.text("（整寿）", " (milestone)", locale: locale) : ""
        var evidence = [
            Evidence("birthDate", occurrence.lunar.map {
                "\(birthMonthDay)\(lunar(LunarCalendar.lunar(birthDate))) → \(occurrence.date)\(lunar($0))"
            } ?? "\(birthMonthDay) → \(occurrence.date)", labels: Self.labels, locale: locale),
            Evidence("calendar", LeadFormat.birthCalendar((profile.birthCalendar ?? .gregorian).rawValue, locale: locale),
                     labels: Self.labels, locale: locale),
            Evidence("age", "\(occurrence.age)" + milestoneNote, labels: Self.labels, locale: locale),
        ]
        if let segment = profile.segment {
            evidence.append(Evidence("segment", LeadFormat.segment(segment, locale: locale), labels: Self.labels, locale: locale))
        }
        return LeadDraft(key: "\(client.id):\(occurrence.keyYear)", kind: "birthday", priority: priority,
                         clientId: client.id, title: text.title, summary: text.summary,
                         suggestedAction: text.suggestedAction, evidence: evidence,
                         dueAt: context.dueAt(occurrence.date))
    }

    // MARK: - Holiday greetings

    func holidayGreetings(on today: LocalDate, context: PluginContext) throws -> [LeadDraft] {
        let settings = configuration.holidays
        let last = today.adding(days: settings.daysAhead)
        let upcoming = settings.list.flatMap { holiday in
            holiday.dates(around: today).filter { $0 >= today && $0 <= last }.map { (holiday, $0) }
        }
        guard !upcoming.isEmpty else { return [] }
        // Each manager's eligible clients, largest AUM first (ties by id, for determinism).
        var byManager: [String: [ClientState]] = [:]
        for client in try context.state.clients(inSegments: settings.segments) {
            let profile = client.profile
            guard let manager = profile.managerId, !profile.isClosed, profile.marketingConsent != false else { continue }
            byManager[manager, default: []].append(client)
        }
        var drafts: [LeadDraft] = []
        for (holiday, date) in upcoming {
            for manager in byManager.keys.sorted() {
                let clients = (byManager[manager] ?? []).sorted { ($0.aum, $1.id) > ($1.aum, $0.id) }
                drafts.append(greeting(holiday, on: date, manager: manager, clients: clients, context: context))
            }
        }
        return drafts
    }

    private func greeting(_ holiday: Holiday, on date: LocalDate, manager: String, clients: [ClientState],
                          context: PluginContext) -> LeadDraft {
        let locale = context.locale
        let listed = clients.prefix(configuration.holidays.maxClientsListed)
        let names = listed.map { $0.profile.name.map(Masking.name) ?? $0.id }
        let segments = configuration.holidays.segments.map { LeadFormat.segment($0, locale: locale) }
        let holidayName = holiday.names[locale] ?? holiday.names[LeadTexts.defaultLocale] ?? holiday.id
        let values: [String: Any] = [
            "holiday": holidayName,
            "date": LeadFormat.date(date, locale: locale),
            "count": clients.count,
            "clientList": LeadFormat.list(names, locale: locale),
            "more": clients.count - listed.count,
            "hasMore": clients.count > listed.count,
            "segments": LeadFormat.list(segments, locale: locale),
        ]
        let text = texts.render("holiday_greeting", locale: locale, values: values)
        let lunarDate = LeadFormat.lunar(LunarDate(year: 0, month: holiday.month, day: holiday.day, isLeapMonth: false), locale: locale)
        let lunarDay = holiday.calendar == .chinese ? LeadFormat.text("（农历\(lunarDate)）", " (\(lunarDate))", locale: locale) : ""
        var evidence = [
            Evidence("holiday", "\(holidayName) \(date)" + lunarDay, labels: Self.labels, locale: locale),
            Evidence("segments", LeadFormat.list(segments, locale: locale), labels: Self.labels, locale: locale),
            Evidence("clients", "\(clients.count)", labels: Self.labels, locale: locale),
        ]
        for client in listed {
            let name = client.profile.name.map(Masking.name) ?? "-"
            let segment = client.profile.segment.map { LeadFormat.segment($0, locale: locale) } ?? "-"
            let aum = LeadFormat.amount(client.aum, locale: locale)
            evidence.append(Evidence(key: "client \(client.id)", label: LeadFormat.text("客户 ", "client ", locale: locale) + client.id,
                                     value: LeadFormat.text("\(name)，\(segment)，金融资产\(aum)", "\(name), \(segment), AUM \(aum)",
                                                            locale: locale)))
        }
        return LeadDraft(key: "holiday:\(holiday.id):\(date):\(manager)", kind: "holiday_greeting", priority: .normal,
                         clientId: nil, managerId: manager, title: text.title, summary: text.summary,
                         suggestedAction: text.suggestedAction, evidence: evidence,
                         dueAt: context.dueAt(date.adding(days: -1)))
    }
}
