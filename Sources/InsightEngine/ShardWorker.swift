import Foundation
import InsightCore
import InsightStore
import Logging

/// Handles one shard's events of a batch, in order: projects each into its client's state, then offers it
/// to every subscribed plugin. Pure apart from plugin reads of committed state; runs concurrently with the
/// other shards.
struct ShardWorker: Sendable {
    struct Output: Sendable {
        var shard: Int
        /// The shard's part of the cache, with this batch's events applied.
        var states: [String: ClientState]
        /// Each changed client's changes: the batch's, added to those not written yet that the worker was given.
        var changes: [String: StateChanges] = [:]
        /// Each daily balance snapshot recorded per client (the batch's, after those not written yet), in order (one
        /// per day: a later event for the same day replaces it). The state holds only the latest; the store keeps them
        /// all as its history.
        var balances: [String: [BalanceSnapshot]] = [:]
        /// The changed clients, ready to write (their JSON already made, here, in parallel with other shards).
        /// Empty when the worker leaves the writes to the dispatcher (``encodesUpdates``).
        var updates: [DispatchCommit.ClientUpdate] = []
        var leads: [(lead: Lead, sequence: Int64?)] = []
        var leadBodies: [String: String] = [:]
        var failures: [DispatchCommit.Failure] = []
    }

    /// The manager directory as of this batch (its updates are applied before the shards run).
    let managers: [String: ManagerState]
    let plugins: [LoadedPlugin]
    let clock: DispatchClock
    let settings: PipelineSettings
    let reader: any StateReader
    let logger: Logger
    /// Whether the changed clients come back as ``Output/updates`` ready to write with this batch. When they
    /// do not (a dispatcher that defers its state writes), their changes come back and their live memories stay
    /// decoded in the cache until the dispatcher writes them.
    var encodesUpdates = true

