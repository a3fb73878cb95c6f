import Foundation
import GRDB
import Logging

/// The state database: one `DatabasePool` (WAL, `synchronous = FULL`) holding the journal, projected client
/// state, the leads ledger and the bookkeeping around them. All SQL in insightd lives in this module.
public final class AppDatabase: Sendable {
    public static let fileName = "insightd.sqlite"

    let pool: DatabasePool
    public let path: String
    /// The memory SQLite was given when the database was opened (its page caches and memory map).
    public let memory: MemoryUse

    /// Opens (creating if needed) the database in `directory`, migrates it, and checks it can be written.
    ///
    /// A corrupt file or one from a newer schema is refused with a clear error and never modified.
    public static func open(directory: String, durability: Durability = .full,
                            memory: MemoryUse = .daemon) throws(StoreError) -> AppDatabase {
        try prepareDirectory(directory)
        return try open(path: (directory as NSString).appendingPathComponent(fileName), durability: durability, memory: memory)
    }

    /// How much memory SQLite may use: the writer's page cache, each reader's, and the memory map readers see
    /// the file through. These bound SQLite's share of the process whatever the size of the database or of a
    /// file being taken in; the daemon's come from `storage` in `insightd.yaml`.
    public struct MemoryUse: Sendable, Equatable {
        /// The writer connection's page cache, in MiB: a dispatcher batch dirties thousands of state pages, and
        /// with a small cache SQLite spills them to the WAL mid-transaction and reads them back.
        public var writerCacheMiB: Int
        /// Each reader connection's page cache, in MiB (at most ``AppDatabase/maximumReaderCount`` readers).
        public var readerCacheMiB: Int
        /// The memory map every connection reads the file through, in MiB (0: none). Pages read through it count in
        /// the process's RSS as file pages, which the kernel may drop under pressure.
        public var memoryMapMiB: Int

        public init(writerCacheMiB: Int, readerCacheMiB: Int = 8, memoryMapMiB: Int) {
            self.writerCacheMiB = writerCacheMiB
            self.readerCacheMiB = readerCacheMiB
            self.memoryMapMiB = memoryMapMiB
        }

        /// The daemon's default: a 16 MiB writer cache and no memory map. Measured 2026-12-06 against 64 MiB and the
        /// earlier 128 MiB with a 256 MiB map: the same dispatch rates (W1, and every plugin now that the dispatcher
        /// writes its checkpoints in key order), and a file inbox under 100 MB whatever the file (150–170 MB with 64
        /// MiB; the map's pages counted in RSS too).
        public static let daemon = MemoryUse(writerCacheMiB: 16, memoryMapMiB: 0)
        /// A 16 MiB writer cache and no memory map: a command streaming a file (`insightd ingest`) keeps its
        /// memory flat whatever the file's size.
        public static let compact = MemoryUse(writerCacheMiB: 16, readerCacheMiB: 4, memoryMapMiB: 0)
        /// An 8 MiB writer cache and no memory map: a scratch state that takes little more than leads (`insightd
        /// replay`, whose client state stays in its cache).
        public static let small = MemoryUse(writerCacheMiB: 8, readerCacheMiB: 4, memoryMapMiB: 0)

        /// The PRAGMAs for every connection (the writer's cache is set after, in ``writerCachePragma``).
        /// (Each figure at least its floor: a negative one would make `cache_size = --1024`, which SQL reads as a
        /// comment.)
        var readerPragmas: String {
            "PRAGMA mmap_size = \(max(0, memoryMapMiB) << 20); PRAGMA cache_size = -\(max(1, readerCacheMiB) << 10)"
        }

        var writerCachePragma: String { "PRAGMA cache_size = -\(max(1, writerCacheMiB) << 10)" }
    }

    /// Reader connections in the pool, at most.
    public static let maximumReaderCount = 4

    /// How a commit reaches the disk.
    public enum Durability: Sendable {
        /// `synchronous = FULL`: a committed transaction survives a power cut. The daemon's state.
        case full
        /// `synchronous = OFF`: for a throwaway database (a replay's backtest), which a crash may lose.
        case scratch
    }

