import Foundation
import InsightCore
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Watches one inbox directory (polling). A file is claimed only when complete: names ending in `.tmp` or
/// `.part` are skipped (write then rename), and a file must keep the same size and modification time
/// across two scans. Finished files go to `done/` (or are deleted); unreadable ones go to `failed/` with a
/// `.error` note beside them.
///
/// The inbox is written by other jobs, so nothing in it is reached through a symlink (``InboxDirectory``): only
/// regular files are read, each opened relative to the inbox's descriptor with `O_NOFOLLOW | O_NONBLOCK` and
/// checked once open; `done/` and `failed/` must be real directories owned by the daemon's user, or the scan is
/// refused (the inbox's health says why) and every file stays where it is. A file that changed while it was read
/// (written in place) is not moved: it stays, and a later scan reads on from where the last commit stopped.
public final class InboxWatcher: Service, Sendable {
    public struct FileReport: Sendable, Equatable {
        public enum Result: Sendable, Equatable {
            case done(accepted: Int, duplicates: Int, rejected: Int)
            /// Read as far as it went, but it changed meanwhile (a writer still at it, in place): it stays in the
            /// inbox and a later scan reads on from there.
            case stillBeingWritten(accepted: Int, duplicates: Int, rejected: Int)
            case alreadyDone
            /// Another instance of the cluster is reading it (a shared inbox): left to it.
            case claimedElsewhere
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

    private struct Tracked {
        var observation: InboxDirectory.Status
        /// Consecutive scans that saw the file unchanged.
        var stableScans: Int
        /// What was read of the file before it changed, if it did while it was read.
        var readSoFar: ReadSoFar?
    }

    /// The part of a file read before it was seen changing: its first `length` bytes, known as `fileKey`. When
    /// the file, grown in place, still starts with them, it is read on from that key's checkpoint. Kept in
    /// memory only: after a restart such a file is read from its start (its events then come out as duplicates).
    private struct ReadSoFar {
        let inode: UInt64
        let fileKey: String
        let length: UInt64
    }

    /// The inbox and where its files go, open for one scan.
    private struct Directories {
        let inbox: InboxDirectory
        /// Nil when finished files are deleted.
        let done: InboxDirectory?
        let failed: InboxDirectory
    }

