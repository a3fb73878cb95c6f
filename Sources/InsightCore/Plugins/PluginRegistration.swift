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
    private let handleEvent: @Sendable (Event, PluginContext, JSONValue?, inout (any PluginMemory)?) throws
        -> (drafts: [LeadDraft], memoryChanged: Bool)
    private let handleTick: @Sendable (ScheduleTick, PluginContext) throws -> [LeadDraft]
    private let encodeMemory: @Sendable (any PluginMemory) -> JSONValue?

    public init<P: Plugin>(_ plugin: P) {
        id = P.id
        enabled = plugin.configuration.enabled
        subscriptions = plugin.subscriptions
        schedule = plugin.schedule
        publishedTexts = plugin.publishedTexts
        usesMemory = P.Memory.self != NoMemory.self
        handleEvent = { event, context, stored, live in
            guard P.Memory.self != NoMemory.self else { return (try plugin.handle(event, context: context), false) }
            // The decoded memory from the last event, else the stored JSON. A memory that no longer decodes (an
            // older shape) is dropped rather than failing every event.
            let before = (live as? P.Memory) ?? (try? stored.map(P.Memory.init(json:))) ?? P.Memory()
            var memory = before
            let drafts = try plugin.handle(event, context: context, memory: &memory)
            live = memory
            return (drafts, memory != before)
        }
        handleTick = { try plugin.tick($0, context: $1) }
        encodeMemory = { live in
            guard let memory = live as? P.Memory, !memory.isEmpty else { return nil }
            return memory.json
        }
    }

    public func subscribes(to type: String) -> Bool {
        subscriptions.contains { $0.matches(type) }
    }

    /// Handles an event; `memory` is the plugin's stored memory for the event's client, updated in place
    /// (nil: nothing stored).
    public func handle(_ event: Event, context: PluginContext, memory: inout JSONValue?) throws -> [LeadDraft] {
        var live: (any PluginMemory)?
        let outcome = try handleEvent(event, context, memory, &live)
        if outcome.memoryChanged, let live { memory = encodeMemory(live) }
        return outcome.drafts
    }

    /// Handles an event with the client's memory in its decoded form (`live`, nil at first: then the stored
    /// JSON is decoded), which stays decoded between events: the host converts it back to JSON with
    /// ``storedMemory(_:)`` once per batch, not once per event. Says whether the memory changed.
    public func handle(_ event: Event, context: PluginContext, stored: JSONValue?, live: inout (any PluginMemory)?,
                       changed: inout Bool) throws -> [LeadDraft] {
        let outcome = try handleEvent(event, context, stored, &live)
        changed = outcome.memoryChanged
        return outcome.drafts
    }

    /// The stored form of a decoded memory (nil: nothing to store).
    public func storedMemory(_ live: any PluginMemory) -> JSONValue? {
        encodeMemory(live)
    }

    public func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft] {
        var live: (any PluginMemory)?
        return try handleEvent(event, context, nil, &live).drafts
    }

    public func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft] {
        try handleTick(tick, context)
    }
}
