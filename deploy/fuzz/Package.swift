// swift-tools-version:6.1
// libFuzzer targets for insightd's parsers (issue 14). A package of its own so that the main package's build and
// tests never see the fuzzer flags: build and run it with ./run.sh, which passes
// `--sanitize=fuzzer --sanitize=address` (libFuzzer supplies `main`, each target defines LLVMFuzzerTestOneInput).
import Foundation
import PackageDescription

// A dependency given by path is identified by its folder's name (the checkout's: insightd, main, a worktree's);
// products are looked up by that identity, so it is computed here rather than written down.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let insightd = root.lastPathComponent.lowercased()

let package = Package(
    name: "insightd-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(name: "FuzzJSON", dependencies: [.product(name: "InsightCore", package: insightd)]),
        .executableTarget(name: "FuzzEvents", dependencies: [
            .product(name: "InsightCore", package: insightd),
            .product(name: "InsightIngest", package: insightd),
        ]),
        .executableTarget(name: "FuzzCSV", dependencies: [
            .product(name: "InsightCore", package: insightd),
            .product(name: "InsightIngest", package: insightd),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "FuzzConfig", dependencies: [
            .product(name: "InsightCore", package: insightd),
            .product(name: "InsightDaemon", package: insightd),
        ]),
        .executableTarget(name: "FuzzWebhook", dependencies: [.product(name: "InsightIngest", package: insightd)]),
    ],
    swiftLanguageModes: [.v6]
)