    public let settings: InboxSettings
    private let sink: any IngestSink
    private let health: HealthBoard
    private let logger: Logger
    private let onCommitted: @Sendable () -> Void
    private let observed = Mutex<[String: Tracked]>([:])
    /// Entries left alone (not regular files), with the reason logged: logged once while they stay.
    private let refused = Mutex<[String: String]>([:])
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
                    // The configured directory is made if missing; `done/` and `failed/` are made by the scan, inside
                    // the directory it opened.
                    try FileManager.default.createDirectory(atPath: self.settings.directory, withIntermediateDirectories: true)
                    return try self.scan()
                })
            }
        }
    }

    /// One pass over the directory: processes every file that is complete. Returns what happened to each.
    ///
    /// A file is complete when it kept its size, modification time and inode since the previous scan and
    /// ends with a newline; a file without a final newline (or an empty one) must stay unchanged for one
    /// more scan, so a writer that pauses mid-line is not cut short. Throws, leaving every file in place, when
    /// the inbox, `done/` or `failed/` is not a real directory (a symlink, say) or not the daemon's.
    @discardableResult
    public func scan() throws -> [FileReport] {
        let inbox = try InboxDirectory(opening: settings.directory)
        let done = settings.onDone == .move ? try inbox.subdirectory("done") : nil
        let directories = Directories(inbox: inbox, done: done, failed: try inbox.subdirectory("failed"))
        var reports: [FileReport] = []
        var present = Set<String>(), seen = Set<String>()
        for name in try inbox.names() {
            if shouldStop() { break }
            guard !name.hasPrefix("."), !name.hasSuffix(".tmp"), !name.hasSuffix(".part") else { continue }
            guard let observation = inbox.status(of: name) else { continue }  // gone since the listing
            present.insert(name)
            guard observation.isRegular else {
                if !(observation.isDirectory && (name == "done" || name == "failed")) {
                    refuse(name, InboxDirectory.notRegular(name, kind: observation.kind))
                }
                continue
            }
            seen.insert(name)
            let stableScans = observed.withLock { state -> Int in
                let earlier = state[name]
                let stable = earlier.map { $0.observation == observation ? $0.stableScans + 1 : 0 } ?? 0
                state[name] = Tracked(observation: observation, stableScans: stable, readSoFar: earlier?.readSoFar)
                return stable
            }
            guard stableScans >= 1 else { continue }  // first sight, or changed since the last scan
            if let report = claim(name, observation: observation, stableScans: stableScans, in: directories) {
                reports.append(report)
            }
        }
        observed.withLock { state in state = state.filter { seen.contains($0.key) } }
        refused.withLock { state in state = state.filter { present.contains($0.key) } }
        return reports
    }

    private func shouldStop() -> Bool {
        stopRequested.load(ordering: .acquiring) || Task.isCancelled
    }

    /// Opens the file `name` the scans saw unchanged and processes it if it is complete; nil when it is not
    /// claimed (not yet complete, refused, or not the file the scans saw).
    private func claim(_ name: String, observation: InboxDirectory.Status, stableScans: Int,
                       in directories: Directories) -> FileReport? {
        let file: InboxDirectory.OpenFile
        do {
            file = try directories.inbox.openFile(name)
        } catch {
            // Swapped for a symlink, a FIFO or the like since the scan looked at it.
            refuse(name, error.description)
            return nil
        }
        // What was opened is what the scans watched; a file renamed over it meanwhile is watched anew.
        guard file.status == observation else { return nil }
        if stableScans == 1, observation.size == 0 || !Self.endsWithNewline(file) { return nil }
        let (report, readSoFar) = process(name, file: file, directories: directories)
        observed.withLock { state in
            switch report.result {
            case .interrupted, .claimedElsewhere:
                break  // unchanged, it is claimed again at the next scan and resumes at its checkpoint
            case .stillBeingWritten:
                // Claimed again once it has kept still for a scan from now.
                state[name] = Tracked(observation: file.currentStatus() ?? observation, stableScans: 0, readSoFar: readSoFar)
            case .done, .alreadyDone, .failed:
                state[name] = nil
            }
        }
        return report
    }

    private static func endsWithNewline(_ file: InboxDirectory.OpenFile) -> Bool {
        guard file.status.size > 0 else { return false }
        var byte: UInt8 = 0
        return pread(file.handle.fileDescriptor, &byte, 1, off_t(file.status.size - 1)) == 1 && byte == 0x0A
    }

    /// Reads the open file `name` from its checkpoint, if any, to the size it had when opened, then moves it
    /// away if it is unchanged. Returns what happened and, when it changed meanwhile, what was read of it.
    private func process(_ name: String, file: InboxDirectory.OpenFile,
                         directories: Directories) -> (FileReport, ReadSoFar?) {
        // One open descriptor for hashing and reading: a file renamed over this one meanwhile is not mixed in.
        // Both stop at the size the file had when opened, so the key names exactly the bytes that were read.
        let end = UInt64(max(0, file.status.size))
        let unchanged = { file.currentStatus().map { $0.sameContent(as: file.status) } ?? false }
        func report(_ result: FileReport.Result) -> FileReport { FileReport(fileName: name, result: result) }
        do {
            // In a cluster sharing the inbox, one instance reads a file at a time; the others leave it.
            guard let claim = try sink.claimInboxFile(source: settings.name, name: name) else {
                return (report(.claimedElsewhere), nil)
            }
            defer { claim.release() }
            let earlier = observed.withLock { $0[name]?.readSoFar }
                .flatMap { $0.inode == file.status.inode && $0.length <= end ? $0 : nil }
            let keys = try InboxFileReader.fileKeys(handle: file.handle, name: name, length: end, prefixLength: earlier?.length)
            let readSoFar = ReadSoFar(inode: file.status.inode, fileKey: keys.whole, length: end)
            var start = try sink.inboxCheckpoint(source: settings.name, fileKey: keys.whole)
            if start?.finished == true {
                switch try finish(name, file: file, unchanged: unchanged, directories: directories) {
                case .finished, .replaced: return (report(.alreadyDone), nil)
                case .changed: return (report(.stillBeingWritten(accepted: 0, duplicates: 0, rejected: 0)), readSoFar)
                }
            }
            if start == nil, let earlier, keys.prefix == earlier.fileKey {
                // Grown in place since it was read, and still starting with what was read: read on from there.
                start = try sink.inboxCheckpoint(source: settings.name, fileKey: earlier.fileKey)
            }
            let reader = InboxFileReader(settings: settings, sink: sink, onCommitted: onCommitted)
            switch try reader.read(handle: file.handle, name: name, fileKey: keys.whole, end: end, start: start,
                                   modified: file.status.modified, shouldStop: shouldStop, lastLineIsWhole: unchanged) {
            case .interrupted:
                return (report(.interrupted), nil)
            case .readSoFar(let accepted, let duplicates, let rejected):
                return (report(.stillBeingWritten(accepted: accepted, duplicates: duplicates, rejected: rejected)), readSoFar)
            case .done(let accepted, let duplicates, let rejected):
                switch try finish(name, file: file, unchanged: unchanged, directories: directories) {
                case .finished, .replaced:
                    return (report(.done(accepted: accepted, duplicates: duplicates, rejected: rejected)), nil)
                case .changed:
                    return (report(.stillBeingWritten(accepted: accepted, duplicates: duplicates, rejected: rejected)), readSoFar)
                }
            }
        } catch let error as InboxFileReader.Unreadable {
            fail(name, file: file, reason: error.description, directories: directories)
            return (report(.failed(error.description)), nil)
        } catch {
            // A database or disk problem, not the file's fault: leave the file and try again next scan.
            logger.error("inbox file not processed; will retry", metadata: [
                "inbox.source": "\(settings.name)", "file.name": "\(name)", "error": "\(error)",
            ])
            return (report(.interrupted), nil)
        }
    }

    private enum Settlement {
        /// Moved to `done/` (or deleted).
        case finished
        /// Another file is at its name now: that one is for the next scan.
        case replaced
        /// Written to since it was opened: it stays, to be read on.
        case changed
    }

    /// Moves (or deletes) the file that was read, unless another file has been renamed over it meanwhile (that
    /// one stays for the next scan) or it changed since it was opened: a writer appending in place could
    /// otherwise see its last lines moved to `done/` unread.
    private func finish(_ name: String, file: InboxDirectory.OpenFile, unchanged: () -> Bool,
                        directories: Directories) throws -> Settlement {
        guard directories.inbox.status(of: name)?.inode == file.status.inode else {
            logger.warning("a new file replaced the one just read; it will be read on the next scan", metadata: [
                "inbox.source": "\(settings.name)", "file.name": "\(name)",
            ])
            return .replaced
        }
        guard unchanged() else { return .changed }
        if let done = directories.done {
            try directories.inbox.move(name, into: done)
        } else {
            try directories.inbox.remove(name)
        }
        return .finished
    }

    /// Moves the file to `failed/` with its `.error` note (a new file, never one written through an existing
    /// name), unless another file has been renamed over it meanwhile.
    private func fail(_ name: String, file: InboxDirectory.OpenFile, reason: String, directories: Directories) {
        guard directories.inbox.status(of: name)?.inode == file.status.inode else {
            logger.warning("inbox file unreadable, and a new file replaced it; that one will be read on the next scan",
                           metadata: ["inbox.source": "\(settings.name)", "file.name": "\(name)", "reason": "\(reason)"])
            return
        }
        do {
            let moved = try directories.inbox.move(name, into: directories.failed, companion: ".error")
            try directories.failed.writeNew(moved + ".error", reason + "\n")
        } catch {
            logger.error("cannot move an unreadable file to failed/", metadata: ["file.name": "\(name)", "error": "\(error)"])
        }
        logger.warning("inbox file unreadable; moved to failed/", metadata: [
            "inbox.source": "\(settings.name)", "file.name": "\(name)", "reason": "\(reason)",
        ])
    }

    /// Logs why the entry `name` is left alone, once for as long as it stays so.
    private func refuse(_ name: String, _ reason: String) {
        let new = refused.withLock { state -> Bool in
            defer { state[name] = reason }
            return state[name] != reason
        }
        guard new else { return }
        logger.warning("inbox entry refused; left where it is", metadata: [
            "inbox.source": "\(settings.name)", "file.name": "\(name)", "reason": "\(reason)",
        ])
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
        case .stillBeingWritten(let accepted, let duplicates, let rejected):
            IngestMetrics.count(source: settings.name, received: accepted + duplicates + rejected, accepted: accepted,
                                duplicates: duplicates, rejected: rejected)
            logger.info("inbox file ingested so far; it is still being written", metadata: [
                "inbox.source": "\(settings.name)", "file.name": "\(report.fileName)", "events.accepted": "\(accepted)",
                "events.duplicates": "\(duplicates)", "events.rejected": "\(rejected)",
            ])
        case .alreadyDone:
            logger.info("inbox file was already ingested; moved aside", metadata: [
                "inbox.source": "\(settings.name)", "file.name": "\(report.fileName)",
            ])
        case .claimedElsewhere:
            logger.debug("inbox file is being read by another instance", metadata: [
                "inbox.source": "\(settings.name)", "file.name": "\(report.fileName)",
            ])
        case .interrupted, .failed:
            break
        }
    }
}
