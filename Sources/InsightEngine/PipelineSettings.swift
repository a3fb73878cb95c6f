import Foundation
import InsightCore
import Synchronization

/// The part of the configuration the pipeline reads. The daemon swaps it atomically on reload; the
/// dispatcher picks up the new value at its next batch.
public struct PipelineSettings: Sendable {
    public var plugins: [LoadedPlugin]
    public var timeZone: TimeZone
    public var locale: String
    public var workingCalendar: WorkingCalendar

    public init(plugins: [LoadedPlugin], timeZone: TimeZone, locale: String,
                workingCalendar: WorkingCalendar = .weekendsOnly) {
        self.plugins = plugins
        self.timeZone = timeZone
        self.locale = locale
        self.workingCalendar = workingCalendar
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
