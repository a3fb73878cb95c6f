import Foundation
import InsightCore
import InsightIngest
import InsightPostgres
import InsightStore
import InsightTesting
import Logging
import PostgresNIO
import Testing

/// A shared inbox on PostgreSQL: each file is read by one instance at a time, under a lock on its name.
@Suite(.serialized, .enabled(if: TestPostgres.url != nil || TestPostgres.isRequired))
struct SharedInboxTests {
    static func watcher(_ directory: String, store: PostgresStore) -> InboxWatcher {
        InboxWatcher(settings: InboxSettings(name: "nightly", directory: directory, pollInterval: .milliseconds(10),
                                             timeZone: TimeZone(identifier: "Asia/Shanghai") ?? .current),
                     sink: store, health: HealthBoard(), logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    static func drop(_ directory: String, _ name: String, _ text: String) throws {
        let temporary = directory + "/\(name).tmp"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        try FileManager.default.moveItem(atPath: temporary, toPath: directory + "/\(name)")
    }

    static func count(_ store: PostgresStore, _ table: String) async throws -> Int {
        try await store.transaction { try $0.value(Int.self, PostgresQuery(unsafeSQL: "SELECT COUNT(*)::bigint FROM \(table)")) ?? -1 }
    }

    static func file(_ index: Int) -> String {
        (0..<20).map { line in
            """
            {"id":"f\(index)-\(line)","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","clientId":"C\(line)",\
            "data":{"accountId":"A\(line)","amount":"10.00","direction":"credit","currency":"CNY"}}
            """
        }.joined(separator: "\n") + "\nnot json in file \(index)\n"
    }

    @Test func aFileAnotherInstanceHoldsIsLeftToIt() async throws {
        let test = try await TestPostgres.start()
        let directory = TemporaryDirectory("insightd-shared-inbox")
        let inbox = directory.file("in")
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        try Self.drop(inbox, "a.ndjson", Self.file(0))
        let watcher = Self.watcher(inbox, store: test.store)
        _ = try watcher.scan()  // the first scan only observes
        let held = try #require(try test.store.claimInboxFile(source: "nightly", name: "a.ndjson"))
        #expect(try test.store.claimInboxFile(source: "nightly", name: "a.ndjson") == nil, "one holder at a time")
        let reports = try watcher.scan() + watcher.scan()
        #expect(reports.contains { $0.result == .claimedElsewhere })
        #expect(try await Self.count(test.store, "journal") == 0)
        held.release()
        _ = try watcher.scan() + watcher.scan()
        #expect(try await Self.count(test.store, "journal") == 20)
        #expect(try await Self.count(test.store, "quarantine") == 1)
    }

    @Test func twoInstancesScanningOneInboxReadEachFileOnce() async throws {
        let test = try await TestPostgres.start()
        let directory = TemporaryDirectory("insightd-shared-inbox")
        let inbox = directory.file("in")
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        for index in 0..<12 { try Self.drop(inbox, "f\(index).ndjson", Self.file(index)) }
        let watchers = [Self.watcher(inbox, store: test.store), Self.watcher(inbox, store: test.store)]
        // Both scan the same files at once, each on a thread of its own, until the inbox is empty.
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            for _ in 0..<20 {
                _ = try? watchers[index].scan()
                let left = (try? FileManager.default.contentsOfDirectory(atPath: inbox))?.filter { $0.hasSuffix(".ndjson") } ?? []
                if left.isEmpty { break }
                usleep(20_000)
            }
        }
        #expect(try await Self.count(test.store, "journal") == 12 * 20)
        #expect(try await Self.count(test.store, "quarantine") == 12, "each file's bad line quarantined once: read by one instance")
        #expect(try await Self.count(test.store, "inbox_file WHERE finished") == 12)
    }
}
