import Foundation
import InsightCore
import InsightEngine
import InsightPostgres

/// A validated configuration with paths made absolute, secrets resolved and plugins built.
public struct LoadedConfiguration: Sendable {
    public var config: DaemonConfig
    /// The main file, as given.
    public var configPath: String
    /// The directory of the main file; relative paths in it are relative to this.
    public var baseDirectory: String
    public var stateDirectory: String
    public var pluginsDirectory: String
    /// Message template overrides (`delivery.templates_dir`, default `templates/` in the plugins directory).
    public var templatesDirectory: String
    /// Every built-in plugin whose file exists, enabled or not, in registry order.
    public var plugins: [LoadedPlugin]
    /// Working days from `calendar.yaml` in the plugins directory.
    public var workingCalendar: WorkingCalendar
    /// Resolved secrets by the key path that named them (e.g. `sources[0].secret`).
    public var secrets: [String: Secret]
    /// Things that work but deserve attention (literal secrets, missing plugin files).
    public var warnings: [String]

    /// A path from the configuration, made absolute against the config file's directory.
    public func absolutePath(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let joined = expanded.hasPrefix("/") ? expanded : (baseDirectory as NSString).appendingPathComponent(expanded)
        return (joined as NSString).standardizingPath
    }

    /// With `store.kind: postgres`, how to reach the store (its URL resolved).
    public var postgresSettings: PostgresSettings? {
        guard config.store.kind == .postgres, let url = secrets["store.url"]?.value else { return nil }
        return try? config.store.settings(url: url)
    }

    /// This instance's cluster settings (the `cluster:` section, or its defaults).
    public var clusterSettings: ClusterSettings {
        config.cluster ?? ClusterSettings(instance: ProcessInfo.processInfo.hostName)
    }

    public var pipelineSettings: PipelineSettings {
        PipelineSettings(plugins: plugins, timeZone: config.timeZone, locale: config.locale.rawValue,
                         workingCalendar: workingCalendar, amlKinds: Set(config.delivery.amlKinds),
                         snoozeMaxDays: config.snooze.maxDays)
    }
}
