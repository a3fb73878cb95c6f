import Foundation

/// A lead finder. A plugin is a value built from its typed configuration; it is handed events in journal
/// order (per client) and daily schedule ticks, and returns lead drafts. It never touches SQL, HTTP or the
/// wall clock: everything it may read comes through ``PluginContext``.
public protocol Plugin: Sendable {
    associatedtype Configuration: PluginConfiguration
    /// What the plugin remembers per client between events (see ``PluginMemory``); none by default.
    associatedtype Memory: PluginMemory = NoMemory

    /// The plugin id, also the name of its file in `plugins-config/` (`<id>.yaml`).
    static var id: String { get }
    /// One line for `insightd plugins`.
    static var summary: String { get }

    /// Builds the plugin from its decoded configuration. Validate and precompute here; do no I/O.
    init(configuration: Configuration) throws(PluginConfigurationError)

    /// Builds the plugin when the host loads it; a plugin that needs an auxiliary file (a product catalog)
    /// reads it from `resources`. By default, ``init(configuration:)``.
    static func load(configuration: Configuration, resources: any PluginResources) throws -> Self

    /// The typed configuration the plugin was built from.
    var configuration: Configuration { get }
    /// Event type patterns such as `account.*`; empty when the plugin only runs on its schedule.
    var subscriptions: [EventPattern] { get }
    /// The local time of the daily tick, or nil for a plugin without a schedule.
    var schedule: LocalTime? { get }

    /// Texts the plugin publishes in leads (templates, catalog names), for `insightd check`'s compliance review.
    var publishedTexts: [PublishedText] { get }

    func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft]
    /// Handles an event with the client's memory, which the plugin may change. By default, without it.
    func handle(_ event: Event, context: PluginContext, memory: inout Memory) throws -> [LeadDraft]
    /// The same, saying whether the memory changed (the client's row is then written): it sets `changed` to true
    /// when it did and leaves it alone otherwise. When it throws, the memory must be as it was (the event is
    /// skipped for the plugin). By default the memory is compared before and after, and put back on a throw,
    /// which copies it; a plugin whose memory tracks its own changes, and whose handling cannot fail halfway, can
    /// do without the copy.
    func handle(_ event: Event, context: PluginContext, memory: inout Memory, changed: inout Bool) throws -> [LeadDraft]
    func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft]
}

extension Plugin {
    public static func load(configuration: Configuration, resources: any PluginResources) throws -> Self {
        try Self(configuration: configuration)
    }
    public var subscriptions: [EventPattern] { [] }
    public var schedule: LocalTime? { nil }
    public var publishedTexts: [PublishedText] { [] }
    public func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft] { [] }
    public func handle(_ event: Event, context: PluginContext, memory: inout Memory) throws -> [LeadDraft] {
        try handle(event, context: context)
    }
    public func handle(_ event: Event, context: PluginContext, memory: inout Memory, changed: inout Bool) throws -> [LeadDraft] {
        let before = memory
        let drafts: [LeadDraft]
        do {
            drafts = try handle(event, context: context, memory: &memory)
        } catch {
            memory = before
            throw error
        }
        if memory != before { changed = true }
        return drafts
    }
    public func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft] { [] }
}

/// What every plugin's YAML file has: `enabled`, plus the plugin's own keys.
public protocol PluginConfiguration: Decodable, Sendable {
    var enabled: Bool { get }
}

/// A configuration value that decodes but makes no sense (a threshold below zero, an unknown field path).
/// `path` is the key path inside the plugin's file, so the loader can point at the line.
public struct PluginConfigurationError: Error, Sendable, CustomStringConvertible {
    public let path: [String]
    public let message: String

    public init(path: [String], message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path.joined(separator: ".")): \(message)" }
}

/// One daily schedule firing.
public struct ScheduleTick: Sendable, Hashable {
    /// The instant the tick was due (the configured local time on `localDate`).
    public let scheduledAt: Date
    /// The bank's local date the tick belongs to.
    public let localDate: LocalDate

    public init(scheduledAt: Date, localDate: LocalDate) {
        self.scheduledAt = scheduledAt
        self.localDate = localDate
    }
}
