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
    private let handleEvent: @Sendable (Event, PluginContext, LiveMemory, inout Bool) throws -> [LeadDraft]
    private let handleTick: @Sendable (ScheduleTick, PluginContext) throws -> [LeadDraft]
    private let decodeMemory: @Sendable (JSONValue?) -> LiveMemory
    private let encodeMemory: @Sendable (LiveMemory) -> JSONValue?
    private let writeMemory: @Sendable (LiveMemory, inout String) -> Bool
    private let copyMemory: @Sendable (LiveMemory) -> LiveMemory

    public init<P: Plugin>(_ plugin: P) {
        id = P.id
        enabled = plugin.configuration.enabled
        subscriptions = plugin.subscriptions
        schedule = plugin.schedule
        publishedTexts = plugin.publishedTexts
        usesMemory = P.Memory.self != NoMemory.self
        handleEvent = { event, context, live, changed in
            guard P.Memory.self != NoMemory.self else { return try plugin.handle(event, context: context) }
            guard let box = live as? LiveMemoryBox<P.Memory> else {
                throw PluginMemoryError("the memory handed to \(P.id) is another plugin's")
            }
            // In place: the box usually holds the only reference to the memory's lists, so the plugin changes them
            // without copying them (unless it keeps a copy itself, as the default comparing `handle` does, or a
            // checkpoint's snapshot still shares them: the first change after a checkpoint then copies what it changes).
            return try plugin.handle(event, context: context, memory: &box.memory, changed: &changed)
        }
        handleTick = { try plugin.tick($0, context: $1) }
        // A stored memory that no longer decodes (an older shape) is dropped rather than failing every event.
        decodeMemory = { stored in LiveMemoryBox((try? stored.map(P.Memory.init(json:))) ?? P.Memory()) }
        encodeMemory = { live in
            guard let memory = (live as? LiveMemoryBox<P.Memory>)?.memory, !memory.isEmpty else { return nil }
            return memory.json
        }
        writeMemory = { live, output in
            guard let memory = (live as? LiveMemoryBox<P.Memory>)?.memory, !memory.isEmpty else { return false }
            memory.writeJSON(into: &output)
            return true
        }
        copyMemory = { live in
            // Another plugin's memory (never handed here): an empty one, which writes nothing, as `writeMemory` would
            // write nothing for it. Never the live box itself.
            guard let box = live as? LiveMemoryBox<P.Memory> else { return LiveMemoryBox(P.Memory()) }
            return LiveMemoryBox(box.memory)
        }
    }

    public func subscribes(to type: String) -> Bool {
        subscriptions.contains { $0.matches(type) }
    }

    /// Handles an event; `memory` is the plugin's stored memory for the event's client, updated in place
    /// (nil: nothing stored).
    public func handle(_ event: Event, context: PluginContext, memory: inout JSONValue?) throws -> [LeadDraft] {
        let live = decodeMemory(memory)
        var changed = false
        let drafts = try handleEvent(event, context, live, &changed)
        if changed { memory = encodeMemory(live) }
        return drafts
    }

    /// The plugin's memory of a client in decoded form, from its stored JSON (nil: none stored), for
    /// ``handle(_:context:live:changed:)``.
    public func liveMemory(stored: JSONValue?) -> LiveMemory {
        decodeMemory(stored)
    }

    /// Handles an event with the client's memory in its decoded form, which stays decoded between events: the host
    /// converts it back to JSON with ``storedMemory(_:)`` once per batch, not once per event. Sets `changed` when
    /// the memory changed.
    public func handle(_ event: Event, context: PluginContext, live: LiveMemory, changed: inout Bool) throws -> [LeadDraft] {
        try handleEvent(event, context, live, &changed)
    }

    /// The stored form of a decoded memory (nil: nothing to store).
    public func storedMemory(_ live: LiveMemory) -> JSONValue? {
        encodeMemory(live)
    }

    /// Appends the stored form of a decoded memory as ``JSONWriter`` writes ``storedMemory(_:)``; false (and nothing
    /// appended) when there is nothing to store.
    public func writeStoredMemory(_ live: LiveMemory, into output: inout String) -> Bool {
        writeMemory(live, &output)
    }

    /// A copy of a decoded memory as it is now, which later changes to `live` leave alone: a state checkpoint writes
    /// the copy while the next batch goes on changing the original. The two share the memory's lists until one
    /// of them changes (the first change then copies what it changes).
    public func snapshot(_ live: LiveMemory) -> LiveMemory {
        copyMemory(live)
    }

    /// Handles an event without the client's memory (a plugin that keeps one starts from an empty memory).
    public func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft] {
        var changed = false
        return try handleEvent(event, context, usesMemory ? decodeMemory(nil) : Self.noMemory, &changed)
    }

    /// What a plugin without memory is handed (it never looks at it).
    private static let noMemory = LiveMemory()

    public func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft] {
        try handleTick(tick, context)
    }
}
