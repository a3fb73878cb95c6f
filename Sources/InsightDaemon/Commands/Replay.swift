import Foundation
import InsightCore
import InsightDelivery
import InsightEngine
import InsightStore
import Logging

/// `insightd replay`: the configured plugins over historical events on a fresh temporary state, with the
/// clock driven by event time; daily ticks fire as the simulated days pass. Nothing is delivered.
public struct Replay: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case table, json
    }

    public struct Result: Sendable {
        public var leads: [Lead]
        /// Leads an inhibit rule held back (lead id → the open lead that did), as the outbox would have.
        public var inhibited: [String: String] = [:]
        public var events: Int
        public var rejected: Int
        public var days: [LocalDate]
        public var timeZone: TimeZone
        /// The message locale: the summary table and the report are written in it.
        public var locale: String = "zh-CN"
    }

    let configuration: LoadedConfiguration

    public init(configuration: LoadedConfiguration) {
        self.configuration = configuration
    }

    /// Replays `files` (JSON, NDJSON or CloudEvents, as `POST /v1/events` takes them) in event-time order.
    /// `progress` is called after each simulated day with (day index, day count, events so far, leads so far).
    public func run(files: [String], until: LocalDate?, rejection: (String) -> Void = { _ in },
                    progress: (Int, Int, Int, Int) -> Void = { _, _, _, _ in }) async throws -> Result {
        let scratch = (NSTemporaryDirectory() as NSString).appendingPathComponent("insightd-replay-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // Decode and validate exactly as ingestion does, into a staging journal.
        let staging = try AppDatabase.open(directory: (scratch as NSString).appendingPathComponent("staging"))
        var rejected = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { throw ReplayError("\(file): cannot read the file") }
            let summary = try Ingestor(database: staging).ingest(Array(data), origin: "replay:\((file as NSString).lastPathComponent)",
                                                               format: .automatic, source: "replay", receivedAt: Date(timeIntervalSince1970: 0))
            rejected += summary.rejected.count
            for item in summary.rejected { rejection("\(file):\(item.line): \(item.rejection)") }
        }
        let journaled = try staging.readJournal(after: 0, limit: Int.max)
        try staging.close()
        // Event-time order; the journal's order among equal times.
        let events = journaled.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)

        let settings = configuration.pipelineSettings
        let timeZone = settings.timeZone
        let database = try AppDatabase.open(directory: (scratch as NSString).appendingPathComponent("state"))
        let dispatcher = try Dispatcher(database: database, settings: SettingsBox(settings), clock: .eventTime,
                                        shards: configuration.config.dispatcher.shards,
                                        logger: Logger(label: "replay", factory: { _ in SwiftLogNoOpLogHandler() }))
        guard let first = events.first, let last = events.last else {
            try database.close()
            return Result(leads: [], events: 0, rejected: rejected, days: [], timeZone: timeZone, locale: settings.locale)
        }
        let firstDay = LocalDate(first.time, in: timeZone)
        let lastDay = max(LocalDate(last.time, in: timeZone), until ?? firstDay)
        let days = (0...firstDay.days(until: lastDay)).map { firstDay.adding(days: $0) }
        let ticks = settings.schedules.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
        var remaining = events[...]
        var handled = 0
        func feed(until end: Date) async throws {
            let batch = remaining.prefix { $0.time < end }
            guard !batch.isEmpty else { return }
            remaining = remaining.dropFirst(batch.count)
            _ = try database.append(Array(batch), receivedAt: Date(timeIntervalSince1970: 0))
            try await dispatcher.drain()
            handled += batch.count
        }
        for (index, day) in days.enumerated() {
            for (plugin, time) in ticks {
                let instant = day.instant(at: time, in: timeZone)
                try await feed(until: instant)
                try await dispatcher.runTick(ScheduleTick(scheduledAt: instant, localDate: day), plugin: plugin)
            }
            try await feed(until: day.adding(days: 1).instant(in: timeZone))
            progress(index + 1, days.count, handled, try database.leadCount())
        }
        var leads = try database.leads(LeadQuery(limit: Int.max))
        try database.close()
        let inhibited = Self.inhibitions(leads, policy: configuration.compliancePolicy)
        for index in leads.indices where inhibited[leads[index].id] != nil { leads[index].status = .suppressed }
        return Result(leads: leads, inhibited: inhibited, events: events.count, rejected: rejected, days: days, timeZone: timeZone,
                      locale: settings.locale)
    }

    /// The leads the inhibit rules hold back, each as of its own creation: a source counts when it was made at
    /// or before the target (replay has no compliance decisions, so a source stays open for its `for`).
    static func inhibitions(_ leads: [Lead], policy: CompliancePolicy) -> [String: String] {
        guard !policy.inhibitRules.isEmpty else { return [:] }
        var held: [String: String] = [:]
        let byClient = Dictionary(grouping: leads.filter { $0.client != nil }, by: { $0.client?.id ?? "" })
        let byManager = Dictionary(grouping: leads.filter { $0.client == nil && $0.manager != nil }, by: { $0.manager?.id ?? "" })
        for lead in leads where policy.mayInhibit(lead) {
            let peers = lead.client.map { byClient[$0.id] ?? [] } ?? lead.manager.map { byManager[$0.id] ?? [] } ?? []
            let candidates = peers.filter { $0.createdAt <= lead.createdAt }.map { LeadHeader($0) }
            if let inhibition = policy.inhibition(of: lead, among: candidates, at: lead.createdAt) {
                held[lead.id] = inhibition.sourceId
            }
        }
        return held
    }
}

