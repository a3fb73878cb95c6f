import Crypto
import Foundation
import InsightCore
import InsightPostgres
import InsightStore
import Logging

extension Commands {
    /// What moved, table by table: rows on each side and the checksum both gave.
    public struct StoreMigration: Sendable {
        public struct Table: Sendable {
            public var name: String
            public var rows: Int
            public var checksum: String
        }

        public var tables: [Table] = []
        /// The position every partition starts from: the journal handled through it on SQLite.
        public var position: Int64 = 0
    }

    /// Why a migration did not run or did not verify; nothing was written to the target.
    public struct MigrationRefused: Error, CustomStringConvertible {
        public let description: String
    }

    /// Tables not moved: a cluster's own (the target's instances start their own), and the SQLite migrator's.
    static let unmovedTables: Set<String> = ["cluster_instance", "partition_lease", "tick_claim", "partition_offset",
                                             "cluster_setting", "insightd_migration"]
    /// Columns not moved: a delivery's claim names an instance of the old installation (a send cut off by a crash goes
    /// again, as on a restart).
    static let unmovedColumns: Set<String> = ["delivery.claimed_by", "delivery.claimed_until_ms"]

    /// `insightd migrate-store --from sqlite:STATE_DIR --to postgres:URL`: moves a stopped single-instance installation
    /// into an empty PostgreSQL schema, in one transaction, and verifies every table by row count and a SHA-256 over
    /// its rows in key order, read back from both sides. `URL` is a `postgres://` URL or a secret reference
    /// (`env:NAME`, `file:PATH`) to one.
    public static func migrateStore(from: String, to: String, schema: String, partitions: Int,
                                    environment: [String: String] = ProcessInfo.processInfo.environment) async -> ExitCode {
        do {
            let migration = try await migrate(from: from, to: to, schema: schema, partitions: partitions, environment: environment)
            var rows = [["TABLE", "ROWS", "SHA-256 (both sides)"]]
            for table in migration.tables { rows.append([table.name, "\(table.rows)", String(table.checksum.prefix(16))]) }
            print(table(rows))
            print("moved and verified \(migration.tables.count) tables; every partition starts after journal position "
                  + "\(migration.position). Point the instances' store: at the target and start them.")
            return 0
        } catch {
            printError("migrate-store: \(error)")
            return 1
        }
    }

