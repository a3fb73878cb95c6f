import Foundation
import InsightCore
import InsightStore

/// Decodes a body or file into events, journals the good ones in one transaction and quarantines the bad
/// ones with their position. Shared by `insightd ingest` (and the webhook and inbox sources).
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

    public init(database: AppDatabase, decoder: any EventDecoding = NativeEventDecoder()) {
        self.database = database
        self.decoder = decoder
    }

    /// Throws ``EventBatch/Unreadable`` when the input cannot be read as a whole; nothing is stored then.
    public func ingest(_ bytes: [UInt8], origin: String, format: EventBatch.Format, source: String,
                       receivedAt: Date) throws -> Summary {
        let items = try EventBatch.decode(bytes, format: format, defaultSource: source, decoder: decoder)
        var events: [Event] = []
        var quarantined: [QuarantinedItem] = []
        var summary = Summary()
        for item in items {
            switch item.result {
            case .success(let event):
                events.append(event)
            case .failure(let rejection):
                summary.rejected.append(.init(index: item.index, line: item.line, rejection: rejection))
                quarantined.append(QuarantinedItem(receivedAt: receivedAt, source: source, origin: "\(origin):\(item.line)",
                                                   eventId: rejection.eventId, reason: rejection.reason, payload: item.raw))
            }
        }
        try database.quarantine(quarantined)
        let outcome = try database.append(events, receivedAt: receivedAt)
        summary.accepted = outcome.acceptedCount
        summary.duplicates = outcome.duplicateCount
        return summary
    }
}
