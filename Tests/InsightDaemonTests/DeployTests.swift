import Foundation
import InsightCore
import InsightDaemon
import InsightStore
import InsightTesting
import Testing

/// deploy/: the systemd unit's hardening, install.sh, and the binary under MemoryDenyWriteExecute.
@Suite(.serialized) struct DeployTests {
    static let unit = repositoryRoot + "/deploy/insightd.service"

    static func which(_ command: String) -> String? {
        ["/usr/bin/", "/bin/", "/usr/local/bin/"].map { $0 + command }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func execute(_ executable: String, _ arguments: [String], environment: [String: String]? = nil)
        throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(.enabled(if: which("systemd-analyze") != nil, "needs systemd-analyze (apt-get install systemd)"))
    func theUnitScoresAtMost2InSystemdAnalyzeSecurity() throws {
        let analyze = try #require(Self.which("systemd-analyze"))
        let result = try Self.execute(analyze, ["security", "--offline=yes", Self.unit])
        let line = try #require(result.output.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let score = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) })
        #expect(score <= 2.0, "\(line)")
    }

    @Test func theUnitIsANotifyServiceWithWatchdogReloadCheckAndCredentials() throws {
        let text = try String(contentsOfFile: Self.unit, encoding: .utf8)
        let lines = Set(text.split(separator: "\n").map(String.init))
        for directive in [
            "Type=notify", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID", "User=insightd", "Group=insightd",
            "StateDirectory=insightd", "ConfigurationDirectory=insightd", "ProtectSystem=strict", "ProtectHome=yes",
            "PrivateTmp=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
            "SystemCallFilter=@system-service", "SystemCallArchitectures=native", "MemoryDenyWriteExecute=yes",
            "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes", "ProtectControlGroups=yes",
            "RestrictNamespaces=yes", "LockPersonality=yes", "UMask=0077", "LimitNOFILE=65536",
            "ExecStartPre=/usr/local/bin/insightd check --config /etc/insightd/insightd.yaml",
        ] {
            #expect(lines.contains(directive), "insightd.service has \(directive)")
        }
        #expect(lines.contains { $0.hasPrefix("WatchdogSec=") })
        #expect(lines.contains { $0.hasPrefix("LoadCredential=core-banking-whsec:") })
    }

    @Test func installIsIdempotentKeepsEditedConfigAndInstallsAValidProductionConfig() throws {
        let root = TemporaryDirectory("insightd-install")
        let prefix = root.file("root")
        let install = repositoryRoot + "/deploy/install.sh"
        let arguments = [install, "--prefix", prefix, "--binary", LifecycleTests.binary]

        let dry = try Self.execute("/bin/bash", arguments + ["--dry-run"])
        #expect(dry.status == 0, "\(dry.output)")
        #expect(dry.output.contains("+ install -D -m 0755 \(LifecycleTests.binary) \(prefix)/usr/local/bin/insightd"))
        #expect(!FileManager.default.fileExists(atPath: prefix), "a dry run writes nothing")

        let first = try Self.execute("/bin/bash", arguments)
        #expect(first.status == 0, "\(first.output)")
        for file in ["usr/local/bin/insightd", "etc/insightd/insightd.yaml", "etc/insightd/plugins.d/rules.yaml",
                     "etc/insightd/plugins.d/products.yaml", "etc/insightd/insightd.env", "etc/systemd/system/insightd.service"] {
            #expect(FileManager.default.fileExists(atPath: prefix + "/" + file), "\(file) installed")
        }
        let rules = prefix + "/etc/insightd/plugins.d/rules.yaml"
        try (String(contentsOfFile: rules, encoding: .utf8) + "# the bank's own rule\n").write(toFile: rules, atomically: true, encoding: .utf8)

        let second = try Self.execute("/bin/bash", arguments)
        #expect(second.status == 0)
        #expect(second.output.contains("kept (edited): \(rules); the shipped version is \(rules).dist"))
        #expect(try String(contentsOfFile: rules, encoding: .utf8).hasSuffix("# the bank's own rule\n"), "the edit survives")
        #expect(second.output.contains("unchanged: \(prefix)/etc/insightd/insightd.yaml"))

        // The installed main file is a production config: state under StateDirectory=, plugins from plugins.d,
        // secrets from systemd credentials. Loaded with the prefix's paths and credentials, it is valid.
        let installed = try String(contentsOfFile: prefix + "/etc/insightd/insightd.yaml", encoding: .utf8)
        #expect(installed.contains("state_dir: /var/lib/insightd"))
        #expect(installed.contains("secret: \"credential:core-banking-whsec\"") && !installed.contains("demo-ops-token"))
        let credentials = root.file("credentials")
        root.write("credentials/core-banking-whsec", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        root.write("credentials/crm-token", "crm-token-0123456789")
        root.write("credentials/ops-token", "ops-token-0123456789")
        root.write("credentials/compliance-token", "compliance-token-0123456789")
        let local = root.write("check/insightd.yaml", installed
            .replacingOccurrences(of: "/etc/insightd/plugins.d", with: prefix + "/etc/insightd/plugins.d")
            .replacingOccurrences(of: "/var/lib/insightd", with: root.file("state")))
        let loaded = try ConfigLoader().load(path: local, environment: ["CREDENTIALS_DIRECTORY": credentials])
        #expect(loaded.warnings.allSatisfy { !$0.contains("literal secret") }, "no literal secrets in production")
        #expect(loaded.secrets["api_tokens[0].token"]?.value == "ops-token-0123456789")
    }

    /// MemoryDenyWriteExecute: the kernel refuses writable-and-executable memory (PR_SET_MDWE, Linux 6.3+).
    /// The daemon runs under it, takes an event over HTTP, makes a lead and stops cleanly.
    @Test(.enabled(if: which("python3") != nil, "needs python3"))
    func theDaemonRunsUnderMemoryDenyWriteExecute() throws {
        let python = try #require(Self.which("python3"))
        let probe = try Self.execute(python, ["-c", "import ctypes,sys; sys.exit(0 if ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) == 0 else 3)"])
        try #require(probe.status == 0 || probe.status == 3)
        guard probe.status == 0 else { return }  // a kernel without PR_SET_MDWE: nothing to check here

        let port = try #require(LifecycleTests.freePort())
        let fixture = ConfigFixture.daemon(port: port, """
            receivers: [{name: audit, kind: file, path: state/deliveries.jsonl}]
            routes: [{receivers: [audit]}]
            delivery: {group_window: 0s}
            """)
        let wrapper = """
            import ctypes, os, sys
            if ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) != 0: sys.exit(3)
            os.execv(sys.argv[1], sys.argv[1:])
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", wrapper, LifecycleTests.binary, "run", "--config", fixture.mainPath]
        process.environment = ["PATH": "/usr/bin:/bin"]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let code = try postSampleEvents(port: port, while: { process.isRunning })
        #expect(code == "202")
        let deliveries = fixture.directory.file("state/deliveries.jsonl")
        let lines = waitForLines(deliveries, count: 3, while: { process.isRunning }).count
        #expect(lines == 3, "leads made and delivered under MemoryDenyWriteExecute")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let log = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(log.suffix(800))")
    }
}
