import Foundation

/// A plugin type in the built-in list, able to build a ``LoadedPlugin`` from any `Decoder` (the daemon
/// passes its strict YAML decoder), so InsightCore needs no YAML library.
public struct PluginRegistration: Sendable {
    public let id: String
    public let summary: String
    private let build: @Sendable (any Decoder) throws -> LoadedPlugin

    public static func of<P: Plugin>(_ type: P.Type) -> PluginRegistration {
        PluginRegistration(id: P.id, summary: P.summary) { decoder in
            let configuration = try P.Configuration(from: decoder)
            return LoadedPlugin(try P(configuration: configuration))
        }
    }

    private init(id: String, summary: String, build: @escaping @Sendable (any Decoder) throws -> LoadedPlugin) {
        self.id = id
        self.summary = summary
        self.build = build
    }

    /// Decodes the plugin's configuration and builds it. Throws `DecodingError` or ``PluginConfigurationError``.
    public func load(from decoder: any Decoder) throws -> LoadedPlugin {
        try build(decoder)
    }
}

/// A built plugin behind a uniform face, as the dispatcher and scheduler use it.
public struct LoadedPlugin: Sendable {
    public let id: String
    public let enabled: Bool
    public let subscriptions: [EventPattern]
    public let schedule: LocalTime?
    private let handleEvent: @Sendable (Event, PluginContext) throws -> [LeadDraft]
    private let handleTick: @Sendable (ScheduleTick, PluginContext) throws -> [LeadDraft]

    public init<P: Plugin>(_ plugin: P) {
        id = P.id
        enabled = plugin.configuration.enabled
        subscriptions = plugin.subscriptions
        schedule = plugin.schedule
        handleEvent = { try plugin.handle($0, context: $1) }
        handleTick = { try plugin.tick($0, context: $1) }
    }

    public func subscribes(to type: String) -> Bool {
        subscriptions.contains { $0.matches(type) }
    }

    public func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft] {
        try handleEvent(event, context)
    }

    public func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft] {
        try handleTick(tick, context)
    }
}
