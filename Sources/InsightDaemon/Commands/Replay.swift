import Foundation
import InsightCore
import InsightDelivery
import InsightEngine
import InsightIngest
import InsightStore
import Logging

/// `insightd replay`: the configured plugins over historical events on a fresh temporary state, with the
/// clock driven by event time; daily ticks fire as the simulated days pass. Nothing is delivered.
public struct Replay: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case table, json
    }

    public struct Result: Sendable {
        /// Every lead, in creation order (then key). Empty when the replay handed them to a ``LeadStream``
        /// instead; ``tally`` counts them either way.
        public var leads: [Lead] = []
        /// Leads an inhibit rule held back (lead id → the open lead that did), as the outbox would have. Like
        /// ``leads``, empty when they were streamed (the stream is told); ``LeadTally/inhibited`` counts them.
        public var inhibited: [String: String] = [:]
        public var events: Int
        public var rejected: Int
        public var days: [LocalDate]
        public var timeZone: TimeZone
        /// The message locale: the summary table and the report are written in it.
        public var locale: String = "zh-CN"
        /// What the summaries count, gathered lead by lead.
        public var tally = LeadTally()
    }

    /// Counts of a replay's leads, gathered one lead at a time (the leads themselves need not be held; the counts
    /// per client grow with the clients that have leads, not with the leads).
    public struct LeadTally: Sendable {
        public private(set) var total = 0
        /// Leads an inhibit rule held back.
        public private(set) var inhibited = 0
        var perPlugin: [String: Int] = [:]
        var perKind: [String: Int] = [:]
        var perClient: [String: Int] = [:]
        var perRule: [String: Int] = [:]
        var perDay: [LocalDate: [String: Int]] = [:]
        var perInhibited: [String: Int] = [:]

        public init() {}

        mutating func count(_ lead: Lead, inhibited: Bool, timeZone: TimeZone) {
            total += 1
            perPlugin[lead.plugin, default: 0] += 1
            perKind["\(lead.plugin)/\(lead.kind)", default: 0] += 1
            if let client = lead.client?.id { perClient[client, default: 0] += 1 }
            // The rule of a `rules` lead is the one its evidence names.
            if lead.plugin == "rules", let rule = lead.evidence.first(where: { $0.key == "rule" })?.value {
                perRule[rule, default: 0] += 1
            }
            perDay[LocalDate(lead.createdAt, in: timeZone), default: [:]][lead.plugin, default: 0] += 1
            if inhibited {
                self.inhibited += 1
                perInhibited["\(lead.plugin)/\(lead.kind)", default: 0] += 1
            }
        }
    }

    /// Takes a replay's leads a page (or one) at a time, in creation order (then key), while its scratch state still
    /// holds them, so that a replay of any size writes them out without holding them all (`insightd replay --format
    /// json`).
    public struct LeadStream {
        /// Called once, before the first lead, with what the replay handled.
        public var begin: (_ events: Int, _ days: [LocalDate]) throws -> Void
        /// Each page of leads read from the ledger (``Replay/leadPage`` at most), in order, each with the open lead
        /// that inhibited it (its status is then `suppressed`).
        public var page: (_ leads: [(lead: Lead, inhibitedBy: String?)]) throws -> Void

        /// One lead at a time.
        public init(begin: @escaping (_ events: Int, _ days: [LocalDate]) throws -> Void,
                    lead: @escaping (_ lead: Lead, _ inhibitedBy: String?) throws -> Void) {
            self.begin = begin
            page = { leads in for item in leads { try lead(item.lead, item.inhibitedBy) } }
        }

        /// A page at a time: the caller may then write a page's leads on every core.
        public init(begin: @escaping (_ events: Int, _ days: [LocalDate]) throws -> Void,
                    page: @escaping (_ leads: [(lead: Lead, inhibitedBy: String?)]) throws -> Void) {
            self.begin = begin
            self.page = page
        }
    }

    /// Leads read from the scratch ledger at a time while they are counted, kept or streamed.
    public var leadPage = 2_000

    /// When the scratch state is written: deferred (see ``run(files:until:stream:rejection:progress:)``); every batch
    /// gives the same leads, slower, and is what the tests compare against.
    public var stateWrites = Dispatcher.StateWrites.deferred

    /// Events per batch when `dispatcher.batch_size` is not set. A replay's batches commit leads only (its client
    /// state is written when the cache lets it go), so a large batch saves no writes; a small one holds fewer
    /// events in memory.
    public static let defaultBatchSize = 8_192

    let configuration: LoadedConfiguration

    public init(configuration: LoadedConfiguration) {
        self.configuration = configuration
    }

    /// Where a replay is, after each simulated day.
    public struct Progress: Sendable {
        public var day: LocalDate
        /// Bytes read of all the files, out of `totalBytes`.
        public var bytesRead: Int64
        public var totalBytes: Int64
        public var events: Int
        public var leads: Int
    }

    /// Replays `files` (NDJSON, or JSON and CloudEvents as `POST /v1/events` takes them) in event-time order,
    /// streaming: a file in time order (a feed's usual shape) is read a chunk at a time and never held whole.
    /// A file that is not is read whole and sorted. The state is a scratch database (`synchronous = OFF`) in a
    /// temporary directory, removed afterwards; nothing is delivered. Client state is written to it only when the
    /// client cache lets a client go or a daily tick is about to query it (``Dispatcher/StateWrites/deferred``):
    /// the leads are what a replay reports.
    ///
    /// The leads come back in the result, or, given a `stream`, go to it one at a time (the result then holds
    /// their counts only: a replay of any size never holds them all).
    public func run(files: [String], until: LocalDate?, stream: LeadStream? = nil, rejection: (String) -> Void = { _ in },
                    progress: (Progress) -> Void = { _ in }) async throws -> Result {
        let scratch = (NSTemporaryDirectory() as NSString).appendingPathComponent("insightd-replay-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var reported = 0
        do {
            return try await pass(files: files, until: until, scratch: (scratch as NSString).appendingPathComponent("stream"),
                                  sorted: false, stream: stream, rejection: { rejection($0); reported += 1 }, progress: progress)
        } catch is OutOfOrder {
            // Start again on a fresh state, sorting in memory; the rejections already reported are not repeated.
            var skip = reported
            return try await pass(files: files, until: until, scratch: (scratch as NSString).appendingPathComponent("sorted"),
                                  sorted: true, stream: stream, rejection: { if skip > 0 { skip -= 1 } else { rejection($0) } },
                                  progress: progress)
        }
    }

    /// An event older than the one before it: the streaming pass gives way to the sorting one.
    struct OutOfOrder: Error {}

    private func pass(files: [String], until: LocalDate?, scratch: String, sorted: Bool, stream: LeadStream?,
                      rejection: (String) -> Void, progress: (Progress) -> Void) async throws -> Result {
        let settings = configuration.pipelineSettings
        let timeZone = settings.timeZone
        let database = try AppDatabase.open(directory: scratch, durability: .scratch, memory: .small)
        defer { try? database.close() }
        let tuning = configuration.config.dispatcher
        let batchSize = tuning.batchSizeIsSet ? tuning.batchSize : Self.defaultBatchSize
        let dispatcher = try Dispatcher(database: database, settings: SettingsBox(settings), clock: .eventTime,
                                        shards: tuning.shards, batchSize: batchSize, cacheCapacity: tuning.clientCache,
                                        stateWrites: stateWrites, logger: Logger(label: "replay", factory: { _ in SwiftLogNoOpLogHandler() }))
        var timeline = ReplayTimeline(dispatcher: dispatcher, database: database, timeZone: timeZone,
                                      ticks: settings.schedules.sorted { ($0.value, $0.key) < ($1.value, $1.key) },
                                      batchSize: batchSize)
        let input = try ReplayInput(files: files)
        var rejected = 0
        let seen = try SeenEventKeys(path: (scratch as NSString).appendingPathComponent("seen.sqlite"))
        var held: [Event] = []  // the sorting pass holds every event
        var accepted = 0
        var last: Date?
        try await input.forEachChunk(seen: seen, warmTransactions: !sorted) { file, chunk, fresh in
            for (item, first) in zip(chunk.items, fresh) {
                switch item.result {
                case .failure(let reason):
                    rejected += 1
                    rejection("\(file):\(item.line): \(reason)")
                case .success(var event):
                    // The journal's idempotency: a repeated (source, id) is dropped, as ingest drops it.
                    guard first else { continue }
                    accepted += 1
                    event.sequence = Int64(accepted)
                    if sorted {
                        held.append(event)
                        continue
                    }
                    if let last, event.time < last { throw OutOfOrder() }
                    last = event.time
                    try await timeline.add(event)
                }
            }
            if !sorted, let day = timeline.day {
                progress(Progress(day: day, bytesRead: input.bytesRead, totalBytes: input.totalBytes, events: accepted,
                                  leads: try database.leadCount()))
            }
        }
        if sorted {
            // Event-time order; the input's order among equal times (a stable sort).
            held = held.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
            // Numbered again in time order: the dispatcher orders a batch's leads by sequence, so the earlier event
            // must have the lower number, as it would in a file that came sorted.
            for index in held.indices { held[index].sequence = Int64(index + 1) }
            for event in held { try await timeline.add(event) }
            held = []
        }
        let days = try await timeline.finish(until: until)
        // Nothing more is dispatched: the client cache is freed on another core while the leads are written.
        try await dispatcher.discardCaches()
        if let day = days.last {
            progress(Progress(day: day, bytesRead: input.totalBytes, totalBytes: input.totalBytes, events: accepted,
                              leads: try database.leadCount()))
        }
        var result = Result(events: accepted, rejected: rejected, days: days, timeZone: timeZone, locale: settings.locale)
        try stream?.begin(accepted, days)
        // A page of the ledger at a time: counted, then kept or streamed.
        let policy = configuration.compliancePolicy
        var position: AppDatabase.LeadPosition?
        repeat {
            let page = try database.leads(after: position, limit: max(1, leadPage))
            var streamed: [(lead: Lead, inhibitedBy: String?)] = []
            for var lead in page.leads {
                let inhibitedBy = try Self.inhibition(of: lead, policy: policy, database: database)
                if inhibitedBy != nil { lead.status = .suppressed }
                result.tally.count(lead, inhibited: inhibitedBy != nil, timeZone: timeZone)
                if stream != nil {
                    streamed.append((lead, inhibitedBy))
                } else {
                    result.leads.append(lead)
                    if let inhibitedBy { result.inhibited[lead.id] = inhibitedBy }
                }
            }
            if let stream, !streamed.isEmpty { try stream.page(streamed) }
            position = page.next
        } while position != nil
        return result
    }

    /// The open lead that an inhibit rule holds `lead` back for, as of the lead's creation: a source counts when it
    /// was made at or before it (replay has no compliance decisions, so a source stays open for its `for`).
    static func inhibition(of lead: Lead, policy: CompliancePolicy, database: AppDatabase) throws -> String? {
        guard policy.mayInhibit(lead) else { return nil }
        let sources = policy.sources
        let candidates = try database.inhibitionPeers(of: lead, kinds: sources.kinds, plugins: sources.plugins).map { LeadHeader($0) }
        return policy.inhibition(of: lead, among: candidates, at: lead.createdAt)?.sourceId
    }
}

