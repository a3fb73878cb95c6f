import Foundation
import InsightCore
import InsightStore
import InsightTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real `insightd` binary as systemd runs it: notify socket, watchdog, SIGHUP, SIGTERM, exit codes.
@Suite(.serialized) struct LifecycleTests {
    /// `insightd` sits next to the test bundle in the build directory.
    static let binary: String = {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = runner.deletingLastPathComponent()
        if directory.lastPathComponent == "MacOS" || directory.path.hasSuffix(".xctest/Contents") {
            directory = directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        }
        return directory.appendingPathComponent("insightd").path
    }()

    /// A loopback port nothing listens on right now.
    static func freePort() -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { return nil }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Reads a pipe to its end on a thread of its own, so a chatty child never blocks on a full pipe while
    /// the test reads its other output.
    final class Drain: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)

        init(_ pipe: Pipe) {
            let handle = pipe.fileHandleForReading
            Thread.detachNewThread { [self] in
                let all = handle.readDataToEndOfFile()
                lock.withLock { data = all }
                done.signal()
            }
        }

        /// Everything the child wrote, once it has closed the pipe.
        func wait() -> Data {
            done.wait()
            done.signal()
            return lock.withLock { data }
        }
    }

    struct Run {
        let process = Process()
        let stderr = Pipe()
        let stderrDrain: Drain
        /// Standard output, when asked for; else it goes nowhere.
        let stdout: Pipe?

        /// With `shell`, `arguments` is a whole command line whose first element is the program, not insightd's.
        init(_ arguments: [String], environment: [String: String] = [:], captureOutput: Bool = false, shell: Bool = false) throws {
            stdout = captureOutput ? Pipe() : nil
            process.executableURL = URL(fileURLWithPath: shell ? arguments[0] : LifecycleTests.binary)
            process.arguments = shell ? Array(arguments.dropFirst()) : arguments
            var env = ["PATH": "/usr/bin:/bin"]
            env.merge(environment) { _, new in new }
            process.environment = env
            process.standardError = stderr
            process.standardOutput = stdout ?? FileHandle.nullDevice
            stderrDrain = Drain(stderr)
            try process.run()
        }

        /// Runs a short command to its end: status, standard output and standard error.
        static func command(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
            let run = try Run(arguments, environment: environment, captureOutput: true)
            let output = run.stdout?.fileHandleForReading.readDataToEndOfFile() ?? Data()
            let result = run.finish()
            return (result.status, String(decoding: output, as: UTF8.self), result.stderr)
        }

        /// Waits for exit (killing the process after `timeout`), then returns status and stderr.
        func finish(timeout: TimeInterval = 20) -> (status: Int32, stderr: String) {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { process.terminate(); process.waitUntilExit() }
            let output = String(decoding: stderrDrain.wait(), as: UTF8.self)
            return (process.terminationStatus, output)
        }
    }

    @Test func runsUnderSystemdNotifyReloadsOnHupAndStopsCleanlyOnTerm() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "built insightd at \(Self.binary)")
        let port = try #require(Self.freePort())
        let fixture = ConfigFixture.daemon(port: port, "storage: {page_cache_mb: 24, memory_map_mb: 8}\n")
        let notify = try #require(NotifySocket(directory: fixture.directory.path))
        let daemon = try Run(["run", "--config", fixture.mainPath],
                             environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        defer { if daemon.process.isRunning { daemon.process.terminate() } }

        #expect(notify.waitFor("READY=1", timeout: 20) != nil, "READY=1 once the database is open")

        // An integration engineer's file goes into the journal while the daemon runs.
        let events = EventFixtures.load(Bundle.module.path(forResource: "sample-events", ofType: "ndjson",
                                                           inDirectory: "Fixtures") ?? "")
        let database = try AppDatabase.open(directory: fixture.directory.file("state"))
        _ = try database.append(Array(events.prefix(3)), receivedAt: Date())
        // The rest arrive over HTTP, as a core system would send them.
        let rest = events.dropFirst(3).map { event in
            #"{"id":"\#(event.id)","type":"\#(event.type)","time":"2026-11-20T12:00:00+08:00","clientId":"\#(event.clientId ?? "")","data":\#(JSONWriter.string(event.data))}"#
        }.joined(separator: "\n")
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://127.0.0.1:\(port)/v1/events",
                          "-H", "Authorization: Bearer test-crm-token", "-H", "Content-Type: application/x-ndjson",
                          "--data-binary", rest]
        let status = Pipe()
        curl.standardOutput = status
        try curl.run()
        curl.waitUntilExit()
        #expect(String(decoding: status.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "202")
        var leads: [Lead] = []
        let deadline = Date().addingTimeInterval(10)
        while leads.count < 3 && Date() < deadline {
            usleep(50_000)
            leads = try database.leads()
        }
        #expect(leads.map(\.kind).sorted() == ["large_cash_withdrawal", "large_inflow", "policy_lapse"])

        #expect(notify.waitFor("WATCHDOG=1", timeout: 5) != nil, "the watchdog is fed while the pipeline is alive")

        // A second daemon on the same state is refused: it would dispatch the journal twice.
        let second = try Run(["run", "--config", fixture.mainPath]).finish()
        #expect(second.status == 1)
        #expect(second.stderr.contains("another insightd (pid \(daemon.process.processIdentifier)) is already running"))

        kill(daemon.process.processIdentifier, SIGHUP)
        let reload = notify.waitFor("READY=1", timeout: 10)
        #expect(reload?.contains { $0.hasPrefix("RELOADING=1") && $0.contains("MONOTONIC_USEC=") } == true)

        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(notify.waitFor("STOPPING=1", timeout: 10) != nil)
        let result = daemon.finish()
        #expect(result.status == 0, "SIGTERM is a clean stop: \(result.stderr)")
        // Not on a terminal, so every log line is one JSON object (journald-friendly).
        let lines = result.stderr.split(separator: "\n").map { (try? JSONParser.parse(String($0))) ?? .null }
        #expect(!lines.isEmpty && lines.allSatisfy { $0["message"]?.stringValue != nil }, "every line is a JSON log record")
        #expect(lines.contains { $0["message"]?.stringValue == "configuration reloaded" })
        // The state database was opened with the configured SQLite memory.
        let starting = lines.first { $0["message"]?.stringValue == "insightd starting" }
        #expect(starting?["metadata"]?["storage.page_cache_mb"]?.stringValue == "24")
        #expect(starting?["metadata"]?["storage.memory_map_mb"]?.stringValue == "8")
        let stopped = lines.first { $0["message"]?.stringValue == "insightd stopped cleanly" }
        #expect(stopped?["metadata"]?["journal.position"]?.stringValue == "6")
        // The state is written at the stop: a restart has nothing to dispatch again.
        let dispatcherStopped = lines.first { $0["message"]?.stringValue == "dispatcher stopped" }
        #expect(dispatcherStopped?["metadata"]?["state.position"]?.stringValue == "6")
        #expect(starting?["metadata"]?["dispatcher.state_checkpoint"]?.stringValue == "10s")
        #expect(lines.filter { $0["message"]?.stringValue == "lead created" }.count == 3)
        #expect(!result.stderr.contains("13812345678"), "no unmasked phone number in the log")
        #expect(!result.stderr.contains("张三"), "no unmasked client name in the log")
    }

    @Test func withoutSystemdSigtermAfterHTTPTrafficStillExitsZero() throws {
        // Run by hand (no NOTIFY_SOCKET): the HTTP server must stop in the daemon's shutdown order.
        let port = try #require(Self.freePort())
        let fixture = ConfigFixture(main: """
            plugins_dir: plugins
            state_dir: state
            listen: 127.0.0.1:\(port)
            sources:
              - {name: crm, kind: webhook, token: "t"}
              - {name: nightly, kind: inbox, path: inbox, poll_interval: 50ms}
            """)
        let daemon = try Run(["run", "--config", fixture.mainPath])
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        var code = ""
        for _ in 0..<100 where code != "202" {
            usleep(50_000)
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://127.0.0.1:\(port)/v1/events",
                              "-H", "Authorization: Bearer t", "-H", "Content-Type: application/json", "--data-binary",
                              #"{"id":"h1","type":"custom.ping","time":"2026-11-20T12:00:00+08:00","data":{}}"#]
            let output = Pipe()
            curl.standardOutput = output
            try curl.run()
            curl.waitUntilExit()
            code = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
        #expect(code == "202")
        usleep(300_000)
        kill(daemon.process.processIdentifier, SIGTERM)
        let result = daemon.finish()
        #expect(result.status == 0, "\(result.stderr.suffix(600))")
        #expect(!result.stderr.contains("finished unexpectedly"))
    }

    /// Waits until `GET path` answers on `port`, and returns its status and body.
    static func get(_ path: String, port: Int, headers: [String] = [], attempts: Int = 200) -> (status: Int, body: String)? {
        for _ in 0..<attempts {
            if let connection = try? RawConnection(port: port) {
                connection.send((["GET \(path) HTTP/1.1", "Host: insightd"] + headers).joined(separator: "\r\n") + "\r\n\r\n")
                let reply = connection.response(timeout: 5).text
                if let status = RawConnection.status(of: reply) { return (status, reply) }
            }
            usleep(50_000)
        }
        return nil
    }

    @Test func aStalledRequestDoesNotHoldUpTheStopPastTheGrace() throws {
        // A client that sent a head and part of a body, then went quiet: SIGTERM must still finish, after
        // http.shutdown_grace, with the WAL checkpoint (systemd would otherwise SIGKILL the daemon).
        let port = try #require(Self.freePort())
        let fixture = ConfigFixture(main: """
            plugins_dir: plugins
            state_dir: state
            listen: 127.0.0.1:\(port)
            sources:
              - {name: crm, kind: webhook, token: "t"}
            http: {shutdown_grace: 1s, body_timeout: 1h}
            """)
        let daemon = try Run(["run", "--config", fixture.mainPath])
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        #expect(Self.get("/healthz", port: port)?.status == 200)
        let stalled = try RawConnection(port: port)
        stalled.send("POST /v1/events HTTP/1.1\r\nHost: insightd\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":")
        usleep(300_000)
        let stopAsked = Date()
        kill(daemon.process.processIdentifier, SIGTERM)
        let result = daemon.finish(timeout: 20)
        let took = Date().timeIntervalSince(stopAsked)
        #expect(result.status == 0, "\(result.stderr.suffix(600))")
        #expect(took < 8, "the stop took \(took) s with a stalled request")
        #expect(result.stderr.contains("http.shutdown_grace"), "\(result.stderr.suffix(600))")
        #expect(result.stderr.contains("insightd stopped cleanly"))
        #expect(stalled.receive(timeout: 2).closed)
    }

    @Test func fewDescriptorsLeftMakeTheDaemonNotReady() throws {
        // Started with a hard limit of 80 descriptors: the daemon cannot raise it, keeps its connections under it,
        // and says it is not ready rather than failing requests at random.
        let port = try #require(Self.freePort())
        let fixture = ConfigFixture(main: """
            plugins_dir: plugins
            state_dir: state
            listen: 127.0.0.1:\(port)
            sources:
              - {name: crm, kind: webhook, token: "t"}
            """)
        let daemon = try Run(["/bin/sh", "-c", "ulimit -n 80 && exec \"$0\" run --config \"$1\"", Self.binary, fixture.mainPath],
                             shell: true)
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        let ready = try #require(Self.get("/readyz", port: port))
        #expect(ready.status == 503, "\(ready.body)")
        #expect(ready.body.contains("descriptors:"), "\(ready.body)")
        kill(daemon.process.processIdentifier, SIGTERM)
        let result = daemon.finish()
        #expect(result.status == 0, "\(result.stderr.suffix(600))")
        #expect(result.stderr.contains("http.max_connections is over what the descriptor limit leaves"), "\(result.stderr.suffix(800))")
    }

    @Test func aCorruptDatabaseStopsStartupAndIsLeftUntouched() throws {
        let fixture = ConfigFixture(main: "plugins_dir: plugins\nstate_dir: state\nlisten: 127.0.0.1:0\n")
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try FileManager.default.createDirectory(atPath: fixture.directory.file("state"), withIntermediateDirectories: true)
        let databasePath = fixture.directory.file("state/insightd.sqlite")
        #expect(FileManager.default.createFile(atPath: databasePath, contents: garbage))

        let result = try Run(["run", "--config", fixture.mainPath]).finish()
        #expect(result.status == 1)
        #expect(result.stderr.contains("is not a valid insightd database"))
        #expect(result.stderr.contains("left untouched"))
        #expect(FileManager.default.contents(atPath: databasePath) == garbage, "the database is never truncated")
    }

    @Test func aStateDirectoryThatIsAFileStopsStartup() throws {
        let fixture = ConfigFixture(main: "plugins_dir: plugins\nstate_dir: state\nlisten: 127.0.0.1:0\n")
        fixture.directory.write("state", "not a directory")
        let result = try Run(["run", "--config", fixture.mainPath]).finish()
        #expect(result.status == 1)
        #expect(result.stderr.contains("is not writable (it is a file, not a directory)"))
    }

    @Test func aConfigErrorStopsRunAndCheckWithFileAndLine() throws {
        let fixture = ConfigFixture(main: "plugins_dir: plugins\nstate_dir: state\nlisten: 127.0.0.1:8080\nrecievers: []\n")
        for command in ["run", "check"] {
            let result = try Run([command, "--config", fixture.mainPath]).finish()
            #expect(result.status == 1)
            #expect(result.stderr.contains("insightd.yaml:4:1: recievers: unknown key recievers; did you mean receivers?"))
            #expect(!result.stderr.contains("Fatal error"), "no crash, no stack trace")
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("state")), "a refused config touches no state")
    }

    @Test func ingestCommandJournalsGoodLinesAndQuarantinesBadOnes() throws {
        let fixture = ConfigFixture(main: "plugins_dir: plugins\nstate_dir: state\nlisten: 127.0.0.1:0\n")
        let file = try #require(Bundle.module.path(forResource: "sample-events", ofType: "ndjson", inDirectory: "Fixtures"))
        let first = try Run(["ingest", file, "--config", fixture.mainPath]).finish()
        #expect(first.status == 0)
        #expect(first.stderr.contains("sample-events.ndjson:6: event \"evt-000006\": data.amount must be a decimal number"))
        #expect(first.stderr.contains("sample-events.ndjson:8: line 8 is not valid JSON"))
        let second = try Run(["ingest", file, "--config", fixture.mainPath]).finish()
        #expect(second.status == 0)

        let database = try AppDatabase.open(directory: fixture.directory.file("state"))
        #expect(try database.journalCount() == 6, "the repeat was absorbed as duplicates")
        let quarantined = try database.quarantinedItems()
        #expect(quarantined.count == 4)
        #expect(quarantined.contains { $0.origin == "cli:sample-events.ndjson:6" && $0.eventId == "evt-000006" })
    }

    @Test func ingestCommandTakesStructuredCloudEventsAsTheWebhookAndInboxDo() throws {
        let fixture = ConfigFixture(main: "plugins_dir: plugins\nstate_dir: state\nlisten: 127.0.0.1:0\n")
        let file = fixture.directory.write("mixed.jsonl", """
            {"specversion":"1.0","id":"ce-1","source":"/core-banking","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","clientid":"C000001","data":{"accountId":"6222020200112233","amount":"1234.50","direction":"credit"}}
            {"id":"n-1","type":"account.transaction","time":"2026-11-20T10:01:00+08:00","clientId":"C000001","data":{"accountId":"6222020200112233","amount":"10","direction":"debit"}}

            """)
        let result = try Run(["ingest", file, "--config", fixture.mainPath]).finish()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("clientId is required"))
        let database = try AppDatabase.open(directory: fixture.directory.file("state"))
        #expect(try database.journalCount() == 2, "the CloudEvent and the native envelope both journaled")
    }
}
