import ArgumentParser
import Foundation
import InsightCore
import InsightIngest
import InsightStore
import Logging

/// Writes an N-line JSONL file (or copies a given one) into a temporary inbox and times the watcher taking it into
/// the journal.
struct InboxBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbox", abstract: "Time a large JSONL file through the file inbox into the journal.")

    @Option(help: "Lines in the file.") var lines = 1_000_000
    @Option(help: "Lines committed per transaction.") var linesPerCommit = InboxSettings.defaultLinesPerCommit
    @Option(help: "Take this JSONL file (copied into the inbox) instead of generating one, e.g. W1's.") var file: String?
    @Option(help: "Directory for the temporary inbox and database.") var directory = NSTemporaryDirectory()
    @OptionGroup var sqlite: SQLiteMemoryOptions

    func run() async throws {
        let root = (directory as NSString).appendingPathComponent("insightd-inbox-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let inbox = (root as NSString).appendingPathComponent("inbox")
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        let database = try AppDatabase.open(directory: (root as NSString).appendingPathComponent("state"),
                                            memory: sqlite.memoryUse)

        let path = (inbox as NSString).appendingPathComponent("bulk.jsonl")
        if let file {
            try FileManager.default.copyItem(atPath: file, toPath: path)
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
            try await measure(inbox: inbox, path: path, bytes: size, database: database, label: file)
            try database.close()
            return
        }
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        var bytes = 0
        var chunk = ""
        for index in 0..<lines {
            chunk += Synthetic.line(index, clients: 10_000) + "\n"
            if chunk.utf8.count > 1 << 20 {
                bytes += chunk.utf8.count
                try handle.write(contentsOf: Data(chunk.utf8))
                chunk = ""
            }
        }
        bytes += chunk.utf8.count
        try handle.write(contentsOf: Data(chunk.utf8))
        try handle.close()
        try await measure(inbox: inbox, path: path, bytes: bytes, database: database, label: "\(lines) generated lines")
        try database.close()
    }

    /// Times the watcher taking the file at `path` into the journal.
    private func measure(inbox: String, path: String, bytes: Int, database: AppDatabase, label: String) async throws {
        print("inbox bench: \(label), \(bytes / 1_000_000) MB, \(linesPerCommit) lines per commit (synchronous=FULL), \(sqlite.description)")
        let watcher = InboxWatcher(
            settings: InboxSettings(name: "bench", directory: inbox, pollInterval: .milliseconds(10),
                                    linesPerCommit: linesPerCommit, timeZone: TimeZone(identifier: "Asia/Shanghai") ?? .current),
            sink: database, health: HealthBoard(), logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        _ = try watcher.scan()  // first sight
        // The inbox's own peak: writing the file is not part of it.
        let reset = PeakRSS.reset()
        let before = PeakRSS.currentMegabytes()
        let start = ContinuousClock.now
        let reports = try watcher.scan()
        let elapsed = ContinuousClock.now - start
        let seconds = elapsed.timeInterval
        let journaled = try database.journalCount()
        print("reports: \(reports.map { "\($0.fileName): \($0.result)" })")
        print(String(format: "inbox → journal: %d events in %.2f s = %.0f events/s (%.1f MB/s), peak RSS %d MB (%d MB before it)",
                     journaled, seconds, Double(journaled) / seconds, Double(bytes) / 1e6 / seconds, PeakRSS.megabytes(), before)
              + (reset ? "" : " (the peak could not be started over: it is the whole process's)") + "; after it: " + PeakRSS.split())
    }
}
