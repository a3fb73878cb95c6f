import Foundation
import InsightCore
import InsightDaemon
import InsightEngine
import InsightStore
import InsightTesting
import Logging
import Testing

@Suite struct SchedulerServiceTests {
    @Test func onStartTheMissedTickOfTheLastDayRunsOnceAndIsRecorded() async throws {
        let directory = TemporaryDirectory()
        let database = try AppDatabase.open(directory: directory.path)
        let recorder = PluginRecorder()
        let plugin = LoadedPlugin(RecordingPlugin(configuration: .init(recorder: recorder, schedule: LocalTime(hour: 8, minute: 30))))
        let shanghai = try #require(TimeZone(identifier: "Asia/Shanghai"))
        let settings = SettingsBox(PipelineSettings(plugins: [plugin], timeZone: shanghai, locale: "zh-CN"))
        // The daemon was down over the 08:30 tick and comes back at 10:00 the same day.
        let clock = FixedTimeSource("2026-11-20T10:00:00+08:00")
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let dispatcher = try Dispatcher(database: database, settings: settings, clock: .live(clock), logger: logger)
        _ = try database.append([EventFixtures.transaction("t1", client: "C1", amount: "5")], receivedAt: clock.now())
        try await dispatcher.drain()

        let scheduler = SchedulerService(dispatcher: dispatcher, database: database, settings: settings,
                                         timeSource: clock, logger: logger)
        try await scheduler.runDueTicks(now: clock.now())
        #expect(recorder.tickLog.map(\.localDate.description) == ["2026-11-20"])
        #expect(try database.leads().map(\.key) == ["recording:C1:2026-11-20"])

        // Later the same day: nothing new is due; the next day at 08:30 the next tick runs.
        clock.advance(by: 3600)
        try await scheduler.runDueTicks(now: clock.now())
        #expect(recorder.tickLog.count == 1)
        clock.set(try #require(RFC3339.parse("2026-11-21T08:30:00+08:00")))
        try await scheduler.runDueTicks(now: clock.now())
        #expect(recorder.tickLog.map(\.localDate.description) == ["2026-11-20", "2026-11-21"])
    }
}
