import Foundation
import InsightCore

/// One `kind: inbox` source.
public struct InboxSettings: Sendable {
    public enum DoneAction: Sendable {
        case move
        case delete
    }

    /// The source name; JSONL events without a `source` and mapped CSV rows are journaled under it.
    public var name: String
    public var directory: String
    public var mappings: [CSVMapping]
    public var pollInterval: Duration
    public var onDone: DoneAction
    /// Lines committed per transaction (with the file's checkpoint).
    public var linesPerCommit: Int
    /// For CSV dates without a time.
    public var timeZone: TimeZone

    public init(name: String, directory: String, mappings: [CSVMapping] = [], pollInterval: Duration = .seconds(2),
                onDone: DoneAction = .move, linesPerCommit: Int = 5_000, timeZone: TimeZone) {
        self.name = name
        self.directory = directory
        self.mappings = mappings
        self.pollInterval = pollInterval
        self.onDone = onDone
        self.linesPerCommit = max(1, linesPerCommit)
        self.timeZone = timeZone
    }
}
