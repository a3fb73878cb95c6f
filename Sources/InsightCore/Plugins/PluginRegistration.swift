import Foundation

/// A plugin type in the built-in list, able to build a ``LoadedPlugin`` from any `Decoder` (the daemon
/// passes its strict YAML decoder), so InsightCore needs no YAML library.
public struct PluginRegistration: Sendable {
    public let id: String
    public let summary: String
    private let build: @Sendable (any Decoder, any PluginResources) throws -> LoadedPlugin

    public static func of<P: Plugin>(_ type: P.Type) -> PluginRegistration {
        PluginRegistration(id: P.id, summary: P.summary) { decoder, resources in
            let configuration = try P.Configuration(from: decoder)
            return LoadedPlugin(try P.load(configuration: configuration, resources: resources))
        }
    }

    private init(id: String, summary: String,
                 build: @escaping @Sendable (any Decoder, any PluginResources) throws -> LoadedPlugin) {
        self.id = id
        self.summary = summary
        self.build = build
    }

    /// Decodes the plugin's configuration and builds it. Throws `DecodingError` or ``PluginConfigurationError``.
    public func load(from decoder: any Decoder, resources: any PluginResources = NoPluginResources()) throws -> LoadedPlugin {
        try build(decoder, resources)
    }
}

/// A built plugin behind a uniform face, as the dispatcher and scheduler use it.
public struct LoadedPlugin: Sendable {
    public let id: String
    public let enabled: Bool
    public let subscriptions: [EventPattern]
    public let schedule: LocalTime?
    public let publishedTexts: [PublishedText]
    /// False for a plugin without per-client memory: the host then skips the memory plumbing.
    public let usesMemory: Bool
    private let handleEvent: @Sendable (Event, PluginContext, inout JSONValue?) throws -> (drafts: [LeadDraft], memoryChanged: Bool)
    private let handleTick: @Sendable (ScheduleTick, PluginContext) throws -> [LeadDraft]

    public init<P: Plugin>(_ plugin: P) {
        id = P.id
        enabled = plugin.configuration.enabled
        subscriptions = plugin.subscriptions
        schedule = plugin.schedule
        publishedTexts = plugin.publishedTexts
        usesMemory = P.Memory.self != NoMemory.self
        handleEvent = { event, context, stored in
            guard P.Memory.self != NoMemory.self else { return (try plugin.handle(event, context: context), false) }
            // A memory that no longer decodes (an older shape) is dropped rather than failing every event.
            let before = (try? stored.map(P.Memory.init(json:))) ?? P.Memory()
            var memory = before
            let drafts = try plugin.handle(event, context: context, memory: &memory)
            // Most events leave the memory as it was: then nothing is converted back or written.
            guard memory != before else { return (drafts, false) }
            stored = memory.isEmpty ? nil : memory.json
            return (drafts, true)
        }
        handleTick = { try plugin.tick($0, context: $1) }
    }

    public func subscribes(to type: String) -> Bool {
        subscriptions.contains { $0.matches(type) }
    }

    /// Handles an event; `memory` is the plugin's stored memory for the event's client, updated in place
    /// (nil: nothing stored).
    public func handle(_ event: Event, context: PluginContext, memory: inout JSONValue?) throws -> [LeadDraft] {
        try handleEvent(event, context, &memory).drafts
    }

    /// As ``handle(_:context:memory:)``, saying whether the memory changed (and so must be stored).
    public func handle(_ event: Event, context: PluginContext, memory: inout JSONValue?,
                       changed: inout Bool) throws -> [LeadDraft] {
        let outcome = try handleEvent(event, context, &memory)
        changed = outcome.memoryChanged
        return outcome.drafts
    }

    public func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft] {
        var memory: JSONValue?
        return try handleEvent(event, context, &memory).drafts
    }

    public func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft] {
        try handleTick(tick, context)
    }
}
