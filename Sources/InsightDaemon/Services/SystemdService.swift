import Logging
import ServiceLifecycle

/// Tells systemd the daemon is ready, feeds the watchdog while the pipeline is alive, and says
/// `STOPPING=1` when a graceful shutdown begins.
public struct SystemdService: Service {
    let notifier: SystemdNotifier
    /// Every loop that must make progress (or be idle with nothing to do): the dispatcher and the outbox.
    let heartbeats: [(name: String, heartbeat: Heartbeat)]
    let listening: ReadyGate
    let logger: Logger

    public init(notifier: SystemdNotifier, heartbeats: [(name: String, heartbeat: Heartbeat)], listening: ReadyGate, logger: Logger) {
        self.notifier = notifier
        self.heartbeats = heartbeats
        self.listening = listening
        self.logger = logger
    }

    public func run() async throws {
        guard notifier.isActive else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown { await listening.wait() }
        guard !Task.isShuttingDownGracefully else {
            notifier.notify("STOPPING=1")
            return
        }
        notifier.notify("READY=1\nSTATUS=processing events")
        logger.info("notified systemd: ready")
        if let interval = notifier.watchdogInterval {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let stalled = heartbeats.filter { !$0.heartbeat.isFresh(within: interval * 2) }.map(\.name)
                if stalled.isEmpty {
                    notifier.notify("WATCHDOG=1")
                } else {
                    logger.warning("pipeline made no progress; withholding the watchdog ping so systemd restarts it",
                                   metadata: ["stalled": "\(stalled.joined(separator: ","))"])
                }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
        } else {
            try? await gracefulShutdown()
        }
        notifier.notify("STOPPING=1")
    }
}