struct ReplayError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Replay.Result {
    /// Rows of (key, count), most first, then by key.
    static func ranked(_ counts: [String: Int]) -> [(String, Int)] {
        counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
    }

    var perPlugin: [(String, Int)] { Self.ranked(Dictionary(grouping: leads, by: \.plugin).mapValues(\.count)) }
    var perKind: [(String, Int)] { Self.ranked(Dictionary(grouping: leads, by: { "\($0.plugin)/\($0.kind)" }).mapValues(\.count)) }
    var topClients: [(String, Int)] {
        Array(Self.ranked(Dictionary(grouping: leads.compactMap(\.client?.id), by: { $0 }).mapValues(\.count)).prefix(10))
    }
    /// Hits per rule of the `rules` plugin (the rule id its leads carry as evidence).
    var perRule: [(String, Int)] {
        let rules = leads.filter { $0.plugin == "rules" }.compactMap { lead in lead.evidence.first { $0.key == "rule" }?.value }
        return Self.ranked(Dictionary(grouping: rules, by: { $0 }).mapValues(\.count))
    }
    /// Leads per local day (of `createdAt`) and plugin, for every replayed day.
    var perDay: [(day: LocalDate, plugins: [String: Int])] {
        var counts: [LocalDate: [String: Int]] = [:]
        for lead in leads { counts[LocalDate(lead.createdAt, in: timeZone), default: [:]][lead.plugin, default: 0] += 1 }
        return days.map { ($0, counts[$0] ?? [:]) }
    }

    /// Inhibited leads per plugin and kind, most first.
    var perInhibited: [(String, Int)] {
        Self.ranked(Dictionary(grouping: leads.filter { inhibited[$0.id] != nil }, by: { "\($0.plugin)/\($0.kind)" }).mapValues(\.count))
    }

    /// The summary's words in the result's locale.
    func text(_ zh: String, _ en: String) -> String { LeadFormat.text(zh, en, locale: locale) }

    /// A plugin's name for people, with its id: `生日关怀（birthday-care）`.
    func pluginName(_ id: String) -> String {
        guard let name = ReplayReport.pluginNames[id] else { return id }
        return text("\(name.zh)（\(id)）", "\(name.en) (\(id))")
    }

    public func table() -> String {
        let first = days.first?.description ?? "-", last = days.last?.description ?? "-"
        var lines = [text("回放\(events)个事件，共\(days.count)天（\(first)至\(last)）" + (rejected > 0 ? "，拒收\(rejected)个" : "")
                          + "：线索\(leads.count)条"
                          + (inhibited.isEmpty ? "" : "，其中\(inhibited.count)条因客户有未结反洗钱线索被抑制（不推送）"),
                          "replayed \(events) events over \(days.count) days (\(first) to \(last))"
                          + (rejected > 0 ? ", \(rejected) rejected" : "") + ": \(leads.count) leads"
                          + (inhibited.isEmpty ? "" : ", \(inhibited.count) of them inhibited (held back by an open AML lead, never sent)")), ""]
        func section(_ title: String, _ rows: [(String, Int)]) {
            guard !rows.isEmpty else { return }
            lines.append(title)
            lines.append(Commands.table([["", text("线索数", "LEADS")]] + rows.map { [$0.0, "\($0.1)"] }))
            lines.append("")
        }
        section(text("按插件", "per plugin"), perPlugin.map { (pluginName($0.0), $0.1) })
        section(text("按线索类型", "per kind"), perKind)
        section(text("按规则（自定义规则插件）", "per rule (rules plugin)"), perRule)
        section(text("线索最多的客户", "top clients"), topClients)
        section(text("被抑制的线索（已计入上方合计，不推送）", "inhibited (counted in the totals above, never delivered)"), perInhibited)
        let plugins = perPlugin.map(\.0).sorted()
        lines.append(text("按天", "per day"))
        lines.append(Commands.table([[text("日期", "DAY")] + plugins + [text("合计", "TOTAL")]] + perDay.map { day in
            [day.day.description] + plugins.map { "\(day.plugins[$0] ?? 0)" } + ["\(day.plugins.values.reduce(0, +))"]
        }))
        return lines.joined(separator: "\n")
    }

    /// The self-contained HTML report (`--report`).
    public func html(title: String) -> String { ReplayReport.html(self, title: title) }

    public func json() throws -> String {
        func pairs(_ rows: [(String, Int)]) -> JSONValue {
            .array(rows.map { .object(["name": .string($0.0), "leads": .number("\($0.1)")]) })
        }
        return JSONWriter.string(.object([
            "events": .number("\(events)"), "rejected": .number("\(rejected)"),
            "days": .array(days.map { .string($0.description) }),
            "summary": .object(["perPlugin": pairs(perPlugin), "perKind": pairs(perKind), "perRule": pairs(perRule),
                                "topClients": pairs(topClients), "inhibited": .number("\(inhibited.count)"),
                                "perInhibited": pairs(perInhibited)]),
            "leads": .array(try leads.map { lead in
                guard case .object(var fields) = try LeadJSON.value(lead, timeZone: timeZone) else { return .null }
                if let source = inhibited[lead.id] { fields["inhibitedBy"] = .string(source) }
                return .object(fields)
            }),
        ]))
    }
}
