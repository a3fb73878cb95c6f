import Foundation
import InsightCore
import InsightDaemon
import InsightIngest
import InsightStore
import InsightTesting
import Testing

/// `insightd ingest FILE`: ``Ingestor/ingestFile(path:source:receivedAt:rejected:)`` streams a file into the
/// journal a chunk at a time, each chunk committed with a checkpoint it resumes from after a kill.
@Suite struct IngestFileTests {
    static let source = "nightly"
    static let receivedAt = Date(timeIntervalSince1970: 1_795_000_000)

    /// A valid event line (no newline), its data padded with `padding` bytes.
    static func line(_ n: Int, padding: Int = 0) -> String {
        #"{"id":"e\#(n)","type":"test.record","time":"2026-11-20T10:00:00+08:00","clientId":"C\#(n % 31)","data":{"n":\#(n),"pad":"\#(String(repeating: "p", count: padding))"}}"#
    }

    /// A line that is rejected, its text telling which.
    static func bad(_ n: Int) -> String {
        #"{"id":"bad\#(n)","type":"test.record"}"#
    }

    /// Events `e1...e<count>` with a rejected line after every `badEvery`th; returns the lines and the bad lines' numbers.
    static func lines(count: Int, padding: Int = 0, badEvery: Int? = nil) -> (lines: [String], badLines: [Int]) {
        var lines: [String] = []
        var badLines: [Int] = []
        for n in 1...count {
            lines.append(line(n, padding: padding))
            if let every = badEvery, n % every == 0 {
                lines.append(bad(n))
                badLines.append(lines.count)
            }
        }
        return (lines, badLines)
    }

    static func write(_ directory: TemporaryDirectory, _ name: String, _ lines: [String]) -> String {
        directory.write(name, lines.map { $0 + "\n" }.joined())
    }

    /// The checkpoint key ``Ingestor`` gives a file: its absolute path, size and modification time (ms).
    static func fileKey(_ path: String) throws -> String {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let modified = ((attributes[.modificationDate] as? Date) ?? Date(timeIntervalSince1970: 0)).timeIntervalSince1970
        return "\((path as NSString).standardizingPath)|\(size)|\(Int64(modified * 1000))"
    }

    /// Every journaled event's id, in journal order.
    static func journalIds(_ database: AppDatabase) throws -> [String] {
        try database.readJournal(after: 0, limit: 1_000_000).map(\.id)
    }

    @Test func aFileOfSeveralChunksIsJournaledOnceInFileOrder() throws {
        let directory = TemporaryDirectory("ingest-file-chunks")
        let database = try AppDatabase.open(directory: directory.file("state"))
        let (lines, badLines) = Self.lines(count: 2_600, padding: 3_600, badEvery: 500)
        let path = Self.write(directory, "feed.ndjson", lines)
        // The fixture is what it claims: more than one of the reader's chunks.
        var reader = try EventFileReader(path: path, decoder: IngestDecoder(), defaultSource: Self.source)
        var chunkCount = 0
        while try reader.next() != nil { chunkCount += 1 }
        #expect(chunkCount >= 2, "a file of \(lines.count) lines, \(chunkCount) chunk(s)")

        var seen: [Int] = []
        let summary = try Ingestor(database: database).ingestFile(path: path, source: Self.source, receivedAt: Self.receivedAt) {
            seen.append($0.line)
        }
        #expect(summary.accepted == 2_600)
        #expect(summary.duplicates == 0)
        #expect(summary.resumedAfterLine == 0)
        #expect(summary.rejectedCount == badLines.count)
        #expect(summary.rejected.map(\.line) == badLines)
        #expect(seen == badLines, "the callback sees each rejection as it is found")
        #expect(try Self.journalIds(database) == (1...2_600).map { "e\($0)" }, "every event once, in file order")
        let journaled = try database.readJournal(after: 0, limit: 10)
        #expect(journaled.allSatisfy { $0.source == Self.source })
        let quarantine = try database.quarantinedItems(limit: 100)
        #expect(Set(quarantine.map(\.origin)) == Set(badLines.map { "cli:feed.ndjson:\($0)" }))
        #expect(quarantine.allSatisfy { $0.payload.hasPrefix(#"{"id":"bad"#) })
        let checkpoint = try database.inboxCheckpoint(source: "cli:" + Self.source, fileKey: try Self.fileKey(path))
        #expect(checkpoint?.finished == true, "the file is marked finished")
    }

