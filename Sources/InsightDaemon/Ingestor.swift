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
        public var rejected: [Rejected] = []
    }

    let database: AppDatabase
    let decoder: any EventDecoding

    public init(database: AppDatabase, decoder: any EventDecoding = IngestDecoder()) {
        self.database = database
        self.decoder = decoder
    }

    /// Throws ``EventBatch/Unreadable`` when the input cannot be read as a whole; nothing is stored then.
    public func ingest(_ bytes: [UInt8], origin: String, format: EventBatch.Format, source: String,
                       receivedAt: Date) throws -> Summary {
        let items = try EventBatch.decode(bytes, format: format, defaultSource: source, decoder: decoder)
        let split = EventBatch.split(items, source: source, origin: origin, receivedAt: receivedAt)
        // Quarantine and events in one transaction: either both are stored or neither.
        let outcome = try database.ingest([IngestSubmission(events: split.events, quarantine: split.quarantine)],
                                          receivedAt: receivedAt)[0]
        var summary = Summary()
        summary.rejected = split.rejected.map { .init(index: $0.item.index, line: $0.item.line, rejection: $0.rejection) }
        summary.accepted = outcome.acceptedCount
        summary.duplicates = outcome.duplicateCount
        return summary
    }
}
