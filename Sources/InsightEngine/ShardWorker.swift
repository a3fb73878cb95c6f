import Foundation
import InsightCore
import InsightStore
import Logging

/// Handles one shard's events of a batch, in order: projects each into its client's state, then offers it
/// to every subscribed plugin. Pure apart from plugin reads of committed state; runs concurrently with the
/// other shards.
struct ShardWorker: Sendable {
    struct Output: Sendable {
        var states: [String: ClientState]
        var changes: [String: Set<StateChange>] = [:]
        var leads: [(lead: Lead, sequence: Int64?)] = []
        var failures: [DispatchCommit.Failure] = []
    }

    var states: [String: ClientState]
    /// The manager directory as of this batch (its updates are applied before the shards run).
    let managers: [String: ManagerState]
    let plugins: [LoadedPlugin]
    let clock: DispatchClock
    let settings: PipelineSettings
    let reader: StoreStateReader
    let logger: Logger

    func run(_ events: [Event]) -> Output {
        var output = Output(states: states)
        for event in events {
            var client: ClientState?
            if let id = event.clientId {
                var state = output.states[id] ?? ClientState(id: id)
                let changes = state.apply(event)
                output.states[id] = state
                output.changes[id, default: []].formUnion(changes)
                client = state
            }
            let subscribed = plugins.filter { $0.subscribes(to: event.type) }
            guard !subscribed.isEmpty else { continue }
            let now = clock.now(for: event)
            for plugin in subscribed {
                let context = PluginContext(now: now, timeZone: settings.timeZone, locale: settings.locale,
                                            logger: logger.with(plugin: plugin.id), state: reader, client: client)
                do {
                    for draft in try plugin.handle(event, context: context) {
                        var leadClient = client
                        if let other = draft.clientId, other != client?.id {
                            leadClient = try output.states[other] ?? reader.client(other)
                        }
                        let managerId = draft.managerId ?? leadClient?.profile.managerId
                        let manager = try managerId.flatMap { try managers[$0] ?? reader.manager($0) }
                        let lead = draft.complete(plugin: plugin.id, client: leadClient, manager: manager, now: now)
                        output.leads.append((lead, event.sequence))
                    }
                } catch {
                    output.failures.append(.init(plugin: plugin.id, journalSequence: event.sequence, eventId: event.id,
                                                 error: "\(error)"))
                }
            }
        }
        return output
    }
}