    @Test func aRunKilledAfterItsFirstChunkResumesAfterItAndJournalsEveryEventOnce() throws {
        let directory = TemporaryDirectory("ingest-file-resume")
        let database = try AppDatabase.open(directory: directory.file("state"))
        let (lines, badLines) = Self.lines(count: 2_600, padding: 3_600, badEvery: 400)
        let path = Self.write(directory, "feed.ndjson", lines)

        // What a run commits for its first chunk before it is killed: the chunk's events and quarantine with a
        // checkpoint at the chunk's end, in one transaction.
        var reader = try EventFileReader(path: path, decoder: IngestDecoder(), defaultSource: Self.source)
        let first = try #require(try reader.next())
        #expect(first.endLine > 0 && first.endLine < lines.count, "the file has more than one chunk")
        let split = EventBatch.split(first.items, source: Self.source, origin: "cli:feed.ndjson", receivedAt: Self.receivedAt)
        let checkpoint = InboxCheckpoint(source: "cli:" + Self.source, fileKey: try Self.fileKey(path), fileName: "feed.ndjson",
                                         byteOffset: first.endOffset, line: first.endLine, finished: false)
        _ = try database.ingest([IngestSubmission(events: split.events, quarantine: split.quarantine, checkpoint: checkpoint)],
                                receivedAt: Self.receivedAt)
        let committed = split.events.count
        #expect(committed > 0)

        let summary = try Ingestor(database: database).ingestFile(path: path, source: Self.source, receivedAt: Self.receivedAt)
        #expect(summary.resumedAfterLine == first.endLine, "it resumed after the last committed chunk")
        #expect(summary.accepted == 2_600 - committed)
        #expect(summary.duplicates == 0, "nothing before the checkpoint is read again")
        let later = badLines.filter { $0 > first.endLine }
        #expect(summary.rejected.map(\.line) == later, "rejections after the checkpoint keep their line in the file")
        #expect(summary.rejectedCount == later.count)
        let ids = try Self.journalIds(database)
        #expect(ids == (1...2_600).map { "e\($0)" }, "every event exactly once, in file order")
        #expect(try database.quarantinedItems(limit: 100).count == badLines.count, "each rejected line quarantined once")
        #expect(try database.inboxCheckpoint(source: "cli:" + Self.source, fileKey: try Self.fileKey(path))?.finished == true)
    }

    @Test func aFinishedFileReadAgainIsAllDuplicatesAndAnEditedOneAddsOnlyItsNewEvents() throws {
        let directory = TemporaryDirectory("ingest-file-again")
        let database = try AppDatabase.open(directory: directory.file("state"))
        let ingestor = Ingestor(database: database)
        let (lines, _) = Self.lines(count: 40)
        let path = Self.write(directory, "feed.ndjson", lines)
        let first = try ingestor.ingestFile(path: path, source: Self.source, receivedAt: Self.receivedAt)
        #expect(first.accepted == 40 && first.duplicates == 0)

        let again = try ingestor.ingestFile(path: path, source: Self.source, receivedAt: Self.receivedAt)
        #expect(again.accepted == 0)
        #expect(again.duplicates == 40)
        #expect(again.resumedAfterLine == 0, "a finished file is read from its start, not resumed")
        #expect(try database.journalCount() == 40)

        // More lines appended: a new size, a new file key; what was journaled before is a duplicate.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(((41...45).map { Self.line($0) + "\n" }.joined()).utf8))
        try handle.close()
        let edited = try ingestor.ingestFile(path: path, source: Self.source, receivedAt: Self.receivedAt)
        #expect(edited.accepted == 5 && edited.duplicates == 40 && edited.resumedAfterLine == 0)
        #expect(try Self.journalIds(database) == (1...45).map { "e\($0)" })
    }

