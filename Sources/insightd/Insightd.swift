import Foundation
import ArgumentParser
import InsightDaemon

@main
struct Insightd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "insightd",
        abstract: "Turns core-banking events into explained leads for relationship managers.",
        subcommands: [Run.self, Check.self, Plugins.self, Ingest.self, Leads.self, Routes.self, Simulate.self, ReplayCommand.self,
                      Cluster.self, MigrateStore.self],
        defaultSubcommand: nil)
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The main configuration file.")
    var config: String = "deploy/insightd.yaml"
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon (systemd Type=notify aware). SIGTERM stops it gracefully, SIGHUP reloads.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let status = await Commands.run(configPath: options.config)
        if status != 0 { throw ExitCode(status) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate the configuration and every plugin file without starting; exit 1 with file:line errors.")

    @OptionGroup var options: ConfigOption

    func run() throws {
        let status = Commands.check(configPath: options.config)
        if status != 0 { throw ExitCode(status) }
    }
}

struct Plugins: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the plugins, whether each is enabled, and what it subscribes to.")

    @OptionGroup var options: ConfigOption

    func run() throws {
        let status = Commands.plugins(configPath: options.config)
        if status != 0 { throw ExitCode(status) }
    }
}

struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append the events in JSON or NDJSON files to the journal (bad lines go to quarantine).")

    @Argument(help: "Event files: one JSON event, a JSON array, or NDJSON.")
    var files: [String]

    @Option(name: .long, help: "The source name for events that carry none.")
    var source: String = "cli"

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let status = await Commands.ingest(files: files, configPath: options.config, source: source)
        if status != 0 { throw ExitCode(status) }
    }
}

struct Cluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect a cluster on the shared PostgreSQL store.", subcommands: [ClusterStatusCommand.self])
}

struct ClusterStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Each instance and its partitions, each partition's lag, and the leader of each daily tick (read from the store).")

    @OptionGroup var options: ConfigOption

    @Flag(name: .long, help: "Print JSON instead of tables.")
    var json = false

    func run() async throws {
        let status = await Commands.clusterStatus(configPath: options.config, json: json)
        if status != 0 { throw ExitCode(status) }
    }
}

struct MigrateStore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-store",
        abstract: "Move a stopped installation from SQLite into an empty PostgreSQL schema, verified by counts and checksums.")

    @Option(name: .long, help: "sqlite:STATE_DIR (the state_dir of the installation; its daemon must be stopped).")
    var from: String

    @Option(name: .long, help: "postgres:URL, or postgres:env:NAME to read the URL (it holds a password) from the environment.")
    var to: String

    @Option(name: .long, help: "The schema to fill (created if missing; must be empty).")
    var schema: String = "insightd"

    @Option(name: .long, help: "The cluster's partition count (cluster.partitions).")
    var partitions: Int = 64

    func run() async throws {
        let status = await Commands.migrateStore(from: from, to: to, schema: schema, partitions: partitions)
        if status != 0 { throw ExitCode(status) }
    }
}

struct Routes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect routing.", subcommands: [RoutesTest.self])
}

struct RoutesTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Print which routes and receivers a lead would go to, and when (like amtool config routes test).")

    @OptionGroup var options: ConfigOption

    @Option(name: .long, help: "A lead as JSON: the API's form, or just plugin, kind, priority, client {id, segment}, manager {id, branchId}.")
    var lead: String

    @Option(name: .long, help: "Route as of this RFC 3339 time (default: now), e.g. to see quiet hours and digests.")
    var at: String?

    @Option(name: .long, help: "Leads each route already sent alone to this manager today (to see max_per_manager_per_day).")
    var sentToday: Int = 0

    @Option(name: .long, help: "A lead the client already has open (JSON, as for --lead; repeatable), to see inhibit rules.")
    var open: [String] = []

    func run() throws {
        let (status, output) = Commands.routesTest(configPath: options.config, leadPath: lead, at: at, sentToday: sentToday,
                                                   openPaths: open)
        if !output.isEmpty { print(output) }
        if status != 0 { throw ExitCode(status) }
    }
}

struct APIOptions: ParsableArguments {
    @Option(name: .long, help: "The running daemon's base URL.")
    var url: String = "http://127.0.0.1:8080"

    @Flag(name: .long, help: "Print the API's JSON instead of a table.")
    var json = false

    /// The bearer token comes from the environment, never from the command line (where `ps` shows it).
    var client: Commands.APIClient {
        Commands.APIClient(baseURL: url, token: ProcessInfo.processInfo.environment["INSIGHTD_TOKEN"])
    }
}

