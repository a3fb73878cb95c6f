import Foundation
import InsightCore
import InsightEngine
import Logging
import ServiceLifecycle

/// A cluster instance's dispatching: keeps its partition leases (renewed every ``ClusterSettings/renewInterval``, on a
/// task of their own so that a long backlog never lets them lapse) and dispatches the partitions it holds. Another
/// instance's events arrive without a signal here: an idle instance looks again every `pollInterval`. On graceful
/// shutdown the batch in hand commits, and the leases are given back so that the others take the partitions at once.
public struct ClusterService: Service {
    let member: ClusterMember
    let wake: WakeSignal
    let heartbeat: Heartbeat
    let health: HealthBoard
    let pollInterval: Duration
    let logger: Logger
    /// Called after a round that handled events (the outbox routes the leads they made).
    var onProgress: @Sendable () -> Void = {}

    public func run() async throws {
        health.report("cluster", .starting)
        let keeper = Task { await keepLeases() }
        let member = self.member
        await DispatcherService.rounds(wake: wake, heartbeat: heartbeat, pollInterval: pollInterval, logger: logger,
                                       onProgress: onProgress) {
            try await member.dispatch(maximumBatches: 8)
        }
        keeper.cancel()
        await keeper.value
        do {
            try await member.leave()
            logger.info("cluster leases given back", metadata: ["cluster.instance": "\(member.settings.instance)"])
        } catch {
            logger.warning("the leases were not given back; the others take the partitions after lease_timeout",
                           metadata: ["error": "\(error)"])
        }
    }

    /// Renews until cancelled. A failed renewal (the store unreachable) is retried at the next interval; meanwhile the
    /// leases run out, and commits under them are refused by the fence.
    private func keepLeases() async {
        var healthy = false
        while !Task.isCancelled {
            do {
                let held = try await member.renewLeases()
                if !healthy { logger.info("cluster member renewing its leases", metadata: ["cluster.partitions": "\(held.count)"]) }
                healthy = true
                health.report("cluster", .running)
                wake.wake()  // partitions may have come: dispatch them now
            } catch {
                healthy = false
                health.report("cluster", .failed("lease renewal: \(error)"))
                logger.error("cluster lease renewal failed; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: member.settings.renewInterval)
        }
    }
}
