import Foundation
import InsightCore
import InsightEngine
import InsightPlugins
import InsightStore
import InsightTesting
import Logging

/// A dispatcher over a real SQLite file in a temporary directory.
struct Pipeline {
    let directory: TemporaryDirectory
    let database: AppDatabase
    let settings: SettingsBox
    let dispatcher: Dispatcher

    init(directory: TemporaryDirectory = TemporaryDirectory(), plugins: [LoadedPlugin], clock: DispatchClock,
         shards: Int = 4, batchSize: Int = 2048, cacheCapacity: Int = 200_000,
         stateWrites: Dispatcher.StateWrites = .everyBatch,
         uptime: @escaping @Sendable () -> Duration = Dispatcher.systemUptime) throws {
        self.directory = directory
        database = try AppDatabase.open(directory: directory.path)
        settings = SettingsBox(PipelineSettings(plugins: plugins, timeZone: shanghai, locale: "zh-CN"))
        dispatcher = try Dispatcher(database: database, settings: settings, clock: clock, shards: shards,
                                    batchSize: batchSize, cacheCapacity: cacheCapacity, stateWrites: stateWrites,
                                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), uptime: uptime)
    }
}

let shanghai = TimeZone(identifier: "Asia/Shanghai") ?? TimeZone(secondsFromGMT: 8 * 3600)!

/// The rules plugin built from the repository's own `plugins-config/rules.yaml` semantics, in JSON.
func rulesPlugin() throws -> LoadedPlugin {
    let json = """
    {"enabled": true, "rules": [
      {"id": "large-inflow", "when": {"type": "account.transaction",
        "all": [{"field": "data.direction", "eq": "credit"}, {"field": "data.amount", "gte": "500000"}]},
       "lead": {"kind": "large_inflow", "priority": "high", "title": "Large inflow received"}},
      {"id": "policy-lapse", "when": {"type": "insurance.*", "any": [{"field": "data.status", "in": ["lapsed"]}]},
       "lead": {"kind": "policy_lapse", "title": "Insurance policy lapsed"}}
    ]}
    """
    let configuration = try JSONDecoder().decode(RulesConfiguration.self, from: Data(json.utf8))
    return LoadedPlugin(try RulesPlugin(configuration: configuration))
}

/// `count` transactions over `clients` clients; every 10th is a large credit that the rules turn into a lead.
func syntheticEvents(count: Int, clients: Int) -> [Event] {
    (0..<count).map { index in
        let client = "C\(String(format: "%06d", index % clients))"
        let minute = index % 60
        let amount = index % 10 == 0 ? "600000.00" : "\(100 + index % 900).50"
        return EventFixtures.transaction("evt-\(index)", client: client, amount: amount,
                                         account: "62220202\(String(format: "%08d", index % clients))",
                                         at: "2026-11-20T10:\(minute < 10 ? "0" : "")\(minute):00+08:00")
    }
}

/// A monotonic clock a test moves by hand (``Dispatcher``'s checkpoint intervals).
final class ManualUptime: @unchecked Sendable {
    private let lock = NSLock()
    private var now = Duration.zero

    func advance(by duration: Duration) {
        lock.withLock { now += duration }
    }

    var reading: @Sendable () -> Duration {
        { [self] in lock.withLock { now } }
    }
}

/// A lead per hnw client on its daily tick, from the database's state (what a tick's query sees).
struct SegmentTick: Plugin {
    struct Configuration: PluginConfiguration { var enabled = true }
    static let id = "segment-tick"
    static let summary = "a lead per hnw client on its daily tick"
    let configuration: Configuration
    var subscriptions: [EventPattern] { [] }
    var schedule: LocalTime? { LocalTime(hour: 9, minute: 0) }
    func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft] { [] }
    func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft] {
        try context.state.clients(inSegments: ["hnw"]).map {
            LeadDraft(key: "hnw:\($0.id)", kind: "daily", clientId: $0.id, title: "t", dueAt: tick.scheduledAt)
        }
    }
}
