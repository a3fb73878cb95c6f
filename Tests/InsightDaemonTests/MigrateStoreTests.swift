import Foundation
import InsightCore
import InsightDaemon
import InsightEngine
import InsightPostgres
import InsightStore
import InsightTesting
import Logging
import Testing

/// `insightd migrate-store`: a single instance's SQLite state moved into an empty PostgreSQL schema, verified, and read
/// back the same by a cluster's dispatcher.
@Suite(.serialized, .enabled(if: TestPostgres.url != nil || TestPostgres.isRequired))
struct MigrateStoreTests {
    @Test func anInstallationMovesWhole_verified_andTheClusterGoesOnFromWhereItStopped() async throws {
        guard let url = TestPostgres.url else { throw TestPostgres.NotConfigured() }
        let directory = TemporaryDirectory("insightd-migrate")
        let state = directory.file("state")
        // A single instance's life: events journaled and dispatched (state, leads), one of them quarantined.
        do {
            let database = try AppDatabase.open(directory: state)
            let recorder = PluginRecorder()
            let events = (0..<300).map { index in
                EventFixtures.event("e\(index)", EventType.accountTransaction, client: "C\(index % 40)", data: [
                    "accountId": .string("A\(index % 40)"), "amount": .string("\(100 + index).50"), "direction": .string("credit"),
                    "currency": .string("CNY"), "lead": .bool(index % 10 == 0), "note": .string(index == 7 ? "nul\u{0}here" : "ok"),
                ])
            }
            _ = try database.ingest([IngestSubmission(events: events, quarantine: [QuarantinedItem(
                receivedAt: Date(timeIntervalSince1970: 1_800_000_000), source: "crm", origin: "webhook", eventId: nil,
                reason: "bad", payload: "{\"x\":\u{0}}")])], receivedAt: Date(timeIntervalSince1970: 1_800_000_000))
            let settings = SettingsBox(PipelineSettings(plugins: [LoadedPlugin(RecordingPlugin(configuration: .init(recorder: recorder)))],
                                                        timeZone: TimeZone(identifier: "Asia/Shanghai") ?? .current, locale: "zh-CN"))
            let dispatcher = try Dispatcher(database: database, settings: settings, clock: .eventTime,
                                            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            #expect(try await dispatcher.drain() == 300)
        }
        let schema = "m_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let environment = ["MIGRATE_TEST_URL": url]
        let migration = try await Commands.migrate(from: "sqlite:\(state)", to: "postgres:env:MIGRATE_TEST_URL",
                                                   schema: String(schema), partitions: 8, environment: environment)
        let rows = Dictionary(migration.tables.map { ($0.name, $0.rows) }, uniquingKeysWith: { first, _ in first })
        #expect(rows["journal"] == 300 && rows["lead"] == 30 && rows["client"] == 40 && rows["quarantine"] == 1)
        #expect(migration.position == 300)

        // Into a schema that holds data already: refused, nothing written.
        await #expect(throws: Commands.MigrationRefused.self) {
            _ = try await Commands.migrate(from: "sqlite:\(state)", to: "postgres:env:MIGRATE_TEST_URL", schema: String(schema),
                                           partitions: 8, environment: environment)
        }

        // A cluster member on the target reads every client as the single instance had it, and has nothing to do.
        let store = PostgresStore(settings: try PostgresSettings(url: url, pool: 2, schema: String(schema)),
                                  logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let pool = Task { await store.run() }
        defer { pool.cancel() }
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let leases = try await store.balanceLeases(instance: "a#1", partitions: 8, target: 8, now: now, until: now + 60)
        let view = try await store.dispatchStore(holding: leases, partitions: 8, now: { now })
        let source = try AppDatabase.open(directory: state)
        let ids = (0..<40).map { "C\($0)" }
        #expect(try view.loadClients(ids) == source.loadClients(ids))
        #expect(try view.readJournal(after: 0, limit: 10).isEmpty, "every partition starts after the migrated position")
        #expect(try view.stateReader().lastLead(plugin: RecordingPlugin.id, client: "C0") != nil)
    }

    @Test func aPrunedJournalStillNumbersNewEventsAfterTheMovedPosition() async throws {
        guard let url = TestPostgres.url else { throw TestPostgres.NotConfigured() }
        let directory = TemporaryDirectory("insightd-migrate")
        let state = directory.file("state")
        do {
            let database = try AppDatabase.open(directory: state)
            let events = (0..<50).map { EventFixtures.transaction("e\($0)", client: "C\($0 % 5)", amount: "10.00") }
            _ = try database.ingest([IngestSubmission(events: events)], receivedAt: Date(timeIntervalSince1970: 1_800_000_000))
            let settings = SettingsBox(PipelineSettings(plugins: [], timeZone: .current, locale: "zh-CN"))
            let dispatcher = try Dispatcher(database: database, settings: settings, clock: .eventTime,
                                            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            #expect(try await dispatcher.drain() == 50)
            // Retention deletes the handled journal.
            let later = Date(timeIntervalSince1970: 1_900_000_000)
            _ = try database.prune(RetentionCutoffs(journal: later, quarantine: later, leads: Date(timeIntervalSince1970: 0),
                                                    delivered: later, webhookIds: later), now: later)
        }
        let schema = String("m_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12))
        let migration = try await Commands.migrate(from: "sqlite:\(state)", to: "postgres:env:MIGRATE_TEST_URL", schema: schema,
                                                   partitions: 4, environment: ["MIGRATE_TEST_URL": url])
        #expect(migration.position == 50)
        #expect(migration.tables.first { $0.name == "journal" }?.rows == 0)
        let store = PostgresStore(settings: try PostgresSettings(url: url, pool: 2, schema: schema),
                                  logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let pool = Task { await store.run() }
        defer { pool.cancel() }
        let outcome = try await store.appendSubmissions([IngestSubmission(events: [EventFixtures.transaction("new", client: "C1",
                                                                                                            amount: "1.00")])],
                                                        receivedAt: Date())
        #expect((outcome.first?.sequences.first ?? nil).map { $0 > 50 } == true, "new events are numbered after the moved ones")
        let now = Date()
        let leases = try await store.balanceLeases(instance: "a#1", partitions: 4, target: 4, now: now, until: now + 60)
        let view = try await store.dispatchStore(holding: leases, partitions: 4, now: { now })
        #expect(try view.readJournal(after: 0, limit: 10).map(\.id) == ["new"])

        // A wrong directory is refused, never a new empty database.
        await #expect(throws: Commands.MigrationRefused.self) {
            _ = try await Commands.migrate(from: "sqlite:\(directory.path)", to: "postgres:env:MIGRATE_TEST_URL",
                                           schema: schema + "x", partitions: 4, environment: ["MIGRATE_TEST_URL": url])
        }
    }
}
