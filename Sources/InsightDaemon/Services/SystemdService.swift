import Logging
import ServiceLifecycle

/// Tells systemd the daemon is ready, feeds the watchdog while the pipeline is alive, and says
/// `STOPPING=1` when a graceful shutdown begins.
public struct SystemdService: Service {
    let notifier: SystemdNotifier
    let heartbeat: Heartbeat
    let listening: ReadyGate
    let logger: Logger

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
                if heartbeat.isFresh(within: interval * 2) {
                    notifier.notify("WATCHDOG=1")
                } else {
                    logger.warning("pipeline made no progress; withholding the watchdog ping so systemd restarts it")
                }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
        } else {
            try? await gracefulShutdown()
        }
        notifier.notify("STOPPING=1")
    }
}