struct Leads: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read leads and report outcomes through a running daemon's API (token from $INSIGHTD_TOKEN).",
        subcommands: [LeadsList.self, LeadsShow.self, LeadsFeedback.self, LeadsDecide.self])
}

struct LeadsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List leads, oldest first, a page at a time.")

    @OptionGroup var api: APIOptions
    @Option(help: "Only this manager's leads.") var manager: String?
    @Option(help: "Only this client's leads.") var client: String?
    @Option(help: "Only this plugin's leads.") var plugin: String?
    @Option(help: "Only leads in this status (new, notified, contacted, converted, dismissed, expired, suppressed).") var status: String?
    @Option(help: "Only leads created since this RFC 3339 time or date.") var since: String?
    @Option(help: "Leads per page (1-500).") var limit: Int?
    @Option(help: "The cursor of the next page, from the previous page.") var cursor: String?

    func run() async throws {
        let filters = Commands.LeadFilters(manager: manager, client: client, plugin: plugin, status: status, since: since,
                                           limit: limit, cursor: cursor)
        let (status, output) = await Commands.leadsList(api.client, filters: filters, json: api.json)
        try finish(status, output)
    }
}

struct LeadsShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one lead with its deliveries and history.")

    @OptionGroup var api: APIOptions
    @Argument(help: "The lead id (ld_…).") var id: String

    func run() async throws {
        let (status, output) = await Commands.leadsShow(api.client, id: id, json: api.json)
        try finish(status, output)
    }
}

struct LeadsFeedback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "feedback", abstract: "Report what was done with a lead.")

    @OptionGroup var api: APIOptions
    @Argument(help: "The lead id (ld_…).") var id: String
    @Option(help: "contacted, converted, dismissed, unreachable or snoozed.") var outcome: String
    @Option(help: "A note for the record.") var note: String?
    @Option(help: "With snoozed: RFC 3339 time until which this client's leads from the plugin are held back.") var until: String?

    func run() async throws {
        let (status, output) = await Commands.leadsFeedback(api.client, id: id, outcome: outcome, note: note, until: until)
        try finish(status, output)
    }
}

struct LeadsDecide: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decide",
        abstract: "Record a compliance decision on an AML lead (token with scope compliance); it ends the inhibitions it caused.")

    @OptionGroup var api: APIOptions
    @Argument(help: "The AML lead's id (ld_…).") var id: String
    @Option(help: "cleared (reviewed, nothing to report) or reported (a suspicious-transaction report was filed).") var decision: String
    @Option(help: "The report's or case's reference (required with reported).") var reference: String?
    @Option(help: "A note for the record.") var note: String?

    func run() async throws {
        let (status, output) = await Commands.leadsDecide(api.client, id: id, decision: decision, reference: reference, note: note)
        try finish(status, output)
    }
}

private func finish(_ status: Int32, _ output: String) throws {
    if status == 0 {
        print(output)
    } else {
        FileHandle.standardError.write(Data((output + "\n").utf8))
        throw ExitCode(status)
    }
}

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a synthetic bank's events as NDJSON to stdout (for the demo, benchmarks and replay).")

    @Option(help: "Clients in the bank.") var clients = 1_000
    @Option(help: "Days of activity.") var days = 30
    @Option(help: "Random seed: the same seed gives the same events.") var seed: UInt64 = 1
    @Option(help: "Activity events (default: clients × days / 3 + clients).") var events: Int?
    @Option(help: "First day (YYYY-MM-DD, bank time zone; default 2026-09-01).") var start: String?

    func run() throws {
        let output = FileHandle.standardOutput
        let (status, message) = Commands.simulate(clients: clients, days: days, seed: seed, events: events, start: start) { text in
            output.write(Data(text.utf8))
        }
        if let message { FileHandle.standardError.write(Data((message + "\n").utf8)) }
        if status != 0 { throw ExitCode(status) }
    }
}

extension Replay.Format: ExpressibleByArgument {}

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Backtest: run the configured plugins over historical events on event time, delivering nothing.")

    @Argument(help: "Event files: JSON, NDJSON or CloudEvents, as POST /v1/events takes them.") var files: [String]
    @OptionGroup var options: ConfigOption
    @Option(help: "Run the daily ticks until this date (YYYY-MM-DD), past the last event.") var until: String?
    @Option(help: "table (a summary) or json (the leads, machine-readable).") var format: Replay.Format = .table
    @Option(help: "Also write a self-contained HTML report with charts to this path.") var report: String?

    func run() async throws {
        let output = FileHandle.standardOutput
        let status = await Commands.replay(files: files, configPath: options.config, until: until, format: format, report: report) {
            output.write(Data($0.utf8))
        }
        if status != 0 { throw ExitCode(status) }
    }
}
