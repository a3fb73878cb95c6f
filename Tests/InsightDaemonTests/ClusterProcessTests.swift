import Foundation
import InsightCore
import InsightIngest
import InsightPostgres
import InsightTesting
import PostgresNIO
import Testing

/// Three `insightd run` processes on loopback against one PostgreSQL, a signed event stream sent through all three, a
/// webhook receiver recording every `webhook-id`. One instance is killed with SIGKILL mid-stream and started again
/// later; another is paused with SIGSTOP past its lease and resumed. Afterwards every acknowledged event was handled
/// exactly once, every lead exists once and reached the receiver (by `webhook-id`), and the failover time is printed.
@Suite(.serialized, .enabled(if: TestPostgres.url != nil || TestPostgres.isRequired))
struct ClusterProcessTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let clients = 200
    static let events = 2400
    static let perRequest = 20

    /// One instance's config: its own port and name, the shared store's schema, the shared receiver.
    static func config(name: String, port: Int, schema: String, receiverPort: Int, directory: String, plugins: String) -> String {
        """
        listen: 127.0.0.1:\(port)
        state_dir: \(directory)/\(name)
        timezone: Asia/Shanghai
        plugins_dir: \(plugins)
        sources:
          - {name: core-banking, kind: webhook, secret: "env:CLUSTER_TEST_SECRET"}
        api_tokens:
          - {name: ops, token: "env:CLUSTER_TEST_TOKEN", scopes: [read, admin, feedback]}
        receivers:
          - {name: hook, kind: webhook, url: "http://127.0.0.1:\(receiverPort)/hook", timeout: 5s}
        routes:
          - {match: {}, receivers: [hook], mode: immediate}
        delivery:
          retry_schedule: [0s, 1s, 1s, 2s, 2s, 5s, 5s, 5s]
          poll_interval: 100ms
          unassigned: [hook]
          group_window: 0s
        dispatcher:
          shards: 2
          poll_interval: 100ms
        store:
          kind: postgres
          url: "env:INSIGHTD_PG_URL"
          schema: \(schema)
        cluster:
          instance: \(name)
          partitions: 16
          lease_timeout: 3s
        logging:
          format: json
        """
    }

    /// A running instance.
    final class Instance: @unchecked Sendable {
        let name: String
        let port: Int
        let configPath: String
        let environment: [String: String]
        var run: LifecycleTests.Run?

        init(name: String, port: Int, configPath: String, environment: [String: String]) {
            self.name = name
            self.port = port
            self.configPath = configPath
            self.environment = environment
        }

        func start() throws {
            run = try LifecycleTests.Run(["run", "--config", configPath], environment: environment)
        }

        var pid: Int32 { run?.process.processIdentifier ?? 0 }

        /// `/readyz` with the store's details, once it answers 200.
        func status() -> JSONValue? {
            guard let body = try? curl(["--max-time", "2", "-H", "Authorization: Bearer cluster-ops",
                                        "http://127.0.0.1:\(port)/readyz"]),
                  let json = try? JSONParser.parse(Array(body.utf8)) else { return nil }
            return json["store"]
        }
    }

    /// Posts one signed request of events; true once it is acknowledged (202).
    static func send(_ events: [String], webhookId: String, to port: Int) -> Bool {
        let body = events.joined(separator: "\n") + "\n"
        let timestamp = Int64(Date().timeIntervalSince1970)
        guard let signer = StandardWebhooks(secret: secret) else { return false }
        let signature = signer.sign(id: webhookId, timestamp: timestamp, body: Array(body.utf8))
        let file = NSTemporaryDirectory() + "cluster-\(webhookId).ndjson"
        _ = FileManager.default.createFile(atPath: file, contents: Data(body.utf8))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let code = (try? curl(["-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-X", "POST",
                               "http://127.0.0.1:\(port)/v1/events", "-H", "Content-Type: application/x-ndjson",
                               "-H", "webhook-id: \(webhookId)", "-H", "webhook-timestamp: \(timestamp)",
                               "-H", "webhook-signature: \(signature)", "--data-binary", "@\(file)"])) ?? ""
        return code == "202"
    }

    static func event(_ index: Int) -> (line: String, large: Bool) {
        let client = "C\(String(format: "%05d", index % clients))"
        let large = index % 8 == 0
        let amount = large ? "600000.00" : "\(100 + index % 500).25"
        let line = """
            {"id":"e\(index)","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","clientId":"\(client)",\
            "data":{"accountId":"A\(client)","amount":"\(amount)","direction":"credit","channel":"transfer","currency":"CNY"}}
            """
        return (line, large)
    }

    @Test func threeInstancesSurviveAKillAndAPauseWithEveryEventAndLeadOnce() async throws {
        let postgres = try await TestPostgres.start()
        let store = postgres.store
        let schema = store.settings.schema
        let directory = TemporaryDirectory()
        let plugins = directory.path + "/plugins"
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try """
            enabled: true
            rules:
              - id: large-inflow
                when:
                  type: account.transaction
                  all:
                    - {field: data.direction, eq: credit}
                    - {field: data.amount, gte: 500000}
                lead: {kind: large_inflow, priority: high, title: Large inflow}
            """.write(toFile: plugins + "/rules.yaml", atomically: true, encoding: .utf8)
        // A scheduled plugin for the operator's tick (the events carry no birthdays: it makes no lead).
        try "enabled: true\nschedule: \"08:30\"\n".write(toFile: plugins + "/birthday-care.yaml", atomically: true, encoding: .utf8)
        guard let receiverPort = LifecycleTests.freePort() else { Issue.record("no free port"); return }
        let receiverLog = directory.path + "/received.jsonl"
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let receiver = try LifecycleTests.Run(["/usr/bin/python3", repository + "/deploy/cluster/receiver.py", "\(receiverPort)",
                                               receiverLog], shell: true)
        defer { receiver.process.terminate() }
        guard let url = TestPostgres.url else { Issue.record("no PostgreSQL"); return }
        let environment = ["INSIGHTD_PG_URL": url, "CLUSTER_TEST_SECRET": Self.secret, "CLUSTER_TEST_TOKEN": "cluster-ops"]
        var instances: [Instance] = []
        for name in ["app-1", "app-2", "app-3"] {
            guard let port = LifecycleTests.freePort() else { Issue.record("no free port"); return }
            let path = directory.path + "/\(name).yaml"
            try Self.config(name: name, port: port, schema: schema, receiverPort: receiverPort, directory: directory.path,
                            plugins: plugins).write(toFile: path, atomically: true, encoding: .utf8)
            instances.append(Instance(name: name, port: port, configPath: path, environment: environment))
        }
        defer {
            for instance in instances {
                if let pid = instance.run?.process.processIdentifier, instance.run?.process.isRunning == true {
                    kill(pid, SIGCONT)
                    kill(pid, SIGKILL)
                }
            }
        }
        for instance in instances { try instance.start() }

        // All three up, sharing the 16 partitions.
        func waitFor(_ what: String, timeout: TimeInterval = 30, _ condition: () -> Bool) -> TimeInterval? {
            let start = Date()
            while Date().timeIntervalSince(start) < timeout {
                if condition() { return Date().timeIntervalSince(start) }
                usleep(100_000)
            }
            Issue.record("timed out waiting for \(what)")
            return nil
        }
        func owners(_ status: JSONValue?) -> [String: Int] {
            var result: [String: Int] = [:]
            for item in status?["instances"]?.arrayValue ?? [] where item["alive"]?.boolValue == true {
                result[item["name"]?.stringValue ?? "?"] = item["partitions"]?.arrayValue?.count ?? 0
            }
            return result
        }
        _ = waitFor("three instances holding every partition") {
            let held = owners(instances[0].status())
            return held.count == 3 && held.values.reduce(0, +) == 16 && held.values.allSatisfy { $0 > 0 }
        }

        // The stream, round-robin over the instances that are up; a request an instance did not acknowledge goes to the
        // next one (its events' ids make a repeat a duplicate).
        let all = (0..<Self.events).map(Self.event)
        let expectedLeads = all.count(where: \.large)
        var acknowledged = 0
        var down: Set<String> = []
        var afterKill: TimeInterval?
        var afterPause: TimeInterval?
        let requests = stride(from: 0, to: Self.events, by: Self.perRequest).map { start in
            Array(all[start..<min(start + Self.perRequest, Self.events)].map(\.line))
        }
        for (number, lines) in requests.enumerated() {
            if number == requests.count / 3 {
                // SIGKILL mid-stream: app-1's partitions go to the others once its lease has run out.
                kill(instances[0].pid, SIGKILL)
                down.insert("app-1")
                afterKill = waitFor("app-1's partitions taken over") {
                    let held = owners(instances[2].status())
                    return held["app-1"] == nil && held.values.reduce(0, +) == 16
                }
            }
            if number == requests.count * 2 / 3 {
                // SIGSTOP right after app-2 acknowledged a request, so that it has work in hand when it stops.
                kill(instances[1].pid, SIGSTOP)
                down.insert("app-2")
                afterPause = waitFor("app-2's partitions taken over") { owners(instances[2].status()) == ["app-3": 16] }
            }
            var sent = false
            for attempt in 0..<6 where !sent {
                let target = instances[(number + attempt) % 3]
                guard !down.contains(target.name) else { continue }
                sent = Self.send(lines, webhookId: "msg_\(number)", to: target.port)
            }
            if sent { acknowledged += lines.count }
        }
        #expect(acknowledged == Self.events, "every request was acknowledged by an instance that was up")

        // app-2 resumes: what it had in hand must not commit (its leases moved on), then it rejoins.
        kill(instances[1].pid, SIGCONT)
        // app-1 starts again.
        try instances[0].start()
        _ = waitFor("the three instances sharing the partitions again", timeout: 40) {
            let held = owners(instances[2].status())
            return held.count == 3 && held.values.reduce(0, +) == 16 && held.values.allSatisfy { $0 > 0 }
        }
        // Caught up, and every lead delivered.
        _ = waitFor("the cluster to catch up", timeout: 60) {
            instances[2].status()?["lagEvents"] == .number("0")
        }
        func received() -> [(webhookId: String, keys: [String])] {
            let text = (try? String(contentsOfFile: receiverLog, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                guard let json = try? JSONParser.parse(Array(line.utf8)), let id = json["webhookId"]?.stringValue else { return nil }
                return (id, json["keys"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            }
        }
        _ = waitFor("every lead at the receiver", timeout: 60) { Set(received().map(\.webhookId)).count >= expectedLeads }

        // The leads API from any instance: one instance's pages hold every lead once; feedback given through another is
        // read back through the first.
        let auth = "Authorization: Bearer cluster-ops"
        var listed: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let url = "http://127.0.0.1:\(instances[2].port)/v1/leads?limit=100" + (cursor.map { "&cursor=\($0)" } ?? "")
            let page = try JSONParser.parse(Array(try curl(["--max-time", "10", "-H", auth, url]).utf8))
            listed += page["leads"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            cursor = page["nextCursor"]?.stringValue
            pages += 1
        } while cursor != nil && pages < 50  // a cursor that never ends fails the count below, never hangs the test
        #expect(listed.count == expectedLeads && Set(listed).count == listed.count, "the leads API lists every lead once")
        if let id = listed.first {
            let code = try curl(["--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", auth, "-H",
                                 "Content-Type: application/json", "-d", #"{"outcome": "contacted", "note": "called"}"#,
                                 "http://127.0.0.1:\(instances[1].port)/v1/leads/\(id)/feedback"])
            #expect(code == "200")
            let lead = try JSONParser.parse(Array(try curl(["--max-time", "10", "-H", auth,
                                                            "http://127.0.0.1:\(instances[2].port)/v1/leads/\(id)"]).utf8))
            #expect(lead["status"]?.stringValue == "contacted")
            #expect(lead["activity"]?.arrayValue?.contains { $0["kind"]?.stringValue == "feedback" } == true)
            #expect(lead["deliveries"]?.arrayValue?.isEmpty == false, "the lead shows the delivery another instance sent")
        }
        #expect(try curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(instances[2].port)/v1/leads"]) == "401")
        // An operator's tick runs on the instance asked, once every partition has passed the events before it.
        let tick = try JSONParser.parse(Array(try curl([
            "--max-time", "60", "-X", "POST", "-H", auth, "-H", "Content-Type: application/json", "-d", #"{"at": "2026-11-25T08:30:00+08:00"}"#,
            "http://127.0.0.1:\(instances[0].port)/v1/admin/tick"]).utf8))
        #expect(tick["localDate"]?.stringValue == "2026-11-25", "\(tick)")
        #expect(tick["plugins"] == .array([.object(["plugin": .string("birthday-care"), "newLeads": .number("0")])]), "\(tick)")

        // `insightd cluster status` reads the same from the store.
        let status = try LifecycleTests.Run.command(["cluster", "status", "--config", instances[2].configPath],
                                                    environment: environment)
        #expect(status.status == 0, "\(status.stderr)")
        for name in ["app-1", "app-2", "app-3"] {
            #expect(status.stdout.contains("\n\(name)  "), "\(status.stdout)")
        }
        #expect(status.stdout.contains("lag 0 events"))

        let counts = try await store.transaction { session in
            (journal: try session.value(Int.self, "SELECT COUNT(*)::bigint FROM journal") ?? -1,
             transactions: try session.value(Int.self, "SELECT COALESCE(SUM(transaction_count), 0)::bigint FROM account") ?? -1,
             leads: try session.value(Int.self, "SELECT COUNT(*)::bigint FROM lead") ?? -1,
             leadEvents: try session.value(Int.self, "SELECT COUNT(DISTINCT journal_seq)::bigint FROM lead") ?? -1)
        }
        #expect(counts.journal == Self.events, "0 acknowledged events lost, none journaled twice")
        #expect(counts.transactions == Self.events, "each event's state change applied once")
        #expect(counts.leads == expectedLeads && counts.leadEvents == expectedLeads, "0 duplicate leads")
        let deliveries = received()
        let ids = Set(deliveries.map(\.webhookId))
        let keys = Set(deliveries.flatMap(\.keys))
        #expect(ids.count == expectedLeads, "each lead reached the receiver, under one webhook-id")
        #expect(keys.count == expectedLeads)
        let repeats = deliveries.count - ids.count
        print("""
            cluster test: \(Self.events) events acknowledged through 3 instances, \(expectedLeads) leads; \
            partitions moved \(afterKill.map { String(format: "%.1f s", $0) } ?? "-") after SIGKILL and \
            \(afterPause.map { String(format: "%.1f s", $0) } ?? "-") after SIGSTOP (lease_timeout 3 s); \
            \(deliveries.count) requests at the receiver, \
            \(repeats) repeated webhook-ids (a send cut off by the kill, sent again under the same id)
            """)
        for instance in instances {
            if let pid = instance.run?.process.processIdentifier, instance.run?.process.isRunning == true { kill(pid, SIGTERM) }
        }
        for instance in instances { _ = instance.run?.finish(timeout: 15) }
    }
}
