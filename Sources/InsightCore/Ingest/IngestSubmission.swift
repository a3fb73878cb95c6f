import Foundation

/// A file's progress through the inbox.
public struct InboxCheckpoint: Sendable, Hashable {
    public var source: String
    /// Identifies the file across restarts (its name and size).
    public var fileKey: String
    public var fileName: String
    /// Bytes consumed so far; a resume starts reading here.
    public var byteOffset: Int64
    /// Lines consumed so far (for line numbers after a resume).
    public var line: Int
    public var finished: Bool

    public init(source: String, fileKey: String, fileName: String, byteOffset: Int64, line: Int, finished: Bool) {
        self.source = source
        self.fileKey = fileKey
        self.fileName = fileName
        self.byteOffset = byteOffset
        self.line = line
        self.finished = finished
    }
}

/// One unit of ingest (a webhook request, a chunk of a file) committed atomically.
public struct IngestSubmission: Sendable {
    public var events: [Event]
    public var quarantine: [QuarantinedItem]
    public var checkpoint: InboxCheckpoint?
    /// The Standard Webhooks `(source, webhook-id)`, recorded so a replay is recognised.
    public var webhook: (source: String, id: String)?

    public init(events: [Event], quarantine: [QuarantinedItem] = [], checkpoint: InboxCheckpoint? = nil,
                webhook: (source: String, id: String)? = nil) {
        self.events = events
        self.quarantine = quarantine
        self.checkpoint = checkpoint
        self.webhook = webhook
    }
}

public struct IngestOutcome: Sendable, Equatable {
    /// Per event: its sequence number, or nil for a duplicate.
    public var sequences: [Int64?]
    /// True when the webhook id was seen before: nothing of the submission was stored.
    public var replayedWebhook: Bool

    public init(sequences: [Int64?], replayedWebhook: Bool) {
        self.sequences = sequences
        self.replayedWebhook = replayedWebhook
    }

    public var acceptedCount: Int { sequences.count { $0 != nil } }
    public var duplicateCount: Int { sequences.count { $0 == nil } }
}

/// Where ingest writes: the store, behind a protocol so the ways in (InsightIngest) need no SQL.
public protocol IngestSink: Sendable {
    /// Commits the submissions in one transaction and returns an outcome for each.
    func ingest(_ submissions: [IngestSubmission], receivedAt: Date) throws -> [IngestOutcome]
    /// Where the inbox stopped in a file, if it started it.
    func inboxCheckpoint(source: String, fileKey: String) throws -> InboxCheckpoint?
    /// Takes the inbox file `name` of `source` for this instance to read, until the claim is released; nil while
    /// another instance of a cluster reads it. A single instance always gets it.
    func claimInboxFile(source: String, name: String) throws -> InboxFileClaim?
}

extension IngestSink {
    public func claimInboxFile(source: String, name: String) throws -> InboxFileClaim? { InboxFileClaim {} }
}

/// An inbox file taken to be read (see ``IngestSink/claimInboxFile(source:name:)``); ``release()`` gives it back.
public final class InboxFileClaim: Sendable {
    private let onRelease: @Sendable () -> Void

    public init(release: @escaping @Sendable () -> Void) {
        onRelease = release
    }

    public func release() { onRelease() }
}
