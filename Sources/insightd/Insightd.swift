import ArgumentParser
import InsightDaemon

@main
struct Insightd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "insightd",
        abstract: "Turns core-banking events into explained leads for relationship managers.",
        subcommands: [Run.self, Check.self, Plugins.self, Ingest.self],
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

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append the events in JSON or NDJSON files to the journal (bad lines go to quarantine).")

    @Argument(help: "Event files: one JSON event, a JSON array, or NDJSON.")
    var files: [String]

    @Option(name: .long, help: "The source name for events that carry none.")
    var source: String = "cli"

    @OptionGroup var options: ConfigOption

    func run() throws {
        let status = Commands.ingest(files: files, configPath: options.config, source: source)
        if status != 0 { throw ExitCode(status) }
    }
}
