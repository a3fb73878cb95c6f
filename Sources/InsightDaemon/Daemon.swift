import Foundation
import InsightCore
import InsightDelivery
import InsightEngine
import InsightHTTP
import InsightIngest
import InsightStore
import Logging
import ServiceLifecycle

/// The composition root: builds every part from a loaded configuration and runs them as one
/// `ServiceGroup`. Tests build the same daemon from a test configuration.
public struct Daemon: Sendable {
    public let configuration: LoadedConfiguration
    public let database: AppDatabase
    public let settings: SettingsBox
    public let dispatcher: Dispatcher
    public let wake: WakeSignal
    public let heartbeat: Heartbeat
    /// The outbox's sign of life: its routing loop beats on every pass, busy or idle.
    public let outboxHeartbeat: Heartbeat
    public let health: HealthBoard
    public let ingestQueue: IngestQueue
    /// Routes new leads into the outbox and sends them.
    public let outbox: OutboxService
    /// Opened when the HTTP listener is bound; systemd hears READY=1 only then.
    let listening: ReadyGate
    let lock: StateLock
    let timeSource: any TimeSource
    let logger: Logger
    let environment: [String: String]

    /// Locks the state directory, opens the state database (migrating it) and wires the pipeline. Throws
    /// ``StoreError`` when the state directory or database is unusable, ``StateLock/Held`` when another
    /// daemon runs on the same state.
    public static func build(configuration: LoadedConfiguration, logger: Logger,
                             timeSource: any TimeSource = SystemTimeSource(),
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Daemon {
        // Lock first, so a second daemon is refused before it touches the database.
        try AppDatabase.prepareDirectory(configuration.stateDirectory)
        let lock = try StateLock(directory: configuration.stateDirectory)
        let database = try AppDatabase.open(directory: configuration.stateDirectory, memory: configuration.config.storage.memoryUse)
        let settings = SettingsBox(configuration.pipelineSettings)
        let tuning = configuration.config.dispatcher
        let dispatcher = try Dispatcher(database: database, settings: settings, clock: .live(timeSource),
                                        shards: tuning.shards, batchSize: tuning.batchSize, cacheCapacity: tuning.clientCache,
                                        stateWrites: tuning.stateWrites, logger: logger.component("dispatcher"))
        let wake = WakeSignal()
        let queue = IngestQueue(database: database, logger: logger.component("ingest"), onCommitted: { wake.wake() })
        let outboxHeartbeat = Heartbeat()
        let outbox = try outboxService(configuration, store: database, instance: OutboxService.defaultInstance,
                                       timeSource: timeSource, logger: logger, heartbeat: outboxHeartbeat)
        return Daemon(configuration: configuration, database: database, settings: settings, dispatcher: dispatcher,
                      wake: wake, heartbeat: Heartbeat(), outboxHeartbeat: outboxHeartbeat, health: HealthBoard(),
                      ingestQueue: queue, outbox: outbox,
                      listening: ReadyGate(),
                      lock: lock, timeSource: timeSource, logger: logger, environment: environment)
    }

    /// The long-running parts, in start order. They stop in reverse: systemd hears STOPPING, the HTTP
    /// server finishes its requests, the ingest queue commits what they handed it, then the pipeline stops.
    public func services(loader: ConfigLoader = ConfigLoader()) -> [any Service] {
        [
            DispatcherService(dispatcher: dispatcher, wake: wake, heartbeat: heartbeat,
                              pollInterval: configuration.config.dispatcher.pollInterval.duration,
                              logger: logger.component("dispatcher"), onProgress: { [outbox] in outbox.newLeads.wake() }),
            outbox,
            SchedulerService(dispatcher: dispatcher, database: database, settings: settings, timeSource: timeSource,
                             logger: logger.component("scheduler")),
            RetentionService(database: database, retention: configuration.config.retention,
                             timeZone: configuration.config.timeZone, timeSource: timeSource, logger: logger.component("retention")),
            ingestQueue,
        ] + inboxWatchers() + [
        ] + Self.frontServices(configuration, server: httpServer(), loader: loader, settings: settings, outbox: outbox,
                               heartbeats: [("dispatcher", heartbeat), ("outbox", outboxHeartbeat)], listening: listening,
                               health: health, environment: environment, logger: logger)
    }

    /// The outbox over `store`, with the configured receivers, routes and retry policy.
    static func outboxService(_ configuration: LoadedConfiguration, store: any OutboxStore, instance: String,
                              timeSource: any TimeSource, logger: Logger, heartbeat: Heartbeat) throws -> OutboxService {
        let config = configuration.config
        return OutboxService(
            database: store, planner: configuration.deliveryPlanner,
            receivers: try configuration.receivers(
                client: OutboundHTTP.client(connectionsPerHost: config.receivers.reduce(0) {
                    $0 + ($1.concurrency ?? config.delivery.concurrency)
                }),
                templates: configuration.messageTemplates()),
            settings: OutboxService.Settings(policy: configuration.retryPolicy, pollInterval: config.delivery.pollInterval.duration,
                                             instance: instance),
            timeSource: timeSource, logger: logger.component("outbox"), heartbeat: { heartbeat.beat() })
    }

    /// The services every daemon ends with, whatever its store: the HTTP server, SIGHUP reload, systemd's notifications.
    static func frontServices(_ configuration: LoadedConfiguration, server: HTTPServer, loader: ConfigLoader, settings: SettingsBox,
                              outbox: OutboxService, heartbeats: [(String, Heartbeat)], listening: ReadyGate, health: HealthBoard,
                              environment: [String: String], logger: Logger) -> [any Service] {
        let notifier = SystemdNotifier(environment: environment)
        return [
            HTTPService(server: server, listening: listening, health: health, logger: logger.component("http")),
            ReloadService(configPath: configuration.configPath, loader: loader, settings: settings, running: configuration,
                          notifier: notifier, logger: logger.component("reload"), environment: { environment },
                          onReload: { loaded in
                              outbox.replaceRouting(planner: loaded.deliveryPlanner, policy: loaded.retryPolicy)
                          }),
            SystemdService(notifier: notifier, heartbeats: heartbeats, listening: listening, logger: logger.component("systemd")),
        ]
    }

    /// One watcher per `kind: inbox` source.
    public func inboxWatchers() -> [InboxWatcher] {
        let wake = self.wake
        return Self.inboxSettings(configuration).map { settings in
            InboxWatcher(settings: settings, sink: database, health: health, logger: logger.component("inbox"),
                         onCommitted: { wake.wake() })
        }
    }

    /// Each `kind: inbox` source's settings.
    static func inboxSettings(_ configuration: LoadedConfiguration) -> [InboxSettings] {
        let config = configuration.config
        return config.sources.filter { $0.kind == .inbox }.compactMap { source -> InboxSettings? in
            guard let path = source.path else { return nil }
            let mappings = source.csv.map { mapping in
                CSVMapping(match: mapping.match, type: mapping.type,
                           encoding: mapping.encoding,
                           delimiter: mapping.delimiter.first ?? ",", source: mapping.source, columns: mapping.columns)
            }
            return InboxSettings(
                name: source.name, directory: configuration.absolutePath(path), mappings: mappings,
                pollInterval: source.pollInterval?.duration ?? .seconds(2),
                onDone: source.onDone == .delete ? .delete : .move, timeZone: config.timeZone)
        }
    }

    /// Who may call: webhook secrets and source tokens by source, API tokens with their scopes.
    static func authenticator(_ configuration: LoadedConfiguration) -> Authenticator {
        let config = configuration.config
        var webhookSecrets: [String: String] = [:]
        var sourceTokens: [String: String] = [:]
        for (index, source) in config.sources.enumerated() where source.kind == .webhook {
            if let secret = configuration.secrets["sources[\(index)].secret"] { webhookSecrets[source.name] = secret.value }
            if let token = configuration.secrets["sources[\(index)].token"] { sourceTokens[source.name] = token.value }
        }
        let apiTokens = config.apiTokens.enumerated().compactMap { index, token -> Authenticator.APIToken? in
            guard let secret = configuration.secrets["api_tokens[\(index)].token"] else { return nil }
            return Authenticator.APIToken(name: token.name, token: secret.value,
                                          scopes: Set(token.scopes))
        }
        return Authenticator(webhookSecrets: webhookSecrets, sourceTokens: sourceTokens, apiTokens: apiTokens)
    }

    /// The HTTP application over this daemon's parts.
    public func httpServer() -> HTTPServer {
        let config = configuration.config
        return HTTPServer(
            settings: .init(host: config.listen.host, port: config.listen.port, maximumBodyBytes: config.http.maxBodyBytes,
                            limits: Self.serverLimits(config.http, descriptorLimit: DescriptorUse.current()?.limit, logger: logger)),
            authenticator: Self.authenticator(configuration),
            database: database, queue: ingestQueue, dispatcher: dispatcher, pipeline: settings, health: health,
            timeSource: timeSource, logger: logger.component("http"), timeZone: config.timeZone,
            outboxChanged: { [outbox] in outbox.wakeLanes() }, receiverNames: Set(config.receivers.map(\.name)),
            metrics: .init(registry: DaemonMetrics.registry, refresh: { [database, dispatcher, outbox] in
                await DaemonMetrics.refresh(database: database, position: await dispatcher.currentPosition,
                                      statePosition: await dispatcher.currentStatePosition, outbox: outbox)
            }))
    }

    /// The server's limits from `http:`, with the connections kept under the descriptor limit: a quarter of the
    /// descriptors stay for the database, the inbox and outbound deliveries, whatever `max_connections` says.
    static func serverLimits(_ http: HTTPConfig, descriptorLimit: Int?, logger: Logger) -> ServerLimits {
        var connections = http.maxConnections
        if let descriptorLimit, connections > descriptorLimit * 3 / 4 {
            connections = max(1, descriptorLimit * 3 / 4)
            logger.warning("http.max_connections is over what the descriptor limit leaves for connections; lowered",
                           metadata: ["http.max_connections": "\(http.maxConnections)", "http.max_connections.effective": "\(connections)",
                                      "process.descriptor_limit": "\(descriptorLimit)"])
        }
        return ServerLimits(maximumConnections: connections, maximumConnectionsPerAddress: http.maxConnectionsPerAddress,
                            maximumBodiesInFlight: http.maxBodiesInFlight,
                            maximumBodyBytesInFlight: http.maxBodyBytesInFlight,
                            headerTimeout: http.headerTimeout.duration, bodyTimeout: http.bodyTimeout.duration,
                            idleTimeout: http.idleTimeout.duration, shutdownGrace: http.shutdownGrace.duration,
                            maximumItems: http.maxItems, listedRejections: http.maxListedRejections,
                            quarantinedPerRequest: http.maxQuarantinedPerRequest)
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully: the dispatcher finishes and commits its
    /// batch, the WAL is checkpointed, and the call returns.
    public func run() async throws {
        let enabled = configuration.plugins.filter(\.enabled).map(\.id)
        let startPosition = await dispatcher.currentPosition
        logger.info("insightd starting", metadata: [
            "config.path": "\(configuration.configPath)", "state.dir": "\(configuration.stateDirectory)",
            "timezone": "\(configuration.config.timezone)", "plugins.enabled": "\(enabled.joined(separator: ","))",
            "journal.position": "\(startPosition)", "dispatcher.state_checkpoint": "\(configuration.config.dispatcher.stateCheckpoint)",
            "storage.page_cache_mb": "\(database.memory.writerCacheMiB)", "storage.memory_map_mb": "\(database.memory.memoryMapMiB)",
        ])
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services().map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger.component("lifecycle")))
        try await group.run()
        do {
            try database.checkpoint()
        } catch {
            // Everything is already durable in the WAL; the checkpoint only tidies it up.
            logger.warning("WAL checkpoint at shutdown did not complete; it will happen on the next start",
                           metadata: ["error": "\(error)"])
        }
        let endPosition = await dispatcher.currentPosition
        logger.info("insightd stopped cleanly", metadata: ["journal.position": "\(endPosition)"])
    }
}

extension Logger {
    func component(_ name: String) -> Logger {
        var copy = self
        copy[metadataKey: "component"] = "\(name)"
        return copy
    }
}