    /// Creates the state directory if needed and checks it is a writable directory.
    public static func prepareDirectory(_ directory: String) throws(StoreError) {
        var isDirectory: ObjCBool = false
        let manager = FileManager.default
        if !manager.fileExists(atPath: directory, isDirectory: &isDirectory) {
            do {
                try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw .stateDirectoryNotWritable(path: directory, reason: "cannot create it: \(error.localizedDescription)")
            }
        } else if !isDirectory.boolValue {
            throw .stateDirectoryNotWritable(path: directory, reason: "it is a file, not a directory")
        }
        guard manager.isWritableFile(atPath: directory) else {
            throw .stateDirectoryNotWritable(path: directory, reason: "permission denied")
        }
    }

    public static func open(path: String, durability: Durability = .full, memory: MemoryUse = .daemon) throws(StoreError) -> AppDatabase {
        if FileManager.default.fileExists(atPath: path) {
            guard hasSQLiteHeader(path) else { throw .notADatabase(path: path) }
            // Refuse a newer schema before a pool is opened: opening a pool writes to the file (WAL set-up).
            try refuseNewerSchema(path: path)
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.label = "insightd"
        configuration.maximumReaderCount = maximumReaderCount
        configuration.prepareDatabase { db in
            // Every connection's page cache and memory map (``MemoryUse``); the writer's cache is set after.
            try db.execute(sql: memory.readerPragmas)
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            throw .notADatabase(path: path)
        } catch {
            throw .openFailed(path: path, reason: "\(error)")
        }
        let database = AppDatabase(pool: pool, path: path, memory: memory)
        try database.prepare(durability: durability, memory: memory)
        return database
    }

    private init(pool: DatabasePool, path: String, memory: MemoryUse) {
        self.pool = pool
        self.path = path
        self.memory = memory
    }

    private func prepare(durability: Durability, memory: MemoryUse) throws(StoreError) {
        let migrator = AppMigrations.migrator
        do {
            // GRDB sets synchronous = NORMAL when it opens a pool in WAL mode; a bank's journal wants FULL, so
            // that an acknowledged event survives a power cut. It is per connection: set it on the writer.
            // The writer gets its own page cache (``MemoryUse/writerCacheMiB``, 16 MiB in the daemon by default).
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(durability == .full ? "FULL" : "OFF"); " + memory.writerCachePragma)
            }
            let superseded = try pool.read { db in try migrator.hasBeenSuperseded(db) }
            if superseded {
                let known = Set(migrator.migrations)
                let applied = try pool.read { db in try migrator.appliedIdentifiers(db) }
                throw StoreError.newerSchema(path: path, unknownMigrations: applied.subtracting(known).sorted())
            }
            try migrator.migrate(pool)
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            throw .notADatabase(path: path)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_READONLY || error.resultCode == .SQLITE_CANTOPEN {
            throw .stateDirectoryNotWritable(path: (path as NSString).deletingLastPathComponent, reason: "\(error.message ?? "read-only")")
        } catch {
            throw .openFailed(path: path, reason: "\(error)")
        }
    }

    /// The writer connection's `synchronous` setting (2 = FULL), for tests and `insightd check`.
    public func synchronousMode() throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    public func journalMode() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    /// True when the database accepts a write now (for readiness checks).
    public func isWritable() -> Bool {
        do {
            try pool.write { db in try db.execute(sql: "UPDATE consumer SET updated_ms = updated_ms WHERE 0") }
            return true
        } catch {
            return false
        }
    }

    /// Flushes the WAL into the main file; called on graceful shutdown.
    public func checkpoint() throws {
        try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    public func close() throws {
        try pool.close()
    }

    /// Reads the applied migrations through a read-only connection, which leaves the file as it is.
    private static func refuseNewerSchema(path: String) throws(StoreError) {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        let migrator = AppMigrations.migrator
        let unknown: [String]
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            unknown = try queue.read { db in
                guard try db.tableExists("grdb_migrations") else { return [] }
                return try migrator.appliedIdentifiers(db).subtracting(migrator.migrations).sorted()
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            throw .notADatabase(path: path)
        } catch {
            throw .openFailed(path: path, reason: "\(error)")
        }
        if !unknown.isEmpty { throw .newerSchema(path: path, unknownMigrations: unknown) }
    }

    private static func hasSQLiteHeader(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return true }  // let SQLite report it
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        if header.isEmpty { return true }  // an empty file is a fresh database
        return header == Data("SQLite format 3\0".utf8)
    }
}
