import Foundation
import InsightCore
import InsightDaemon
import InsightEngine
import InsightTesting
import Logging
import Synchronization
import Testing

@Suite struct ReloadTests {
    @Test func aBadConfigIsRefusedAndTheRunningOneStays() throws {
        let fixture = ConfigFixture(main: "plugins_dir: plugins\ntimezone: Asia/Shanghai\n")
        let running = try fixture.load()
        let settings = SettingsBox(running.pipelineSettings)
        let service = ReloadService(configPath: fixture.mainPath, loader: ConfigLoader(), settings: settings,
                                    running: running, notifier: SystemdNotifier(environment: [:]),
                                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                                    environment: { [:] })

        fixture.directory.write("insightd.yaml", "plugins_dir: plugins\ntimezone: Mars/Base\n")
        #expect(service.reload() == false)
        #expect(settings.current.timeZone.identifier == "Asia/Shanghai")
        #expect(settings.current.enabledPlugins.map(\.id) == ["rules"])

        fixture.directory.write("plugins/rules.yaml", "enabled: false\n")
        fixture.directory.write("insightd.yaml", "plugins_dir: plugins\ntimezone: Asia/Hong_Kong\n")
        #expect(service.reload() == true)
        #expect(settings.current.timeZone.identifier == "Asia/Hong_Kong")
        #expect(settings.current.enabledPlugins.isEmpty)
    }

    @Test func routesAndTheRetryScheduleAreReloaded() throws {
        let main = """
            plugins_dir: plugins
            receivers: [{name: console, kind: console}, {name: queue, kind: console}]
            routes: [{receivers: [console]}]
            delivery: {retry_schedule: [0s, 5s]}
            """
        let fixture = ConfigFixture(main: main)
        let running = try fixture.load()
        let applied = Mutex<LoadedConfiguration?>(nil)
        let service = ReloadService(configPath: fixture.mainPath, loader: ConfigLoader(), settings: SettingsBox(running.pipelineSettings),
                                    running: running, notifier: SystemdNotifier(environment: [:]),
                                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                                    environment: { [:] }, onReload: { loaded in applied.withLock { $0 = loaded } })
        fixture.directory.write("insightd.yaml", main.replacingOccurrences(of: "routes: [{receivers: [console]}]", with: """
            routes: [{match: {priority: [urgent]}, receivers: [queue]}, {receivers: [console], quiet_hours: "21:00-08:00"}]
            """).replacingOccurrences(of: "[0s, 5s]", with: "[0s, 1m, 1h]"))
        #expect(service.reload())
        let loaded = try #require(applied.withLock { $0 })
        #expect(loaded.router.routes.map(\.receivers) == [["queue"], ["console"]])
        #expect(loaded.router.routes.last?.quietHours != nil)
        #expect(loaded.retryPolicy.schedule == [0, 60, 3600])

        fixture.directory.write("insightd.yaml", main.replacingOccurrences(of: "routes: [{receivers: [console]}]",
                                                                           with: "routes: [{receivers: [nobody]}]"))
        applied.withLock { $0 = nil }
        #expect(service.reload() == false, "a route to an unknown receiver is refused")
        #expect(applied.withLock { $0 } == nil, "and nothing of it is applied")
    }
}
