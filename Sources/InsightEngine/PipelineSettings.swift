import Foundation
import InsightCore
import Synchronization

/// The part of the configuration the pipeline and the API read. The daemon swaps it atomically on reload; the
/// dispatcher picks up the new value at its next batch, the API at its next request.
public struct PipelineSettings: Sendable {
    public var plugins: [LoadedPlugin]
    public var timeZone: TimeZone
    public var locale: String
    public var workingCalendar: WorkingCalendar
    /// `delivery.aml_kinds`: only scope compliance snoozes, dismisses, decides or reads them in full.
    public var amlKinds: Set<String>
    /// `snooze.max_days`: the furthest ahead a snooze may reach.
    public var snoozeMaxDays: Int

    public init(plugins: [LoadedPlugin], timeZone: TimeZone, locale: String,
                workingCalendar: WorkingCalendar = .weekendsOnly, amlKinds: Set<String> = AMLNotice.defaultKinds,
                snoozeMaxDays: Int = 90) {
        self.plugins = plugins
        self.timeZone = timeZone
        self.locale = locale
        self.workingCalendar = workingCalendar
        self.amlKinds = amlKinds
        self.snoozeMaxDays = snoozeMaxDays
    }

    public var enabledPlugins: [LoadedPlugin] { plugins.filter(\.enabled) }

    /// Enabled plugins with a daily schedule, by id.
    public var schedules: [String: LocalTime] {
        var result: [String: LocalTime] = [:]
        for plugin in enabledPlugins { if let time = plugin.schedule { result[plugin.id] = time } }
        return result
    }
}

/// Holds the current settings; readers always see a complete value.
public final class SettingsBox: Sendable {
    private let value: Mutex<PipelineSettings>

    public init(_ settings: PipelineSettings) {
        value = Mutex(settings)
    }

    public var current: PipelineSettings {
        value.withLock { $0 }
    }

    public func replace(with settings: PipelineSettings) {
        value.withLock { $0 = settings }
    }
}
