import Foundation
import GRDB
import InsightCore
import InsightStore
import InsightTesting
import Testing

@Suite("AppDatabase: opening, durability settings and refusing bad files")
struct AppDatabaseTests {
    @Test func openingCreatesTheDatabaseFileInTheStateDirectory() throws {
        let directory = TemporaryDirectory()
        let expected = directory.file(AppDatabase.fileName)
        #expect(!FileManager.default.fileExists(atPath: expected))

        let database = try AppDatabase.open(directory: directory.path)
        defer { try? database.close() }

        #expect(database.path == expected)
        #expect(FileManager.default.fileExists(atPath: expected))
        #expect(database.isWritable())
    }

    @Test func openingCreatesAMissingStateDirectory() throws {
        let directory = TemporaryDirectory()
        let nested = directory.file("var/lib/insightd")
        #expect(!FileManager.default.fileExists(atPath: nested))

        let database = try AppDatabase.open(directory: nested)
        defer { try? database.close() }

        #expect(FileManager.default.fileExists(atPath: (nested as NSString).appendingPathComponent(AppDatabase.fileName)))
    }

    @Test func theDatabaseUsesWALAndFullSynchronousWrites() throws {
        let store = try TestStore()
        #expect(try store.database.journalMode() == "wal")
        #expect(try store.database.synchronousMode() == 2)  // FULL
    }

    @Test func synchronousFullIsSetAgainAfterReopening() throws {
        let directory = TemporaryDirectory()
        try AppDatabase.open(directory: directory.path).close()

        let reopened = try AppDatabase.open(directory: directory.path)
        defer { try? reopened.close() }
        #expect(try reopened.journalMode() == "wal")
        #expect(try reopened.synchronousMode() == 2)
    }

    @Test func anEmptyFileIsTreatedAsAFreshDatabase() throws {
        let directory = TemporaryDirectory()
        directory.write(AppDatabase.fileName, "")

        let database = try AppDatabase.open(directory: directory.path)
        defer { try? database.close() }
        #expect(try database.journalHead() == 0)
        #expect(database.isWritable())
    }

    @Test func reopeningAnExistingDatabaseKeepsItsData() throws {
        let directory = TemporaryDirectory()
        let first = try AppDatabase.open(directory: directory.path)
        let outcome = try first.append([
            EventFixtures.transaction("E1", client: "C1", amount: "1234.50"),
            EventFixtures.transaction("E2", client: "C2", amount: "99.00"),
        ], receivedAt: instant("2026-11-20T10:00:01+08:00"))
        #expect(outcome.sequences == [1, 2])
        try first.setConsumerPosition(AppDatabase.dispatcherConsumer, to: 1, at: instant("2026-11-20T10:00:02+08:00"))
        try first.close()

        let second = try AppDatabase.open(directory: directory.path)
        defer { try? second.close() }
        #expect(try second.journalHead() == 2)
        #expect(try second.readJournal(after: 0, limit: 10).map(\.id) == ["E1", "E2"])
        #expect(try second.consumerPosition(AppDatabase.dispatcherConsumer) == 1)
        // The sequence continues after the stored events: nothing is reused.
        let next = try second.append([EventFixtures.transaction("E3", client: "C1", amount: "1.00")],
                                     receivedAt: instant("2026-11-20T10:00:03+08:00"))
        #expect(next.sequences == [3])
    }

    @Test func aStateDirectoryThatIsARegularFileIsRefused() throws {
        let directory = TemporaryDirectory()
        let notADirectory = directory.write("state", "I am a file, not a directory\n")
        let before = try Data(contentsOf: URL(fileURLWithPath: notADirectory))

        let error = try #require(openError(directory: notADirectory))

        guard case .stateDirectoryNotWritable(let path, let reason) = error else {
            Issue.record("expected stateDirectoryNotWritable, got \(error)")
            return
        }
        #expect(path == notADirectory)
        #expect(reason.contains("file"))
        #expect(error.description.contains(notADirectory))
        #expect(error.description.contains("writable"))
        #expect(error.description.contains("state_dir"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: notADirectory)) == before)
    }

    @Test func aStateDirectoryUnderARegularFileCannotBeCreated() throws {
        let directory = TemporaryDirectory()
        let file = directory.write("state", "a file\n")

        let error = try #require(openError(directory: (file as NSString).appendingPathComponent("sub")))

        guard case .stateDirectoryNotWritable = error else {
            Issue.record("expected stateDirectoryNotWritable, got \(error)")
            return
        }
        #expect(error.description.contains("writable"))
    }

