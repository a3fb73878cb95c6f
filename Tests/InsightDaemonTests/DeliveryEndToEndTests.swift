import Foundation
import InsightCore
import InsightStore
import InsightTesting
import Testing

/// The real `insightd` binary delivering leads: events over HTTP, leads to a file receiver, then the `leads`
/// CLI against the running daemon's API.
@Suite(.serialized) struct DeliveryEndToEndTests {
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try LifecycleTests.Run.command(arguments, environment: environment)
    }

    @Test func leadsAreDeliveredAndTheCLIReadsAndAcknowledgesThem() throws {
        let port = try #require(LifecycleTests.freePort())
        let fixture = ConfigFixture.daemon(port: port, """
            api_tokens:
              - {name: crm-app, token: "test-api-token", scopes: [read, feedback]}
            receivers:
              - {name: audit, kind: file, path: state/deliveries.jsonl}
            routes:
              - {match: {}, receivers: [audit]}
            delivery: {poll_interval: 50ms, group_window: 0s}
            """)
        let daemon = try LifecycleTests.Run(["run", "--config", fixture.mainPath])
        defer { if daemon.process.isRunning { daemon.process.terminate() } }

        let code = try postSampleEvents(port: port)
        #expect(code == "202")

        // The file receiver gets one line per lead, masked.
        let deliveries = fixture.directory.file("state/deliveries.jsonl")
        let lines = waitForLines(deliveries, count: 3)
        #expect(lines.count == 3)
        let text = lines.joined(separator: "\n")
        #expect(text.contains("\"name\":\"张*\"") && !text.contains("张三") && !text.contains("13812345678"))

        let api = ["--url", "http://127.0.0.1:\(port)"]
        let token = ["INSIGHTD_TOKEN": "test-api-token"]
        // The file line is written just before the attempt is recorded: wait for the three to read notified.
        var notified = 0
        let recorded = Date().addingTimeInterval(10)
        while notified < 3 && Date() < recorded {
            let page = try JSONParser.parse(try Self.run(["leads", "list", "--json", "--status", "notified"] + api, environment: token).stdout)
            notified = page["leads"]?.arrayValue?.count ?? 0
            if notified < 3 { usleep(100_000) }
        }
        #expect(notified == 3, "a lead is notified once its first delivery succeeded")
        let list = try Self.run(["leads", "list"] + api, environment: token)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("large_inflow") && list.stdout.contains("notified"))
        let json = try JSONParser.parse(try Self.run(["leads", "list", "--json", "--plugin", "rules", "--limit", "1"] + api, environment: token).stdout)
        let id = try #require(json["leads"]?.arrayValue?.first?["id"]?.stringValue)
        #expect(json["nextCursor"]?.stringValue != nil, "three rules leads, one per page")

        let feedback = try Self.run(["leads", "feedback", id, "--outcome", "converted", "--note", "bought the 1-year product"] + api,
                                    environment: token)
        #expect(feedback.status == 0)
        #expect(feedback.stdout.contains("status converted"))
        let show = try Self.run(["leads", "show", id] + api, environment: token)
        #expect(show.stdout.contains("status converted"))
        #expect(show.stdout.contains("→ audit lead sent"))
        #expect(show.stdout.contains("feedback converted bought the 1-year product"))

        let wrong = try Self.run(["leads", "feedback", id, "--outcome", "won"] + api, environment: token)
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("422") && wrong.stderr.contains("outcome must be one of"))
        let noToken = try Self.run(["leads", "list"] + api)
        #expect(noToken.status == 1 && noToken.stderr.contains("401"))
        let down = try Self.run(["leads", "list", "--url", "http://127.0.0.1:1"], environment: token)
        #expect(down.status == 1 && down.stderr.contains("cannot reach insightd at http://127.0.0.1:1"))

        // Every metric family, with its labels, after this scenario.
        let metrics = try curl(["http://127.0.0.1:\(port)/metrics"])
        let samples = metrics.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        func sample(_ family: String, _ labels: [String] = []) -> String? {
            samples.first { line in line.hasPrefix(family) && labels.allSatisfy { line.contains($0) } }
        }
        let expected: [(String, [String])] = [
            ("insightd_events_total", [#"source="crm""#, #"outcome="accepted""#]),
            ("insightd_events_total", [#"source="crm""#, #"outcome="rejected""#]),
            ("insightd_journal_lag_events", []),
            ("insightd_state_checkpoint_lag_events", []),
            ("insightd_dispatch_events_total", []),
            ("insightd_leads_total", [#"plugin="rules""#, #"kind="large_inflow""#]),
            ("insightd_plugin_leads", [#"plugin="rules""#, #"stage="converted""#]),
            ("insightd_deliveries_total", [#"receiver="audit""#, #"outcome="sent""#]),
            ("insightd_outbox_deliveries", [#"receiver="audit""#, #"status="sent""#]),
            ("insightd_outbox_oldest_pending_seconds", [#"receiver="audit""#]),
            ("insightd_delivery_duration_seconds_bucket", [#"receiver="audit""#]),
            ("http_server_request_duration_bucket", [#"http_route="/v1/leads/{id}/feedback""#]),
            ("insightd_process_resident_memory_bytes", []),
        ]
        for (family, labels) in expected {
            #expect(sample(family, labels) != nil, "\(family) \(labels) in /metrics")
        }
        #expect(sample("insightd_events_total", [#"outcome="accepted""#])?.hasSuffix(" 6") == true, "six good events accepted")
        #expect(!samples.contains { $0.contains("/v1/leads/ld_") }, "routes are labelled by template, never by raw path")

        kill(daemon.process.processIdentifier, SIGTERM)
        let result = daemon.finish()
        #expect(result.status == 0, "\(result.stderr.suffix(600))")
    }
}