    @Test func everyRejectionIsCountedButTheSummaryKeepsOnlyTheFirstOnes() throws {
        let directory = TemporaryDirectory("ingest-file-garbage")
        let database = try AppDatabase.open(directory: directory.file("state"))
        let kept = Ingestor.keptRejections
        var lines = [Self.line(1)]
        for n in 1...(kept + 500) { lines.append(n % 100 == 0 ? Self.line(1 + n / 100) : "not json \(n)") }
        let badLines = lines.indices.filter { !lines[$0].hasPrefix("{") }.map { $0 + 1 }
        let path = Self.write(directory, "garbage.ndjson", lines)
        var reported = 0
        let summary = try Ingestor(database: database).ingestFile(path: path, source: Self.source, receivedAt: Self.receivedAt) { _ in
            reported += 1
        }
        #expect(summary.rejectedCount == badLines.count)
        #expect(summary.rejected.count == kept, "the summary keeps \(kept), not \(summary.rejected.count)")
        #expect(summary.rejected.map(\.line) == Array(badLines.prefix(kept)), "the first ones, in file order")
        #expect(reported == badLines.count, "the callback sees them all")
        #expect(summary.accepted == lines.count - badLines.count)
        #expect(try database.quarantinedItems(limit: 10_000).count == badLines.count, "all of them are quarantined")
    }

    /// A small mixed file: native and CloudEvents lines, bad lines, blank lines, CRLF.
    static let mixed: [String] = [
        line(1),
        #"{"specversion":"1.0","id":"ce-2","source":"/core","type":"test.record","time":"2026-11-20T10:00:00+08:00"}"#,
        "",
        bad(4),
        line(5) + "\r",
        "[1, 2]",
        #"{"specversion":"9","id":"ce-7","source":"/core","type":"test.record","time":"2026-11-20T10:00:00+08:00"}"#,
        "   ",
        line(1),  // a duplicate of line 1
        "{oops",
        line(11),
    ]

    @Test func aStreamedFileIsJournaledAndQuarantinedAsTheSameBytesInOneBody() throws {
        let directory = TemporaryDirectory("ingest-file-differential")
        let path = Self.write(directory, "mixed.ndjson", Self.mixed)
        let bytes = Array(try #require(FileManager.default.contents(atPath: path)))
        let streamedDatabase = try AppDatabase.open(directory: directory.file("streamed"))
        let wholeDatabase = try AppDatabase.open(directory: directory.file("whole"))
        let streamed = try Ingestor(database: streamedDatabase).ingestFile(path: path, source: Self.source, receivedAt: Self.receivedAt)
        let whole = try Ingestor(database: wholeDatabase).ingest(bytes, origin: "cli:mixed.ndjson", format: .automatic,
                                                               source: Self.source, receivedAt: Self.receivedAt)
        #expect(streamed.accepted == whole.accepted && streamed.accepted == 4)
        #expect(streamed.duplicates == whole.duplicates && streamed.duplicates == 1)
        #expect(streamed.rejectedCount == whole.rejectedCount && streamed.rejectedCount == 4)
        #expect(streamed.rejected.map(\.line) == whole.rejected.map(\.line))
        #expect(streamed.rejected.map(\.rejection) == whole.rejected.map(\.rejection))
        func journal(_ database: AppDatabase) throws -> [String] {
            try database.readJournal(after: 0, limit: 100).map { "\($0.sequence) \($0.source) \($0.id) \($0.type) \($0.time) \(JSONWriter.string($0.data))" }
        }
        #expect(try journal(streamedDatabase) == journal(wholeDatabase))
        func quarantine(_ database: AppDatabase) throws -> Set<String> {
            Set(try database.quarantinedItems().map { "\($0.origin) \($0.eventId ?? "-") \($0.reason) \($0.payload)" })
        }
        #expect(try quarantine(streamedDatabase) == quarantine(wholeDatabase))
    }

    @Test func aRejectionsIndexIsItsItemsPositionInTheFileAsForABody() throws {
        let directory = TemporaryDirectory("ingest-file-index")
        let path = Self.write(directory, "mixed.ndjson", Self.mixed)
        let bytes = Array(try #require(FileManager.default.contents(atPath: path)))
        let streamed = try Ingestor(database: try AppDatabase.open(directory: directory.file("streamed")))
            .ingestFile(path: path, source: Self.source, receivedAt: Self.receivedAt)
        let whole = try Ingestor(database: try AppDatabase.open(directory: directory.file("whole")))
            .ingest(bytes, origin: "cli:mixed.ndjson", format: .automatic, source: Self.source, receivedAt: Self.receivedAt)
        #expect(whole.rejected.map(\.index) == [2, 4, 5, 7], "0-based positions among the non-blank items")
        #expect(streamed.rejected.map(\.index) == whole.rejected.map(\.index))
    }
}
