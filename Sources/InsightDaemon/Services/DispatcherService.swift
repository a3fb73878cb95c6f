import InsightCore
import InsightEngine
import Logging
import ServiceLifecycle

/// Runs the dispatcher until graceful shutdown. A shutdown request lets the current batch finish and
/// commit; nothing is cut off mid-transaction.
public struct DispatcherService: Service {
    let dispatcher: Dispatcher
    let wake: WakeSignal
    let heartbeat: Heartbeat
    let pollInterval: Duration
    let logger: Logger
    /// Called after a drain that handled events (the outbox routes the leads they made).
    var onProgress: @Sendable () -> Void = {}

    public func run() async throws {
        let dispatcher = self.dispatcher
        // A bounded drain, so the heartbeat (and a shutdown request) is seen between rounds.
        await Self.rounds(wake: wake, heartbeat: heartbeat, pollInterval: pollInterval, logger: logger, onProgress: onProgress) {
            try await dispatcher.drain(maximumBatches: 8)
        }
        do {
            // Checkpointed state still in memory is written, so that a restart need not dispatch it again.
            try await dispatcher.flushState()
        } catch {
            logger.warning("the dispatcher's state was not written at shutdown; the next start dispatches again from its last checkpoint",
                           metadata: ["error": "\(error)"])
        }
        let position = await dispatcher.currentPosition
        let statePosition = await dispatcher.currentStatePosition
        logger.info("dispatcher stopped", metadata: ["journal.position": "\(position)", "state.position": "\(statePosition)"])
    }
}

extension DispatcherService {
    /// Runs `round` until graceful shutdown: after a round that handled events at once (and `onProgress`), after an
    /// idle one when woken or after `pollInterval`, after a failed one with a backoff that doubles up to 30 s.
    static func rounds(wake: WakeSignal, heartbeat: Heartbeat, pollInterval: Duration, logger: Logger,
                       onProgress: @Sendable () -> Void, _ round: () async throws -> Int) async {
        var failures = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let handled = try await round()
                failures = 0
                heartbeat.beat()
                if handled > 0 { onProgress() }
                if handled == 0 {
                    await cancelWhenGracefulShutdown { await wake.wait(timeout: pollInterval) }
                }
            } catch {
                failures += 1
                let backoff = Duration.milliseconds(min(30_000, 250 * (1 << min(failures, 7))))
                logger.error("dispatch round failed; retrying", metadata: [
                    "error": "\(error)", "retry.in": "\(backoff)", "failures": "\(failures)",
                ])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: backoff) }
            }
        }
    }
}
