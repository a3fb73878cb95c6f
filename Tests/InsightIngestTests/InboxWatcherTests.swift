import Foundation
import InsightCore
import InsightIngest
import InsightStore
import InsightTesting
import Logging
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The file inbox over a real SQLite store and a real directory.
@Suite struct InboxWatcherTests {
    let shanghai = TimeZone(identifier: "Asia/Shanghai") ?? TimeZone(secondsFromGMT: 8 * 3600)!

    struct Inbox: Sendable {
        let directory = TemporaryDirectory("inbox")
        let state = TemporaryDirectory("state")
        let database: AppDatabase
        let health = HealthBoard()

        init() throws {
            database = try AppDatabase.open(directory: state.path)
            try FileManager.default.createDirectory(atPath: directory.file("in"), withIntermediateDirectories: true)
        }

        func watcher(mappings: [CSVMapping] = [], linesPerCommit: Int = InboxSettings.defaultLinesPerCommit) -> InboxWatcher {
            InboxWatcher(settings: InboxSettings(name: "nightly", directory: directory.file("in"), mappings: mappings,
                                                 pollInterval: .milliseconds(10), linesPerCommit: linesPerCommit,
                                                 timeZone: TimeZone(identifier: "Asia/Shanghai") ?? .current),
                         sink: database, health: health, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        }

        /// Scans until the file is no longer in the inbox (the first scan only observes it).
        @discardableResult
        func settle(_ watcher: InboxWatcher, scans: Int = 3) throws -> [InboxWatcher.FileReport] {
            var reports: [InboxWatcher.FileReport] = []
            for _ in 0..<scans { reports += try watcher.scan() }
            return reports
        }

        func drop(_ name: String, _ bytes: [UInt8]) throws {
            // The write-then-rename convention a nightly job uses.
            let temporary = directory.file("in/\(name).tmp")
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
            try FileManager.default.moveItem(atPath: temporary, toPath: directory.file("in/\(name)"))
        }

        func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: directory.file("in/\(relative)")) }
    }

    static let loans = CSVMapping(match: "loans_*.csv", type: EventType.loanAccount, encoding: .gb18030,
                                  columns: ["loanId": "贷款编号", "clientId": "客户号", "maturityDate": "到期日",
                                            "outstanding": "余额", "status": "状态"])

    @Test func aGB18030CSVWithChineseHeadersBecomesLoanEvents() throws {
        let inbox = try Inbox()
        let fixture = try #require(Bundle.module.path(forResource: "loans_20261120", ofType: "csv", inDirectory: "Fixtures"))
        let bytes = try #require(FileManager.default.contents(atPath: fixture))
        #expect(String(data: bytes, encoding: .utf8) == nil, "the fixture really is GB18030, not UTF-8")
        try inbox.drop("loans_20261120.csv", Array(bytes))

        let reports = try inbox.settle(inbox.watcher(mappings: [Self.loans]))
        #expect(reports == [.init(fileName: "loans_20261120.csv", result: .done(accepted: 2, duplicates: 0, rejected: 0))])
        let events = try inbox.database.readJournal(after: 0, limit: 10)
        #expect(events.map(\.clientId) == ["C000123", "C000456"])
        #expect(events.allSatisfy { $0.source == "nightly" && $0.type == EventType.loanAccount })
        #expect(events[0].data == .object(["loanId": .string("L001"), "maturityDate": .string("2026-12-20"),
                                            "outstanding": .string("800000.00"), "status": .string("active")]))
        #expect(inbox.exists("done/loans_20261120.csv"))
        #expect(!inbox.exists("loans_20261120.csv"))
    }

    @Test func threeBadLinesAmongAThousandAreQuarantinedAndTheRestGoThrough() throws {
        let inbox = try Inbox()
        var lines: [String] = []
        for index in 1...1_000 {
            switch index {
            case 17: lines.append("{\"id\": \"broken\"")
            case 500: lines.append(#"{"id":"e500","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","clientId":"C1","data":{"accountId":"A1","amount":"x","direction":"credit"}}"#)
            case 999: lines.append(#"{"id":"e999","type":"account.transaction","clientId":"C1","data":{}}"#)
            default:
                lines.append(#"{"id":"e\#(index)","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","clientId":"C\#(index % 7)","data":{"accountId":"A\#(index % 7)","amount":"\#(index).50","direction":"credit"}}"#)
            }
        }
        try inbox.drop("tx.jsonl", Array(lines.joined(separator: "\n").utf8))
        let reports = try inbox.settle(inbox.watcher(linesPerCommit: 100))
        #expect(reports == [.init(fileName: "tx.jsonl", result: .done(accepted: 997, duplicates: 0, rejected: 3))])
        #expect(try inbox.database.journalCount() == 997)
        let quarantined = try inbox.database.quarantinedItems().sorted { $0.origin < $1.origin }
        #expect(quarantined.map(\.origin) == ["file:tx.jsonl:17", "file:tx.jsonl:500", "file:tx.jsonl:999"])
        #expect(quarantined.first { $0.origin.hasSuffix(":500") }?.reason.contains("data.amount") == true)
        #expect(quarantined.first { $0.origin.hasSuffix(":999") }?.reason.contains("time") == true)
    }

    /// A file larger than one read (4 MiB), with CRLF line ends and no newline after its last line: the line that
    /// straddles the read boundary, and the ones around it, keep their numbers, and every good line goes through.
    @Test func linesAcrossTheReadBoundaryKeepTheirNumbersWithCRLF() throws {
        let inbox = try Inbox()
        func good(_ index: Int) -> String {
            #"{"id":"e\#(index)","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","clientId":"C\#(index % 7)","data":{"accountId":"A\#(index % 7)","amount":"\#(index).50","direction":"credit","memo":"\#(String(repeating: "x", count: 90))"}}"#
        }
        let count = 24_000
        // The line holding byte 4 MiB (counting CRLF), and its neighbours, are made bad: their numbers must come out.
        var offset = 0, straddling = 0
        for index in 1...count {
            let end = offset + good(index).utf8.count + 2
            if offset < 1 << 22 && end > 1 << 22 { straddling = index }
            offset = end
        }
        #expect(straddling > 1, "the file is larger than one read")
        let bad: Set<Int> = [straddling - 1, straddling, straddling + 1, count]
        let lines = (1...count).map { bad.contains($0) ? #"{"id":"bad\#($0)","type":"account.transaction"}"# : good($0) }
        try inbox.drop("big.jsonl", Array(lines.joined(separator: "\r\n").utf8))
        let reports = try inbox.settle(inbox.watcher())
        #expect(reports == [.init(fileName: "big.jsonl", result: .done(accepted: count - 4, duplicates: 0, rejected: 4))])
        #expect(try inbox.database.journalCount() == count - 4)
        let origins = Set(try inbox.database.quarantinedItems().map(\.origin))
        #expect(origins == Set(bad.map { "file:big.jsonl:\($0)" }))
    }

    @Test func aCrashMidFileResumesWithNoDuplicateAndNoLoss() async throws {
        let inbox = try Inbox()
        let count = 20_000
        var text = ""
        for index in 1...count {
            if index == 7_777 { text += "not json\n"; continue }
            text += #"{"id":"e\#(index)","type":"custom.tick","time":"2026-11-20T10:00:00+08:00","clientId":"C\#(index % 50)","data":{"n":\#(index)}}"# + "\n"
        }
        try inbox.drop("big.jsonl", Array(text.utf8))

        // First run: stopped abruptly (task cancellation) once some chunks are committed.
        let first = inbox.watcher(linesPerCommit: 500)
        _ = try first.scan()  // first sight
        let task = Task { try first.scan() }
        while try inbox.database.journalCount() == 0 { try await Task.sleep(for: .milliseconds(1)) }
        task.cancel()
        let interrupted = try await task.value
        let committed = try inbox.database.journalCount()
        #expect(interrupted == [.init(fileName: "big.jsonl", result: .interrupted)] || committed == count - 1,
                "the first run stopped part-way (or, on a very fast machine, finished)")
        #expect(inbox.exists("big.jsonl") == (committed < count - 1))

        // Restart: a new watcher resumes at the committed checkpoint.
        let second = inbox.watcher(linesPerCommit: 500)
        let reports = try inbox.settle(second)
        if committed < count - 1 {
            #expect(reports == [.init(fileName: "big.jsonl",
                                      result: .done(accepted: count - 1 - committed, duplicates: 0,
                                                    rejected: committed >= 7_776 ? 0 : 1))],
                    "the resume re-reads nothing that was committed")
        }
        #expect(try inbox.database.journalCount() == count - 1, "no event lost")
        #expect(try inbox.database.quarantinedItems().map(\.origin) == ["file:big.jsonl:7777"], "the bad line is quarantined once")
        #expect(inbox.exists("done/big.jsonl"))
    }

    @Test func theSameFileDroppedTwiceIngestsNothingNew() throws {
        let inbox = try Inbox()
        let line = #"{"id":"e1","type":"custom.thing","time":"2026-11-20T10:00:00+08:00","clientId":"C1","data":{}}"#
        let watcher = inbox.watcher()
        try inbox.drop("a.jsonl", Array(line.utf8))
        #expect(try inbox.settle(watcher) == [.init(fileName: "a.jsonl", result: .done(accepted: 1, duplicates: 0, rejected: 0))])

        try inbox.drop("a.jsonl", Array(line.utf8))
        #expect(try inbox.settle(watcher) == [.init(fileName: "a.jsonl", result: .alreadyDone)])
        #expect(inbox.exists("done/a.jsonl.1"), "the repeat is moved aside, never overwriting the first")

        // The same content under another name is read, and every event is a duplicate.
        try inbox.drop("b.jsonl", Array(line.utf8))
        #expect(try inbox.settle(watcher) == [.init(fileName: "b.jsonl", result: .done(accepted: 0, duplicates: 1, rejected: 0))])
        #expect(try inbox.database.journalCount() == 1)
    }

    @Test func anUnreadableFileMovesToFailedWithANote() throws {
        let inbox = try Inbox()
        let utf8Mapping = CSVMapping(match: "loans_*.csv", type: EventType.loanAccount, encoding: .utf8,
                                     columns: ["loanId": "贷款编号", "clientId": "客户号"])
        let gb = Array("贷款编号,客户号\nL1,C1\n".data(using: .utf8) ?? Data())
        try inbox.drop("loans_1.csv", (try? [UInt8](Self.gb18030("贷款编号,客户号\nL1,C1\n"))) ?? gb)
        try inbox.drop("notes.txt", Array("hello".utf8))
        try inbox.drop("other_1.csv", Array("a,b\n1,2\n".utf8))
        let reports = try inbox.settle(inbox.watcher(mappings: [utf8Mapping]))
        #expect(reports.count == 3)
        #expect(reports.allSatisfy { if case .failed = $0.result { true } else { false } })
        #expect(inbox.exists("failed/loans_1.csv"))
        let note = try String(contentsOfFile: inbox.directory.file("in/failed/loans_1.csv.error"), encoding: .utf8)
        #expect(note.contains("not valid UTF-8") && note.contains("gb18030"), "the note says what to change")
        #expect(try String(contentsOfFile: inbox.directory.file("in/failed/notes.txt.error"), encoding: .utf8)
            .contains("neither .jsonl/.ndjson nor .csv"))
        #expect(try String(contentsOfFile: inbox.directory.file("in/failed/other_1.csv.error"), encoding: .utf8)
            .contains("no csv mapping"))
        #expect(try inbox.database.journalCount() == 0)
    }

    @Test func aHeaderMissingAMappedColumnFailsTheFileNamingTheColumn() throws {
        let inbox = try Inbox()
        let mapping = CSVMapping(match: "*.csv", type: EventType.loanAccount, columns: ["loanId": "LOAN_NO", "clientId": "CUST_NO"])
        try inbox.drop("loans.csv", Array("LOAN_NO,CUSTOMER\nL1,C1\n".utf8))
        let reports = try inbox.settle(inbox.watcher(mappings: [mapping]))
        guard case .failed(let reason)? = reports.first?.result else {
            Issue.record("expected the file to fail, got \(reports)")
            return
        }
        #expect(reason.contains("no column CUST_NO"))
    }

    @Test func filesStillBeingWrittenAreNotClaimed() throws {
        let inbox = try Inbox()
        let watcher = inbox.watcher()
        inbox.directory.write("in/part.jsonl.tmp", #"{"id":"e1"}"#)
        let growing = inbox.directory.file("in/growing.jsonl")
        try Data(#"{"id":"g1","type":"x.y","time":"2026-11-20T10:00:00+08:00","data":{}}"#.utf8).write(to: URL(fileURLWithPath: growing))
        #expect(try watcher.scan().isEmpty, "first sight: only observed")
        let handle = try #require(FileHandle(forWritingAtPath: growing))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\n".utf8))
        try handle.close()
        #expect(try watcher.scan().isEmpty, "it changed since the last scan: not claimed yet")
        #expect(try watcher.scan() == [.init(fileName: "growing.jsonl", result: .done(accepted: 1, duplicates: 0, rejected: 0))])
        #expect(inbox.exists("part.jsonl.tmp"), "a .tmp file is never taken")
    }

    static func gb18030(_ text: String) throws -> Data {
        // Encode through iconv (the reverse direction of what the inbox does).
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/iconv")
        process.arguments = ["-f", "UTF-8", "-t", "GB18030"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }
}

/// A store that dies on its Nth commit, like a process killed there.
final class DyingSink: IngestSink, @unchecked Sendable {
    struct Died: Error {}
    let database: AppDatabase
    let dieOnCommit: Int
    private var commits = 0
    private let lock = NSLock()

    init(database: AppDatabase, dieOnCommit: Int) {
        self.database = database
        self.dieOnCommit = dieOnCommit
    }

    func ingest(_ submissions: [IngestSubmission], receivedAt: Date) throws -> [IngestOutcome] {
        let number = lock.withLock { commits += 1; return commits }
        if number == dieOnCommit { throw Died() }
        return try database.ingest(submissions, receivedAt: receivedAt)
    }

    func inboxCheckpoint(source: String, fileKey: String) throws -> InboxCheckpoint? {
        try database.inboxCheckpoint(source: source, fileKey: fileKey)
    }
}

@Suite struct InboxResumeTests {
    @Test func dyingAtTheFifthCommitThenRestartingLosesAndDuplicatesNothing() throws {
        let inbox = try InboxWatcherTests.Inbox()
        var text = ""
        for index in 1...3_000 {
            text += index == 2_222 ? "garbage\n"
                : #"{"id":"e\#(index)","type":"custom.tick","time":"2026-11-20T10:00:00+08:00","clientId":"C1","data":{}}"# + "\n"
        }
        try inbox.drop("day.jsonl", Array(text.utf8))
        let logger = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })
        let settings = InboxSettings(name: "nightly", directory: inbox.directory.file("in"), linesPerCommit: 250,
                                     timeZone: TimeZone(secondsFromGMT: 0) ?? .current)
        let dying = InboxWatcher(settings: settings, sink: DyingSink(database: inbox.database, dieOnCommit: 5),
                                 health: inbox.health, logger: logger)
        let first = try inbox.settle(dying, scans: 2)
        #expect(first == [.init(fileName: "day.jsonl", result: .interrupted)])
        #expect(try inbox.database.journalCount() == 1_000, "four chunks of 250 were committed before the crash")
        #expect(inbox.exists("day.jsonl"), "the file stays in the inbox")

        let restarted = InboxWatcher(settings: settings, sink: inbox.database, health: inbox.health, logger: logger)
        let second = try inbox.settle(restarted)
        #expect(second == [.init(fileName: "day.jsonl", result: .done(accepted: 1_999, duplicates: 0, rejected: 1))],
                "the resume starts at line 1,001: nothing re-read, nothing skipped")
        #expect(try inbox.database.journalCount() == 2_999)
        #expect(try inbox.database.quarantinedItems().map(\.origin) == ["file:day.jsonl:2222"])
    }
}

