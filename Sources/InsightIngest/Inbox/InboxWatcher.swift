import Foundation
import InsightCore
import Logging
import ServiceLifecycle
import Synchronization

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
    }

    public let settings: InboxSettings
    private let sink: any IngestSink
    private let health: HealthBoard
    private let logger: Logger
    private let onCommitted: @Sendable () -> Void
    private let observed = Mutex<[String: Observation]>([:])

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
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try prepareDirectories()
                health.report(component, .running)
                for report in try scan() {
                    log(report)
                }
            } catch {
                health.report(component, .failed("\(error)"))
                logger.error("inbox scan failed; retrying", metadata: ["inbox.source": "\(settings.name)", "error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.settings.pollInterval) }
        }
    }

    /// One pass over the directory: processes every file that is complete. Returns what happened to each.
    @discardableResult
    public func scan() throws -> [FileReport] {
        let manager = FileManager.default
        let names = try manager.contentsOfDirectory(atPath: settings.directory).sorted()
        var reports: [FileReport] = []
        var seen = Set<String>()
        for name in names {
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            guard !name.hasPrefix("."), !name.hasSuffix(".tmp"), !name.hasSuffix(".part") else { continue }
            let path = (settings.directory as NSString).appendingPathComponent(name)
            guard let attributes = try? manager.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            let observation = Observation(size: (attributes[.size] as? NSNumber)?.int64Value ?? -1,
                                          modified: attributes[.modificationDate] as? Date ?? .distantPast)
            seen.insert(name)
            let previous = observed.withLock { state in
                defer { state[name] = observation }
                return state[name]
            }
            guard previous == observation else { continue }  // still being written, or first sight
            let report = process(path: path, name: name, modified: observation.modified)
            reports.append(report)
            if report.result != .interrupted { observed.withLock { _ = $0.removeValue(forKey: name) } }
        }
        observed.withLock { state in state = state.filter { seen.contains($0.key) } }
        return reports
    }

    private func process(path: String, name: String, modified: Date) -> FileReport {
        do {
            let key = try InboxFileReader.fileKey(path: path, name: name)
            if try sink.inboxCheckpoint(source: settings.name, fileKey: key)?.finished == true {
                try finish(path: path, name: name)
                return FileReport(fileName: name, result: .alreadyDone)
            }
            let reader = InboxFileReader(settings: settings, sink: sink, onCommitted: onCommitted)
            switch try reader.read(path: path, name: name, fileKey: key, modified: modified) {
            case .interrupted:
                return FileReport(fileName: name, result: .interrupted)
            case .done(let accepted, let duplicates, let rejected):
                try finish(path: path, name: name)
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

    private func finish(path: String, name: String) throws {
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
