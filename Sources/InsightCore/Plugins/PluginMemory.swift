import Foundation

/// What a plugin remembers about one client between events: sliding windows, cooldowns, first-seen times.
///
/// It lives with the client's state: the host hands the plugin its memory with each event, and stores what
/// the plugin leaves there in the same transaction as the batch's leads and journal position. So it survives
/// restarts, is rebuilt exactly by a replay, and is dropped with the caches if a commit fails. A plugin keeps
/// it bounded by expiring old entries each time it writes; an empty memory is deleted.
///
/// The stored form is JSON (``JSONValue``), converted by hand: cheap enough to run on every event.
public protocol PluginMemory: Sendable, Equatable {
    /// An empty memory, for a client the plugin has not seen.
    init()
    /// Restores a stored memory. Throwing discards it (the plugin starts afresh for that client).
    init(json: JSONValue) throws
    var json: JSONValue { get }
    /// True when there is nothing to keep; the stored row is then deleted.
    var isEmpty: Bool { get }
    /// Appends ``json`` as ``JSONWriter`` writes it. The default writes `json`; a memory written with every batch
    /// of a busy client (risk-alerts' windows) writes its text directly, without building the tree first.
    func writeJSON(into output: inout String)
}

extension PluginMemory {
    public func writeJSON(into output: inout String) {
        JSONWriter.write(json, into: &output)
    }
}

/// One plugin's memory of one client in decoded form, as the dispatcher keeps it between events (see
/// ``LoadedPlugin/liveMemory(stored:)``). A class, so that a plugin changes it in place: a value held in an existential
/// would be copied out, and its lists copied on their first change, for every event.
///
/// `@unchecked Sendable`: a live memory belongs to one client's cached state, which is handed whole from the
/// dispatcher to one shard worker and back across `await`s; nothing else holds it while a worker changes it.
public class LiveMemory: @unchecked Sendable {}

final class LiveMemoryBox<Memory: PluginMemory>: LiveMemory, @unchecked Sendable {
    var memory: Memory

    init(_ memory: Memory) {
        self.memory = memory
    }
}

/// The memory of a plugin that needs none.
public struct NoMemory: PluginMemory {
    public init() {}
    public init(json: JSONValue) {}
    public var json: JSONValue { .null }
    public var isEmpty: Bool { true }
}

/// A stored memory that does not have the shape the plugin expects.
public struct PluginMemoryError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Other files a plugin's configuration may draw on, such as `products.yaml` for product-match. The loader
/// decodes them strictly and reports errors with that file's line.
public protocol PluginResources {
    func decode<T: Decodable>(_ type: T.Type, fromFile name: String) throws -> T
}

/// No auxiliary files: for tests and plugins built directly.
public struct NoPluginResources: PluginResources {
    public init() {}
    public func decode<T: Decodable>(_ type: T.Type, fromFile name: String) throws -> T {
        throw PluginConfigurationError(path: [], message: "no \(name).yaml is available here")
    }
}
