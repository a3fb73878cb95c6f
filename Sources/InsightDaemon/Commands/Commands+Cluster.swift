import Foundation
import InsightCore
import InsightPostgres
import Logging

extension Commands {
    /// `insightd cluster status`: the cluster as the shared store sees it: each instance (alive or not) and its
    /// partitions, the partitions nobody holds, each partition's position and lag, and the leader of each daily tick.
    /// Reads the store directly (the config's `store:`), so it works while every instance is down.
    public static func clusterStatus(configPath: String, json: Bool, now: Date = Date()) async -> ExitCode {
        guard let configuration = loadOrReport(configPath) else { return 1 }
        guard let settings = configuration.postgresSettings else {
            printError("\(configPath): store.kind is not postgres; a single instance on SQLite has no cluster")
            return 1
        }
        let store = PostgresStore(settings: settings, logger: Logger(label: "insightd", factory: { _ in SwiftLogNoOpLogHandler() }))
        let pool = Task { await store.run() }
        defer { pool.cancel() }
        let status: ClusterStatus
        do {
            status = try await store.clusterStatus(now: now)
        } catch {
            printError("cannot read the cluster from \(settings.redacted): \(error)")
            return 1
        }
        if json {
            print(JSONWriter.string(ClusterDaemon.statusJSON(status, instance: configuration.clusterSettings.instance,
                                                             member: nil)))
            return 0
        }
        print(clusterText(status, store: settings.redacted, timeZone: configuration.config.timeZone))
        return 0
    }

    static func clusterText(_ status: ClusterStatus, store: String, timeZone: TimeZone) -> String {
        var lines = ["store \(store)",
                     "partitions \(status.partitionCount.map(String.init) ?? "not set yet"), journal head \(status.journalHead), "
                        + "lag \(status.lag) events, state \(status.stateLag) events behind", ""]
        var instances = [["INSTANCE", "RUN", "ALIVE", "UNTIL", "PARTITIONS"]]
        for instance in status.instances {
            instances.append([instance.name, String(instance.id.dropFirst(instance.name.count + 1)), instance.alive ? "yes" : "no",
                              RFC3339.format(instance.aliveUntil, timeZone: timeZone),
                              ranges(instance.partitions)])
        }
        let unowned = status.partitions.filter { $0.owner == nil }.map(\.partition)
        instances.append(["(nobody)", "-", "-", "-", unowned.isEmpty ? "-" : ranges(unowned)])
        lines.append(table(instances))
        lines.append("")
        var partitions = [["PARTITION", "OWNER", "EPOCH", "POSITION", "LAG", "STATE AT", "STATE LAG"]]
        for partition in status.partitions {
            partitions.append(["\(partition.partition)", partition.owner ?? "-", "\(partition.epoch)", "\(partition.position)",
                               "\(partition.lag)", "\(partition.statePosition)", "\(partition.stateLag)"])
        }
        lines.append(table(partitions))
        if !status.ticks.isEmpty {
            lines.append("")
            var ticks = [["PLUGIN", "DATE", "LEADER", "DONE"]]
            for tick in status.ticks { ticks.append([tick.plugin, tick.localDate, tick.leader, tick.done ? "yes" : "running"]) }
            lines.append(table(ticks))
        }
        return lines.joined(separator: "\n")
    }

    /// `0-5, 9, 12-15`.
    static func ranges(_ numbers: [Int]) -> String {
        guard !numbers.isEmpty else { return "-" }
        var parts: [String] = []
        var start = numbers[0], end = numbers[0]
        for number in numbers.dropFirst() {
            if number == end + 1 { end = number; continue }
            parts.append(start == end ? "\(start)" : "\(start)-\(end)")
            start = number
            end = number
        }
        parts.append(start == end ? "\(start)" : "\(start)-\(end)")
        return parts.joined(separator: ", ")
    }
}
