import Foundation
import InsightPostgres
import Logging

/// A PostgreSQL store for one test, in a schema of its own on the server `INSIGHTD_TEST_POSTGRES_URL` names (a
/// throwaway server: `deploy/pg/throwaway.sh start DIR` prints its URL; `.ci/run` starts one). Its pool runs until
/// the value is let go.
///
/// Without that variable the PostgreSQL variants of the backend suites are left out, unless
/// `INSIGHTD_REQUIRE_POSTGRES=1` (set by `.ci/run`) makes that a failure (``TestPostgres/requirement``).
public final class TestPostgres: Sendable {
    public let store: PostgresStore
    private let pool: Task<Void, Never>

    /// The server's URL, when one is configured.
    public static var url: String? {
        ProcessInfo.processInfo.environment["INSIGHTD_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether the PostgreSQL variants must run (CI): then a missing URL is an error, not a skip.
    public static var isRequired: Bool { ProcessInfo.processInfo.environment["INSIGHTD_REQUIRE_POSTGRES"] == "1" }

    public struct NotConfigured: Error, CustomStringConvertible {
        public init() {}
        public var description: String {
            "INSIGHTD_REQUIRE_POSTGRES=1 but INSIGHTD_TEST_POSTGRES_URL is not set: start a throwaway server with "
                + "deploy/pg/throwaway.sh start DIR and export the URL it prints"
        }
    }

    private init(store: PostgresStore) {
        self.store = store
        pool = Task { await store.run() }
    }

    /// A new store in a fresh schema (`t_` and a random suffix), migrated. (A static function, not an `async` init: the
    /// release build's optimizer crashed splitting that initializer's coroutine.)
    public static func start(pool size: Int = 4) async throws -> TestPostgres {
        guard let url = Self.url else { throw NotConfigured() }
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let settings = try PostgresSettings(url: url, pool: size, schema: String(schema))
        let test = TestPostgres(store: PostgresStore(settings: settings,
                                                     logger: Logger(label: "test.postgres", factory: { _ in SwiftLogNoOpLogHandler() })))
        try await test.store.migrate()
        return test
    }

    deinit {
        pool.cancel()
    }
}
