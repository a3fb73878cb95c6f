import Foundation
import GRDB
@testable import InsightStore
import InsightTesting
import Testing

@Suite("SQLite memory: the configured page caches and memory map reach every connection")
struct MemoryUseTests {
    /// (writer cache, memory map) in MiB, and the reader cache.
    @Test(arguments: [AppDatabase.MemoryUse.daemon, .compact, .small,
                      AppDatabase.MemoryUse(writerCacheMiB: 24, readerCacheMiB: 2, memoryMapMiB: 48)])
    func pragmasFollowTheMemoryUse(_ memory: AppDatabase.MemoryUse) throws {
        let directory = TemporaryDirectory("insightd-memory")
        let database = try AppDatabase.open(directory: directory.path, memory: memory)
        defer { try? database.close() }
        #expect(database.memory == memory)
        let writer = try database.pool.writeWithoutTransaction { db in
            (try Int.fetchOne(db, sql: "PRAGMA cache_size"), try Int.fetchOne(db, sql: "PRAGMA mmap_size"))
        }
        // A negative cache_size is in KiB.
        #expect(writer.0 == -memory.writerCacheMiB * 1024)
        #expect(writer.1 == memory.memoryMapMiB * 1024 * 1024)
        let reader = try database.pool.read { db in
            (try Int.fetchOne(db, sql: "PRAGMA cache_size"), try Int.fetchOne(db, sql: "PRAGMA mmap_size"))
        }
        #expect(reader.0 == -memory.readerCacheMiB * 1024)
        #expect(reader.1 == memory.memoryMapMiB * 1024 * 1024)
    }
}