    /// `states` is consumed: the worker must hold the only reference to the shard's dictionary, or its first
    /// write would copy all of it.
    ///
    /// `unwritten` (also consumed) is the shard's part of the changes not written yet, when the worker leaves the writes
    /// to the dispatcher: the batch's changes are added to it, and it comes back as the output's ``Output/changes``
    /// and ``Output/balances``.
    func run(_ events: [Event], shard: Int, states: consuming [String: ClientState],
             unwritten: consuming UnwrittenChanges.Part = UnwrittenChanges.Part()) throws -> Output {
        var output = Output(shard: shard, states: consume states)
        // Swapped in, so the output holds the only reference and adding to them copies nothing.
        swap(&output.changes, &unwritten.changes)
        swap(&output.balances, &unwritten.balances)
        // Room for the batch's clients when starting afresh; a dictionary carried over grows as its own growth policy
        // says (reserving on top of it at every batch would resize it again and again).
        if output.changes.isEmpty { output.changes.reserveCapacity(events.count) }
        // Each plugin with its logger, and per event type the positions of those subscribed to it: the loop below
        // reaches a plugin in place, without copying its closures and logger for every event.
        let pluginLoggers = plugins.map { Subscriber(plugin: $0, logger: logger.with(plugin: $0.id)) }
        var subscribersByType: [String: [Int]] = [:]
        var lastType: String?
        var lastSubscribed: [Int] = []
        func subscribers(of type: String) -> [Int] {
            // Runs of one type are the usual shape of a feed, and known types are interned by the decoder, so
            // this is mostly an identity check instead of a hash.
            if type == lastType { return lastSubscribed }
            let matching: [Int]
            if let known = subscribersByType[type] {
                matching = known
            } else {
                matching = pluginLoggers.indices.filter { pluginLoggers[$0].plugin.subscribes(to: type) }
                subscribersByType[type] = matching
            }
            lastType = type
            lastSubscribed = matching
            return matching
        }
        // One context, moved from event to event (its time and client change): making one per event would retain
        // each of its parts again.
        var context = PluginContext(now: Date(timeIntervalSince1970: 0), timeZone: settings.timeZone, locale: settings.locale,
                                    logger: logger, state: reader, client: nil, workingCalendar: settings.workingCalendar)
        for event in events {
            context.client = nil  // the previous event's copy: the state below must be unique to change in place
            var client: ClientState?
            // The client's slot, found once per event: nothing is inserted into `states` until the next event.
            var slot: Dictionary<String, ClientState>.Index?
            if let id = event.clientId {
                var found = output.states.index(forKey: id)
                if found == nil {  // a client new to the cache
                    output.states[id] = ClientState(id: id)
                    found = output.states.index(forKey: id)
                }
                if let found {
                    // Mutate in place: the worker holds the only reference, so no copy of the state is made.
                    let changes = output.states.values[found].apply(event)
                    if !changes.isEmpty {
                        output.changes[id, default: []].formUnion(changes)
                        if event.type == EventType.accountBalance, changes.contains(.balance),
                           let snapshot = output.states.values[found].balance {
                            Self.record(snapshot, in: &output.balances[id, default: []])
                        }
                    }
                }
                slot = found
            }
            let subscribed = subscribers(of: event.type)
            guard !subscribed.isEmpty else { continue }
            if let slot {
                client = output.states.values[slot]
                // The context's copy goes without the decoded memories (plugins get theirs as an argument), so
                // the cached state keeps the only reference to their table.
                client?.liveMemory = LiveMemories()
            }
            // The event's context, handed to each plugin with its own logger: copying the client's state into a
            // fresh context for every plugin would retain each of its collections again.
            context.now = clock.now(for: event)
            context.client = client
            for index in subscribed {
                // Read in place through the class: a copy of the plugin would retain each of its closures.
                let subscriber = pluginLoggers[index]
                context.logger = subscriber.logger
                do {
                    let drafts: [LeadDraft]
                    if subscriber.plugin.usesMemory, let id = event.clientId, let slot {
                        // Decoded on the client's first event, then changed in place by the plugin.
                        let live: LiveMemory
                        if let known = output.states.values[slot].liveMemory.values[subscriber.plugin.id] {
                            live = known
                        } else {
                            live = subscriber.plugin.liveMemory(stored: client?.memory[subscriber.plugin.id])
                            output.states.values[slot].liveMemory.values[subscriber.plugin.id] = live
                        }
                        var changed = false
                        drafts = try subscriber.plugin.handle(event, context: context, live: live, changed: &changed)
                        if changed { output.changes[id, default: []].insert(.memory(subscriber.plugin.id)) }
                    } else {
                        drafts = try subscriber.plugin.handle(event, context: context)
                    }
                    for draft in drafts {
                        var leadClient = client
                        if let other = draft.clientId, other != client?.id {
                            leadClient = try output.states[other] ?? reader.client(other)
                        }
                        let managerId = draft.managerId ?? leadClient?.profile.managerId
                        let manager = try managerId.flatMap { try managers[$0] ?? reader.manager($0) }
                        let lead = draft.complete(plugin: subscriber.plugin.id, client: leadClient, manager: manager,
                                                  now: context.now)
                        output.leads.append((lead, event.sequence))
                        let bodyKey = DispatchCommit.leadBodyKey(id: lead.id, sequence: event.sequence)
                        if output.leadBodies[bodyKey] == nil { output.leadBodies[bodyKey] = try AppDatabase.encodeLeadBody(lead) }
                    }
                } catch {
                    output.failures.append(.init(plugin: subscriber.plugin.id, journalSequence: event.sequence,
                                                 eventId: event.id, error: "\(error)"))
                }
            }
        }
        guard encodesUpdates else { return output }
        let pluginsById = PluginsById(plugins)
        for (id, changes) in output.changes {  // only this batch's clients are written
            guard let state = output.states[id] else { continue }
            let (update, cached) = try Self.update(state, changes: changes, balances: output.balances[id] ?? [],
                                                   plugins: pluginsById)
            output.updates.append(update)
            output.states[id] = cached
        }
        return output
    }

    /// A plugin with its logger, in a class: reaching it for an event retains one object, not each closure.
    private final class Subscriber: Sendable {
        let plugin: LoadedPlugin
        let logger: Logger

        init(plugin: LoadedPlugin, logger: Logger) {
            self.plugin = plugin
            self.logger = logger
        }
    }