/// Drives a replay's simulated clock: events go to the dispatcher in batches cut at each daily tick's instant,
/// and each tick runs once every event before its instant has been handled (an event at the instant comes
/// after it), from the first event's day through the last one's (or `--until`).
struct ReplayTimeline {
    let dispatcher: Dispatcher
    let database: AppDatabase
    let timeZone: TimeZone
    /// (plugin, local time), in the order they fire within a day.
    let ticks: [(key: String, value: LocalTime)]
    let batchSize: Int
    /// The day being replayed, and the next tick of it to fire (`ticks.count`: its end).
    private(set) var day: LocalDate?
    private var nextTick = 0
    /// The instant the timeline last worked out as its next stop, with the day and tick it is for.
    private var stop: (day: LocalDate, tick: Int, at: Date)?
    private var firstDay: LocalDate?
    private var batch: [Event] = []

    init(dispatcher: Dispatcher, database: AppDatabase, timeZone: TimeZone, ticks: [(key: String, value: LocalTime)],
         batchSize: Int) {
        self.dispatcher = dispatcher
        self.database = database
        self.timeZone = timeZone
        self.ticks = ticks
        self.batchSize = batchSize
        batch.reserveCapacity(batchSize)
    }

    /// The instant the timeline next stops at: the next tick of the day, or the day's end. Worked out once per stop,
    /// not for every event.
    private mutating func boundary(of day: LocalDate) -> Date {
        if let stop, stop.day == day, stop.tick == nextTick { return stop.at }
        let next = nextTick < ticks.count ? day.instant(at: ticks[nextTick].value, in: timeZone)
                                          : day.adding(days: 1).instant(in: timeZone)
        stop = (day, nextTick, next)
        return next
    }

