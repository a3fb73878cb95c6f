import Foundation
import InsightCore
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Watches one inbox directory (polling). A file is claimed only when complete: names ending in `.tmp` or
/// `.part` are skipped (write then rename), and a file must keep the same size and modification time
/// across two scans. Finished files go to `done/` (or are deleted); unreadable ones go to `failed/` with a
/// `.error` note beside them.
public final class InboxWatcher: Service, Sendable {
    public struct FileReport: Sendable, Equatable {
        public enum Result: Sendable, Equatable {
            case done(accepted: Int, duplicates: Int, rejected: Int)
            case alreadyDone
            case interrupted
            case failed(String)
        }

        public let fileName: String
        public let result: Result

        public init(fileName: String, result: Result) {
            self.fileName = fileName
            self.result = result
        }
    }

    private struct Observation: Equatable {
        let size: Int64
        let modified: Date
        let inode: UInt64
    }

    private struct Tracked {
        var observation: Observation
        /// Consecutive scans that saw the file unchanged.
        var stableScans: Int
    }

    public let settings: InboxSettings
    private let sink: any IngestSink
    private let health: HealthBoard
    private let logger: Logger
    private let onCommitted: @Sendable () -> Void
    private let observed = Mutex<[String: Tracked]>([:])
    /// Set on graceful shutdown or cancellation; checked between commits (scans run off the task's thread).
    private let stopRequested = Atomic<Bool>(false)
    /// Scans do blocking file and database I/O: they run here, not on Swift's shared cooperative threads.
    private let queue = DispatchQueue(label: "insightd.inbox")

    public init(settings: InboxSettings, sink: any IngestSink, health: HealthBoard, logger: Logger,
                onCommitted: @escaping @Sendable () -> Void = {}) {
        self.settings = settings
        self.sink = sink
        self.health = health
        self.logger = logger
        self.onCommitted = onCommitted
    }

    private var component: String { "inbox:\(settings.name)" }

