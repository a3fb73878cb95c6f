import Foundation
import InsightEngine
import Logging
import ServiceLifecycle
import UnixSignals

/// SIGHUP: load and validate the configuration again; swap it in when it is good, keep the running one
/// (and say why) when it is not.
public struct ReloadService: Service, CustomStringConvertible {
    /// What service-lifecycle logs for this service: its name, not the whole configuration it holds.
    public var description: String { "ReloadService(\(configPath))" }

    let configPath: String
    let loader: ConfigLoader
    let settings: SettingsBox
    let running: LoadedConfiguration
    let notifier: SystemdNotifier
    let logger: Logger
    let environment: @Sendable () -> [String: String]
    /// Applies what else a good new configuration changes (the outbox's routes and retry policy).
    let onReload: @Sendable (LoadedConfiguration) -> Void

    public init(configPath: String, loader: ConfigLoader, settings: SettingsBox, running: LoadedConfiguration,
                notifier: SystemdNotifier, logger: Logger, environment: @escaping @Sendable () -> [String: String],
                onReload: @escaping @Sendable (LoadedConfiguration) -> Void = { _ in }) {
        self.configPath = configPath
        self.loader = loader
        self.settings = settings
        self.running = running
        self.notifier = notifier
        self.logger = logger
        self.environment = environment
        self.onReload = onReload
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())")
            reload()
            notifier.notify("READY=1")
        }
    }

    /// Returns true when the new configuration was applied.
    @discardableResult
    public func reload() -> Bool {
        do {
            let loaded = try loader.load(path: configPath, environment: environment())
            settings.replace(with: loaded.pipelineSettings)
            onReload(loaded)
            for warning in loaded.warnings { logger.warning("\(warning)") }
            let restartNeeded = [
                loaded.stateDirectory != running.stateDirectory ? "state_dir" : nil,
                loaded.config.listen != running.config.listen ? "listen" : nil,
                loaded.config.dispatcher.shards != running.config.dispatcher.shards ? "dispatcher.shards" : nil,
                loaded.config.dispatcher.batchSize != running.config.dispatcher.batchSize ? "dispatcher.batch_size" : nil,
                loaded.config.dispatcher.clientCache != running.config.dispatcher.clientCache ? "dispatcher.client_cache" : nil,
                loaded.config.dispatcher.stateCheckpoint != running.config.dispatcher.stateCheckpoint
                    ? "dispatcher.state_checkpoint" : nil,
                loaded.config.storage.memoryUse != running.config.storage.memoryUse ? "storage" : nil,
                "\(loaded.config.http)" != "\(running.config.http)" ? "http" : nil,
                "\(loaded.config.receivers)" != "\(running.config.receivers)" ? "receivers" : nil,
                loaded.config.delivery.templatesDir != running.config.delivery.templatesDir ? "delivery.templates_dir" : nil,
                loaded.config.delivery.concurrency != running.config.delivery.concurrency ? "delivery.concurrency" : nil,
                // Message templates keep the locale they were built with; lead texts follow the new one at once.
                loaded.config.locale != running.config.locale ? "locale (message templates)" : nil,
            ].compactMap { $0 }
            if !restartNeeded.isEmpty {
                logger.warning("reloaded, but these settings take effect only after a restart", metadata: [
                    "config.keys": "\(restartNeeded.joined(separator: ", "))",
                ])
            }
            logger.info("configuration reloaded", metadata: [
                "config.path": "\(configPath)",
                "plugins.enabled": "\(loaded.plugins.filter(\.enabled).map(\.id).joined(separator: ","))",
            ])
            return true
        } catch {
            logger.error("reload refused; the running configuration stays in force", metadata: [
                "config.path": "\(configPath)", "errors": "\(error.description)",
            ])
            return false
        }
    }
}
