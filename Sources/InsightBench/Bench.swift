import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import InsightCore
import InsightEngine
import InsightStore
import Logging

/// Appends and dispatches synthetic events through the real journal and bus, and prints figures.
/// Timings are printed, never asserted: the machines are shared and noisy.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "insightd-bench",
        abstract: "insightd benchmarks: they print figures and never assert timings.",
        subcommands: [Bench.self, PluginsBench.self, InboxBench.self, SignedRequests.self, DeliveryBench.self, TextsBench.self,
                      StoreBench.self],
        defaultSubcommand: Bench.self)
}

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Measure decode, journal append and dispatch throughput, and peak RSS.")

    @Option(help: "Synthetic events to push through.") var events = 1_000_000
    @Option(help: "Distinct clients the events spread over.") var clients = 10_000
    @Option(help: "Events per append transaction.") var appendBatch = 1_000
    @Option(help: "Events per dispatcher batch.") var dispatchBatch = 2_048
    @Option(help: "Bus shards.") var shards = max(1, ProcessInfo.processInfo.activeProcessorCount)
    @Option(help: "Directory for the temporary database (removed afterwards).") var directory = NSTemporaryDirectory()

    func run() async throws {
        let root = (directory as NSString).appendingPathComponent("insightd-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let database = try AppDatabase.open(directory: root)
        print("insightd-bench: \(events) events, \(clients) clients, append batch \(appendBatch), dispatch batch \(dispatchBatch), \(shards) shards")
        print("synchronous=\(try database.synchronousMode()) (2 = FULL), journal_mode=\(try database.journalMode())")

        // 1. Journal append in batches, synchronous=FULL. Events are generated per batch so memory stays flat.
        var appended = 0
        let append = try measure {
            var index = 0
            while index < events {
                let count = min(appendBatch, events - index)
                let batch = (index..<(index + count)).map { Synthetic.event($0, clients: clients) }
                appended += try database.append(batch, receivedAt: Date()).acceptedCount
                index += count
            }
        }
        precondition(appended == events)
        report("journal append", count: events, time: append, extra: "peak RSS \(PeakRSS.megabytes()) MB")

        // 2. Reading the journal back (row fetch + JSON parse), the dispatcher's first step.
        var read = 0
        let readTime = try measure {
            var position: Int64 = 0
            while true {
                let batch = try database.readJournal(after: position, limit: dispatchBatch)
                guard let last = batch.last else { break }
                read += batch.count
                position = last.sequence
            }
        }
        precondition(read == events)
        report("journal read (fetch + parse)", count: events, time: readTime, extra: "peak RSS \(PeakRSS.megabytes()) MB")

        // 3. Dispatch: journal → state projection → sharded bus → a no-op plugin → commit.
        let settings = SettingsBox(PipelineSettings(plugins: [LoadedPlugin(NoOpPlugin())],
                                                    timeZone: TimeZone(identifier: "Asia/Shanghai") ?? .current,
                                                    locale: "zh-CN"))
        let dispatcher = try Dispatcher(database: database, settings: settings, clock: .eventTime, shards: shards,
                                        batchSize: dispatchBatch, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        var dispatched = 0
        let dispatch = try await measureAsync { dispatched = try await dispatcher.drain() }
        precondition(dispatched == events)
        report("dispatch (projection + bus + no-op plugin)", count: events, time: dispatch,
               extra: "peak RSS \(PeakRSS.megabytes()) MB")
        print("clients projected: \(try database.clientCount()), consumer position: \(await dispatcher.currentPosition)")
        let pipelinePeak = PeakRSS.megabytes()
        print("peak RSS (append + read + dispatch): \(pipelinePeak) MB")

        // 4. Decoding: insightd's parser + validation vs Foundation's JSONSerialization on the same lines.
        let sample = (0..<min(events, 100_000)).map { Synthetic.line($0, clients: clients) }
        let bytes = sample.map { Array($0.utf8) }
        let totalBytes = bytes.reduce(0) { $0 + $1.count }
        var accepted = 0
        let decode = try measure {
            for line in bytes {
                if case .success = NativeEventDecoder().decodeEnvelope(try JSONParser.parse(line), defaultSource: "bench") {
                    accepted += 1
                }
            }
        }
        var parsed = 0
        let foundation = try measure {
            for line in sample {
                if (try JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any] { parsed += 1 }
            }
        }
        precondition(accepted == sample.count && parsed == sample.count, "every synthetic line decodes")
        report("decode (JSONParser + validation)", count: sample.count, time: decode,
               extra: String(format: "%.1f MB/s", Double(totalBytes) / 1_000_000 / decode.timeInterval))
        report("baseline: Foundation JSONSerialization", count: sample.count, time: foundation,
               extra: String(format: "%.1f MB/s, parse only, numbers as Double", Double(totalBytes) / 1_000_000 / foundation.timeInterval))

        print("peak RSS overall: \(PeakRSS.megabytes()) MB")
        try database.close()
    }

    private func measure(_ body: () throws -> Void) rethrows -> Duration {
        let clock = ContinuousClock()
        return try clock.measure(body)
    }

    private func measureAsync(_ body: () async throws -> Void) async rethrows -> Duration {
        let start = ContinuousClock.now
        try await body()
        return ContinuousClock.now - start
    }

    private func report(_ phase: String, count: Int, time: Duration, extra: String) {
        let rate = Double(count) / time.timeInterval
        print(String(format: "%-46@ %9d events in %7.2f s = %9.0f events/s  (%@)", phase as NSString, count, time.timeInterval,
                     rate, extra as NSString))
    }
}

/// Accepts every event and does nothing: what is measured is the pipeline around plugins.
struct NoOpPlugin: Plugin {
    struct Configuration: PluginConfiguration {
        var enabled = true
    }

    static let id = "noop"
    static let summary = "benchmark plugin"
    let configuration = Configuration()

    init() {}
    init(configuration: Configuration) {}

    var subscriptions: [EventPattern] { EventPattern("*").map { [$0] } ?? [] }
    func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft] { [] }
}

