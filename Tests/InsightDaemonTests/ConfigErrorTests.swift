import Foundation
import InsightDaemon
import InsightPlugins
import InsightTesting
import Testing

/// Bad configurations and the exact messages an operator sees: file:line:column, the key, what to change.
@Suite struct ConfigErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let yaml: String
        let message: String
        var testDescription: String { name }
    }

    static let mainFileCases: [Case] = [
        Case(name: "typo in a key", yaml: "plugins_dir: plugins\nlistne: 127.0.0.1:8080\n",
             message: "insightd.yaml:2:1: listne: unknown key listne; did you mean listen?"),
        Case(name: "wrong type", yaml: "plugins_dir: plugins\ndispatcher:\n  batch_size: lots\n",
             message: "insightd.yaml:3:15: dispatcher.batch_size: expected a whole number, found the value \"lots\""),
        Case(name: "missing required field", yaml: "plugins_dir: plugins\nsources:\n  - {name: x}\n",
             message: "insightd.yaml:3:5: sources[0]: missing required key kind"),
        Case(name: "unknown plugin id in a route",
             yaml: "plugins_dir: plugins\nreceivers: [{name: console, kind: console}]\nroutes:\n  - {match: {plugin: [birthday]}, receivers: [console]}\n",
             message: "insightd.yaml:4:23: routes[0].match.plugin[0]: unknown plugin id birthday; known plugins: \(knownPlugins)"),
        Case(name: "unknown time zone", yaml: "plugins_dir: plugins\ntimezone: Mars/Olympus\n",
             message: "insightd.yaml:2:11: timezone: unknown time zone \"Mars/Olympus\"; use an IANA name such as Asia/Shanghai or Asia/Hong_Kong"),
        Case(name: "value not in the allowed set", yaml: "plugins_dir: plugins\nlocale: fr\n",
             message: "insightd.yaml:2:9: locale: \"fr\" is not allowed here; use one of zh-CN, en"),
        Case(name: "secret from an unset variable",
             yaml: "plugins_dir: plugins\nsources:\n  - {name: a, kind: webhook, secret: \"env:NOPE_SECRET\"}\n",
             message: "insightd.yaml:3:38: sources[0].secret: environment variable NOPE_SECRET is not set; export it, or put it in the unit's EnvironmentFile"),
        Case(name: "route to an undefined receiver", yaml: "plugins_dir: plugins\nroutes:\n  - {receivers: [gateway]}\n",
             message: "insightd.yaml:3:18: routes[0].receivers[0]: no receiver is named gateway; no receivers are defined yet: add one under receivers"),
        Case(name: "YAML syntax error", yaml: "plugins_dir: plugins\nsources: [ {name: a\n",
             message: "insightd.yaml:3:1: YAML syntax error: did not find expected ',' or '}' while parsing a flow mapping"),
        Case(name: "listen without a port", yaml: "plugins_dir: plugins\nlisten: localhost\n",
             message: "insightd.yaml:2:9: listen: \"localhost\" is not host:port; write for example 127.0.0.1:8080"),
        Case(name: "retention of zero days", yaml: "plugins_dir: plugins\nretention: {journal_days: 0}\n",
             message: "insightd.yaml:2:27: retention.journal_days: must be at least 1 day"),
        Case(name: "duplicate source names",
             yaml: "plugins_dir: plugins\nsources:\n  - {name: a, kind: inbox, path: /tmp}\n  - {name: a, kind: inbox, path: /tmp}\n",
             message: "insightd.yaml:4:12: sources[1].name: another source is already named a; names must be unique"),
        Case(name: "digest without a time", yaml: "plugins_dir: plugins\nreceivers: [{name: c, kind: console}]\nroutes:\n  - {receivers: [c], mode: digest}\n",
             message: "insightd.yaml:4:28: routes[0].mode: mode digest needs digest_at, the local time the digest goes out (e.g. \"17:30\")"),
        Case(name: "webhook receiver without url", yaml: "plugins_dir: plugins\nreceivers:\n  - {name: gw, kind: webhook}\n",
             message: "insightd.yaml:3:5: receivers[0]: receiver gw of kind webhook needs url"),
        Case(name: "webhook secret that is not whsec_ base64",
             yaml: "plugins_dir: plugins\nsources:\n  - {name: a, kind: webhook, secret: \"whsec_\"}\n",
             message: "insightd.yaml:3:38: sources[0].secret: a Standard Webhooks secret is whsec_ followed by base64 (as the sender's dashboard shows it)"),
        Case(name: "unassigned queue names no receiver",
             yaml: "plugins_dir: plugins\nreceivers: [{name: c, kind: console}]\ndelivery: {unassigned: [branch-queue]}\n",
             message: "insightd.yaml:3:25: delivery.unassigned[0]: no receiver is named branch-queue; define it under receivers"),
        Case(name: "webhook receiver secret that is not whsec_",
             yaml: "plugins_dir: plugins\nreceivers:\n  - {name: gw, kind: webhook, url: \"https://gw.example/leads\", secret: \"hunter2\"}\n",
             message: "insightd.yaml:3:72: receivers[0].secret: a webhook receiver's secret is whsec_ followed by base64 (Standard Webhooks)"),
        Case(name: "retention run time out of range", yaml: "plugins_dir: plugins\nretention: {run_at: \"25:00\"}\n",
             message: "insightd.yaml:2:21: retention.run_at: expected a time of day as HH:MM (24-hour), got \"25:00\""),
        Case(name: "negative rate limit",
             yaml: "plugins_dir: plugins\nreceivers:\n  - {name: c, kind: console, max_per_minute: -1}\n",
             message: "insightd.yaml:3:46: receivers[0].max_per_minute: must be 0 (no limit) or more, got -1"),
        Case(name: "inhibit rule naming an unknown plugin",
             yaml: "plugins_dir: plugins\ninhibit:\n  - {source: {kind: [risk_velocity]}, target: {plugin: [product-matcher]}}\n",
             message: "insightd.yaml:3:57: inhibit[0].target.plugin[0]: unknown plugin id product-matcher; known plugins: \(knownPlugins)"),
        Case(name: "inhibit rule with an empty target", yaml: "plugins_dir: plugins\ninhibit:\n  - {source: {kind: [risk_velocity]}, target: {}}\n",
             message: "insightd.yaml:3:47: inhibit[0].target: an empty match names every lead; give plugin, kind, priority or tags"),
        Case(name: "inhibit rule with a typo", yaml: "plugins_dir: plugins\ninhibit:\n  - {source: {kind: [risk_velocity]}, targte: {plugin: [rules]}}\n",
             message: "insightd.yaml:3:39: inhibit[0].targte: unknown key targte; did you mean target?"),
        Case(name: "inhibit rule equal on nothing",
             yaml: "plugins_dir: plugins\ninhibit:\n  - {source: {kind: [risk_velocity]}, target: {plugin: [rules]}, equal: []}\n",
             message: "insightd.yaml:3:73: inhibit[0].equal: name what source and target share: [client] (or [manager]); an empty list would hold back every client's leads"),
        Case(name: "inhibit rule for no time", yaml: "plugins_dir: plugins\ninhibit:\n  - {source: {kind: [risk_velocity]}, target: {plugin: [rules]}, for: 0s}\n",
             message: "insightd.yaml:3:71: inhibit[0].for: must be longer than 0s, such as 30d"),
        Case(name: "compliance queue names no receiver", yaml: "plugins_dir: plugins\ndelivery: {compliance: [aml-team]}\n",
             message: "insightd.yaml:2:25: delivery.compliance[0]: no receiver is named aml-team; define it under receivers (the AML team's queue)"),
        Case(name: "AML manager notice not in the set", yaml: "plugins_dir: plugins\ndelivery: {aml_manager_notice: full}\n",
             message: "insightd.yaml:2:32: delivery.aml_manager_notice: \"full\" is not allowed here; use one of none, neutral"),
        Case(name: "state checkpoint too long", yaml: "plugins_dir: plugins\ndispatcher: {state_checkpoint: 2h}\n",
             message: "insightd.yaml:2:32: dispatcher.state_checkpoint: must be at most 1h (0s writes the state with every batch), got 2h"),
        Case(name: "state checkpoint not a duration", yaml: "plugins_dir: plugins\ndispatcher: {state_checkpoint: often}\n",
             message: "insightd.yaml:2:32: dispatcher.state_checkpoint: \"often\" is not a duration; write a number and a unit: 500ms, 5s, 5m, 2h or 1d"),
        Case(name: "storage page cache too small", yaml: "plugins_dir: plugins\nstorage: {page_cache_mb: 1}\n",
             message: "insightd.yaml:2:26: storage.page_cache_mb: must be between 2 and 65536 (MiB), got 1"),
        Case(name: "storage memory map negative", yaml: "plugins_dir: plugins\nstorage: {memory_map_mb: -5}\n",
             message: "insightd.yaml:2:26: storage.memory_map_mb: must be between 0 (no memory map) and 2047 (MiB, SQLite's limit), got -5"),
        Case(name: "storage key typo", yaml: "plugins_dir: plugins\nstorage: {page_cache: 64}\n",
             message: "insightd.yaml:2:11: storage.page_cache: unknown key page_cache; did you mean page_cache_mb?"),
        Case(name: "snooze max days out of range", yaml: "plugins_dir: plugins\nsnooze: {max_days: 3650}\n",
             message: "insightd.yaml:2:20: snooze.max_days: must be 1 to 366 days, got 3650"),
        Case(name: "unknown API token scope", yaml: "plugins_dir: plugins\napi_tokens:\n  - {name: a, token: t0123456789, scopes: [aml]}\n",
             message: "insightd.yaml:3:44: api_tokens[0].scopes[0]: \"aml\" is not allowed here; use one of ingest, read, feedback, admin, compliance"),
        // Issue 15: the inbox declares the encodings it reads (`TextEncoding`); an unknown one is an error, never UTF-8.
        Case(name: "unknown CSV encoding",
             yaml: "plugins_dir: plugins\nsources:\n  - name: drop\n    kind: inbox\n    path: inbox\n    csv:\n      - {match: \"*.csv\", type: account.transaction, encoding: big5, columns: {id: id}}\n",
             message: "insightd.yaml:7:63: sources[0].csv[0].encoding: \"big5\" is not allowed here; use one of utf-8, gb18030, gbk"),
        // Issue 14: a token's events are journaled under its name, as a source's are.
        Case(name: "API token named like a source",
             yaml: "plugins_dir: plugins\nsources:\n  - {name: core-banking, kind: webhook, token: cb0123456789}\napi_tokens:\n  - {name: core-banking, token: t0123456789, scopes: [ingest]}\n",
             message: "insightd.yaml:5:12: api_tokens[0].name: a source is also named core-banking; events sent with this token would be journaled under that source's name and share its event ids (either's event e500 would make the other's a duplicate); give the token a name of its own"),
        Case(name: "API token name with a slash",
             yaml: "plugins_dir: plugins\nsources:\n  - {name: crm, kind: webhook, token: crm0123456789}\napi_tokens:\n  - {name: crm/core-banking, token: t0123456789, scopes: [ingest]}\n",
             message: "insightd.yaml:5:12: api_tokens[0].name: a name must not contain /: events a sender sends for another source are journaled as <sender>/<source>, and this name could collide with them"),
        Case(name: "source name with a slash",
             yaml: "plugins_dir: plugins\nsources:\n  - {name: crm/core-banking, kind: inbox, path: /tmp}\n",
             message: "insightd.yaml:3:12: sources[0].name: a name must not contain /: events a sender sends for another source are journaled as <sender>/<source>, and this name could collide with them"),
        Case(name: "delivery concurrency out of range", yaml: "plugins_dir: plugins\ndelivery: {concurrency: 0}\n",
             message: "insightd.yaml:2:25: delivery.concurrency: must be 1 to 256, got 0"),
        Case(name: "bad duration", yaml: "plugins_dir: plugins\ndelivery: {timeout: 15 seconds}\n",
             message: "insightd.yaml:2:21: delivery.timeout: \"15 seconds\" is not a duration; write a number and a unit: 500ms, 5s, 5m, 2h or 1d"),
        Case(name: "a PostgreSQL key on the SQLite store", yaml: "plugins_dir: plugins\nstore: {pool: 4}\n",
             message: "insightd.yaml:2:15: store.pool: pool belongs to kind: postgres (kind: sqlite keeps its state in state_dir)"),
        Case(name: "the PostgreSQL store without a url", yaml: "plugins_dir: plugins\nstore: {kind: postgres}\n",
             message: "insightd.yaml:2:8: store: missing required key url"),
        Case(name: "a typo in the store", yaml: "plugins_dir: plugins\nstore: {kind: postgres, urll: x}\n",
             message: "insightd.yaml:2:25: store.urll: unknown key urll; did you mean url?"),
        Case(name: "a URL that is not postgres://",
             yaml: "plugins_dir: plugins\nstore: {kind: postgres, url: \"mysql://u:secret@db/x\"}\n",
             message: "insightd.yaml:2:30: store.url: the PostgreSQL URL is not a postgres:// URL"),
        Case(name: "a URL without a database",
             yaml: "plugins_dir: plugins\nstore: {kind: postgres, url: \"postgres://u:secret@db:5432\"}\n",
             message: "insightd.yaml:2:30: store.url: the PostgreSQL URL names no database (postgres://USER:PASSWORD@HOST:PORT/DATABASE)"),
        Case(name: "a cluster on the SQLite store", yaml: "plugins_dir: plugins\ncluster: {instance: a}\n",
             message: "insightd.yaml:2:10: cluster: cluster: needs store: {kind: postgres, ...}; instances share the work through the shared store"),
        Case(name: "a lease timeout too short",
             yaml: "plugins_dir: plugins\nstore: {kind: postgres, url: \"postgres://u@db/x\"}\ncluster: {lease_timeout: 1s}\n",
             message: "insightd.yaml:3:26: cluster.lease_timeout: lease_timeout must be at least 3s"),
    ]

    @Test(arguments: mainFileCases)
    func mainFileErrorsNameFileLineAndKey(_ testCase: Case) {
        #expect(ConfigFixture(main: testCase.yaml).firstError() == testCase.message)
    }

    static let pluginFileCases: [Case] = [
        Case(name: "typo in a rule key",
             yaml: "enabled: true\nrules:\n  - id: a\n    wen: {type: account.transaction}\n    lead: {kind: k, title: t}\n",
             message: "plugins/rules.yaml:4:5: rules[0].wen: unknown key wen; did you mean when?"),
        Case(name: "duplicate rule ids",
             yaml: "rules:\n  - {id: a, when: {type: \"*\"}, lead: {kind: k, title: t}}\n  - {id: a, when: {type: \"*\"}, lead: {kind: k, title: t}}\n",
             message: "plugins/rules.yaml:3:10: rules[1].id: rule id \"a\" is used twice; give each rule its own id"),
        Case(name: "bad priority",
             yaml: "rules:\n  - {id: a, when: {type: \"*\"}, lead: {kind: k, title: t, priority: urgentt}}\n",
             message: "plugins/rules.yaml:2:68: rules[0].lead.priority: must be one of low, normal, high, urgent, got \"urgentt\""),
        Case(name: "two operators in one condition",
             yaml: "rules:\n  - id: a\n    when: {type: \"*\", all: [{field: data.amount, gt: 1, lt: 5}]}\n    lead: {kind: k, title: t}\n",
             message: "plugins/rules.yaml:3:29: rules[0].when.all[0]: a field condition needs exactly one operator of eq, ne, gt, gte, lt, lte, in, exists; found gt, lt"),
        Case(name: "wrong type for enabled", yaml: "enabled: sometimes\n",
             message: "plugins/rules.yaml:1:10: enabled: expected true or false, found the value \"sometimes\""),
        Case(name: "a rule text in an unknown locale",
             yaml: "rules:\n  - id: a\n    when: {type: \"*\"}\n    lead:\n      kind: k\n      title: {zh-CN: 大额取现, fr: Retrait}\n",
             message: "plugins/rules.yaml:6:32: rules[0].lead.title.fr: unknown locale fr; locales: zh-CN, en"),
    ]

    @Test(arguments: pluginFileCases)
    func pluginFileErrorsNameFileLineAndKey(_ testCase: Case) {
        let fixture = ConfigFixture(main: "plugins_dir: plugins\n", plugins: ["rules.yaml": testCase.yaml])
        #expect(fixture.firstError() == testCase.message)
    }

    @Test func aPluginFileForAnUnknownPluginIsAnError() {
        let fixture = ConfigFixture(main: "plugins_dir: plugins\n",
                                    plugins: ["rules.yaml": "enabled: true\n", "birthdy-care.yaml": "enabled: true\n"])
        #expect(fixture.firstError() == "plugins/birthdy-care.yaml: unknown plugin id birthdy-care; plugin files are named <plugin-id>.yaml with one of: \(knownPlugins)")
    }

    @Test func aMissingPluginsDirectoryIsAnError() {
        let fixture = ConfigFixture(main: "plugins_dir: nowhere\n")
        #expect(fixture.firstError()?.hasPrefix("insightd.yaml:1:14: plugins_dir: plugins directory ") == true)
    }

    @Test func everyErrorIsReportedNotJustTheFirst() {
        let fixture = ConfigFixture(main: """
            plugins_dir: plugins
            sources:
              - {name: a, kind: webhook}
              - {name: b, kind: inbox}
            """)
        do {
            _ = try fixture.load()
            Issue.record("expected errors")
        } catch {
            #expect(error.errors.map(\.keyPath) == ["sources[0]", "sources[1]"])
        }
    }

    @Test func checkRefusesATokenNamedLikeASource() {
        let fixture = ConfigFixture(main: """
            plugins_dir: plugins
            sources:
              - {name: core-banking, kind: webhook, token: cb0123456789}
            api_tokens:
              - {name: ops, token: ops0123456789, scopes: [read]}
              - {name: core-banking, token: t0123456789, scopes: [ingest]}
            """)
        #expect(Commands.check(configPath: fixture.mainPath) == 1)
        #expect(fixture.firstError()?.hasPrefix("insightd.yaml:6:12: api_tokens[1].name: a source is also named core-banking;") == true)
    }

    @Test func checkCommandExitsOneAndPrintsTheLocatedError() {
        let fixture = ConfigFixture(main: "plugins_dir: plugins\nlistne: 1\n")
        #expect(Commands.check(configPath: fixture.mainPath) == 1)
        let good = ConfigFixture(main: "plugins_dir: plugins\n")
        #expect(Commands.check(configPath: good.mainPath) == 0)
    }
}

/// The registered plugin ids as the loader lists them.
private let knownPlugins = BuiltinPlugins.all.map(\.id).sorted().joined(separator: ", ")
