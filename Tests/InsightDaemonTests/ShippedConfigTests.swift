import Foundation
import InsightCore
import InsightDaemon
import InsightPlugins
import InsightStore
import Testing

/// The files the repository ships must load, and the plugin registry, the plugin folders and the
/// plugins-config files must agree.
@Suite struct ShippedConfigTests {
    @Test func theShippedConfigurationLoads() throws {
        let loaded = try ConfigLoader().load(path: repositoryRoot + "/deploy/insightd.yaml", environment: [:])
        #expect(loaded.config.timezone == "Asia/Shanghai")
        #expect(loaded.config.listen.description == "127.0.0.1:8080")
        #expect(loaded.stateDirectory == repositoryRoot + "/deploy/var")
        #expect(loaded.pluginsDirectory == repositoryRoot + "/plugins-config")
        #expect(loaded.plugins.map(\.id) == BuiltinPlugins.all.map(\.id), "every built-in plugin has its file")
        #expect(loaded.warnings.allSatisfy { $0.contains("literal secret") || $0.contains("calendar.yaml") },
                "only the demo secrets and the provisional calendar year are flagged")
        #expect(loaded.workingCalendar.covers(2026) && loaded.workingCalendar.covers(2027))
        #expect(!loaded.workingCalendar.isWorkingDay(LocalDate("2026-10-05")!), "National Day week is off")
        #expect(loaded.workingCalendar.isWorkingDay(LocalDate("2026-10-10")!), "a Saturday worked as a make-up day")
        #expect(loaded.secrets["sources[0].secret"]?.value.hasPrefix("whsec_") == true)
    }

    @Test func storageSetsSQLitesMemory() throws {
        let shipped = try ConfigLoader().load(path: repositoryRoot + "/deploy/insightd.yaml", environment: [:])
        #expect(shipped.config.storage.memoryUse == .daemon, "the shipped file states the defaults")
        let fixture = ConfigFixture(main: "plugins_dir: plugins\nstorage: {page_cache_mb: 32, memory_map_mb: 0}\n")
        let loaded = try fixture.load()
        #expect(loaded.config.storage.memoryUse == AppDatabase.MemoryUse(writerCacheMiB: 32, memoryMapMiB: 0))
        #expect(try ConfigFixture(main: "plugins_dir: plugins\n").load().config.storage.memoryUse == .daemon)
    }

    @Test func registryFoldersAndConfigFilesAgree() throws {
        let fileManager = FileManager.default
        let configFiles = Set(try fileManager.contentsOfDirectory(atPath: repositoryRoot + "/plugins-config")
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) })
        let folders = Set(try fileManager.contentsOfDirectory(atPath: repositoryRoot + "/Sources/InsightPlugins")
            .filter { !$0.hasSuffix(".swift") })
        let registered = BuiltinPlugins.all.map(\.id)
        #expect(Set(registered).count == registered.count, "plugin ids are unique")
        let auxiliary = ConfigLoader().auxiliaryFiles
        #expect(configFiles.subtracting(auxiliary) == Set(registered), "one plugins-config/<id>.yaml per registered plugin")
        // Folder names are the ids in UpperCamelCase: rules → Rules, birthday-care → BirthdayCare.
        let expectedFolders = Set(registered.map { $0.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined() })
        #expect(folders == expectedFolders, "one Sources/InsightPlugins/<Plugin>/ folder per registered plugin")
    }

    @Test func everySamplePluginConfigDecodes() throws {
        for registration in BuiltinPlugins.all {
            let document = try YAMLDocument(contentsOf: repositoryRoot + "/plugins-config/\(registration.id).yaml")
            let resources = DirectoryResources(directory: repositoryRoot + "/plugins-config")
            let plugin = try document.decode { try registration.load(from: $0, resources: resources) }
            #expect(plugin.id == registration.id)
        }
    }

    @Test func theShippedRulesFireOnTheExampleEvents() throws {
        let document = try YAMLDocument(contentsOf: repositoryRoot + "/plugins-config/rules.yaml")
        let configuration = try document.decode(RulesConfiguration.self)
        #expect(configuration.rules.map(\.id) == ["large-inflow", "large-cash-withdrawal", "private-client-large-debit", "policy-lapse"])
    }

    @Test func theShippedRiskAlertsFileShowsEveryDefault() throws {
        let document = try YAMLDocument(contentsOf: repositoryRoot + "/plugins-config/risk-alerts.yaml")
        let shipped = try document.decode(RiskAlertsConfiguration.self)
        var defaults = RiskAlertsConfiguration()
        defaults.templates = [:]
        #expect(shipped == defaults, "risk-alerts.yaml and the code defaults agree")
    }
}