    /// Adds the next event in time order.
    mutating func add(_ event: Event) async throws {
        if day == nil {
            day = LocalDate(event.time, in: timeZone)
            firstDay = day
        }
        while let current = day, event.time >= boundary(of: current) {
            try await advance(current)
        }
        batch.append(event)
        if batch.count == batchSize { try await flush() }
    }

    /// Fires the boundary's tick once every event before it is committed (or moves to the next day: a day's
    /// end alone does not cut a batch).
    private mutating func advance(_ current: LocalDate) async throws {
        if nextTick < ticks.count {
            try await flush()
            try await dispatcher.settle()
            let (plugin, time) = ticks[nextTick]
            let instant = current.instant(at: time, in: timeZone)
            try await dispatcher.runTick(ScheduleTick(scheduledAt: instant, localDate: current), plugin: plugin)
            nextTick += 1
        } else {
            day = current.adding(days: 1)
            nextTick = 0
        }
    }

    /// Hands the batch to the dispatcher, which commits it while the next one is gathered and handled.
    private mutating func flush() async throws {
        guard !batch.isEmpty else { return }
        try await dispatcher.submit(batch)
        batch.removeAll(keepingCapacity: true)
    }

    /// Handles what is batched and waits for every commit: the database then holds all that was added.
    mutating func settle() async throws {
        try await flush()
        try await dispatcher.settle()
    }