/// About 210-byte account.transaction events, like a core banking feed.
enum Synthetic {
    static func line(_ index: Int, clients: Int) -> String {
        let client = index % clients
        let second = index % 86_400
        let time = String(format: "2026-11-20T%02d:%02d:%02d+08:00", second / 3600, second % 3600 / 60, second % 60)
        return "{\"id\":\"evt-\(index)\",\"type\":\"account.transaction\",\"time\":\"\(time)\",\"clientId\":\"C\(client)\",\"source\":\"core-banking\",\"data\":{\"accountId\":\"62220202\(client)\",\"amount\":\"\(index % 90_000).50\",\"currency\":\"CNY\",\"direction\":\"\(index % 3 == 0 ? "debit" : "credit")\",\"channel\":\"transfer\"}}"
    }

    static func event(_ index: Int, clients: Int, idPrefix: String = "evt-") -> Event {
        let client = index % clients
        return Event(id: idPrefix + String(index), source: "core-banking", type: EventType.accountTransaction,
                     time: Date(timeIntervalSince1970: 1_795_000_000 + Double(index % 86_400)), clientId: "C\(client)",
                     data: .object([
                        "accountId": .string("62220202\(client)"), "amount": .string("\(index % 90_000).50"),
                        "currency": .string("CNY"), "direction": .string(index % 3 == 0 ? "debit" : "credit"),
                        "channel": .string("transfer"),
                     ]))
    }
}

/// SQLite's memory, as `storage` in `insightd.yaml` sets it for the daemon.
struct SQLiteMemoryOptions: ParsableArguments {
    @Option(help: "The writer's page cache in MiB (storage.page_cache_mb).")
    var pageCacheMb = AppDatabase.MemoryUse.daemon.writerCacheMiB
    @Option(help: "The memory map in MiB, 0 for none (storage.memory_map_mb).")
    var memoryMapMb = AppDatabase.MemoryUse.daemon.memoryMapMiB

    func validate() throws {
        guard (2...65_536).contains(pageCacheMb) else { throw ValidationError("--page-cache-mb must be 2 to 65536") }
        guard (0...2_047).contains(memoryMapMb) else { throw ValidationError("--memory-map-mb must be 0 to 2047") }
    }

    var memoryUse: AppDatabase.MemoryUse { AppDatabase.MemoryUse(writerCacheMiB: pageCacheMb, memoryMapMiB: memoryMapMb) }
    var description: String { "SQLite page cache \(pageCacheMb) MiB, memory map \(memoryMapMb) MiB" }
}

enum PeakRSS {
    /// VmHWM from /proc/self/status, in MB (0 where /proc is absent).
    static func megabytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.filter(\.isNumber)
            return (Int(digits) ?? 0) / 1024
        }
        return 0
    }

    /// Starts the peak over from the current RSS (Linux: `5` to /proc/self/clear_refs), so that a phase's peak is its
    /// own and not the set-up's (memory the set-up freed but the allocator kept still counts: see the RSS before).
    /// Returns false when the peak could not be started over (no /proc, or no permission): the peak printed after
    /// is then the whole process's.
    @discardableResult
    static func reset() -> Bool {
        do {
            try "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
            return true
        } catch {
            return false
        }
    }

    /// The current RSS split as /proc/self/status gives it: anonymous memory, file pages (SQLite's memory map).
    static func split() -> String {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return "" }
        return status.split(separator: "\n").filter { $0.hasPrefix("RssAnon:") || $0.hasPrefix("RssFile:") }
            .map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ") }.joined(separator: ", ")
    }

    /// The current RSS (VmRSS), in MB.
    static func currentMegabytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return (Int(line.filter(\.isNumber)) ?? 0) / 1024
        }
        return 0
    }
}

/// CPU time this process used (user + system), and the machine's stolen time: on a shared VM a run whose
/// neighbours stole CPU shows it here, next to its figure.
struct CPUSample {
    var process: Double
    var steal: Double

    static func now() -> CPUSample {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return CPUSample(process: Double(time.tv_sec) + Double(time.tv_nsec) / 1e9, steal: stolenSeconds())
    }

    /// The `steal` column of /proc/stat's cpu line, in seconds (0 where /proc is absent).
    private static func stolenSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return 0 }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return fields.count > 7 && ticks > 0 ? fields[7] / ticks : 0
    }

    static func - (lhs: CPUSample, rhs: CPUSample) -> CPUSample {
        CPUSample(process: lhs.process - rhs.process, steal: lhs.steal - rhs.steal)
    }
}
