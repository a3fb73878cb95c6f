import Foundation
import GRDB
import InsightCore

extension AppDatabase: IngestSink {
    /// Commits several submissions in one transaction (group commit) and returns an outcome for each.
    public func ingest(_ submissions: [IngestSubmission], receivedAt: Date) throws -> [IngestOutcome] {
        let received = receivedAt.milliseconds
        return try pool.write { db in try Self.ingest(submissions, received: received, db: db) }
    }

    public func ingestAsync(_ submissions: [IngestSubmission], receivedAt: Date) async throws -> [IngestOutcome] {
        let received = receivedAt.milliseconds
        return try await pool.write { db in try Self.ingest(submissions, received: received, db: db) }
    }

    private static func ingest(_ submissions: [IngestSubmission], received: Int64, db: Database) throws -> [IngestOutcome] {
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(submissions.count)
        for submission in submissions {
            if let webhook = submission.webhook {
                let seen = try WebhookSeenRecord.filter(WebhookSeenRecord.Columns.source == webhook.source
                                                        && WebhookSeenRecord.Columns.webhookId == webhook.id).fetchCount(db)
                if seen > 0 {
                    outcomes.append(IngestOutcome(sequences: [], replayedWebhook: true))
                    continue
                }
                try WebhookSeenRecord(source: webhook.source, webhookId: webhook.id, receivedMs: received).insert(db)
            }
            try insertQuarantine(submission.quarantine, db: db)
            let sequences = try appendEvents(submission.events, received: received, db: db)
            if let checkpoint = submission.checkpoint {
                try InboxFileRecord(source: checkpoint.source, fileKey: checkpoint.fileKey, fileName: checkpoint.fileName,
                                    byteOffset: checkpoint.byteOffset, line: checkpoint.line, finished: checkpoint.finished,
                                    updatedMs: received).upsert(db)
            }
            outcomes.append(IngestOutcome(sequences: sequences, replayedWebhook: false))
        }
        return outcomes
    }

    /// Where the inbox stopped in a file, if it started it.
    public func inboxCheckpoint(source: String, fileKey: String) throws -> InboxCheckpoint? {
        try pool.read { db in
            try InboxFileRecord.filter(InboxFileRecord.Columns.source == source && InboxFileRecord.Columns.fileKey == fileKey)
                .fetchOne(db)
                .map {
                    InboxCheckpoint(source: $0.source, fileKey: $0.fileKey, fileName: $0.fileName, byteOffset: $0.byteOffset,
                                    line: $0.line, finished: $0.finished)
                }
        }
    }

    public func webhookSeen(source: String, id: String) throws -> Bool {
        try pool.read { db in
            try WebhookSeenRecord.filter(WebhookSeenRecord.Columns.source == source && WebhookSeenRecord.Columns.webhookId == id)
                .fetchCount(db) > 0
        }
    }

    /// Forgets webhook ids older than `date` (retention keeps them at least 7 days).
    @discardableResult
    public func pruneWebhookIds(before date: Date) throws -> Int {
        try pool.write { db in
            try WebhookSeenRecord.filter(WebhookSeenRecord.Columns.receivedMs < date.milliseconds).deleteAll(db)
        }
    }
}
