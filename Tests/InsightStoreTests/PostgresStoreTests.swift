import Foundation
import InsightCore
import InsightPostgres
import InsightTesting
import Logging
import Testing

@Suite("PostgreSQL store settings")
struct PostgresSettingsTests {
    @Test("a postgres:// URL gives host, port, user, password, database and TLS mode")
    func parses() throws {
        let settings = try PostgresSettings(url: "postgres://insight%40d:p%2Fss@db.bank.internal:6432/crm?sslmode=require", pool: 8)
        #expect(settings.host == "db.bank.internal" && settings.port == 6432)
        #expect(settings.username == "insight@d" && settings.password == "p/ss" && settings.database == "crm")
        #expect(settings.tls == .require && settings.pool == 8 && settings.schema == "insightd")
        #expect(!settings.redacted.contains("p/ss") && !settings.redacted.contains("p%2Fss"))
        let defaults = try PostgresSettings(url: "postgresql://u@localhost/db")
        #expect(defaults.port == 5432 && defaults.tls == .prefer && defaults.password == nil && defaults.pool == 16)
        #expect(try PostgresSettings(url: "postgres://u@h/d?sslmode=disable").tls == .disable)
        let verified = try PostgresSettings(url: "postgres://u@h/d?sslmode=verify-full&sslrootcert=/etc/ca.pem")
        #expect(verified.rootCertificate == "/etc/ca.pem" && verified.tls == .verifyFull)
        #expect(try PostgresSettings(url: "postgres://u@h/d?sslmode=verify-ca").tls == .verifyCA)
        // Decoded once: a password that holds "%41" literally is sent as such; an IPv6 host loses its brackets.
        let literal = try PostgresSettings(url: "postgres://u:p%2541ss@[::1]:5433/d%20b")
        #expect(literal.password == "p%41ss" && literal.host == "::1" && literal.port == 5433 && literal.database == "d b")
        // Printing the settings never shows the password.
        #expect(!"\(settings)".contains("p/ss") && !String(reflecting: settings).contains("p/ss"))
    }

    @Test("a bad URL is refused with the reason, never the password",
          arguments: [
              ("mysql://u:secret@h/d", "is not a postgres:// URL"),
              ("postgres://u:secret@/d", "names no host"),
              ("postgres://:secret@h/d", "names no user"),
              ("postgres://u:secret@h", "names no database"),
              ("postgres://u:secret@h/d?sslmode=sometimes", "unknown sslmode"),
              ("postgres://u:secret@h/d?search_path=x", "unknown parameter 'search_path'"),
          ])
    func refuses(url: String, reason: String) {
        do {
            _ = try PostgresSettings(url: url)
            Issue.record("accepted \(url)")
        } catch {
            #expect(error.description.contains(reason))
            #expect(!error.description.contains("secret"))
        }
    }

    @Test("pool and schema are checked")
    func poolAndSchema() {
        #expect(throws: PostgresSettings.InvalidURL.self) { try PostgresSettings(url: "postgres://u@h/d", pool: 0) }
        #expect(throws: PostgresSettings.InvalidURL.self) { try PostgresSettings(url: "postgres://u@h/d", schema: "Insight") }
        #expect(throws: PostgresSettings.InvalidURL.self) { try PostgresSettings(url: "postgres://u@h/d", schema: "a;drop") }
        #expect((try? PostgresSettings(url: "postgres://u@h/d", schema: "insightd_prod2")) != nil)
    }
}

/// Against the test server (``TestPostgres``); left out without one, except in CI.
@Suite("PostgreSQL store", .enabled(if: TestPostgres.url != nil || TestPostgres.isRequired))
struct PostgresStoreTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("migrations are versioned: applied once, recorded, and a second run changes nothing")
    func migratesOnce() async throws {
        let test = try await TestPostgres.start()
        let first = try await test.store.appliedMigrations()
        #expect(first == PostgresStore.migrationNames && first.first == "v1-ledger-outbox" && first.count >= 3)
        try await test.store.migrate()
        #expect(try await test.store.appliedMigrations() == first)
    }

    @Test("instances starting together migrate once (an advisory lock orders them)")
    func concurrentMigrations() async throws {
        guard let url = TestPostgres.url else { throw TestPostgres.NotConfigured() }
        let schema = "m_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let settings = try PostgresSettings(url: url, pool: 2, schema: String(schema))
        let stores = (0..<3).map { _ in PostgresStore(settings: settings, logger: Self.logger) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in stores { group.addTask { await store.run() } }
            try await withThrowingTaskGroup(of: Void.self) { migrations in
                for store in stores { migrations.addTask { try await store.migrate() } }
                try await migrations.waitForAll()
            }
            for store in stores { #expect(try await store.appliedMigrations() == PostgresStore.migrationNames) }
            group.cancelAll()
        }
    }

    @Test("a schema migrated by a newer insightd is refused, with what to do")
    func newerSchema() async throws {
        let test = try await TestPostgres.start()
        _ = try await test.store.transaction { session in
            try session.execute("INSERT INTO insightd_migration (version, name) VALUES (999, 'v999-future')")
        }
        do {
            try await test.store.migrate()
            Issue.record("migrated a newer schema")
        } catch {
            #expect("\(error)".contains("schema version 999, newer than this insightd knows"))
        }
    }

    @Test("leads are numbered in commit order: each append's leads are consecutive, whatever runs beside it")
    func ledgerOrder() async throws {
        let test = try await TestPostgres.start(pool: 6)
        let store = test.store
        try await withThrowingTaskGroup(of: Void.self) { group in
            for batch in 0..<6 {
                group.addTask {
                    let leads = (0..<20).map { LedgerTests.lead(plugin: "rules", key: "b\(batch)-\($0)", client: "C\(batch)", manager: "M1") }
                    try await store.appendLeads(leads)
                }
            }
            try await group.waitForAll()
        }
        let rows = try await store.transaction { session in
            try session.rows("SELECT seq, key FROM lead ORDER BY seq").map { try $0.decode((Int64, String).self) }
        }
        #expect(rows.count == 120, "\(rows.prefix(3))")
        for batch in 0..<6 {
            let seqs = rows.filter { $0.1.contains("b\(batch)-") }.map(\.0)
            #expect(seqs.count == 20 && seqs.last! - seqs.first! == 19, "batch \(batch): \(seqs)")
        }
        // Appending the same keys again adds nothing.
        let again = try await store.appendLeads([LedgerTests.lead(plugin: "rules", key: "b0-0", client: "C0", manager: "M1")])
        #expect(again.isEmpty)
    }

    @Test("a transaction that throws leaves nothing; the connection is usable afterwards")
    func rollback() async throws {
        let test = try await TestPostgres.start(pool: 1)
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await test.store.transaction { session in
                try session.execute("INSERT INTO consumer (name, position, updated_ms) VALUES ('x', 1, 0)")
                throw Boom()
            }
        }
        let count = try await test.store.transaction { try $0.value(Int.self, "SELECT count(*)::bigint FROM consumer") }
        #expect(count == 0)
    }
}
