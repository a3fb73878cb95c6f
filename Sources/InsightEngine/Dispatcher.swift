import Foundation
import InsightCore
import InsightStore
import Logging
import Metrics

/// Reads the journal in order, projects client state, publishes each event on the sharded bus to the
/// subscribed plugins, and commits state, leads and its journal position in one transaction per batch.
///
/// It is the single writer of projected state and leads. Daily ticks run through it too, between batches,
/// so a tick always sees fully committed state.
public actor Dispatcher {
    public struct Step: Sendable {
        /// Events handled in this step (0: the journal had nothing new).
        public var events: Int
        /// Leads that were new in the ledger.
        public var newLeads: [Lead]
        /// The consumer position after the step.
        public var position: Int64
    }

    private let database: AppDatabase
    private let settings: SettingsBox
    private let clock: DispatchClock
    private let bus: EventBus
    private let batchSize: Int
    private let cacheCapacity: Int
    private let logger: Logger
    private let reader: StoreStateReader
    private var position: Int64
    private var clients: [String: ClientState] = [:]
    private var managers: [String: ManagerState] = [:]
    /// Called with the leads each commit made new, after the commit.
    private let onNewLeads: @Sendable ([Lead]) -> Void

    private let eventsCounter = Counter(label: "insightd_dispatch_events_total")
    private let leadsCounter = Counter(label: "insightd_dispatch_leads_total")
    private let failuresCounter = Counter(label: "insightd_plugin_failures_total")

    public init(database: AppDatabase, settings: SettingsBox, clock: DispatchClock, shards: Int = 4,
                batchSize: Int = 2048, cacheCapacity: Int = 200_000, logger: Logger,
                onNewLeads: @escaping @Sendable ([Lead]) -> Void = { _ in }) throws {
        self.database = database
        self.settings = settings
        self.clock = clock
        self.bus = EventBus(shardCount: shards)
        self.batchSize = max(1, batchSize)
        self.cacheCapacity = cacheCapacity
        self.logger = logger
        self.reader = StoreStateReader(database: database)
        self.onNewLeads = onNewLeads
        self.position = try database.consumerPosition(AppDatabase.dispatcherConsumer)
    }

    public var currentPosition: Int64 { position }

    /// Handles the next batch of journaled events, if any.
    public func step() async throws -> Step {
        let events = try database.readJournal(after: position, limit: batchSize)
        guard let last = events.last else { return Step(events: 0, newLeads: [], position: position) }
        let current = settings.current
        try warmCaches(for: events)

        // The manager directory is tiny and shared by every shard: apply its updates first, so a lead made
        // in this batch already names a manager introduced in this batch.
        var changedManagers: [String: ManagerState] = [:]
        for event in events where event.type == EventType.managerProfile {
            guard let id = event.data["managerId"]?.stringValue else { continue }
            var manager = managers[id] ?? ManagerState(id: id)
            manager.apply(event.data)
            managers[id] = manager
            changedManagers[id] = manager
        }

        let plugins = current.enabledPlugins
        let managerSnapshot = managers
        let clock = self.clock
        let reader = self.reader
        let logger = self.logger
        let shardStates = bus.partition(events).map { shardEvents in
            var states: [String: ClientState] = [:]
            for event in shardEvents { if let id = event.clientId { states[id] = clients[id] ?? ClientState(id: id) } }
            return states
        }
        let outputs = try await bus.publish(events) { shard, shardEvents in
            ShardWorker(states: shardStates[shard], managers: managerSnapshot, plugins: plugins, clock: clock,
                        settings: current, reader: reader, logger: logger).run(shardEvents)
        }

        var commit = DispatchCommit()
        for output in outputs {
            for (id, changes) in output.changes {
                guard let state = output.states[id] else { continue }
                clients[id] = state
                commit.clients.append(.init(state: state, changes: changes))
            }
            commit.leads.append(contentsOf: output.leads)
            commit.failures.append(contentsOf: output.failures)
        }
        commit.managers = changedManagers.keys.sorted().compactMap { changedManagers[$0] }
        commit.clients.sort { $0.state.id < $1.state.id }
        commit.leads.sort { ($0.sequence ?? 0, $0.lead.key) < ($1.sequence ?? 0, $1.lead.key) }
        commit.position = last.sequence
        let newLeads = try database.commit(commit, at: clock.commitTime(fallback: last.time))
        position = last.sequence
        trimCaches()

        eventsCounter.increment(by: events.count)
        leadsCounter.increment(by: newLeads.count)
        failuresCounter.increment(by: commit.failures.count)
        for failure in commit.failures {
            logger.warning("plugin failed on an event; the event was skipped for that plugin", metadata: [
                "plugin.id": "\(failure.plugin)", "event.seq": "\(failure.journalSequence ?? 0)", "error": "\(failure.error)",
            ])
        }
        report(newLeads)
        return Step(events: events.count, newLeads: newLeads, position: position)
    }

    /// Handles everything in the journal up to its current head.
    @discardableResult
    public func drain() async throws -> Int {
        var total = 0
        while true {
            let step = try await step()
            if step.events == 0 { return total }
            total += step.events
        }
    }

    /// Runs one plugin's daily tick and records that it ran. Returns the leads that were new.
    @discardableResult
    public func runTick(_ tick: ScheduleTick, plugin pluginId: String) throws -> [Lead] {
        let current = settings.current
        var commit = DispatchCommit()
        commit.scheduleRuns = [.init(plugin: pluginId, tick: tick)]
        let now = clock.now(for: tick)
        if let plugin = current.enabledPlugins.first(where: { $0.id == pluginId && $0.schedule != nil }) {
            let context = PluginContext(now: now, timeZone: current.timeZone, locale: current.locale,
                                        logger: logger.with(plugin: plugin.id), state: reader, client: nil)
            do {
                for draft in try plugin.tick(tick, context: context) {
                    let client = try draft.clientId.flatMap { try clients[$0] ?? reader.client($0) }
                    let managerId = draft.managerId ?? client?.profile.managerId
                    let manager = try managerId.flatMap { try managers[$0] ?? reader.manager($0) }
                    commit.leads.append((draft.complete(plugin: plugin.id, client: client, manager: manager, now: now), nil))
                }
            } catch {
                commit.leads.removeAll()
                commit.failures.append(.init(plugin: plugin.id, journalSequence: nil, eventId: nil,
                                             error: "tick \(tick.localDate): \(error)"))
                logger.warning("plugin failed on its daily tick", metadata: [
                    "plugin.id": "\(plugin.id)", "tick.date": "\(tick.localDate)", "error": "\(error)",
                ])
            }
        }
        commit.leads.sort { $0.lead.key < $1.lead.key }
        let newLeads = try database.commit(commit, at: clock.commitTime(fallback: tick.scheduledAt))
        leadsCounter.increment(by: newLeads.count)
        report(newLeads)
        return newLeads
    }

    private func warmCaches(for events: [Event]) throws {
        var missing = Set<String>()
        for event in events { if let id = event.clientId, clients[id] == nil { missing.insert(id) } }
        if !missing.isEmpty {
            for (id, state) in try database.loadClients(missing) { clients[id] = state }
        }
        var missingManagers = Set<String>()
        for event in events {
            if event.type == EventType.managerProfile, let id = event.data["managerId"]?.stringValue, managers[id] == nil {
                missingManagers.insert(id)
            }
            if let id = event.clientId.flatMap({ clients[$0]?.profile.managerId }), managers[id] == nil {
                missingManagers.insert(id)
            }
            if event.type == EventType.clientProfile, let id = event.data["managerId"]?.stringValue, managers[id] == nil {
                missingManagers.insert(id)
            }
        }
        if !missingManagers.isEmpty {
            for (id, manager) in try database.loadManagers(missingManagers) { managers[id] = manager }
        }
    }

    /// Everything cached is committed, so dropping the cache loses nothing; it only bounds memory.
    private func trimCaches() {
        if clients.count > cacheCapacity { clients.removeAll(keepingCapacity: false) }
        if managers.count > cacheCapacity { managers.removeAll(keepingCapacity: false) }
    }

    private func report(_ leads: [Lead]) {
        for lead in leads {
            logger.info("lead created", metadata: [
                "lead.id": "\(lead.id)", "lead.key": "\(lead.key)", "lead.kind": "\(lead.kind)",
                "lead.priority": "\(lead.priority.rawValue)", "plugin.id": "\(lead.plugin)",
                "client.id": "\(lead.client?.id ?? "-")", "manager.id": "\(lead.manager?.id ?? "-")",
                "lead.title": "\(lead.title)",
            ])
        }
        if !leads.isEmpty { onNewLeads(leads) }
    }
}

extension Logger {
    func with(plugin id: String) -> Logger {
        var copy = self
        copy[metadataKey: "plugin.id"] = "\(id)"
        return copy
    }
}