    /// Adds a day's balance snapshot to a client's list of those not written yet (the batch's, or, with deferred or
    /// checkpointed writes, all since the last write): a second one for the same day replaces it, as the store's upsert
    /// would.
    static func record(_ snapshot: BalanceSnapshot, in list: inout [BalanceSnapshot]) {
        if list.last?.asOf == snapshot.asOf { list[list.count - 1] = snapshot } else { list.append(snapshot) }
    }

    /// A changed client's update, ready to write (its JSON made here, off the writer's thread), and its state as the
    /// cache keeps it afterwards. For a batch that writes its own clients; a state checkpoint's updates are encoded by
    /// its write instead, from snapshots (`Dispatcher.addUnwritten(to:)`).
    ///
    /// The decoded memories go back to their stored form for the row, which holds them all. While cached, the
    /// decoded form is the memory: the JSON would only double what the cache holds, and the update needs it no more
    /// either (the row's memory is its `memoryText` now), so both leave it out. The live memories stay with the cache
    /// alone: the next batch changes them in place while this one commits.
    static func update(_ state: ClientState, changes: StateChanges, balances: [BalanceSnapshot],
                       plugins: PluginsById) throws -> (update: DispatchCommit.ClientUpdate, cached: ClientState) {
        // A live memory replaces the stored form it was decoded from: the cache keeps the decoded one only (and an
        // emptied memory must not come back from its stored form). Usually only a client's first batch after a
        // load holds such an entry.
        var state = state
        for pluginId in state.liveMemory.values.keys where plugins[pluginId] != nil && state.memory[pluginId] != nil {
            state.memory[pluginId] = nil
        }
        var update = DispatchCommit.ClientUpdate(state: state, changes: changes)
        update.balances = balances
        // The memory column is written straight from the live memories (and the stored ones no plugin decoded),
        // without building their JSON trees.
        try update.encode { output in writeMemory(of: state, plugins: plugins, into: &output) }
        update.state.liveMemory = LiveMemories()
        return (update, state)
    }

    /// Appends the client's `memory` column: the object of every plugin's memory, keys sorted, as ``JSONWriter``
    /// writes it. A live memory whose plugin is loaded is written from its decoded form (an empty one is left out,
    /// with any stored form it replaced); any other is written as stored. False when there is nothing to write.
    static func writeMemory(of state: ClientState, plugins: PluginsById, into output: inout String) -> Bool {
        let live = state.liveMemory.values, stored = state.memory
        // A live memory whose plugin is loaded is written from it; every other stored one as stored.
        var ids: [String] = []
        ids.reserveCapacity(live.count + stored.count)
        for id in live.keys where plugins[id] != nil { ids.append(id) }
        for id in stored.keys where live[id] == nil || plugins[id] == nil { ids.append(id) }
        if ids.count > 1 { ids.sort() }
        var members = 0
        for pluginId in ids {
            let start = output.utf8.count
            var opened = members
            JSONWriter.writeMemberName(pluginId, members: &opened, into: &output)
            if let memory = live[pluginId], let entry = plugins[pluginId] {
                guard entry.plugin.writeStoredMemory(memory, into: &output) else {
                    // Empty: nothing of it is written (the plugin wrote nothing either).
                    output = String(output.utf8.prefix(start)) ?? ""
                    continue
                }
            } else if let value = stored[pluginId] {
                JSONWriter.write(value, into: &output)
            }
            members = opened
        }
        if members > 0 { output += "}" }
        return members > 0
    }
}

/// The loaded plugins by id, each behind one reference: a lookup for every client written then retains one object,
/// not each of the plugin's closures.
final class PluginsById: Sendable {
    final class Entry: Sendable {
        let plugin: LoadedPlugin

        init(_ plugin: LoadedPlugin) {
            self.plugin = plugin
        }
    }

    private let entries: [String: Entry]

    init(_ plugins: [LoadedPlugin]) {
        entries = Dictionary(plugins.map { ($0.id, Entry($0)) }, uniquingKeysWith: { first, _ in first })
    }

    subscript(id: String) -> Entry? { entries[id] }
}
