import Foundation
import InsightCore
import Testing

/// Issue 12 through the real binary: the shipped configuration and the README's example events.
@Suite(.serialized) struct ComplianceEndToEndTests {
    /// The shipped `deploy/insightd.yaml` on a free port, with its state in a temporary directory and the
    /// shipped `plugins-config/`.
    static func shippedConfig(port: Int) throws -> ConfigFixture {
        let text = try String(contentsOfFile: repositoryRoot + "/deploy/insightd.yaml", encoding: .utf8)
            .replacingOccurrences(of: "listen: 127.0.0.1:8080", with: "listen: 127.0.0.1:\(port)")
            .replacingOccurrences(of: "plugins_dir: ../plugins-config", with: "plugins_dir: \(repositoryRoot)/plugins-config")
            // A client's next lead waits out the group window after its last message: short, for the test.
            .replacingOccurrences(of: "group_window: 60s", with: "group_window: 2s")
        return ConfigFixture(main: text, plugins: [:])
    }

    static func leads(in path: String) -> [JSONValue] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }.flatMap { $0["leads"]?.arrayValue ?? [] }
    }

    static func wait(for path: String, until done: ([JSONValue]) -> Bool) -> [JSONValue] {
        var found = leads(in: path)
        let deadline = Date().addingTimeInterval(15)
        while !done(found) && Date() < deadline {
            usleep(100_000)
            found = leads(in: path)
        }
        return found
    }

    @Test func amlAlertsGoToComplianceTheManagerGetsATaskAndNoSaleUntilCleared() throws {
        let port = try #require(LifecycleTests.freePort())
        let fixture = try Self.shippedConfig(port: port)
        let daemon = try LifecycleTests.Run(["run", "--config", fixture.mainPath])
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        let events = repositoryRoot + "/deploy/examples/sample-events.ndjson"
        let answer = try postEvents(base: base, file: events, token: "demo-crm-token")
        #expect(answer.contains("\"accepted\":12"))

        // The compliance queue: every AML lead, in full.
        let queuePath = fixture.directory.file("var/compliance-queue.jsonl")
        let queue = Self.wait(for: queuePath) { $0.count >= 3 }
        let amlKinds = Set(queue.compactMap { $0["kind"]?.stringValue })
        #expect(amlKinds == ["risk_large_transaction", "risk_rapid_in_out", "risk_velocity"])
        #expect(queue.allSatisfy { !($0["evidence"]?.arrayValue ?? []).isEmpty }, "the compliance queue sees the evidence")
        let queueText = (try? String(contentsOfFile: queuePath, encoding: .utf8)) ?? ""
        #expect(queueText.contains("可疑交易") && !queueText.contains("陈建国"))

        // The manager (console and audit): a neutral task per AML lead, and no sale for either AML client.
        let auditPath = fixture.directory.file("var/deliveries.jsonl")
        let audit = Self.wait(for: auditPath) { leads in leads.filter { $0["kind"]?.stringValue == "aml_verification" }.count >= 2 }
        let neutral = audit.filter { $0["kind"]?.stringValue == "aml_verification" }
        #expect(Set(neutral.compactMap { $0["client"]?["id"]?.stringValue }) == ["C000123", "C000789"] && neutral.count == 2,
                "one neutral task per client (陈建国's two AML leads are one thing to verify)")
        let queueIds = Set(queue.compactMap { $0["id"]?.stringValue })
        let neutralIds = Set(neutral.compactMap { $0["id"]?.stringValue })
        #expect(neutralIds.isSubset(of: queueIds), "under the AML leads' ids")
        for lead in neutral {
            #expect(lead["evidence"]?.arrayValue?.isEmpty == true && lead["sourceEvents"]?.arrayValue?.isEmpty == true)
            #expect(lead["title"]?.stringValue == "核实客户近期交易背景")
        }
        // Until the outbox has nothing left to send (and everything routed): then the audit file is complete.
        let idleBy = Date().addingTimeInterval(15)
        var pending = -1
        while pending != 0 && Date() < idleBy {
            usleep(100_000)
            let outbox = try JSONParser.parse(try curl([base + "/v1/deliveries?status=pending", "-H", "Authorization: Bearer demo-ops-token"]))
            let routed = try JSONParser.parse(try curl([base + "/v1/leads?status=new", "-H", "Authorization: Bearer demo-ops-token"]))
            pending = (outbox["deliveries"]?.arrayValue?.count ?? 1) + (routed["leads"]?.arrayValue?.count ?? 1)
        }
        #expect(pending == 0, "the outbox went idle")
        let auditText = (try? String(contentsOfFile: auditPath, encoding: .utf8)) ?? ""
        for word in ["可疑", "快进快出", "risk_rapid_in_out", "risk_velocity", "risk_large_transaction", "evt-000013"] {
            #expect(!auditText.contains(word), "no word of a suspicion, its rule or its transactions reaches the manager: \(word)")
        }
        let sales = Self.leads(in: auditPath).filter { lead in
            ["C000789", "C000123"].contains(lead["client"]?["id"]?.stringValue ?? "")
                && (lead["plugin"]?.stringValue == "product-match" || lead["kind"]?.stringValue == "large_inflow")
        }
        #expect(sales.isEmpty, "no product-match or marketing lead for money under AML review: \(sales)")

        let ops = ["INSIGHTD_TOKEN": "demo-ops-token"]
        let api = ["--url", base]
        let held = try JSONParser.parse(try LifecycleTests.Run.command(
            ["leads", "list", "--json", "--client", "C000789", "--status", "suppressed"] + api, environment: ops).stdout)
        let heldLeads = held["leads"]?.arrayValue ?? []
        #expect(Set(heldLeads.compactMap { $0["plugin"]?.stringValue }) == ["product-match", "rules"])
        let shown = try LifecycleTests.Run.command(["leads", "show", try #require(heldLeads.first?["id"]?.stringValue)] + api,
                                                   environment: ops)
        #expect(shown.stdout.contains("inhibited") && shown.stdout.contains("inhibitedBy: ld_"))
        let stats = try JSONParser.parse(try curl([base + "/v1/stats/conversions", "-H", "Authorization: Bearer demo-ops-token"]))
        let productMatch = stats["plugins"]?.arrayValue?.first { $0["plugin"]?.stringValue == "product-match" }
        #expect(productMatch?["inhibited"]?.decimalValue == 2 && productMatch?["suppressed"]?.decimalValue == 0)

        // Compliance clears 陈建国's AML leads; the operator's token cannot.
        let officer = ["INSIGHTD_TOKEN": "demo-compliance-token"]
        let managerView = try JSONParser.parse(try LifecycleTests.Run.command(
            ["leads", "list", "--json", "--client", "C000789", "--plugin", "risk-alerts"] + api, environment: ops).stdout)
        #expect(managerView["leads"]?.arrayValue?.allSatisfy { $0["kind"]?.stringValue == "aml_verification" } == true,
                "outside compliance the API shows the neutral task")
        let open = try JSONParser.parse(try LifecycleTests.Run.command(
            ["leads", "list", "--json", "--client", "C000789", "--plugin", "risk-alerts"] + api, environment: officer).stdout)
        let amlIds = (open["leads"]?.arrayValue ?? []).filter { amlKinds.contains($0["kind"]?.stringValue ?? "") }
            .compactMap { $0["id"]?.stringValue }
        #expect(amlIds.count == 2)
        let refused = try LifecycleTests.Run.command(["leads", "decide", amlIds[0], "--decision", "cleared"] + api, environment: ops)
        #expect(refused.status != 0 && refused.stderr.contains("compliance"))
        for id in amlIds {
            let decided = try LifecycleTests.Run.command(
                ["leads", "decide", id, "--decision", "cleared", "--note", "company payroll, verified"] + api, environment: officer)
            #expect(decided.status == 0 && decided.stdout.contains("cleared recorded by api:aml-officer"), "\(decided.stderr)")
        }

        // The next large inflow gets its product suggestion again.
        let inflow = #"{"id":"evt-000100","type":"account.transaction","time":"2026-11-21T10:00:00+08:00","clientId":"C000789","source":"core-banking","data":{"accountId":"6222020200554433","amount":"600000.00","currency":"CNY","direction":"credit","channel":"transfer"}}"#
        let posted = try curl(["-X", "POST", base + "/v1/events", "-H", "Authorization: Bearer demo-crm-token",
                               "-H", "Content-Type: application/json", "--data-binary", inflow])
        #expect(posted.contains("\"accepted\":1"))
        let after = Self.wait(for: auditPath) { leads in
            leads.contains { $0["client"]?["id"]?.stringValue == "C000789" && $0["plugin"]?.stringValue == "product-match" }
        }
        let suggestion = after.first { $0["client"]?["id"]?.stringValue == "C000789" && $0["plugin"]?.stringValue == "product-match" }
        #expect(suggestion != nil, "after cleared, the next inflow is a product suggestion again")
        let products = suggestion?["products"]?.arrayValue ?? []
        #expect(!products.isEmpty)

        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(daemon.finish().status == 0)
    }

    @Test func aTickRightAfterTheEventsSeesThemAndATickAYearAheadRunsAsOfItsInstant() throws {
        let port = try #require(LifecycleTests.freePort())
        let shipped = repositoryRoot + "/plugins-config/"
        // The dispatcher polls every 2 s: a tick that did not wait for it would not see the profiles.
        let fixture = ConfigFixture.daemon(port: port, dispatcherPoll: "2s", """
            api_tokens:
              - {name: ops, token: "test-ops-token", scopes: [read, admin]}
            """)
        for name in ["birthday-care.yaml", "calendar.yaml"] {
            fixture.directory.write("plugins/\(name)", try String(contentsOfFile: shipped + name, encoding: .utf8))
        }
        let daemon = try LifecycleTests.Run(["run", "--config", fixture.mainPath])
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        // A backlog that keeps the dispatcher busy, then profiles with a manager, whose birthdays are tomorrow as of
        // 2026-11-20 and as of 2027-11-01.
        let backlog = (1...20_000).map { index in
            #"{"id":"t\#(index)","type":"account.transaction","time":"2026-11-19T07:00:00+08:00","clientId":"C9","source":"crm","data":{"accountId":"A9","amount":"10.00","direction":"credit"}}"#
        }.joined(separator: "\n") + "\n"
        let events = backlog + """
            {"id":"m1","type":"manager.profile","time":"2026-11-19T08:00:00+08:00","source":"crm","data":{"managerId":"M1","name":"李娜","branchId":"B1"}}
            {"id":"c1","type":"client.profile","time":"2026-11-19T08:00:00+08:00","clientId":"C1","source":"crm","data":{"name":"张三","birthDate":"1980-11-21","managerId":"M1","segment":"mass"}}
            {"id":"c2","type":"client.profile","time":"2026-11-19T08:00:00+08:00","clientId":"C2","source":"crm","data":{"name":"王芳","birthDate":"1990-11-02","managerId":"M1","segment":"mass"}}
            """
        let body = fixture.directory.write("events.ndjson", events)
        let answer = try postEvents(base: base, file: body, token: "test-crm-token")
        #expect(answer.contains("\"accepted\":20003"))
        // At once: the dispatcher polls every 2 s, so without waiting for it the tick would not see the profiles.
        let first = try JSONParser.parse(try curl(["-X", "POST", base + "/v1/admin/tick", "-H", "Authorization: Bearer test-ops-token",
                                                   "-H", "Content-Type: application/json", "-d", #"{"at":"2026-11-20T08:30:00+08:00"}"#]))
        let birthdays = first["plugins"]?.arrayValue?.first { $0["plugin"]?.stringValue == "birthday-care" }
        #expect(birthdays?["newLeads"]?.decimalValue == 1, "the tick waited for the events acknowledged before it: \(first)")

        let ahead = try JSONParser.parse(try curl(["-X", "POST", base + "/v1/admin/tick", "-H", "Authorization: Bearer test-ops-token",
                                                   "-H", "Content-Type: application/json", "-d", #"{"at":"2027-11-01T08:30:00+08:00"}"#]))
        #expect(ahead["localDate"]?.stringValue == "2027-11-01")
        let page = try JSONParser.parse(try curl([base + "/v1/leads?client=C2", "-H", "Authorization: Bearer test-ops-token"]))
        let lead = try #require(page["leads"]?.arrayValue?.first)
        #expect(lead["createdAt"]?.stringValue == "2027-11-01T08:30:00+08:00", "createdAt is the tick's instant")
        #expect(lead["dueAt"]?.stringValue?.hasPrefix("2027-11-02") == true, "due on the birthday, not clamped to the wall clock")
        #expect(lead["summary"]?.stringValue?.contains("还有1天") == true, "\(lead["summary"]?.stringValue ?? "")")
        #expect(lead["title"]?.stringValue?.contains("11月2日") == true)

        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(daemon.finish().status == 0)
    }
}
