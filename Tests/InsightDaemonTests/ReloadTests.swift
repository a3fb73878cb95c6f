import Foundation
import InsightCore
import InsightDaemon
import InsightEngine
import InsightTesting
import Logging
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
}
