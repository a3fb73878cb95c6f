import Foundation
import InsightCore
import InsightDaemon
import InsightEngine
import InsightStore
import InsightTesting
import Logging
import Testing

/// Every built-in plugin, as shipped in plugins-config/, on a synthetic bank: the same events and ticks give
/// byte-identical ledgers, whatever the shard count and batch size, and a replay from offset 0 too.
@Suite struct BuiltinPluginsDeterminismTests {
    static let zone = TimeZone(identifier: "Asia/Shanghai") ?? .current

    /// Runs the bank through a fresh database: events in `batchSize` batches, interleaved with the daily
    /// ticks of each simulated day, as the scheduler would fire them between batches.
    private func ledger(shards: Int, batchSize: Int, events: [Event], days: [LocalDate]) async throws -> (bodies: [String], memories: Int) {
        let directory = TemporaryDirectory()
        let database = try AppDatabase.open(directory: directory.path)
        let shipped = try ConfigLoader().loadPluginsDirectory(repositoryRoot + "/plugins-config")
        let settings = SettingsBox(PipelineSettings(plugins: shipped.loaded, timeZone: Self.zone, locale: "zh-CN",
                                                    workingCalendar: shipped.calendar))
        let dispatcher = try Dispatcher(database: database, settings: settings, clock: .eventTime, shards: shards,
                                        batchSize: batchSize, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        var remaining = events[...]
        for day in days {
            let end = day.adding(days: 1).instant(in: Self.zone)
            let today = remaining.prefix { $0.time < end }
            remaining = remaining.dropFirst(today.count)
            if !today.isEmpty {
                _ = try database.append(Array(today), receivedAt: Date(timeIntervalSince1970: 0))
                try await dispatcher.drain()
            }
            for plugin in shipped.loaded where plugin.enabled {
                guard let time = plugin.schedule else { continue }
                try await dispatcher.runTick(ScheduleTick(scheduledAt: day.instant(at: time, in: Self.zone), localDate: day),
                                             plugin: plugin.id)
            }
        }
        let bodies = try database.leadBodies()
        let memories = try database.loadClients(Set(events.compactMap(\.clientId))).values.reduce(0) { $0 + $1.memory.count }
        try database.close()
        return (bodies, memories)
    }

    @Test func theSameEventsAndTicksGiveTheSameLeads() async throws {
        let start = LocalDate(year: 2026, month: 9, day: 1)?.instant(in: Self.zone) ?? Date()
        let bank = SyntheticBank(clients: 400, managers: 5, start: start, days: 30, seed: 11)
        let activity = 6000
        let events = bank.openingEvents(loanShare: 0.5, depositShare: 0.5) + (0..<activity).map { bank.activityEvent($0, of: activity) }
        let days = (0..<31).map { LocalDate(start, in: Self.zone).adding(days: $0) }

        let first = try await ledger(shards: 4, batchSize: 256, events: events, days: days)
        let again = try await ledger(shards: 4, batchSize: 256, events: events, days: days)
        let oneShard = try await ledger(shards: 1, batchSize: 1000, events: events, days: days)
        #expect(first.bodies.count > 100, "the bank produces a real number of leads (\(first.bodies.count))")
        #expect(first.bodies == again.bodies)
        #expect(first.bodies == oneShard.bodies)
        #expect(first.memories > 0, "plugins kept per-client memory")
        // Every plugin with work in this bank made leads.
        let plugins = Set(first.bodies.compactMap { body in
            (try? JSONParser.parse(body))?["plugin"]?.stringValue
        })
        #expect(plugins.isSuperset(of: ["birthday-care", "loan-renewal", "product-match", "risk-alerts", "rules"]), "plugins seen: \(plugins.sorted())")
    }
}