/// A store that, on its first commit, lets a producer act on the file being read: rename a new file over it, or
/// append to it in place.
final class ReplacingSink: IngestSink, @unchecked Sendable {
    let database: AppDatabase
    let replace: () -> Void
    private var replaced = false
    private let lock = NSLock()

    init(database: AppDatabase, replace: @escaping () -> Void) {
        self.database = database
        self.replace = replace
    }

    func ingest(_ submissions: [IngestSubmission], receivedAt: Date) throws -> [IngestOutcome] {
        let first = lock.withLock { () -> Bool in defer { replaced = true }; return !replaced }
        if first { replace() }
        return try database.ingest(submissions, receivedAt: receivedAt)
    }

    func inboxCheckpoint(source: String, fileKey: String) throws -> InboxCheckpoint? {
        try database.inboxCheckpoint(source: source, fileKey: fileKey)
    }
}

@Suite struct InboxReplacementTests {
    @Test func aFileRenamedOverTheOneBeingReadIsReadNextNotMovedAway() throws {
        let inbox = try InboxWatcherTests.Inbox()
        func line(_ id: String) -> String {
            #"{"id":"\#(id)","type":"custom.tick","time":"2026-11-20T10:00:00+08:00","clientId":"C1","data":{}}"# + "\n"
        }
        try inbox.drop("feed.jsonl", Array((line("old-1") + line("old-2")).utf8))
        let logger = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })
        let settings = InboxSettings(name: "nightly", directory: inbox.directory.file("in"), linesPerCommit: 1,
                                     timeZone: TimeZone(secondsFromGMT: 0) ?? .current)
        let sink = ReplacingSink(database: inbox.database) {
            // What a producer does: write a temporary file, then rename(2) it over the old name.
            let temporary = inbox.directory.file("in/feed.jsonl.tmp")
            try? Data((line("new-1") + line("new-2") + line("new-3")).utf8).write(to: URL(fileURLWithPath: temporary))
            _ = rename(temporary, inbox.directory.file("in/feed.jsonl"))
        }
        let watcher = InboxWatcher(settings: settings, sink: sink, health: inbox.health, logger: logger)
        let first = try inbox.settle(watcher, scans: 2)
        #expect(first == [.init(fileName: "feed.jsonl", result: .done(accepted: 2, duplicates: 0, rejected: 0))])
        #expect(inbox.exists("feed.jsonl"), "the new file is not moved away unread")

        let second = try inbox.settle(watcher)
        #expect(second == [.init(fileName: "feed.jsonl", result: .done(accepted: 3, duplicates: 0, rejected: 0))])
        #expect(try inbox.database.readJournal(after: 0, limit: 10).map(\.id) == ["old-1", "old-2", "new-1", "new-2", "new-3"])
        #expect(inbox.exists("done/feed.jsonl"))
    }
}

