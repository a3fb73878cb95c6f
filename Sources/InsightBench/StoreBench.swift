import ArgumentParser
import Foundation
import InsightCore
import InsightPostgres
import InsightStore
import Logging

/// The journal on each backend, in one run: SQLite (`synchronous=FULL`) beside PostgreSQL (its `fsync` on), the same
/// events appended by one writer and by several at once, then read back as the dispatcher reads them.
/// `deploy/bench/store.sh` starts a throwaway PostgreSQL server for it.
struct StoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Measure the journal's append and read on SQLite and on PostgreSQL, in the same run.")

    @Option(help: "Events appended per backend.") var events = 200_000
    @Option(help: "Events per submission (one transaction), as the inbox commits a chunk.") var batch = 1_000
    @Option(help: "Writers appending at once in the second round (webhook requests arrive on many connections).")
    var writers = 4
    @Option(help: "Distinct clients the events spread over.") var clients = 50_000
    @Option(help: "A PostgreSQL URL (better: INSIGHTD_PG_URL, which `ps` does not show); without either, only SQLite is measured.")
    var postgresUrl: String?
    @Option(help: "Directory for the temporary SQLite database (removed afterwards).") var directory = NSTemporaryDirectory()

    func run() async throws {
        let url = postgresUrl ?? ProcessInfo.processInfo.environment["INSIGHTD_PG_URL"]
        print("insightd-bench store: \(events) events of ~210 bytes, \(batch) per transaction, 1 and \(writers) writers")
        var figures: [String: Double] = [:]

        let root = (directory as NSString).appendingPathComponent("insightd-store-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let database = try AppDatabase.open(directory: root)
        figures["sqlite"] = try await measure("SQLite", database, prefix: "a")
        try database.close()

        guard let url else {
            print("PostgreSQL: no URL (--postgres-url or INSIGHTD_PG_URL); deploy/bench/store.sh starts a throwaway server")
            return
        }
        let schema = "bench_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let settings = try PostgresSettings(url: url, pool: max(4, writers * 2), schema: String(schema))
        let store = PostgresStore(settings: settings, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        let pool = Task { await store.run() }
        defer { pool.cancel() }
        try await store.migrate()
        figures["postgres"] = try await measure("PostgreSQL", store, prefix: "b")
        try await store.dropSchema()
        if let sqlite = figures["sqlite"], let postgres = figures["postgres"] {
            print(String(format: "PostgreSQL appends at %.2f× SQLite's rate (one writer)", postgres / sqlite))
        }
    }

    /// Appends and reads back on one backend; returns the one-writer append rate.
    private func measure(_ name: String, _ store: any JournalStore, prefix: String) async throws -> Double {
        let clients = self.clients, batch = self.batch
        func submission(_ from: Int, _ count: Int, _ tag: String) -> IngestSubmission {
            IngestSubmission(events: (from..<(from + count)).map { Synthetic.event($0, clients: clients, idPrefix: tag) })
        }
        // One writer, submission after submission.
        let clock = ContinuousClock()
        var appended = 0
        let single = try await clock.measure {
            var index = 0
            while index < events {
                let count = min(batch, events - index)
                appended += try await store.appendSubmissions([submission(index, count, prefix + "1-")], receivedAt: Date())[0]
                    .acceptedCount
                index += count
            }
        }
        let rate = Double(appended) / single.timeInterval
        report("\(name): append, 1 writer", appended, single)
        // Several writers at once.
        let perWriter = events / writers
        var concurrentCount = 0
        let concurrent = try await clock.measure {
            concurrentCount = try await withThrowingTaskGroup(of: Int.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        var done = 0, index = 0
                        while index < perWriter {
                            let count = min(batch, perWriter - index)
                            done += try await store.appendSubmissions([submission(index, count, "\(prefix)\(writer)w-")],
                                                                      receivedAt: Date())[0].acceptedCount
                            index += count
                        }
                        return done
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        report("\(name): append, \(writers) writers", concurrentCount, concurrent)
        // Read back in the dispatcher's batches.
        var read = 0
        let readTime = try await clock.measure {
            var position: Int64 = 0
            while true {
                let events = try await store.readJournal(after: position, limit: 16_384)
                guard let last = events.last else { break }
                read += events.count
                position = last.sequence
            }
        }
        report("\(name): read back", read, readTime)
        return rate
    }

    private func report(_ phase: String, _ count: Int, _ time: Duration) {
        let label = phase.padding(toLength: max(34, phase.count), withPad: " ", startingAt: 0)
        print(label + String(format: " %9d events in %6.2f s = %9.0f events/s", count, time.timeInterval, Double(count) / time.timeInterval))
    }
}