    public static func migrate(from: String, to: String, schema: String, partitions: Int,
                               environment: [String: String]) async throws -> StoreMigration {
        guard from.hasPrefix("sqlite:") else { throw MigrationRefused(description: "--from must be sqlite:STATE_DIR") }
        guard to.hasPrefix("postgres:") else { throw MigrationRefused(description: "--to must be postgres:URL (or postgres:env:NAME)") }
        var path = String(from.dropFirst("sqlite:".count))
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw MigrationRefused(description: "\(path) does not exist")
        }
        let directory = isDirectory.boolValue ? path : (path as NSString).deletingLastPathComponent
        if isDirectory.boolValue { path = (path as NSString).appendingPathComponent(AppDatabase.fileName) }
        // Never a new, empty database made by opening the wrong directory.
        guard FileManager.default.fileExists(atPath: path) else {
            throw MigrationRefused(description: "\(path) does not exist: give the installation's state_dir")
        }
        guard (1...4096).contains(partitions) else {
            throw MigrationRefused(description: "--partitions must be between 1 and 4096")
        }
        // The daemon must be stopped: its lock is taken for the whole move.
        let lock = try StateLock(directory: directory)
        defer { withExtendedLifetime(lock) {} }
        let database = try AppDatabase.open(path: path, memory: .compact)
        let positions = try database.storedDispatcherPositions()
        guard positions.state == positions.handled else {
            throw MigrationRefused(description: "the client state is at journal position \(positions.state) but leads at "
                                   + "\(positions.handled): start the daemon once and stop it (it writes its state at shutdown)")
        }
        let reference = String(to.dropFirst("postgres:".count))
        let url: String
        if reference.hasPrefix("postgres://") || reference.hasPrefix("postgresql://") {
            url = reference
        } else {
            do {
                url = try SecretReference(reference).resolve(environment: environment).value
            } catch {
                throw MigrationRefused(description: "--to postgres:\(reference): \(error.message)")
            }
        }
        let settings: PostgresSettings
        do {
            settings = try PostgresSettings(url: url, pool: 2, schema: schema)
        } catch {
            throw MigrationRefused(description: "the PostgreSQL URL \(error.description)")
        }
        let store = PostgresStore(settings: settings, logger: Logger(label: "insightd", factory: { _ in SwiftLogNoOpLogHandler() }))
        let pool = Task { await store.run() }
        defer { pool.cancel() }
        try await store.migrate()
        let sourceTables = Set(try database.tableNames())
        // Numbers the journal and the ledger had handed out, even for rows retention has deleted since: the target's
        // sequences go on after them, or new events and leads would fall behind the moved positions.
        var sequenceFloors: [String: Int64] = [:]
        if sourceTables.contains("sqlite_sequence") {
            try database.exportRows(table: "sqlite_sequence", columns: ["name", "seq"], orderBy: ["name"]) { rows in
                for row in rows {
                    if case .text(let name) = row[0], case .integer(let seq) = row[1] { sequenceFloors[name] = seq }
                }
            }
        }
        sequenceFloors["journal"] = max(sequenceFloors["journal"] ?? 0, positions.handled)
        var routerPosition: Int64 = 0
        try database.exportRows(table: "consumer", columns: ["name", "position"], orderBy: ["name"]) { rows in
            for row in rows {
                if case .text(Outbox.routerConsumer) = row[0], case .integer(let position) = row[1] { routerPosition = position }
            }
        }
        sequenceFloors["lead"] = max(sequenceFloors["lead"] ?? 0, routerPosition)
        let known = Set(PostgresStore.tableNames).union(unmovedTables)
        let unknown = sourceTables.subtracting(known).subtracting(["sqlite_sequence"])
        guard unknown.isEmpty else {
            throw MigrationRefused(description: "the SQLite database has tables this insightd cannot move: "
                                   + unknown.sorted().joined(separator: ", "))
        }
        return try store.importing { target in
            // No instance may run on the target meanwhile: it would dispatch the moved events again from position 0.
            try target.execute("SET LOCAL statement_timeout = 0")
            try target.execute("SET LOCAL idle_in_transaction_session_timeout = '10min'")
            try target.execute("LOCK TABLE journal, partition_lease, cluster_instance IN EXCLUSIVE MODE")
            if let running = try target.value("""
                SELECT string_agg(name, ', ') FROM cluster_instance WHERE alive_until_ms > \(Date().milliseconds)
                """) {
                throw MigrationRefused(description: "instances are running on \(settings.redacted) (\(running)): stop them first")
            }
            let targetTables = try target.tables()
            for table in ["journal", "lead", "client", "delivery"] where try target.rowCount(table) > 0 {
                throw MigrationRefused(description: "\(settings.redacted) already holds rows in \(table): migrate into an empty schema")
            }
            try target.execute("INSERT INTO cluster_setting (name, value) VALUES ('partitions', '\(partitions)') ON CONFLICT DO NOTHING")
            let recorded = try target.value("SELECT value FROM cluster_setting WHERE name = 'partitions'")
            guard recorded == String(partitions) else {
                throw MigrationRefused(description: "the target's cluster has \(recorded ?? "?") partitions; --partitions says \(partitions)")
            }
            var migration = StoreMigration(position: positions.handled)
            for name in targetTables.keys.sorted() where !unmovedTables.contains(name) {
                guard sourceTables.contains(name), let targetColumns = targetTables[name] else { continue }
                let sourceColumns = Set(try database.tableColumns(name))
                let lost = sourceColumns.subtracting(targetColumns.map(\.name)).filter { !unmovedColumns.contains("\(name).\($0)") }
                guard lost.isEmpty else {
                    throw MigrationRefused(description: "table \(name) has columns this insightd's PostgreSQL schema lacks: "
                                           + lost.sorted().joined(separator: ", "))
                }
                let columns = targetColumns.filter { sourceColumns.contains($0.name) && !unmovedColumns.contains("\(name).\($0.name)") }
                let key = try target.primaryKey(name)
                guard !key.isEmpty, key.allSatisfy({ sourceColumns.contains($0) }) else {
                    throw MigrationRefused(description: "table \(name) has no primary key both sides share")
                }
                // The journal's partitions follow from each event's client hash, which SQLite does not keep.
                let hashColumn = name == "journal" ? targetColumns.first { $0.name == "client_hash" } : nil
                let clientIndex = columns.firstIndex { $0.name == "client_id" }
                var sourceHash = SHA256()
                var sourceRows = 0
                try database.exportRows(table: name, columns: columns.map(\.name), orderBy: key) { batch in
                    for row in batch { Self.digest(row, into: &sourceHash) }
                    sourceRows += batch.count
                    if let hashColumn, let clientIndex {
                        let extended = batch.map { row -> [StoredValue] in
                            var row = row
                            let client: String? = if case .text(let id) = row[clientIndex] { id } else { nil }
                            row.append(.integer(Int64(ClientPartitions.hash(of: client))))
                            return row
                        }
                        try target.insert(table: name, columns: columns + [hashColumn], rows: extended)
                    } else {
                        try target.insert(table: name, columns: columns, rows: batch)
                    }
                }
                try target.advanceSequences(table: name, columns: targetColumns, floor: sequenceFloors[name] ?? 0)
                var targetHash = SHA256()
                var targetRows = 0
                try target.textRows(table: name, columns: columns, orderBy: key) { cells in
                    Self.digest(cells, into: &targetHash)
                    targetRows += 1
                }
                let source = Self.hex(sourceHash.finalize()), copied = Self.hex(targetHash.finalize())
                guard sourceRows == targetRows, source == copied else {
                    throw MigrationRefused(description: "table \(name) did not verify (\(sourceRows) rows, SHA-256 \(source.prefix(16)) "
                                           + "on SQLite; \(targetRows) rows, \(copied.prefix(16)) on PostgreSQL); nothing was written")
                }
                migration.tables.append(.init(name: name, rows: sourceRows, checksum: source))
            }
            try target.execute("""
                INSERT INTO partition_offset (part, position, updated_ms)
                SELECT p, \(positions.handled), \(Date().milliseconds) FROM generate_series(0, \(partitions - 1)) AS p
                """)
            return migration
        }
    }

    /// A SQLite row in the form PostgreSQL gives its text back: integers in decimal, bytes in lowercase hex, text as
    /// stored there (U+0000 as U+FFFD).
    static func digest(_ row: [StoredValue], into hash: inout SHA256) {
        digest(row.map { value -> String? in
            switch value {
            case .null: nil
            case .integer(let number): String(number)
            case .real(let number): String(number)
            case .text(let text): PostgresImport.storedText(text)
            case .blob(let bytes): bytes.map { String(format: "%02x", $0) }.joined()
            }
        }, into: &hash)
    }

    /// Each cell as a marker byte (absent, present) and its UTF-8, each row closed by a separator.
    static func digest(_ cells: [String?], into hash: inout SHA256) {
        for cell in cells {
            if let cell {
                hash.update(data: [1] + Array(cell.utf8) + [0x1F])
            } else {
                hash.update(data: [0, 0x1F])
            }
        }
        hash.update(data: [0x1E])
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