/// Issue 14: nothing in the inbox is reached through a symlink, nothing but a regular file is opened, and a file
/// written in place is not moved to `done/` with a tail that was never read.
@Suite struct InboxHardeningTests {
    static func line(_ id: String) -> String {
        #"{"id":"\#(id)","type":"custom.tick","time":"2026-11-20T10:00:00+08:00","clientId":"C1","data":{}}"# + "\n"
    }

    static func isSymlink(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFLNK
    }

    static func append(_ text: String, to path: String) {
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(text.utf8))
        try? handle.close()
    }

    /// A flag shared with the threads that race the scans.
    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .releasing) }
        var isSet: Bool { value.load(ordering: .acquiring) }
    }

    /// renameat2(2), looked up at run time: the Glibc module does not export it to Swift.
    typealias Renameat2 = @convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32
    static let renameat2: Renameat2? = dlsym(dlopen(nil, RTLD_NOW), "renameat2").map { unsafeBitCast($0, to: Renameat2.self) }
    static let renameExchange: UInt32 = 1 << 1

    /// Until `stop`, swaps at `name` in the inbox, as fast as it can, a hard link to the regular file `regular`
    /// (always the same inode, size and time, so the scans see it unchanged) and what `make` makes (a symlink, a
    /// FIFO), kept at a hidden name of the inbox: one renameat2(RENAME_EXCHANGE) per swap, as an attacker racing
    /// the claim would do it. What the inbox moves away is put back.
    static func swap(in inbox: InboxWatcherTests.Inbox, name: String, regular: String, stop: Flag, stopped: Flag,
                     make: @escaping @Sendable (String) -> Void) {
        Thread.detachNewThread {
            defer { stopped.set() }
            guard let exchange = renameat2 else { return }
            let target = inbox.directory.file("in/\(name)"), hidden = inbox.directory.file("in/.other")
            _ = link(regular, target)
            make(hidden)
            while !stop.isSet {
                // At random moments, not in step with the scans (a tight loop falls in step with their readdir).
                usleep(UInt32.random(in: 0...300))
                guard exchange(AT_FDCWD, target, AT_FDCWD, hidden, renameExchange) != 0 else { continue }
                var status = stat()
                if lstat(hidden, &status) != 0 || status.st_mode & S_IFMT == S_IFREG {
                    unlink(hidden)
                    make(hidden)
                }
                if lstat(target, &status) != 0 { _ = link(regular, target) }
            }
        }
    }

    /// Scans for a second on a thread of its own (not the test's: its cooperative threads are shared), then sets
    /// `done`.
    static func scanForASecond(_ watcher: InboxWatcher, then done: Flag) {
        Thread.detachNewThread {
            let start = ContinuousClock.now
            while ContinuousClock.now - start < .seconds(1) { _ = try? watcher.scan() }
            done.set()
        }
    }

    /// The names `swap` uses, for a test to reach what it swaps.
    static func swapped(in inbox: InboxWatcherTests.Inbox, name: String) -> [String] {
        [inbox.directory.file("in/\(name)"), inbox.directory.file("in/.other")]
    }

    @Test func anErrorNotePlantedAsASymlinkIsNotWrittenThrough() throws {
        let inbox = try InboxWatcherTests.Inbox()
        let outside = TemporaryDirectory("outside")
        let target = outside.write("precious.txt", "keep me\n")
        try FileManager.default.createDirectory(atPath: inbox.directory.file("in/failed"), withIntermediateDirectories: true)
        #expect(symlink(target, inbox.directory.file("in/failed/notes.txt.error")) == 0)
        try inbox.drop("notes.txt", Array("hello\n".utf8))

        let reports = try inbox.settle(inbox.watcher())
        #expect(reports.count == 1 && reports.allSatisfy { if case .failed = $0.result { true } else { false } })
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep me\n", "the symlink's target is untouched")
        #expect(Self.isSymlink(inbox.directory.file("in/failed/notes.txt.error")), "the planted link is left as it is")
        #expect(!inbox.exists("notes.txt"), "the file itself still moved to failed/")
        #expect(inbox.exists("failed/notes.txt.1"), "under a name whose note is free")
        #expect((try? String(contentsOfFile: inbox.directory.file("in/failed/notes.txt.1.error"), encoding: .utf8))?
            .contains("neither .jsonl/.ndjson nor .csv") == true)
    }

    @Test func aDoneDirectoryReplacedByASymlinkIsRefusedAndReported() async throws {
        let inbox = try InboxWatcherTests.Inbox()
        let outside = TemporaryDirectory("outside")
        #expect(symlink(outside.path, inbox.directory.file("in/done")) == 0)
        try inbox.drop("a.jsonl", Array(Self.line("e1").utf8))
        let watcher = inbox.watcher()

        for _ in 0..<3 {
            let error = #expect(throws: (any Error).self, "the scan refuses the inbox while done/ is a symlink") {
                try watcher.scan()
            }
            #expect(error.map { "\($0)" }?.contains(inbox.directory.file("in/done")) == true, "the message names done/")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty, "nothing went outside")
        #expect(inbox.exists("a.jsonl"), "the file stays where it is")
        #expect(Self.isSymlink(inbox.directory.file("in/done")), "done/ is not replaced behind the operator's back")

        // Running, the inbox's health says why.
        let task = Task { try await watcher.run() }
        defer { task.cancel() }
        var status: HealthBoard.Status?
        for _ in 0..<500 {
            status = inbox.health.snapshot["inbox:nightly"]
            if case .failed = status { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        guard case .failed(let message)? = status else {
            Issue.record("the inbox reported \(String(describing: status)), not a failure")
            return
        }
        #expect(message.contains(inbox.directory.file("in/done")) && message.contains("symlink"))
        #expect(inbox.exists("a.jsonl"))
    }

    @Test(.enabled(if: geteuid() == 0, "only root can give done/ to another user"))
    func aDoneDirectoryOwnedBySomeoneElseIsRefused() throws {
        let inbox = try InboxWatcherTests.Inbox()
        let done = inbox.directory.file("in/done")
        try FileManager.default.createDirectory(atPath: done, withIntermediateDirectories: true)
        #expect(chown(done, 65_534, 65_534) == 0)
        try inbox.drop("a.jsonl", Array(Self.line("e1").utf8))
        let watcher = inbox.watcher()
        for _ in 0..<3 {
            let error = #expect(throws: (any Error).self) { try watcher.scan() }
            #expect(error.map { "\($0)" }?.contains("65534") == true, "the message names the owner")
        }
        #expect(inbox.exists("a.jsonl"))
        #expect(try inbox.database.journalCount() == 0)
    }

    /// A symlink in the inbox is never read: neither one sitting there, nor one renamed over a file between the
    /// scan that saw a regular file and the open.
    @Test func aSymlinkInTheInboxIsNeverFollowed() async throws {
        let inbox = try InboxWatcherTests.Inbox()
        let outside = TemporaryDirectory("outside")
        let secret = outside.write("secret.jsonl", Self.line("outside"))
        #expect(symlink(secret, inbox.directory.file("in/link.jsonl")) == 0)
        let watcher = inbox.watcher()
        #expect(try inbox.settle(watcher).isEmpty)
        #expect(Self.isSymlink(inbox.directory.file("in/link.jsonl")), "left where it is")

        let regular = inbox.directory.write("feed.jsonl", Self.line("inside"))
        try #require(Self.renameat2 != nil)
        let stop = Flag(), stopped = Flag(), scanned = Flag()
        Self.swap(in: inbox, name: "feed.jsonl", regular: regular, stop: stop, stopped: stopped) { _ = symlink(secret, $0) }
        Self.scanForASecond(watcher, then: scanned)
        while !scanned.isSet { try await Task.sleep(for: .milliseconds(10)) }
        stop.set()
        while !stopped.isSet { try await Task.sleep(for: .milliseconds(1)) }

        let ids = try inbox.database.readJournal(after: 0, limit: 10).map(\.id)
        #expect(!ids.contains("outside"), "the file outside the inbox was never read")
        #expect(try String(contentsOfFile: secret, encoding: .utf8) == Self.line("outside"))
    }

    /// A FIFO does not block the inbox: neither one sitting there, nor one renamed over a file between the scan
    /// that saw a regular file and the open (a blocking open(2) of a FIFO waits for a writer forever).
    @Test func aFIFOInTheInboxDoesNotBlockTheScan() async throws {
        let inbox = try InboxWatcherTests.Inbox()
        #expect(mkfifo(inbox.directory.file("in/pipe.jsonl"), 0o600) == 0)
        try inbox.drop("a.jsonl", Array(Self.line("e1").utf8))
        let watcher = inbox.watcher()
        #expect(try inbox.settle(watcher) == [.init(fileName: "a.jsonl", result: .done(accepted: 1, duplicates: 0, rejected: 0))])
        #expect(inbox.exists("pipe.jsonl"), "left where it is")

        let regular = inbox.directory.write("feed.jsonl", Self.line("inside"))
        try #require(Self.renameat2 != nil)
        let stop = Flag(), stopped = Flag(), scanned = Flag()
        Self.swap(in: inbox, name: "feed.jsonl", regular: regular, stop: stop, stopped: stopped) { _ = mkfifo($0, 0o600) }
        Self.scanForASecond(watcher, then: scanned)
        let deadline = ContinuousClock.now + .seconds(15)
        while !scanned.isSet && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        stop.set()
        #expect(scanned.isSet, "the scans finished: none waited on the FIFO")
        // Otherwise, let the blocked open(2) go (it waits for a writer) so the test can end.
        while !scanned.isSet {
            for path in Self.swapped(in: inbox, name: "feed.jsonl") {
                let writer = open(path, O_WRONLY | O_NONBLOCK)
                if writer >= 0 { close(writer) }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        while !stopped.isSet { try await Task.sleep(for: .milliseconds(1)) }
    }

    /// A writer that pauses at a line end while its file is claimed: the file is read on, not moved with the
    /// appended line unread.
    @Test func aFileAppendedWhileReadIsReadOnBeforeItMovesToDone() throws {
        let inbox = try InboxWatcherTests.Inbox()
        try inbox.drop("feed.jsonl", Array(Self.line("e1").utf8))
        let path = inbox.directory.file("in/feed.jsonl")
        let sink = ReplacingSink(database: inbox.database) { InboxHardeningTests.append(InboxHardeningTests.line("e2"), to: path) }
        let settings = InboxSettings(name: "nightly", directory: inbox.directory.file("in"), pollInterval: .milliseconds(10),
                                     timeZone: TimeZone(secondsFromGMT: 0) ?? .current)
        let watcher = InboxWatcher(settings: settings, sink: sink, health: inbox.health,
                                   logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))

        let first = try inbox.settle(watcher, scans: 2)
        #expect(first == [.init(fileName: "feed.jsonl", result: .stillBeingWritten(accepted: 1, duplicates: 0, rejected: 0))])
        #expect(inbox.exists("feed.jsonl") && !inbox.exists("done/feed.jsonl"), "it changed while read: it stays")
        #expect(try inbox.database.readJournal(after: 0, limit: 10).map(\.id) == ["e1"])

        let second = try inbox.settle(watcher)
        #expect(second == [.init(fileName: "feed.jsonl", result: .done(accepted: 1, duplicates: 0, rejected: 0))],
                "read on from where it stopped: nothing read twice")
        #expect(try inbox.database.readJournal(after: 0, limit: 10).map(\.id) == ["e1", "e2"])
        #expect(inbox.exists("done/feed.jsonl") && !inbox.exists("feed.jsonl"))
        #expect(try String(contentsOfFile: inbox.directory.file("in/done/feed.jsonl"), encoding: .utf8)
            == Self.line("e1") + Self.line("e2"))
    }

    /// A writer that pauses mid-line (long enough for the claim) and goes on while the file is read: the line
    /// without its newline is not taken cut short; it is read whole on the next claim.
    @Test func aLastLineWithoutANewlineIsNotTakenCutShortWhileTheFileGrows() throws {
        let inbox = try InboxWatcherTests.Inbox()
        let whole = Self.line("e2")
        let cut = whole.utf8.count / 2
        let head = String(decoding: Array(whole.utf8)[..<cut], as: UTF8.self)
        let tail = String(decoding: Array(whole.utf8)[cut...], as: UTF8.self)
        try inbox.drop("feed.jsonl", Array((Self.line("e1") + head).utf8))
        let path = inbox.directory.file("in/feed.jsonl")
        let sink = ReplacingSink(database: inbox.database) { InboxHardeningTests.append(tail, to: path) }
        let settings = InboxSettings(name: "nightly", directory: inbox.directory.file("in"), pollInterval: .milliseconds(10),
                                     timeZone: TimeZone(secondsFromGMT: 0) ?? .current)
        let watcher = InboxWatcher(settings: settings, sink: sink, health: inbox.health,
                                   logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))

        let first = try inbox.settle(watcher, scans: 3)  // no final newline: claimed on the third scan
        #expect(first == [.init(fileName: "feed.jsonl", result: .stillBeingWritten(accepted: 1, duplicates: 0, rejected: 0))])
        #expect(inbox.exists("feed.jsonl") && !inbox.exists("done/feed.jsonl"))
        #expect(try inbox.database.quarantinedItems().isEmpty, "the half line was not taken as a line")

        let second = try inbox.settle(watcher)
        #expect(second == [.init(fileName: "feed.jsonl", result: .done(accepted: 1, duplicates: 0, rejected: 0))])
        #expect(try inbox.database.readJournal(after: 0, limit: 10).map(\.id) == ["e1", "e2"])
        #expect(try inbox.database.quarantinedItems().isEmpty)
        #expect(inbox.exists("done/feed.jsonl"))
    }
}