    @Test func aCorruptDatabaseFileIsRefusedAndLeftUntouched() throws {
        let directory = TemporaryDirectory()
        let path = directory.file(AppDatabase.fileName)
        // 4 KiB of deterministic garbage (a linear congruential sequence), nothing like an SQLite header.
        var state: UInt32 = 0x1234_5678
        let garbage = Data((0..<4096).map { _ -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        })
        #expect(FileManager.default.createFile(atPath: path, contents: garbage))

        let error = try #require(openError(directory: directory.path))

        guard case .notADatabase(let reported) = error else {
            Issue.record("expected notADatabase, got \(error)")
            return
        }
        #expect(reported == path)
        #expect(error.description.contains("backup"))
        #expect(error.description.contains("untouched"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func aFileWithAnSQLiteHeaderButCorruptPagesIsRefusedAndLeftUntouched() throws {
        let directory = TemporaryDirectory()
        let path = directory.file(AppDatabase.fileName)
        var bytes = Data("SQLite format 3\0".utf8)
        bytes.append(Data(repeating: 0xA5, count: 4096 - bytes.count))
        #expect(FileManager.default.createFile(atPath: path, contents: bytes))

        let error = try #require(openError(directory: directory.path))

        guard case .notADatabase = error else {
            Issue.record("expected notADatabase, got \(error)")
            return
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }

    @Test func aDatabaseFromANewerSchemaIsRefusedAndLeftUntouched() throws {
        let directory = TemporaryDirectory()
        let path = directory.file(AppDatabase.fileName)
        let original = try AppDatabase.open(directory: directory.path)
        _ = try original.append([EventFixtures.transaction("E1", client: "C1", amount: "10.00")],
                                receivedAt: instant("2026-11-20T10:00:00+08:00"))
        try original.close()

        // A later insightd added a migration this build does not know.
        let future = try DatabaseQueue(path: path)
        try future.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: ["v999-future"])
        }
        try future.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        let error = try #require(openError(directory: directory.path))

        guard case .newerSchema(let reported, let unknown) = error else {
            Issue.record("expected newerSchema, got \(error)")
            return
        }
        #expect(reported == path)
        #expect(unknown == ["v999-future"])
        #expect(error.description.contains("v999-future"))
        #expect(error.description.contains("newer"))
        #expect(error.description.contains("backup"))
        let after = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(after == before)


        // The event written before is still there for the newer version.
        let check = try DatabaseQueue(path: path)
        defer { try? check.close() }
        #expect(try check.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal") } == 1)
    }

    @Test(arguments: [
        (StoreError.stateDirectoryNotWritable(path: "/var/lib/insightd", reason: "permission denied"),
         ["/var/lib/insightd", "permission denied", "writable", "state_dir"]),
        (StoreError.notADatabase(path: "/var/lib/insightd/insightd.sqlite"),
         ["/var/lib/insightd/insightd.sqlite", "untouched", "backup", "move it aside"]),
        (StoreError.newerSchema(path: "/var/lib/insightd/insightd.sqlite", unknownMigrations: ["v2-a", "v3-b"]),
         ["v2-a, v3-b", "untouched", "newer", "backup"]),
        (StoreError.openFailed(path: "/x/insightd.sqlite", reason: "disk I/O error"), ["/x/insightd.sqlite", "disk I/O error"]),
        (StoreError.corruptRow(table: "lead", key: "rules:r1:x", reason: "bad json"), ["lead", "rules:r1:x", "bad json"]),
    ])
    func errorDescriptionsSayWhatFailedAndWhatToDo(error: StoreError, phrases: [String]) {
        for phrase in phrases {
            #expect(error.description.contains(phrase), "\(error.description) should mention \(phrase)")
        }
    }

    @Test func checkpointAndCloseSucceedOnAnOpenDatabase() throws {
        let directory = TemporaryDirectory()
        let database = try AppDatabase.open(directory: directory.path)
        _ = try database.append([EventFixtures.transaction("E1", client: "C1", amount: "10.00")],
                                receivedAt: instant("2026-11-20T10:00:00+08:00"))
        try database.checkpoint()
        // After a truncating checkpoint the main file holds the event on its own.
        let wal = directory.file(AppDatabase.fileName + "-wal")
        let walSize = (try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0
        #expect(walSize == 0)
        try database.close()
    }
}
