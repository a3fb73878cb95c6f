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
    /// Lines committed per transaction (with the file's checkpoint), at most: a commit also ends with each 4 MiB
    /// read of the file. Each commit waits for the disk (`synchronous = FULL`); at 5,000 lines the waits held W1's
    /// 1M-line file to 174,000 events/s, at 20,000 (about one commit per read) it takes 233,000 (`insightd-bench
    /// inbox --file`, 2026-12-05). A group holds the single writer while it commits (about 90 ms at that size), and
    /// a crash re-reads from the checkpoint what was not committed (one group committing, one decoding).
    public var linesPerCommit: Int
    /// For CSV dates without a time.
    public var timeZone: TimeZone

    public static let defaultLinesPerCommit = 20_000

    public init(name: String, directory: String, mappings: [CSVMapping] = [], pollInterval: Duration = .seconds(2),
                onDone: DoneAction = .move, linesPerCommit: Int = InboxSettings.defaultLinesPerCommit,
                timeZone: TimeZone) {
        self.name = name
        self.directory = directory
        self.mappings = mappings
        self.pollInterval = pollInterval
        self.onDone = onDone
        self.linesPerCommit = max(1, linesPerCommit)
        self.timeZone = timeZone
    }
}