    public func run() async throws {
        health.report(component, .starting)
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                while !self.stopRequested.load(ordering: .acquiring) {
                    do {
                        let reports = try await self.scanOffThread()
                        self.health.report(self.component, .running)
                        for report in reports { self.log(report) }
                    } catch {
                        self.health.report(self.component, .failed("\(error)"))
                        self.logger.error("inbox scan failed; retrying", metadata: [
                            "inbox.source": "\(self.settings.name)", "error": "\(error)",
                        ])
                    }
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.settings.pollInterval) }
                }
            } onGracefulShutdown: {
                self.stopRequested.store(true, ordering: .releasing)
            }
        } onCancel: {
            self.stopRequested.store(true, ordering: .releasing)
        }
    }

    private func scanOffThread() async throws -> [FileReport] {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result {
                    try self.prepareDirectories()
                    return try self.scan()
                })
            }
        }
    }

    /// One pass over the directory: processes every file that is complete. Returns what happened to each.
    ///
    /// A file is complete when it kept its size, modification time and inode since the previous scan and
    /// ends with a newline; a file without a final newline (or an empty one) must stay unchanged for one
    /// more scan, so a writer that pauses mid-line is not cut short.
    @discardableResult
    public func scan() throws -> [FileReport] {
        let manager = FileManager.default
        let names = try manager.contentsOfDirectory(atPath: settings.directory).sorted()
        var reports: [FileReport] = []
        var seen = Set<String>()
        for name in names {
            if shouldStop() { break }
            guard !name.hasPrefix("."), !name.hasSuffix(".tmp"), !name.hasSuffix(".part") else { continue }
            let path = (settings.directory as NSString).appendingPathComponent(name)
            guard let attributes = try? manager.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            let observation = Observation(size: (attributes[.size] as? NSNumber)?.int64Value ?? -1,
                                          modified: attributes[.modificationDate] as? Date ?? .distantPast,
                                          inode: (attributes[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0)
            seen.insert(name)
            let stableScans = observed.withLock { state -> Int in
                let stable = state[name].map { $0.observation == observation ? $0.stableScans + 1 : 0 } ?? 0
                state[name] = Tracked(observation: observation, stableScans: stable)
                return stable
            }
            guard stableScans >= 1 else { continue }  // first sight, or changed since the last scan
            if stableScans == 1, observation.size == 0 || !Self.endsWithNewline(path) { continue }
            let report = process(path: path, name: name, modified: observation.modified)
            reports.append(report)
            if report.result != .interrupted { observed.withLock { _ = $0.removeValue(forKey: name) } }
        }
        observed.withLock { state in state = state.filter { seen.contains($0.key) } }
        return reports
    }

    private func shouldStop() -> Bool {
        stopRequested.load(ordering: .acquiring) || Task.isCancelled
    }

    private static func endsWithNewline(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let end = try? handle.seekToEnd(), end > 0 else { return false }
        try? handle.seek(toOffset: end - 1)
        return (try? handle.read(upToCount: 1))?.first == 0x0A
    }

    private func process(path: String, name: String, modified: Date) -> FileReport {
        do {
            // One open handle for hashing and reading: a file renamed over this one meanwhile is not mixed in.
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw InboxFileReader.Unreadable(description: "cannot open \(name)")
            }
            defer { try? handle.close() }
            var status = stat()
            let inode = fstat(handle.fileDescriptor, &status) == 0 ? UInt64(status.st_ino) : 0
            let key = try InboxFileReader.fileKey(handle: handle, name: name)
            if try sink.inboxCheckpoint(source: settings.name, fileKey: key)?.finished == true {
                try finish(path: path, name: name, inode: inode)
                return FileReport(fileName: name, result: .alreadyDone)
            }
            let reader = InboxFileReader(settings: settings, sink: sink, onCommitted: onCommitted)
            switch try reader.read(handle: handle, name: name, fileKey: key, modified: modified, shouldStop: shouldStop) {
            case .interrupted:
                return FileReport(fileName: name, result: .interrupted)
            case .done(let accepted, let duplicates, let rejected):
                try finish(path: path, name: name, inode: inode)
                return FileReport(fileName: name, result: .done(accepted: accepted, duplicates: duplicates, rejected: rejected))
            }
        } catch let error as InboxFileReader.Unreadable {
            fail(path: path, name: name, reason: error.description)
            return FileReport(fileName: name, result: .failed(error.description))
        } catch {
            // A database or disk problem, not the file's fault: leave the file and try again next scan.
            logger.error("inbox file not processed; will retry", metadata: [
                "inbox.source": "\(settings.name)", "file.name": "\(name)", "error": "\(error)",
            ])
            return FileReport(fileName: name, result: .interrupted)
        }
    }

    private func prepareDirectories() throws {
        let manager = FileManager.default
        for directory in [settings.directory, doneDirectory, failedDirectory] {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }

    private var doneDirectory: String { (settings.directory as NSString).appendingPathComponent("done") }
    private var failedDirectory: String { (settings.directory as NSString).appendingPathComponent("failed") }

    /// Moves (or deletes) the file that was read, unless another file has been renamed over it meanwhile:
    /// that one stays for the next scan.
    private func finish(path: String, name: String, inode: UInt64) throws {
        var status = stat()
        guard stat(path, &status) == 0, UInt64(status.st_ino) == inode else {
            logger.warning("a new file replaced the one just read; it will be read on the next scan", metadata: [
                "inbox.source": "\(settings.name)", "file.name": "\(name)",
            ])
            return
        }
        switch settings.onDone {
        case .delete: try FileManager.default.removeItem(atPath: path)
        case .move: try move(path, into: doneDirectory, name: name)
        }
    }

    private func fail(path: String, name: String, reason: String) {
        do {
            let target = try move(path, into: failedDirectory, name: name)
            try Data((reason + "\n").utf8).write(to: URL(fileURLWithPath: target + ".error"))
        } catch {
            logger.error("cannot move an unreadable file to failed/", metadata: ["file.name": "\(name)", "error": "\(error)"])
        }
        logger.warning("inbox file unreadable; moved to failed/", metadata: [
            "inbox.source": "\(settings.name)", "file.name": "\(name)", "reason": "\(reason)",
        ])
    }

    /// Moves a file into a directory, never overwriting: a second `loans.csv` becomes `loans.csv.1`.
    @discardableResult
    private func move(_ path: String, into directory: String, name: String) throws -> String {
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var target = (directory as NSString).appendingPathComponent(name)
        var suffix = 1
        while manager.fileExists(atPath: target) {
            target = (directory as NSString).appendingPathComponent("\(name).\(suffix)")
            suffix += 1
        }
        try manager.moveItem(atPath: path, toPath: target)
        return target
    }

    private func log(_ report: FileReport) {
        switch report.result {
        case .done(let accepted, let duplicates, let rejected):
            IngestMetrics.count(source: settings.name, received: accepted + duplicates + rejected, accepted: accepted,
                                duplicates: duplicates, rejected: rejected)
            logger.info("inbox file ingested", metadata: [
                "inbox.source": "\(settings.name)", "file.name": "\(report.fileName)", "events.accepted": "\(accepted)",
                "events.duplicates": "\(duplicates)", "events.rejected": "\(rejected)",
            ])
        case .alreadyDone:
            logger.info("inbox file was already ingested; moved aside", metadata: [
                "inbox.source": "\(settings.name)", "file.name": "\(report.fileName)",
            ])
        case .interrupted, .failed:
            break
        }
    }
}
