import Foundation
import InsightCore
import InsightIngest
import InsightStore

/// Decodes a body or file into events, journals the good ones in one transaction and quarantines the bad
/// ones with their position. Shared by `insightd ingest` and `insightd replay`. It decodes as the webhook and
/// the inbox do (``IngestDecoder``): native envelopes and structured CloudEvents, mixed.
public struct Ingestor: Sendable {
    public struct Summary: Sendable {
        public struct Rejected: Sendable {
            public let index: Int
            public let line: Int
            public let rejection: EventRejection
        }

        public var accepted = 0
        public var duplicates = 0
        /// The rejected items; for a streamed file only the first ``keptRejections`` (the callback sees all).
        public var rejected: [Rejected] = []
        public var rejectedCount = 0
        /// The line a file's read resumed after (0: read from its start).
        public var resumedAfterLine = 0
    }

    /// How many rejections a streamed file's summary keeps, so a file of garbage cannot fill memory.
    public static let keptRejections = 1_000

    let database: any IngestSink
    let decoder: any EventDecoding

    public init(database: any IngestSink, decoder: any EventDecoding = IngestDecoder()) {
        self.database = database
        self.decoder = decoder
    }

    /// Throws ``EventBatch/Unreadable`` when the input cannot be read as a whole; nothing is stored then.
    public func ingest(_ bytes: [UInt8], origin: String, format: EventBatch.Format, source: String,
                       receivedAt: Date) throws -> Summary {
        let items = try EventBatch.decode(bytes, format: format, defaultSource: source, decoder: decoder,
                                          encodeData: true)
        let split = EventBatch.split(items, source: source, origin: origin, receivedAt: receivedAt)
        // Quarantine and events in one transaction: either both are stored or neither.
        let outcome = try database.ingest([IngestSubmission(events: split.events, quarantine: split.quarantine)],
                                          receivedAt: receivedAt)[0]
        var summary = Summary()
        summary.rejected = split.rejected.map { .init(index: $0.index, line: $0.line, rejection: $0.rejection) }
        summary.rejectedCount = summary.rejected.count
        summary.accepted = outcome.acceptedCount
        summary.duplicates = outcome.duplicateCount
        return summary
    }

    /// The bytes read, decoded and committed as one transaction: two chunks are in memory at once (one
    /// committing, the next decoding), which bounds `insightd ingest`'s memory whatever the file's size.
    static let chunkBytes = 2 << 20

    /// A chunk of a file, sorted for the journal.
    private struct PreparedChunk: Sendable {
        var split: EventBatch.Split
        /// Each rejected item's place in the chunk, in the order of `split.rejected`.
        var rejectedAt: [Int]
        var items: Int
        var endOffset: Int64
        var endLine: Int
    }

    /// Streams a file into the journal a chunk at a time, each chunk's events and quarantine committed with a
    /// checkpoint (as the inbox commits a file), so memory stays flat whatever the file's size and a run that
    /// was killed resumes after its last commit. The file is known by its path, size and modification time:
    /// an edited file is read again from its start (the journal's idempotency drops what it already has).
    /// `rejected` is called for each rejected line once its chunk (and its quarantine row) is committed. A
    /// rejection's `index` is its item's place among the items this run read (after a resume, counted from
    /// the resume point); `line` is its line in the file.
    public func ingestFile(path: String, source: String, receivedAt: Date = Date(),
                           rejected: (Summary.Rejected) -> Void = { _ in }) throws -> Summary {
        let name = (path as NSString).lastPathComponent
        let absolute = path.hasPrefix("/") ? (path as NSString).standardizingPath
            : ((FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path) as NSString).standardizingPath
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let modified = ((attributes[.modificationDate] as? Date) ?? Date(timeIntervalSince1970: 0)).timeIntervalSince1970
        let fileKey = "\(absolute)|\(size)|\(Int64(modified * 1000))"
        let checkpointSource = "cli:" + source
        var summary = Summary()
        var start = try database.inboxCheckpoint(source: checkpointSource, fileKey: fileKey)
        if start?.finished == true { start = nil }  // ingested before: read it again, all duplicates
        summary.resumedAfterLine = start?.line ?? 0
        let reader = SharedEventFileReader(try EventFileReader(path: path, decoder: decoder, defaultSource: source,
                                                               startOffset: start?.byteOffset ?? 0, startLine: start?.line ?? 0,
                                                               chunkBytes: Self.chunkBytes, encodeData: true))
        let origin = "cli:\(name)"
        // Each chunk is sorted into events and quarantine on the reading thread, while the one before commits.
        let prepare: @Sendable (EventFileReader.Chunk) -> PreparedChunk = { chunk in
            let rejectedAt = chunk.items.indices.filter { if case .failure = chunk.items[$0].result { true } else { false } }
            return PreparedChunk(split: EventBatch.split(chunk.items, source: source, origin: origin, receivedAt: receivedAt),
                                 rejectedAt: rejectedAt, items: chunk.items.count, endOffset: chunk.endOffset,
                                 endLine: chunk.endLine)
        }
        var index = 0
        var next = reader.readAhead(prepare)
        while let chunk = try next.value() {
            next = reader.readAhead(prepare)  // read, decoded and sorted while this one commits
            let checkpoint = InboxCheckpoint(source: checkpointSource, fileKey: fileKey, fileName: name,
                                             byteOffset: chunk.endOffset, line: chunk.endLine, finished: false)
            let outcome = try database.ingest([IngestSubmission(events: chunk.split.events, quarantine: chunk.split.quarantine,
                                                                checkpoint: checkpoint)], receivedAt: receivedAt)[0]
            // Reported once committed: a failed commit (reported by the throw) is read again by the next run.
            // An item's index is its place among the items read (the reader leaves it 0), as for a body's items.
            for (item, position) in zip(chunk.split.rejected, chunk.rejectedAt) {
                let rejection = Summary.Rejected(index: index + position, line: item.line, rejection: item.rejection)
                if summary.rejected.count < Self.keptRejections { summary.rejected.append(rejection) }
                summary.rejectedCount += 1
                rejected(rejection)
            }
            index += chunk.items
            summary.accepted += outcome.acceptedCount
            summary.duplicates += outcome.duplicateCount
        }
        _ = try database.ingest([IngestSubmission(events: [], checkpoint: InboxCheckpoint(
            source: checkpointSource, fileKey: fileKey, fileName: name, byteOffset: size, line: 0, finished: true))],
            receivedAt: receivedAt)
        return summary
    }
}
