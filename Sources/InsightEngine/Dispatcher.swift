import Foundation
import InsightCore
import InsightStore
import Logging
import Metrics

/// Reads the journal in order, projects client state, publishes each event on the sharded bus to the
/// subscribed plugins, and commits state, leads and its journal position in one transaction per batch (or, with
/// ``StateWrites/checkpointed(every:)`` and ``StateWrites/deferred``, leads and position per batch and the state
/// later).
///
/// It is the single writer of projected state and leads. Daily ticks run through it too, between batches,
/// so a tick always sees fully committed state.
///
/// ``drain(maximumBatches:)`` pipelines: while batch N commits on the database writer's thread, batch N+1
/// is read and handled on top of N's (not yet committed) state. Each batch still commits atomically and in
/// order. If a commit fails, everything handled after the last good commit is discarded and the caches are
/// dropped, so the next attempt starts again from committed state (with checkpointed state, from the last
/// checkpoint, leaving out the outputs committed since).
public actor Dispatcher {
    public struct Step: Sendable {
        /// Events handled (0: the journal had nothing new).
        public var events: Int
        /// Leads that were new in the ledger.
        public var newLeads: [Lead]
        /// The committed consumer position afterwards.
        public var position: Int64
    }

    /// When a batch's client state reaches the database.
    public enum StateWrites: Sendable, Equatable {
        /// With the batch: state, leads and journal position in one transaction, so that a restart resumes from
        /// committed state.
        case everyBatch
        /// At checkpoints, as a stream processor keeps its state (the daemon): each batch commits its leads, failures,
        /// interactions and position, and the changed clients stay in the cache until a checkpoint writes them all
        /// with the database's state position (``AppDatabase/stateConsumer``): when the dispatcher has caught up with
        /// the journal, when `every` has passed since the last one while it catches up, when the cache is over its
        /// bound with three quarters of it changed, before a daily tick, and at ``flushState()`` (the daemon's
        /// shutdown). A client busy in many batches of a backlog is then written once, not once per batch.
        ///
        /// Nothing is lost in between: the journal holds the events, and a restart (or a failed commit) dispatches
        /// again from the state position, leaving out what the events up to the committed position already gave
        /// (leads, interactions, plugin failures), so each lead is still made once. While a backlog is dispatched
        /// the database's client state (what `GET /v1/clients/{id}` reads; a daily tick writes it first) may be
        /// behind by up to `every`; once caught up it is current.
        case checkpointed(every: Duration)
        /// Later: each batch commits its leads, failures and position, and the changed clients stay in the cache
        /// until it lets them go, a daily tick is about to read the database, or ``flushState()``. A busy client is
        /// then written once instead of once per batch. No state position is kept and the events may not be
        /// journaled, so this is for a run that nothing resumes from (`insightd replay`'s scratch state). After an
        /// error that dropped the cache (and so state the database may lack, or have ahead of its position), every later call that handles, settles,
        /// flushes or ticks throws ``DeferredStateLost``. While events are handled, a read of the database
        /// (another client's state, balance history, the indexed queries) sees the state of the last write; the
        /// built-in plugins read only the event's own client, from the cache, and the ledger.
        case deferred
    }

    /// A dispatcher with ``StateWrites/deferred`` lost state it had not written (after the error it reported): it
    /// cannot go on.
    public struct DeferredStateLost: Error, CustomStringConvertible {
        public var description: String {
            "the dispatcher lost client state it had not written yet (after an earlier error, or its caches were "
                + "discarded at the end of a run); start the run again"
        }
    }

    /// A batch handled in memory, ready to commit.
    struct Prepared: Sendable {
        var commit: DispatchCommit
        var events: Int
        var lastSequence: Int64
        var lastTime: Date
        /// The time its commit is made at (and the consumer row records): read once, so that what an event handled
        /// again sees (``DispatchClock/handlingAgain(through:at:then:)``) is the same after a rewind in the process as
        /// after a restart.
        var commitAt: Date
    }

    private let database: any DispatchStore
    private let settings: SettingsBox
    private let clock: DispatchClock
    private let bus: EventBus
    private let batchSize: Int
    private let cacheCapacity: Int
    private let stateWrites: StateWrites
    private let logger: Logger
    private let reader: any StateReader
    /// The journal position handled through: the next batch reads after it. The last committed position, or, after
    /// a restart or a failed commit with checkpointed state, the state position it went back to.
    private var position: Int64
    /// The position committed with the leads (``AppDatabase/dispatcherConsumer``): the outputs of an event up to
    /// it are in the database already, and handling it again (after going back to ``statePosition``) leaves them out.
    private var outputsThrough: Int64
    /// When ``outputsThrough`` was committed: the time plugins see for an event handled again (see
    /// ``DispatchClock/handlingAgain(through:at:then:)``).
    private var outputsCommittedAt: Date?
    /// The position the database's client state is at (``AppDatabase/stateConsumer``).
    private var statePosition: Int64
    /// When the state was last written (``uptime``), for ``StateWrites/checkpointed(every:)``.
    private var lastStateWrite: Duration
    /// A monotonic clock for checkpoint intervals (tests drive their own).
    private let uptime: @Sendable () -> Duration
    /// Projected state of recently seen clients, possibly ahead of the database by one in-flight batch (or, with
    /// deferred state writes, by every change since the last write).
    private var clients: ClientCache
    private var managers: [String: ManagerState] = [:]
    /// The manager cache was emptied while clients stayed cached: their managers are looked up again.
    private var managersEvicted = false
    /// The enabled plugins the cached states were handled with. A cached client keeps each plugin's memory
    /// decoded, and only that plugin can write it back: when the set changes (a reload switched one off or
    /// on), the caches are dropped so clients are read again with every memory in its stored form.
    private var cachedPluginIds: [String] = []
    /// The plugins of the last batch handled: only they can write back the live memories the cache holds.
    private var cachedPlugins: [LoadedPlugin] = []
    /// With deferred or checkpointed state writes, the changes of cached clients that the database does not have yet,
    /// and their daily balance snapshots (the state holds the latest only), split by shard like the cache.
    private var unwritten: UnwrittenChanges
    /// The event time of the last batch handled (the time a deferred state write is made at).
    private var lastHandledTime: Date?
    /// Deferred state was dropped after an error: nothing more may be handled.
    private var lostState = false
    /// Batches being handled or committed right now (``prepare(_:settings:)``, ``commit(_:)``,
    /// ``settle(_:_:pending:)``): the caches are handed to the shards, or ahead of the database, while one is.
    private var batchesUnderway = 0
    /// Every client the database holds is cached (deferred writes on a database that started with no clients, and
    /// since then no eviction, and no change of the plugin set with clients cached: the first batch's, with nothing
    /// cached yet, keeps it): a client not cached is then new, and no batch needs to look for it in the database.
    private var everyStoredClientCached = false
    /// A handled batch whose commit is running (``submit(_:)``), settled by the next call.
    private var inFlight: (prepared: Prepared, commit: Task<[Lead], any Error>)?
    /// Pipelines running (``drain(maximumBatches:)``, ``handle(_:)``): between their batches the actor is free, but
    /// the caches are handed to shards or ahead of the database.
    private var pipelinesRunning = 0
    /// Calls waiting for the running pipelines to stop between batches (``untilBetweenBatches()``).
    private var betweenBatchesWaiters: [CheckedContinuation<Void, Never>] = []
    /// Calls (a tick, a flush) that want the dispatcher between batches: while there are any, a drain reads and takes
    /// no further batch.
    private var callsWaiting = 0
    /// Called with the leads each commit made new, after the commit.
    private let onNewLeads: @Sendable ([Lead]) -> Void

    private let eventsCounter = Counter(label: "insightd_dispatch_events_total")
    private let leadsCounter = Counter(label: "insightd_dispatch_leads_total")
    private let failuresCounter = Counter(label: "insightd_plugin_failures_total")

    /// Events per batch at most; live, a batch is what has arrived since the last. With checkpointed state a batch
    /// commits only its leads and position, so a larger one gains little, while three are in memory at once (read,
    /// handled, committing): W1's dispatch ran as fast at 16,384 as at 65,536, its peak 205 MB against 380 MB.
    public static let defaultBatchSize = 16_384
    /// Clients whose state stays cached between batches, at most (`dispatcher.client_cache`). Past it clients whose
    /// state is written go (see ``evictClients(keeping:)``), and are read again as their events come; a checkpoint comes
    /// early when three quarters of it hold changes not written.
    public static let defaultCacheCapacity = 100_000

    public init(database: any DispatchStore, settings: SettingsBox, clock: DispatchClock, shards: Int = 4,
                batchSize: Int = Dispatcher.defaultBatchSize, cacheCapacity: Int = Dispatcher.defaultCacheCapacity,
                stateWrites: StateWrites = .everyBatch, logger: Logger,
                uptime: @escaping @Sendable () -> Duration = Dispatcher.systemUptime,
                onNewLeads: @escaping @Sendable ([Lead]) -> Void = { _ in }) throws {
        self.database = database
        self.settings = settings
        self.clock = clock
        self.bus = EventBus(shardCount: shards)
        self.clients = ClientCache(bus: bus)
        self.unwritten = UnwrittenChanges(bus: bus)
        self.batchSize = max(1, batchSize)
        self.cacheCapacity = cacheCapacity
        self.stateWrites = stateWrites
        self.logger = logger
        self.reader = database.stateReader()
        self.onNewLeads = onNewLeads
        self.uptime = uptime
        self.lastStateWrite = uptime()
        // Resume from the state's position: events after it are handled again, their committed outputs left out.
        let positions = try database.dispatcherResumePositions(at: clock.commitTime(fallback: Date(timeIntervalSince1970: 0)))
        self.position = positions.state
        self.statePosition = positions.state
        self.outputsThrough = positions.handled
        self.outputsCommittedAt = positions.handledAt
        // Only with deferred writes is this dispatcher known to be the only writer of client rows (a replay's scratch
        // database); the daemon's may be written by others, and looks every batch's clients up.
        everyStoredClientCached = try stateWrites == .deferred && !database.hasClients()
    }

    public var currentPosition: Int64 { position }

    /// The position the database's client state is at (behind ``currentPosition`` between checkpoints).
    public var currentStatePosition: Int64 { statePosition }

    /// Time since an arbitrary fixed point, never going back.
    public static let systemUptime: @Sendable () -> Duration = { ContinuousClock.now - processStart }
    private static let processStart = ContinuousClock.now

    /// Whether the state is written at checkpoints with its own position (``StateWrites/checkpointed(every:)``).
    private var checkpoints: Bool {
        if case .checkpointed = stateWrites { true } else { false }
    }

    /// Handles and commits the next batch, if any.
    public func step() async throws -> Step {
        try await settle()
        let events = try database.readJournal(after: position, limit: batchSize)
        guard !events.isEmpty else { return Step(events: 0, newLeads: [], position: position) }
        let current = try await settingsForNextBatch()
        let prepared = try await prepare(events, settings: current)
        let newLeads = try await commit(prepared)
        return Step(events: prepared.events, newLeads: newLeads, position: position)
    }

    /// Handles the journal up to its head (or `maximumBatches` batches). Three stages overlap: batch N
    /// commits on the writer's thread while N+1 is handled here and N+2 is read from the journal. Returns the
    /// number of events handled.
    @discardableResult
    public func drain(maximumBatches: Int = .max) async throws -> Int {
        var batches = 0
        var caughtUp = false
        // While a tick or a flush waits, nothing is read: the drain would take no batch anyway.
        var reading: Task<[Event], any Error>? = maximumBatches > 0 && callsWaiting == 0 ? readAhead(after: position) : nil
        defer { reading?.cancel() }
        let handled = try await pipeline {
            // A daily tick or a flush is waiting: stop here (the tick runs once this batch is committed).
            guard let read = reading, callsWaiting == 0 else { return nil }
            let events = try await read.value
            guard let last = events.last else { reading = nil; caughtUp = true; return nil }
            batches += 1
            reading = batches < maximumBatches ? readAhead(after: last.sequence) : nil
            return events
        }
        // Caught up with the journal: checkpointed state is written now, so that the database is current while
        // the dispatcher is idle.
        if caughtUp, checkpoints { try writeUnwritten() }
        return handled
    }

    /// Handles events that were never journaled, in batches, as ``drain(maximumBatches:)`` handles the
    /// journal's, and waits for their commits. Their `sequence` must rise; the consumer position follows it.
    /// Returns the number of events handled.
    @discardableResult
    public func handle(_ events: [Event]) async throws -> Int {
        var rest = events[...]
        let size = batchSize
        return try await pipeline {
            guard !rest.isEmpty else { return nil }
            let batch = Array(rest.prefix(size))
            rest = rest.dropFirst(batch.count)
            return batch
        }
    }

    /// Handles one batch of events that were never journaled and starts its commit, without waiting for it:
    /// the caller's next batch is handled while this one commits (`insightd replay` streams a file through
    /// here). The batch before it is settled first. Call ``settle()`` before anything that reads committed
    /// state (a daily tick) and at the end. Returns the events of the batch that was settled (0 if none).
    @discardableResult
    public func submit(_ events: [Event]) async throws -> Int {
        if lostState { throw DeferredStateLost() }
        guard !events.isEmpty else { return 0 }
        let current = try await settingsForNextBatch()
        let next: Prepared
        do {
            next = try await prepare(events, settings: current)
        } catch {
            await abandon()
            throw error
        }
        var settled = 0
        if let (prepared, commit) = inFlight {
            inFlight = nil
            settled = try await settle(prepared, commit, pending: next)
        }
        inFlight = (next, startCommit(next))
        return settled
    }

    /// Gives up after an error while a batch may be in flight: a commit that went through is still accounted
    /// for, and the caches (possibly ahead of the database) are dropped.
    private func abandon() async {
        if let (prepared, commit) = inFlight, let newLeads = try? await commit.value {
            try? finish(prepared, newLeads: newLeads)
        }
        inFlight = nil
        dropCaches()
    }

    /// Waits for the batch in flight (see ``submit(_:)``) to commit. Returns its events (0 if none).
    @discardableResult
    public func settle() async throws -> Int {
        if lostState { throw DeferredStateLost() }
        guard let (prepared, commit) = inFlight else { return 0 }
        inFlight = nil
        return try await settle(prepared, commit)
    }

    /// Prepares the batches `nextBatch` gives (nil: no more) and commits them in order, batch N committing on
    /// the writer's thread while N+1 is prepared here.
    private func pipeline(_ nextBatch: () async throws -> [Event]?) async throws -> Int {
        pipelinesRunning += 1
        defer {
            pipelinesRunning -= 1
            resumeBetweenBatchesWaiters()
        }
        var total = try await settle()
        while true {
            let events: [Event]
            do {
                guard let next = try await nextBatch(), !next.isEmpty else { break }
                events = next
            } catch {
                await abandon()
                throw error
            }
            total += try await submit(events)
            // The batch's events are freed by a low-priority task, not on this actor, where freeing them would hold up
            // the next batch's shards (a drain's batch is its only holder; `handle(_:)`'s caller still holds its own).
            ReleasedLater(consume events).releaseInBackground()
        }
        return total + (try await settle())
    }

    /// After going back to the state's position, handles the events whose outputs are already committed, so that a
    /// tick reads state at least as recent as the leads in the ledger (no drain runs meanwhile: the caller holds
    /// ``callsWaiting`` up, and is counted as a pipeline so that another tick waits).
    private func handleAgainUpToCommittedOutputs() async throws {
        guard position < outputsThrough else { return }
        pipelinesRunning += 1
        defer {
            pipelinesRunning -= 1
            resumeBetweenBatchesWaiters()
        }
        while position < outputsThrough {
            let events = try database.readJournal(after: position, limit: Int(min(Int64(batchSize), outputsThrough - position)))
            guard !events.isEmpty else { return }
            let prepared = try await prepare(events, settings: try await settingsForNextBatch())
            _ = try await commit(prepared)
        }
    }

    /// Waits until no pipeline is running (a daily tick, ``flushState()``): a running drain stops after the batch in
    /// hand, commits it and returns, and the next drain takes no batch until the waiting call has run.
    private func untilBetweenBatches() async {
        callsWaiting += 1
        defer { callsWaiting -= 1 }
        while pipelinesRunning > 0 || batchesUnderway > 0 {
            await withCheckedContinuation { betweenBatchesWaiters.append($0) }
        }
    }

    private func resumeBetweenBatchesWaiters() {
        guard pipelinesRunning == 0, batchesUnderway == 0, !betweenBatchesWaiters.isEmpty else { return }
        let waiters = betweenBatchesWaiters
        betweenBatchesWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// Waits for a batch's commit and accounts for it; returns its event count. A failed commit (or a failed
    /// write of deferred state as the cache evicts) drops the caches (they hold state the database does not have)
    /// and rethrows.
    private func settle(_ prepared: Prepared, _ commit: Task<[Lead], any Error>, pending: Prepared? = nil) async throws -> Int {
        // Taken out of `inFlight` but not yet landed: counted, so that ``discardCaches()`` can tell.
        batchesUnderway += 1
        defer {
            batchesUnderway -= 1
            resumeBetweenBatchesWaiters()
        }
        do {
            let newLeads = try await commit.value
            try finish(prepared, newLeads: newLeads, pending: pending)
        } catch {
            dropCaches()
            throw error
        }
        return prepared.events
    }

    /// Reads (and parses) the next batch off the actor, so it overlaps the handling of the current one.
    private func readAhead(after sequence: Int64) -> Task<[Event], any Error> {
        let database = self.database
        let limit = batchSize
        // Off the cooperative pool: the read blocks its thread, which the shards of the batch in hand need.
        return Task.detached { try await BlockingWork.run { try database.readJournal(after: sequence, limit: limit) } }
    }

    /// Commits a handled batch on the database writer's thread.
    private func startCommit(_ prepared: Prepared) -> Task<[Lead], any Error> {
        let database = self.database
        let at = prepared.commitAt
        return Task.detached { try await database.commitAsync(prepared.commit, at: at) }
    }

    /// Runs one plugin's daily tick and records that it ran. Returns the leads that were new.
    @discardableResult
    public func runTick(_ tick: ScheduleTick, plugin pluginId: String) async throws -> [Lead] {
        if lostState { throw DeferredStateLost() }
        // The tick's queries read the database: it runs between batches, with the state written.
        callsWaiting += 1  // no drain takes a batch until the tick is done
        defer { callsWaiting -= 1 }
        await untilBetweenBatches()
        try await settle()
        try await handleAgainUpToCommittedOutputs()
        try writeUnwritten()
        let current = settings.current
        var commit = DispatchCommit()
        commit.scheduleRuns = [.init(plugin: pluginId, tick: tick)]
        let now = clock.now(for: tick)
        if let plugin = current.enabledPlugins.first(where: { $0.id == pluginId && $0.schedule != nil }) {
            let recorder = RecordingStateReader(reader)
            let context = PluginContext(now: now, timeZone: current.timeZone, locale: current.locale,
                                        logger: logger.with(plugin: plugin.id), state: recorder, client: nil,
                                        workingCalendar: current.workingCalendar)
            do {
                let drafts = try plugin.tick(tick, context: context)
                // The clients the drafts name: cached, or read by the tick's own query, or else loaded in one go
                // (a tick can make thousands of leads).
                let clientIds = Set(drafts.compactMap(\.clientId))
                let read = recorder.clients
                var tickClients = try database.loadClients(clientIds.filter { clients[$0] == nil && read[$0] == nil })
                for id in clientIds {
                    if let cached = clients[id] ?? read[id] { tickClients[id] = cached }
                }
                let managerIds = Set(drafts.compactMap { $0.managerId ?? $0.clientId.flatMap { tickClients[$0]?.profile.managerId } })
                var tickManagers = try database.loadManagers(managerIds.filter { managers[$0] == nil })
                for id in managerIds { if let cached = managers[id] { tickManagers[id] = cached } }
                for draft in drafts {
                    let client = draft.clientId.flatMap { tickClients[$0] }
                    let manager = (draft.managerId ?? client?.profile.managerId).flatMap { tickManagers[$0] }
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
        // Serialize the leads on every core, not on the writer's thread.
        let leads = commit.leads
        let bodies = try ParallelMap.tryMap(count: leads.count) { try AppDatabase.encodeLeadBody(leads[$0].lead) }
        for (index, body) in bodies.enumerated() {
            commit.leadBodies[DispatchCommit.leadBodyKey(id: leads[index].lead.id, sequence: nil)] = body
        }
        let newLeads = try database.commit(commit, at: clock.commitTime(fallback: tick.scheduledAt))
        leadsCounter.increment(by: newLeads.count)
        report(newLeads)
        return newLeads
    }

    // MARK: - Steps

    /// The settings the next batch is handled with. When their enabled plugins are not those the cached states
    /// were handled with, the batch in flight is committed first and the caches are dropped (``cachedPluginIds``).
    private func settingsForNextBatch() async throws -> PipelineSettings {
        if lostState { throw DeferredStateLost() }
        let current = settings.current
        let ids = current.enabledPlugins.map(\.id)
        if ids != cachedPluginIds {
            try await settle()
            try writeUnwritten()
            // Nothing cached yet (the first batch) on a database with no clients: it still has none, so a client not
            // cached is still a new one.
            let noClientStored = everyStoredClientCached && clients.count == 0
            dropCaches(afterError: false)  // everything is written: nothing is lost
            everyStoredClientCached = noClientStored
            cachedPluginIds = ids
        }
        return current
    }

    /// Handles a batch in memory: projection, bus, plugins. The caches move ahead to the batch's state.
    private func prepare(_ events: [Event], settings current: PipelineSettings) async throws -> Prepared {
        guard let last = events.last else { preconditionFailure("prepare needs events") }
        batchesUnderway += 1
        defer {
            batchesUnderway -= 1
            resumeBetweenBatchesWaiters()
        }
        let partitions = bus.partition(events)
        try warmCaches(for: events, partitions: partitions)

        // The manager directory is tiny and shared by every shard: apply its updates first, so a lead made
        // in this batch already names a manager introduced in this batch.
        var changedManagers: [String: ManagerState] = [:]
        for event in events where event.type == EventType.managerProfile {
            guard let id = event.field("managerId")?.stringValue else { continue }
            var manager = managers[id] ?? ManagerState(id: id)
            manager.apply(event.data)
            managers[id] = manager
            changedManagers[id] = manager
        }

        // Hand each shard its part of the cache, moved out so the worker owns the only copy and mutates in
        // place; it comes back with the shard's output.
        let handoffs = (0..<bus.shardCount).map {
            StatesHandoff(clients.take(shard: $0), unwritten: unwritten.take(shard: $0))
        }
        let plugins = current.enabledPlugins
        let managerSnapshot = managers
        // Events handled again after going back to the state's position see the time their outputs were committed.
        let clock = events[0].sequence > outputsThrough
            ? self.clock : self.clock.handlingAgain(through: outputsThrough, at: outputsCommittedAt)
        let reader = self.reader
        let logger = self.logger
        let encodesUpdates = stateWrites == .everyBatch
        cachedPlugins = plugins
        lastHandledTime = last.time
        let outputs: [ShardWorker.Output]
        do {
            outputs = try await bus.publish(partitioned: partitions) { shard, shardEvents in
                try ShardWorker(managers: managerSnapshot, plugins: plugins, clock: clock, settings: current,
                                reader: reader, logger: logger, encodesUpdates: encodesUpdates)
                    .run(shardEvents, shard: shard, states: handoffs[shard].take(),
                         unwritten: encodesUpdates ? UnwrittenChanges.Part() : handoffs[shard].takeUnwritten())
            }
        } catch {
            // A shard failed (its store reads did): what it had taken is gone, so start again from the database.
            dropCaches()
            throw error
        }
        var returned = Set<Int>()
        for output in outputs {
            clients.restore(output.states, shard: output.shard)
            // The shard's unwritten changes, this batch's added by its worker.
            if !encodesUpdates {
                unwritten.restore(UnwrittenChanges.Part(changes: output.changes, balances: output.balances), shard: output.shard)
            }
            returned.insert(output.shard)
        }
        for shard in 0..<bus.shardCount where !returned.contains(shard) {
            // No events for it in this batch.
            clients.restore(handoffs[shard].take(), shard: shard)
            unwritten.restore(handoffs[shard].takeUnwritten(), shard: shard)
        }

        var commit = DispatchCommit()
        for output in outputs {
            commit.clients.append(contentsOf: output.updates)
            commit.leads.append(contentsOf: output.leads)
            commit.leadBodies.merge(output.leadBodies) { first, _ in first }
            commit.failures.append(contentsOf: output.failures)
        }
        // Client rows in key order, as a checkpoint writes them: each page of the state tables is dirtied once.
        commit.clients.sort { $0.state.id < $1.state.id }
        commit.managers = changedManagers.keys.sorted().compactMap { changedManagers[$0] }
        for event in events where event.type == EventType.crmInteraction {
            commit.interactions.append(DispatchCommit.Interaction(
                journalSequence: event.sequence, clientId: event.clientId, managerId: event.field("managerId")?.stringValue,
                channel: event.field("channel")?.stringValue, outcome: event.field("outcome")?.stringValue,
                leadId: event.field("leadId")?.stringValue, at: event.time))
        }
        commit.leads.sort { ($0.sequence ?? 0, $0.lead.key) < ($1.sequence ?? 0, $1.lead.key) }
        // Events handled again after going back to the state's position: their outputs are committed already.
        let committed = outputsThrough
        if let first = events.first, first.sequence <= committed {
            commit.leads.removeAll { ($0.sequence ?? .max) <= committed }
            commit.interactions.removeAll { $0.journalSequence <= committed }
            commit.failures.removeAll { ($0.journalSequence ?? .max) <= committed }
        }
        commit.position = last.sequence > committed ? last.sequence : nil
        switch stateWrites {
        case .everyBatch:
            commit.statePosition = last.sequence
        case .checkpointed(let every):
            // A checkpoint: every change since the last one goes with this batch, and the state position with it.
            // Also the batch that ends handling events again after a restart: a daemon restarted over and over
            // faster than `every` still moves its state on.
            let endsHandlingAgain = events[0].sequence <= committed && last.sequence >= committed && committed > statePosition
            // Also a cache over its bound that its written clients cannot bring back under it.
            let overBound = clients.count > cacheCapacity && unwritten.count > cacheCapacity - cacheCapacity / 4
            if uptime() - lastStateWrite >= every || overBound || endsHandlingAgain {
                // A failed commit drops the caches and goes back to the last checkpoint, so these are not needed again.
                try addUnwritten(to: &commit)
                unwritten.removeAll()
                commit.statePosition = last.sequence
                lastStateWrite = uptime()
            }
        case .deferred:
            break
        }
        return Prepared(commit: commit, events: events.count, lastSequence: last.sequence, lastTime: last.time,
                        commitAt: self.clock.commitTime(fallback: last.time))
    }

    private func commit(_ prepared: Prepared) async throws -> [Lead] {
        batchesUnderway += 1
        defer {
            batchesUnderway -= 1
            resumeBetweenBatchesWaiters()
        }
        let newLeads: [Lead]
        do {
            newLeads = try await database.commitAsync(prepared.commit, at: prepared.commitAt)
        } catch {
            dropCaches()
            throw error
        }
        try finish(prepared, newLeads: newLeads)
        return newLeads
    }

    /// Accounts for a committed batch. `pending` is a batch already prepared on top of it but not yet
    /// committed: the caches hold its state, which the database does not have yet, so an eviction keeps it (or,
    /// with deferred writes, writes it with the rest before letting the clients go).
    private func finish(_ prepared: Prepared, newLeads: [Lead], pending: Prepared? = nil) throws {
        position = prepared.lastSequence
        if let committed = prepared.commit.position, committed > outputsThrough {
            outputsThrough = committed
            outputsCommittedAt = prepared.commitAt
        }
        if let state = prepared.commit.statePosition { statePosition = state }
        eventsCounter.increment(by: prepared.events)
        leadsCounter.increment(by: newLeads.count)
        failuresCounter.increment(by: prepared.commit.failures.count)
        for failure in prepared.commit.failures {
            logger.warning("plugin failed on an event; the event was skipped for that plugin", metadata: [
                "plugin.id": "\(failure.plugin)", "event.seq": "\(failure.journalSequence ?? 0)", "error": "\(failure.error)",
            ])
        }
        report(newLeads)  // committed: reported even if the eviction's write below fails
        if clients.count > cacheCapacity {
            switch stateWrites {
            case .deferred:
                // The cache is ahead of the database by every deferred change, the pending batch's included: all of it
                // is written before the cache lets the clients go.
                try writeUnwritten()
                clients = ClientCache(bus: bus)
                everyStoredClientCached = false
            case .checkpointed, .everyBatch:
                // The changes since the last checkpoint (the pending batch's among them; none when every batch writes
                // its own) stay, and so do the clients the pending batch is writing: read from the database before it
                // lands, they would be stale. If they are many the cache stays over its bound, and the next batch is a
                // checkpoint (``prepare``).
                let writing = Set(pending?.commit.clients.map(\.state.id) ?? [])
                let unwritten = self.unwritten
                evictClients { unwritten.contains($0) || writing.contains($0) }
            }
        }
        if managers.count > cacheCapacity {
            let uncommitted = Set(pending?.commit.managers.map(\.id) ?? [])
            managers = uncommitted.isEmpty ? [:] : managers.filter { uncommitted.contains($0.key) }
            managersEvicted = true
        }
    }

    /// Lets clean clients go until the cache is an eighth under its bound, so that it is not full again with the next
    /// batch: most of it stays, and a feed that comes back to the same clients finds them. The states are freed on
    /// another thread.
    private func evictClients(keeping keep: (String) -> Bool) {
        let evicted = clients.evict(downTo: cacheCapacity - cacheCapacity / 8, keeping: keep)
        if !evicted.isEmpty { ReleasedLater(consume evicted).releaseInBackground(trimmingHeap: true) }
    }

    /// Writes the deferred state of the clients changed since the last such write (see ``StateWrites/deferred``)
    /// and waits for it: afterwards the database holds every event handled. Settles the batch in flight first.
    public func flushState() async throws {
        if lostState { throw DeferredStateLost() }
        await untilBetweenBatches()
        try await settle()
        try writeUnwritten()
    }

    /// Writes the cached state of every client with deferred changes, in one transaction, their JSON made a chunk at
    /// a time on every core (``addUnwritten(to:)``). The cache keeps the clients, with their live memories.
    private func writeUnwritten() throws {
        var commit = DispatchCommit()
        if checkpoints {
            // Also with no client changed since: the state position moves up to the events handled.
            guard !unwritten.isEmpty || statePosition < position else { return }
            // The state position is the committed one: a batch in flight would put the state ahead of it.
            guard inFlight == nil, batchesUnderway == 0 else { throw BatchInFlight() }
            commit.statePosition = position
        } else {
            guard !unwritten.isEmpty else { return }
        }
        try addUnwritten(to: &commit)
        try database.commit(commit, at: clock.commitTime(fallback: lastHandledTime ?? Date(timeIntervalSince1970: 0)))
        unwritten.removeAll()
        if let state = commit.statePosition { statePosition = state }
        lastStateWrite = uptime()
    }

    /// Adds every client with deferred changes to a checkpoint's commit, in key order: the rows of `client` (and the
    /// tables keyed by client) are then written page after page, each page dirtied once, instead of at random across
    /// the whole book. Each update holds the client's state and a snapshot of its live memories; the commit encodes
    /// them a chunk at a time (``DispatchCommit/encodeClients``), so a checkpoint of the whole book never holds the
    /// whole book's JSON. The cache keeps the clients with their live memories, which the next batch changes while
    /// this commit runs.
    private func addUnwritten(to commit: inout DispatchCommit) throws {
        guard !unwritten.isEmpty else { return }
        let plugins = PluginsById(cachedPlugins)
        // Each shard's updates are made on a core of their own, from its part of the cache and of the changes (shared
        // for reading, and let go of before the cache is written below).
        var shards: [ShardUpdates]
        do {
            let states = (0..<bus.shardCount).map { clients.states(shard: $0) }
            let parts = (0..<bus.shardCount).map { unwritten.part(shard: $0) }
            shards = ParallelMap.map(count: bus.shardCount, minimumForParallel: 2) { shard in
                Self.updates(of: parts[shard], states: states[shard], plugins: plugins)
            }
        }
        // A changed client is cached until it is written (an eviction writes first): one that is not would be a bug
        // that loses its changes, so it stops the run rather than go unnoticed.
        if shards.contains(where: \.lost) {
            lostState = true
            throw DeferredStateLost()
        }
        for shard in shards {
            for state in shard.replaced { clients[state.id] = state }
        }
        // The shards' lists, each in key order, merged into one.
        var updates: [DispatchCommit.ClientUpdate] = []
        updates.reserveCapacity(shards.reduce(0) { $0 + $1.updates.count })
        var next = Array(repeating: 0, count: shards.count)
        while true {
            var smallest: Int?
            for shard in shards.indices where next[shard] < shards[shard].updates.count {
                if let current = smallest,
                   shards[current].updates[next[current]].state.id <= shards[shard].updates[next[shard]].state.id { continue }
                smallest = shard
            }
            guard let shard = smallest else { break }
            updates.append(shards[shard].updates[next[shard]])
            next[shard] += 1
        }
        shards = []
        commit.clients = updates
        commit.encodeClients = { update in
            let state = update.state
            try update.encode { output in ShardWorker.writeMemory(of: state, plugins: plugins, into: &output) }
            update.state.liveMemory = LiveMemories()
        }
    }

    /// One shard's part of a checkpoint: the updates of its changed clients in key order, and the states the cache
    /// keeps instead of those it holds (without the stored memories their live ones replace).
    private struct ShardUpdates: Sendable {
        var updates: [DispatchCommit.ClientUpdate] = []
        var replaced: [ClientState] = []
        /// A changed client was not cached.
        var lost = false
    }

    /// Each update holds the client's state and a snapshot of its live memories; the commit encodes them a chunk at a
    /// time. The writer never holds a live memory: only snapshots of the loaded plugins' ones, and only for a client
    /// whose memory column is written (see `ClientUpdate.encode(memory:)`). A snapshot shares its lists with the live
    /// memory until the next batch changes them.
    private static func updates(of part: UnwrittenChanges.Part, states: [String: ClientState],
                                plugins: PluginsById) -> ShardUpdates {
        var result = ShardUpdates()
        var ids = Array(part.changes.keys)
        ids.sort()
        result.updates.reserveCapacity(ids.count)
        for id in ids {
            guard var state = states[id] else {
                result.lost = true
                return result
            }
            let changes = part.changes[id] ?? []
            var update = DispatchCommit.ClientUpdate(state: state, changes: changes)
            update.balances = part.balances[id] ?? []
            var snapshots = LiveMemories()
            if changes.writesMemoryColumn {
                snapshots.values.reserveCapacity(state.liveMemory.values.count)
                for (pluginId, live) in state.liveMemory.values {
                    if let entry = plugins[pluginId] { snapshots.values[pluginId] = entry.plugin.snapshot(live) }
                }
            }
            update.state.liveMemory = snapshots
            result.updates.append(update)
            // A live memory replaces the stored form it was decoded from: the cache keeps the decoded one only (and an
            // emptied memory must not come back from its stored form).
            let replaced = state.liveMemory.values.keys.filter { plugins[$0] != nil && state.memory[$0] != nil }
            if !replaced.isEmpty {
                for pluginId in replaced { state.memory[pluginId] = nil }
                result.replaced.append(state)
            }
        }
        return result
    }

    /// A batch is still handled or committing: ``discardCaches()`` must wait for ``settle()``.
    public struct BatchInFlight: Error, CustomStringConvertible {
        public var description: String { "a batch is still being committed: settle it before discarding the caches" }
    }

    /// For a run that nothing resumes from, after its last ``settle()`` (`insightd replay`, which then writes its
    /// leads): lets the cached state go on another thread, where freeing tens of thousands of clients does not hold
    /// up the caller. With deferred writes the state not written is gone, and the dispatcher takes no more work
    /// (``DeferredStateLost``); otherwise it reads its clients from the database again. Throws ``BatchInFlight``
    /// while a batch is being handled, or handed in and not yet settled (its commit would land after the clients
    /// were read again).
    public func discardCaches() throws {
        guard inFlight == nil, batchesUnderway == 0 else { throw BatchInFlight() }
        let released = ReleasedLater((clients, unwritten, managers))
        dropCaches()
        released.releaseInBackground()
    }

    /// The clients cached now (for tests).
    var cachedClientCount: Int { clients.count }

    /// After a failed commit the caches may hold state that never reached the database: forget it all. With deferred
    /// state writes that loses state the database never had (or writes an eviction made ahead of a batch that then
    /// failed): the dispatcher refuses to go on.
    private func dropCaches(afterError: Bool = true) {
        if afterError && stateWrites == .deferred { lostState = true }
        // With checkpointed state, handle again from the state the database has; the outputs committed since are
        // left out then (``outputsThrough``).
        if checkpoints { position = statePosition }
        everyStoredClientCached = false
        unwritten.removeAll()
        clients = ClientCache(bus: bus)
        managers.removeAll(keepingCapacity: false)
        managersEvicted = false  // the clients go too: each is loaded again, with its manager
    }

    /// Loads the batch's clients that are not cached, and the managers they and the batch's profile events
    /// name. A cached client's manager was loaded with it; after the manager cache was emptied, the batch's
    /// clients are looked through once more (a manager not cached is still read by the shard, only slower).
    private func warmCaches(for events: [Event], partitions: [[Event]]) throws {
        if database.managersChangeElsewhere {
            // Other instances write the managers too: read them again, keeping only those the batch in flight changed
            // (not committed yet, so the store would give them as they were).
            let changing = Set(inFlight?.prepared.commit.managers.map(\.id) ?? [])
            managers = managers.filter { changing.contains($0.key) }
            managersEvicted = true
        }
        var missing = Set<String>()
        if !everyStoredClientCached {
            // Each shard's events against its part of the cache, on a core of their own (shared for reading, and let
            // go of before the cache is written below).
            let perShard: [Set<String>]
            do {
                let states = (0..<bus.shardCount).map { clients.states(shard: $0) }
                perShard = ParallelMap.map(count: partitions.count, minimumForParallel: 2) { shard in
                    var missing = Set<String>()
                    for event in partitions[shard] {
                        if let id = event.clientId, states[shard].index(forKey: id) == nil { missing.insert(id) }
                    }
                    return missing
                }
            }
            for shard in perShard { missing.formUnion(shard) }
        }
        var managerIds = Set<String>()
        if !missing.isEmpty {
            for (id, state) in try database.loadClients(missing) {
                if let managerId = state.profile.managerId { managerIds.insert(managerId) }
                clients[id] = state
            }
        }
        if managersEvicted {
            managersEvicted = false
            for event in events {
                if let id = event.clientId, let managerId = clients[id]?.profile.managerId { managerIds.insert(managerId) }
            }
        }
        for event in events where event.type == EventType.managerProfile || event.type == EventType.clientProfile {
            if let managerId = event.field("managerId")?.stringValue { managerIds.insert(managerId) }
        }
        let missingManagers = managerIds.filter { managers[$0] == nil }
        if !missingManagers.isEmpty {
            for (id, manager) in try database.loadManagers(missingManagers) { managers[id] = manager }
        }
    }

    private func report(_ leads: [Lead]) {
        for lead in leads {
            Counter(label: "insightd_leads_total", dimensions: [("plugin", lead.plugin), ("kind", lead.kind)]).increment()
            logger.info("lead created", metadata: [
                "lead.id": "\(lead.id)", "lead.key": "\(lead.key)", "lead.kind": "\(lead.kind)",
                "lead.priority": "\(lead.priority.rawValue)", "plugin.id": "\(lead.plugin)",
                "client.id": "\(lead.client?.id ?? "-")", "manager.id": "\(lead.manager?.id ?? "-")",
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

