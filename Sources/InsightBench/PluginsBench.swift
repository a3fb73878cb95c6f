import ArgumentParser
import Foundation
import InsightCore
import InsightDaemon
import InsightEngine
import InsightStore
import Logging

/// All built-in plugins (as configured in plugins-config/) on a synthetic bank, against a no-op baseline
/// measured in the same run on the same events; then the birthday and loan daily ticks over a large book.
struct PluginsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "Measure dispatch through every built-in plugin, and the daily ticks over a large client book.")

    @Option(help: "Clients in the synthetic bank.") var clients = 100_000
    @Option(help: "Events in total (opening snapshot plus activity).") var events = 1_000_000
    @Option(help: "Days the activity spreads over (90: each event mostly touches a client quiet for days).") var days = 90
    @Option(help: "Clients for the daily-tick measurement (0 skips it).") var tickClients = 1_000_000
    @Option(help: "The plugins-config directory.") var pluginsDir = "plugins-config"
    @Option(help: "Events per dispatcher batch (one commit, one fsync, each).") var dispatchBatch = Dispatcher.defaultBatchSize
    @Option(help: "Clients whose state the dispatcher keeps between batches (dispatcher.client_cache).")
    var clientCache = Dispatcher.defaultCacheCapacity
    @Option(help: "Bus shards.") var shards = max(1, ProcessInfo.processInfo.activeProcessorCount)
    @Option(help: "Directory for the temporary databases (removed afterwards).") var directory = NSTemporaryDirectory()
    @OptionGroup var sqlite: SQLiteMemoryOptions
    @Flag(help: "Skip the no-op baseline (for profiling the plugins alone).") var skipBaseline = false
    @Flag(help: "Skip the plugins run (for profiling the baseline alone).") var skipPlugins = false
    @Flag(help: "Keep the databases afterwards, and print where they are.") var keep = false
    @Option(help: "Seconds between the dispatcher's state checkpoints while it catches up (dispatcher.state_checkpoint; 0 writes the state with every batch).")
    var stateCheckpoint: Double = 10

    func run() async throws {
        let root = (directory as NSString).appendingPathComponent("insightd-bench-\(UUID().uuidString)")
        defer { if keep { print("databases kept in \(root)") } else { try? FileManager.default.removeItem(atPath: root) } }
        let plugins = try loadPlugins()
        let zone = TimeZone(identifier: "Asia/Shanghai") ?? .current
        let calendar = plugins.calendar
        let start = LocalDate(year: 2026, month: 8, day: 1)?.instant(in: zone) ?? Date()
        let bank = SyntheticBank(clients: clients, start: start, days: days, seed: 42)
        print("insightd-bench plugins: \(clients) clients, \(events) events over \(days) days, \(shards) shards, client cache \(clientCache), state checkpoint \(stateCheckpoint > 0 ? "every \(stateCheckpoint) s" : "every batch"), \(sqlite.description); plugins: \(plugins.loaded.filter(\.enabled).map(\.id).joined(separator: ", "))")

        // The same journal twice: one drained by a no-op plugin (the baseline), one by every built-in plugin.
        var results: [(String, Duration, Int, Int)] = []
        let runs = [("baseline: no-op plugin", [LoadedPlugin(NoOpPlugin())]), ("all built-in plugins", plugins.loaded)]
        for (label, set) in runs.dropFirst(skipBaseline ? 1 : 0).dropLast(skipPlugins ? 1 : 0) {
            let database = try AppDatabase.open(directory: root + "/\(results.count)", memory: sqlite.memoryUse)
            try journal(bank, into: database)
            let settings = SettingsBox(PipelineSettings(plugins: set, timeZone: zone, locale: "zh-CN", workingCalendar: calendar))
            let dispatcher = try Dispatcher(database: database, settings: settings, clock: .eventTime, shards: shards,
                                            batchSize: dispatchBatch, cacheCapacity: clientCache,
                                            stateWrites: stateCheckpoint > 0 ? .checkpointed(every: .milliseconds(Int64(stateCheckpoint * 1000))) : .everyBatch,
                                            logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
            var handled = 0
            // The dispatch's own peak: generating and appending the events is not part of it, nor is the memory the
            // allocator kept from it (given back first, as a daemon that only dispatches never had it).
            ProcessHeap.trimNow()
            let reset = PeakRSS.reset()
            let before = PeakRSS.currentMegabytes()
            let clock = ContinuousClock()
            let cpuBefore = CPUSample.now()
            let elapsed = try await clock.measure { handled = try await dispatcher.drain() }
            let cpu = CPUSample.now() - cpuBefore
            let leads = try database.leadCount()
            print("  after it: \(PeakRSS.split())")
            results.append((label, elapsed, handled, leads))
            report(label, count: handled, time: elapsed, extra: String(format: "%d leads, CPU %.1f s, stolen %.1f s, peak RSS %d MB (%d MB before it)",
                                                                leads, cpu.process, cpu.steal, PeakRSS.megabytes(), before)
                   + (reset ? "" : " (the peak could not be started over: it is the whole process's)"))
            if leads > 0 {
                print("  leads: " + (try database.leadCountsByKind()).map { "\($0.plugin)/\($0.kind) \($0.count)" }.joined(separator: ", "))
            }
            try database.close()
        }
        if results.count == 2 {
            let ratio = results[1].1.timeInterval / max(0.000_001, results[0].1.timeInterval)
            print(String(format: "plugins cost: %.2f× the baseline dispatch time", ratio))
        }

        guard tickClients > 0 else { return }
        // The daily ticks over a large book: birthdays through the birthday index, loans through the maturity index.
        let tickBank = SyntheticBank(clients: tickClients, start: start, days: 1, seed: 7)
        let database = try AppDatabase.open(directory: root + "/ticks")
        // Journaled, then let go: the projection's peak below is the dispatcher's, not the generated events'.
        let openingCount: Int
        do {
            let opening = tickBank.openingEvents(loanShare: 0.5, depositShare: 0.3)
            openingCount = opening.count
            for chunk in stride(from: 0, to: opening.count, by: 5000) {
                try append(Array(opening[chunk..<min(chunk + 5000, opening.count)]), to: database)
            }
        }
        ProcessHeap.trimNow()
        let settings = SettingsBox(PipelineSettings(plugins: plugins.loaded, timeZone: zone, locale: "zh-CN", workingCalendar: calendar))
        // Project the book with no plugin (the ticks are what is measured here).
        let projector = try Dispatcher(database: database,
                                       settings: SettingsBox(PipelineSettings(plugins: [], timeZone: zone, locale: "zh-CN")),
                                       clock: .eventTime, shards: shards, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        let projectReset = PeakRSS.reset()  // the projection's own peak, not the dispatch runs' before it
        let projectTime = try await ContinuousClock().measure { _ = try await projector.drain() }
        report("project \(tickClients) clients (no plugins)", count: openingCount, time: projectTime,
               extra: "peak RSS \(PeakRSS.megabytes()) MB" + (projectReset ? "" : " (of the whole process)"))
        let dispatcher = try Dispatcher(database: database, settings: settings, clock: .eventTime, shards: shards,
                                        logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        let day = LocalDate(start, in: zone).adding(days: 1)
        for plugin in ["birthday-care", "loan-renewal"] {
            guard let time = plugins.loaded.first(where: { $0.id == plugin })?.schedule else { continue }
            let tick = ScheduleTick(scheduledAt: day.instant(at: time, in: zone), localDate: day)
            let begin = ContinuousClock.now
            let leads = try await dispatcher.runTick(tick, plugin: plugin)
            let elapsed = ContinuousClock.now - begin
            print(String(format: "%-46@ %9d clients in %7.2f s  (%d leads)", "daily tick: \(plugin)" as NSString, tickClients,
                         elapsed.timeInterval, leads.count))
        }
        try database.close()
    }

    /// Journals the bank's opening snapshot and then its activity, up to `events` in all, a few thousand at a time;
    /// none of them stays in memory afterwards.
    private func journal(_ bank: SyntheticBank, into database: AppDatabase) throws {
        let openingCount: Int
        do {
            let opening = bank.openingEvents()
            openingCount = opening.count
            for chunk in stride(from: 0, to: opening.count, by: 5000) {
                try append(Array(opening[chunk..<min(chunk + 5000, opening.count)]), to: database)
            }
        }
        let activity = max(0, events - openingCount)
        var index = 0
        while index < activity {
            let count = min(5000, activity - index)
            try append((index..<(index + count)).map { bank.activityEvent($0, of: activity) }, to: database)
            index += count
        }
    }

    private func loadPlugins() throws -> (loaded: [LoadedPlugin], calendar: WorkingCalendar) {
        try ConfigLoader().loadPluginsDirectory((pluginsDir as NSString).standardizingPath)
    }

    private func append(_ batch: [Event], to database: AppDatabase) throws {
        _ = try database.append(batch, receivedAt: Date())
    }

    private func report(_ phase: String, count: Int, time: Duration, extra: String) {
        print(String(format: "%-46@ %9d events in %7.2f s = %9.0f events/s  (%@)", phase as NSString, count, time.timeInterval,
                     Double(count) / time.timeInterval, extra as NSString))
    }
}
