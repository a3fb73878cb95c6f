import Foundation
#if canImport(Glibc)
import Glibc
#endif
import InsightCore
import InsightEngine
import InsightPlugins
import InsightPostgres
import InsightStore
import Logging

/// What the `insightd` subcommands do. The executable only parses arguments and calls these, so tests
/// can run the same code.
public enum Commands {
    /// Exit status: 0 success, 1 a configuration, state or input problem (with a message on stderr).
    public typealias ExitCode = Int32

    /// Raises the soft descriptor limit to the hard one (systemd's `LimitNOFILE` sets both; a shell often leaves the
    /// soft one at 1024): connections, the database and the inbox share it, and a daemon out of descriptors
    /// refuses valid requests.
    static func raiseDescriptorLimit(logger: Logger) {
        #if canImport(Glibc)
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            let before = limit.rlim_cur
            limit.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
                logger.warning("could not raise the descriptor limit", metadata: ["process.descriptor_limit": "\(before)"])
            }
        }
        #endif
    }

    /// `insightd run`.
    public static func run(configPath: String) async -> ExitCode {
        let configuration: LoadedConfiguration
        do {
            configuration = try ConfigLoader().load(path: configPath)
        } catch {
            printError("configuration has errors; insightd did not start:\n\(error.description)")
            return 1
        }
        LoggingSetup.bootstrap(configuration.config.logging)
        DaemonMetrics.bootstrap()
        let logger = Logger(label: "insightd")
        for warning in configuration.warnings { logger.warning("\(warning)") }
        raiseDescriptorLimit(logger: logger)
        do {
            if configuration.config.store.kind == .postgres {
                try await ClusterDaemon.build(configuration: configuration, logger: logger).run()
                return 0
            }
            let daemon = try Daemon.build(configuration: configuration, logger: logger)
            try await daemon.run()
            return 0
        } catch let error as StoreError {
            printError("cannot open state: \(error)")
            return 1
        } catch let error as StateLock.Held {
            printError("insightd did not start: \(error)")
            return 1
        } catch {
            printError("insightd stopped on an error: \(error)")
            return 1
        }
    }

    /// `insightd check`: validates the main file, every plugin file and every secret; touches no state.
    public static func check(configPath: String) -> ExitCode {
        do {
            let configuration = try ConfigLoader().load(path: configPath)
            for warning in configuration.warnings { printError("warning: \(warning)") }
            let enabled = configuration.plugins.filter(\.enabled).map(\.id)
            print("\(configPath): OK (\(configuration.plugins.count) plugin files, enabled: \(enabled.isEmpty ? "none" : enabled.joined(separator: ", ")); state in \(configuration.stateDirectory))")
            return 0
        } catch {
            printError(error.description)
            printError("\(error.errors.count) error\(error.errors.count == 1 ? "" : "s"); fix them and run insightd check again")
            return 1
        }
    }

    /// `insightd plugins`: every built-in plugin, whether it is enabled, what it subscribes to, its schedule.
    public static func plugins(configPath: String) -> ExitCode {
        guard let configuration = loadOrReport(configPath) else { return 1 }
        let loaded = Dictionary(configuration.plugins.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var rows = [["PLUGIN", "ENABLED", "SUBSCRIBES TO", "DAILY AT", "WHAT IT FINDS"]]
        for registration in BuiltinPlugins.all {
            let plugin = loaded[registration.id]
            rows.append([
                registration.id,
                plugin.map { $0.enabled ? "yes" : "no" } ?? "no (no config file)",
                plugin.map { $0.subscriptions.isEmpty ? "-" : $0.subscriptions.map(\.pattern).joined(separator: ", ") } ?? "-",
                plugin?.schedule?.description ?? "-",
                registration.summary,
            ])
        }
        print(table(rows))
        return 0
    }

    /// `insightd ingest FILE...`: appends the events in JSON / NDJSON files to the journal, quarantining bad
    /// items with file and line. A running daemon picks them up within its poll interval.
    public static func ingest(files: [String], configPath: String, source: String) async -> ExitCode {
        guard let configuration = loadOrReport(configPath) else { return 1 }
        let database: any IngestSink
        // On the shared store the events go into the cluster's journal (any instance dispatches them).
        var pool: Task<Void, Never>?
        defer { pool?.cancel() }
        do {
            if let postgres = configuration.postgresSettings {
                let store = PostgresStore(settings: postgres, logger: Logger(label: "insightd", factory: { _ in SwiftLogNoOpLogHandler() }))
                pool = Task { await store.run() }
                try await store.migrate()
                database = store
            } else {
                database = try AppDatabase.open(directory: configuration.stateDirectory, memory: .compact)
            }
        } catch {
            printError("cannot open state: \(error)")
            return 1
        }
        var status: ExitCode = 0
        for file in files {
            do {
                let summary = try Ingestor(database: database).ingestFile(path: file, source: source) { rejection in
                    printError("\(file):\(rejection.line): \(rejection.rejection)")
                }
                let resumed = summary.resumedAfterLine > 0 ? " (resumed after line \(summary.resumedAfterLine))" : ""
                print("\(file): \(summary.accepted) accepted, \(summary.duplicates) duplicates, \(summary.rejectedCount) rejected\(resumed)")
            } catch {
                printError("\(file): \(error)")
                status = 1
            }
        }
        return status
    }

    /// Loads the configuration, or prints every error with its location and returns nil.
    static func loadOrReport(_ configPath: String) -> LoadedConfiguration? {
        do {
            return try ConfigLoader().load(path: configPath)
        } catch {
            printError(error.description)
            return nil
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static func table(_ rows: [[String]]) -> String {
        guard let columns = rows.first?.count else { return "" }
        let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == columns - 1 ? cell : cell.padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0)
            }.joined(separator: "")
        }.joined(separator: "\n")
    }
}