    /// Handles the rest and fires the remaining ticks through `until` (at least the last event's day). Returns
    /// the replayed days.
    mutating func finish(until: LocalDate?) async throws -> [LocalDate] {
        guard let first = firstDay, var current = day else { return [] }
        let lastDay = max(current, until ?? first)
        while true {
            while nextTick < ticks.count { try await advance(current) }
            guard current < lastDay else { break }
            try await advance(current)
            current = day ?? current
        }
        try await settle()
        return (0...first.days(until: lastDay)).map { first.adding(days: $0) }
    }
}

/// The files of a replay, read one after the other, each streamed in decoded chunks; the next chunk is read
/// and decoded while the current one is handled.
final class ReplayInput: @unchecked Sendable {
    let files: [String]
    let totalBytes: Int64
    private(set) var bytesRead: Int64 = 0

    /// Text read and decoded at a time. The chunk being decoded and the one being handled are both in memory as decoded
    /// events (about 1 KB each; a third may be waiting to be freed): 2 MiB chunks (about 10,000 events of 210 bytes,
    /// as `insightd ingest` reads) keep that near 20 or 30 MB; the reader's default of 4 MiB took a replay of W1 from
    /// about 165 to 190 MB at its peak.
    static let chunkBytes = 2 << 20

    init(files: [String]) throws {
        self.files = files
        var total: Int64 = 0
        for file in files {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file) else {
                throw ReplayError("\(file): cannot read the file")
            }
            total += (attributes[.size] as? NSNumber)?.int64Value ?? 0
        }
        totalBytes = total
    }

    /// Calls `body` with each chunk of each file, in order, and for each of its items whether it is the first
    /// with its `(source, id)` (false for a rejected item): the journal's idempotency, checked against `seen`
    /// on the read-ahead thread while the chunk before is handled.
    func forEachChunk(seen: SeenEventKeys, warmTransactions: Bool,
                      _ body: (String, EventFileReader.Chunk, [Bool]) async throws -> Void) async throws {
        var before: Int64 = 0
        for file in files {
            let reader: SharedEventFileReader
            do {
                reader = SharedEventFileReader(try EventFileReader(path: file, decoder: IngestDecoder(), defaultSource: "replay",
                                                                   chunkBytes: Self.chunkBytes))
            } catch {
                throw ReplayError(error.description)
            }
            let read = { @Sendable () throws -> (EventFileReader.Chunk, [Bool])? in
                guard let chunk = try reader.next() else { return nil }
                var keys: [(source: String, id: String)] = []
                keys.reserveCapacity(chunk.items.count)
                for item in chunk.items {
                    guard case .success(let event) = item.result else { continue }
                    keys.append((event.source, event.id))
                    // Looked up here, ahead, and not by the shards while they run; not for the sorting pass, which holds
                    // every event until the end.
                    if warmTransactions { _ = event.transaction }
                }
                var fresh = try seen.insert(keys)[...]
                return (chunk, chunk.items.map { item in
                    guard case .success = item.result else { return false }
                    return fresh.popFirst() ?? false
                })
            }
            // Read on a thread of its own, not the cooperative pool's: decoding blocks its thread, which the shards need.
            var next = Task.detached { try await BlockingWork.run(read) }
            while let (chunk, fresh) = try await next.value {
                next = Task.detached { try await BlockingWork.run(read) }
                bytesRead = before + chunk.endOffset
                do {
                    try await body(file, chunk, fresh)
                    // Its events are freed on another thread: the next chunk's are handled meanwhile.
                    ReleasedLater(chunk).releaseInBackground()
                } catch {
                    // The read ahead ends before this returns: it must not go on reading (and recording seen keys)
                    // while the caller starts again or removes the scratch directory.
                    next.cancel()
                    _ = try? await next.value
                    throw error
                }
            }
            before += reader.fileSize
        }
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

    public var perPlugin: [(String, Int)] { Self.ranked(tally.perPlugin) }
    public var perKind: [(String, Int)] { Self.ranked(tally.perKind) }
    public var topClients: [(String, Int)] { Array(Self.ranked(tally.perClient).prefix(10)) }
    /// Hits per rule of the `rules` plugin (the rule id its leads carry as evidence).
    public var perRule: [(String, Int)] { Self.ranked(tally.perRule) }
    /// Leads per local day (of `createdAt`) and plugin, for every replayed day.
    public var perDay: [(day: LocalDate, plugins: [String: Int])] { days.map { ($0, tally.perDay[$0] ?? [:]) } }
    /// Inhibited leads per plugin and kind, most first.
    public var perInhibited: [(String, Int)] { Self.ranked(tally.perInhibited) }

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
                          + "：线索\(tally.total)条"
                          + (tally.inhibited == 0 ? "" : "，其中\(tally.inhibited)条因客户有未结反洗钱线索被抑制（不推送）"),
                          "replayed \(events) events over \(days.count) days (\(first) to \(last))"
                          + (rejected > 0 ? ", \(rejected) rejected" : "") + ": \(tally.total) leads"
                          + (tally.inhibited == 0 ? "" : ", \(tally.inhibited) of them inhibited (held back by an open AML lead, never sent)")), ""]
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

    /// The result as one JSON document (see ``jsonHead(events:days:)``, ``leadJSON(_:inhibitedBy:timeZone:)`` and
    /// ``jsonTail()``, which write it a piece at a time).
    public func json() throws -> String {
        try Self.jsonHead(events: events, days: days)
            + leads.map { try Self.leadJSON($0, inhibitedBy: inhibited[$0.id], timeZone: timeZone) }.joined(separator: ",")
            + jsonTail()
    }

    /// The document up to its first lead: the members before `leads`, in the canonical (sorted) key order.
    public static func jsonHead(events: Int, days: [LocalDate]) -> String {
        #"{"days":"# + JSONWriter.string(.array(days.map { .string($0.description) })) + #","events":\#(events),"leads":["#
    }

    /// One lead as the document lists it.
    public static func leadJSON(_ lead: Lead, inhibitedBy: String?, timeZone: TimeZone) throws -> String {
        guard case .object(var fields) = try LeadJSON.value(lead, timeZone: timeZone) else { return "null" }
        if let inhibitedBy { fields["inhibitedBy"] = .string(inhibitedBy) }
        return JSONWriter.string(.object(fields))
    }

    /// The document after its last lead: the members after `leads`.
    public func jsonTail() -> String {
        func pairs(_ rows: [(String, Int)]) -> JSONValue {
            .array(rows.map { .object(["name": .string($0.0), "leads": .number("\($0.1)")]) })
        }
        let summary: JSONValue = .object([
            "perPlugin": pairs(perPlugin), "perKind": pairs(perKind), "perRule": pairs(perRule),
            "topClients": pairs(topClients), "inhibited": .number("\(tally.inhibited)"), "perInhibited": pairs(perInhibited),
        ])
        return #"],"rejected":\#(rejected),"summary":"# + JSONWriter.string(summary) + "}"
    }
}
