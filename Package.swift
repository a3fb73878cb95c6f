// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "insightd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "insightd", targets: ["insightd"]),
        .executable(name: "insightd-bench", targets: ["InsightBench"]),
        // Libraries only for deploy/fuzz (a package of its own, built with -sanitize=fuzzer,address): a package
        // that depends on this one sees its products, not its targets. Not an API promise.
        .library(name: "InsightCore", targets: ["InsightCore"]),
        .library(name: "InsightIngest", targets: ["InsightIngest"]),
        .library(name: "InsightDaemon", targets: ["InsightDaemon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/yaslab/CSV.swift.git", from: "2.5.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // Events, client state, leads, the plugin contract, the bus, the clock, calendars, lead texts. No I/O.
        .target(
            name: "InsightCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        // Everything SQL: one DatabasePool, migrations, journal, state projection, ledger.
        .target(
            name: "InsightStore",
            dependencies: [
                "InsightCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for binding the journal's appends straight onto GRDB's prepared statement.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Built-in plugins. They see only InsightCore: no SQL, no HTTP, no wall clock.
        .target(
            name: "InsightPlugins",
            dependencies: ["InsightCore", .product(name: "Mustache", package: "swift-mustache")]
        ),
        // The pipeline: dispatcher (journal → state → bus → plugins → ledger) and the daily scheduler.
        .target(
            name: "InsightEngine",
            dependencies: [
                "InsightCore",
                "InsightStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Ways out: routing (pure), retry policy (pure), message templates, receivers, and the outbox worker
        // that drives the store's delivery rows through them.
        .target(
            name: "InsightDelivery",
            dependencies: [
                "InsightCore",
                "InsightStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Ways in: Standard Webhooks verification, CloudEvents, and the file inbox (JSONL and mapped CSV).
        .target(
            name: "InsightIngest",
            dependencies: [
                "InsightCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CSV", package: "CSV.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The Hummingbird application: events, admin, health, OpenAPI.
        .target(
            name: "InsightHTTP",
            dependencies: [
                "InsightCore",
                "InsightStore",
                "InsightEngine",
                "InsightIngest",
                "InsightDelivery",
                .product(name: "Hummingbird", package: "hummingbird"),
                // The server's channel, wrapped with request deadlines (ServerLimits.swift).
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The PostgreSQL backend of the store's protocols (the shared store of several instances).
        .target(
            name: "InsightPostgres",
            dependencies: [
                "InsightCore",
                "InsightStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Composition root: config, services, lifecycle, systemd notify, reload.
        .target(
            name: "InsightDaemon",
            dependencies: [
                "InsightCore",
                "InsightStore",
                "InsightEngine",
                "InsightPlugins",
                "InsightIngest",
                "InsightHTTP",
                "InsightDelivery",
                "InsightPostgres",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Shared test kit: fixed clock, temporary databases, fixtures.
        .target(
            name: "InsightTesting",
            dependencies: [
                "InsightCore", "InsightStore", "InsightEngine", "InsightPostgres", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "insightd",
            dependencies: [
                "InsightDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "InsightBench",
            dependencies: [
                "InsightDaemon",
                "InsightPostgres",
                "InsightDelivery",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                "InsightEngine",
                "InsightIngest",
                "InsightStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "InsightIngestTests",
            dependencies: ["InsightIngest", "InsightTesting", .product(name: "Logging", package: "swift-log")],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "InsightHTTPTests",
            dependencies: [
                "InsightHTTP", "InsightTesting", "InsightPlugins", "InsightDelivery",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "InsightCoreTests", dependencies: [
            "InsightCore", "InsightTesting", .product(name: "Mustache", package: "swift-mustache"),
        ]),
        .testTarget(
            name: "InsightDeliveryTests",
            dependencies: [
                "InsightDelivery", "InsightCore", "InsightStore", "InsightIngest", "InsightTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                "InsightPostgres",
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "InsightStoreTests",
            dependencies: [
                "InsightStore", "InsightPostgres", "InsightTesting", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "InsightEngineTests",
            dependencies: [
                "InsightEngine", "InsightPlugins", "InsightTesting", "InsightPostgres",
                .product(name: "Logging", package: "swift-log"), .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "InsightPluginsTests",
            dependencies: ["InsightPlugins", "InsightTesting", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "InsightDaemonTests",
            dependencies: [
                "InsightDaemon", "InsightTesting", "InsightIngest", "InsightPostgres",
                .product(name: "Logging", package: "swift-log"), .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
