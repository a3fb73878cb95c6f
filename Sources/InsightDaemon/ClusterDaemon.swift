import Foundation
import InsightCore
import InsightDelivery
import InsightEngine
import InsightHTTP
import InsightIngest
import InsightPostgres
import InsightStore
import Logging
import Metrics
import ServiceLifecycle

/// The composition root on the shared PostgreSQL store (`store.kind: postgres`): one instance of a cluster of any size.
///
/// Every instance accepts webhooks and inbox files into the shared journal (an inbox file is read by one instance at a
/// time, under a lock on its name), dispatches the partitions it holds leases on (``ClusterMember``), runs a plugin's
/// daily tick only if no other instance has that day's, applies `retention:` once per cluster and day, and sends
/// deliveries it claims from the shared outbox. Any instance serves the whole leads API from the shared store.
public struct ClusterDaemon: Sendable {
    public let configuration: LoadedConfiguration
    public let store: PostgresStore
    public let member: ClusterMember
    public let settings: SettingsBox
    public let wake: WakeSignal
    public let heartbeat: Heartbeat
    public let outboxHeartbeat: Heartbeat
    public let health: HealthBoard
    public let ingestQueue: IngestQueue
    public let outbox: OutboxService
    let listening: ReadyGate
    let timeSource: any TimeSource
    let logger: Logger
    let environment: [String: String]

    /// The name a day's retention pass is claimed under, beside the plugins' ticks.
    static let retentionClaim = "insightd.retention"

    public struct NoStore: Error, CustomStringConvertible {
        public var description: String { "store.kind is postgres but its url did not resolve (see insightd check)" }
    }

    public static func build(configuration: LoadedConfiguration, logger: Logger, timeSource: any TimeSource = SystemTimeSource(),
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ClusterDaemon {
        guard let postgres = configuration.postgresSettings else { throw NoStore() }
        let store = PostgresStore(settings: postgres, logger: logger.component("store"))
        let settings = SettingsBox(configuration.pipelineSettings)
        let cluster = configuration.clusterSettings
        let tuning = configuration.config.dispatcher
        let dispatcherLogger = logger.component("dispatcher")
        let member = ClusterMember(store: store, settings: cluster, now: { timeSource.now() }, logger: logger.component("cluster")) { view in
            // State is written at checkpoints (`dispatcher.state_checkpoint`), each partition's with its state position:
            // a partition's next holder handles its events again from there, leaving out the leads already made.
            try Dispatcher(database: view, settings: settings, clock: .live(timeSource), shards: tuning.shards,
                           batchSize: tuning.batchSize, cacheCapacity: tuning.clientCache,
                           // With every batch while an instance of an older release shares the store (a rolling upgrade).
                           stateWrites: view.stateCheckpointsAllowed ? tuning.stateWrites : .everyBatch,
                           logger: dispatcherLogger)
        }
        let wake = WakeSignal()
        let queue = IngestQueue(database: store, logger: logger.component("ingest"), onCommitted: { wake.wake() })
        let outboxHeartbeat = Heartbeat()
        let outbox = try Daemon.outboxService(configuration, store: store, instance: cluster.instance, timeSource: timeSource,
                                              logger: logger, heartbeat: outboxHeartbeat)
        return ClusterDaemon(configuration: configuration, store: store, member: member, settings: settings, wake: wake,
                             heartbeat: Heartbeat(), outboxHeartbeat: outboxHeartbeat, health: HealthBoard(),
                             ingestQueue: queue, outbox: outbox, listening: ReadyGate(), timeSource: timeSource,
                             logger: logger, environment: environment)
    }

    /// The long-running parts, in start order (they stop in reverse).
    public func services(loader: ConfigLoader = ConfigLoader()) -> [any Service] {
        let member = self.member
        let store = self.store
        let outbox = self.outbox
        return [
            ClusterService(member: member, wake: wake, heartbeat: heartbeat, health: health,
                           pollInterval: configuration.config.dispatcher.pollInterval.duration,
                           logger: logger.component("cluster"), onProgress: { outbox.newLeads.wake() }),
            outbox,
            SchedulerService(ranDates: { plugin, since in try await store.scheduleRuns(plugin: plugin, since: since) },
                             runTick: { tick, plugin in
                                 let leads = try await member.runTick(tick, plugin: plugin)
                                 if leads?.isEmpty == false { outbox.newLeads.wake() }
                                 return leads
                             },
                             settings: settings, timeSource: timeSource, logger: logger.component("scheduler")),
            // Once per cluster and day: the instance that claims the day's pass (as a plugin's tick is claimed).
            RetentionService(prune: { cutoffs, now in
                                 (try await store.prune(cutoffs, now: now, partitions: member.settings.partitions), false)
                             },
                             claim: { day in
                                 // Held for an hour and marked done once the pass succeeds: a pass that failed (or whose
                                 // instance died) is claimed again an hour later, by whichever instance retries first.
                                 let now = timeSource.now()
                                 return try await store.claimTick(plugin: Self.retentionClaim, localDate: day.description,
                                                                  instance: member.memberId, now: now,
                                                                  until: now.addingTimeInterval(3600))
                             },
                             finish: { day in
                                 try await store.finishTick(plugin: Self.retentionClaim, localDate: day.description,
                                                            instance: member.memberId)
                             },
                             retention: configuration.config.retention, timeZone: configuration.config.timeZone,
                             timeSource: timeSource, logger: logger.component("retention")),
            ingestQueue,
        ] + inboxWatchers() + [
        ] + Daemon.frontServices(configuration, server: httpServer(), loader: loader, settings: settings, outbox: outbox,
                                 heartbeats: [("dispatcher", heartbeat), ("outbox", outboxHeartbeat)], listening: listening,
                                 health: health, environment: environment, logger: logger)
    }

    /// One watcher per `kind: inbox` source, each taking a file only while no other instance reads it.
    public func inboxWatchers() -> [InboxWatcher] {
        let wake = self.wake
        return Daemon.inboxSettings(configuration).map { settings in
            InboxWatcher(settings: settings, sink: store, health: health, logger: logger.component("inbox"),
                         onCommitted: { wake.wake() })
        }
    }

    public func httpServer() -> HTTPServer {
        let config = configuration.config
        let store = self.store
        let member = self.member
        let outbox = self.outbox
        let timeSource = self.timeSource
        let readiness = StoreReadiness { detailed in
            do {
                // A load balancer's probe: one round trip. The cluster's status (its lag counts journal rows) is for
                // callers with the read or admin scope.
                guard detailed else {
                    try await store.ping()
                    return (nil, nil)
                }
                let status = try await store.clusterStatus(now: timeSource.now())
                return (nil, Self.statusJSON(status, instance: member.settings.instance, member: member.memberId))
            } catch {
                return ("store: \(error)", nil)
            }
        }
        return HTTPServer(
            settings: .init(host: config.listen.host, port: config.listen.port, maximumBodyBytes: config.http.maxBodyBytes,
                            limits: Daemon.serverLimits(config.http, descriptorLimit: DescriptorUse.current()?.limit, logger: logger)),
            authenticator: Daemon.authenticator(configuration), leads: store, journal: store, queue: ingestQueue,
            ticks: ClusterTicks(store: store, member: member, outbox: outbox), readiness: readiness, pipeline: settings, health: health, timeSource: timeSource,
            logger: logger.component("http"), timeZone: config.timeZone, outboxChanged: { outbox.wakeLanes() },
            receiverNames: Set(config.receivers.map(\.name)),
            metrics: .init(registry: DaemonMetrics.registry, refresh: {
                if let status = try? await store.clusterStatus(now: timeSource.now()) {
                    Gauge(label: "insightd_journal_head").record(status.journalHead)
                    Gauge(label: "insightd_journal_lag_events").record(status.lag)
                    Gauge(label: "insightd_state_checkpoint_lag_events").record(status.stateLag)
                    Gauge(label: "insightd_cluster_instances_alive").record(status.instances.count(where: \.alive))
                    Gauge(label: "insightd_cluster_partitions_unowned").record(status.partitions.count { $0.owner == nil })
                }
                try? await outbox.publishGauges()
                if let rss = DaemonMetrics.residentBytes() { Gauge(label: "insightd_process_resident_memory_bytes").record(rss) }
            }))
    }

    /// `/readyz`'s `store` member (read or admin scope): this instance, every instance's partitions, the lag, the
    /// tick leaders.
    static func statusJSON(_ status: ClusterStatus, instance: String, member: String?) -> JSONValue {
        var object: [String: JSONValue] = [
            "kind": .string("postgres"),
            "instance": .string(instance),
            "partitions": .number(String(status.partitionCount ?? status.partitions.count)),
            "lagEvents": .number(String(status.lag)),
            "stateLagEvents": .number(String(status.stateLag)),
            "journalHead": .number(String(status.journalHead)),
            "instances": .array(status.instances.map { item in
                .object(["name": .string(item.name), "id": .string(item.id), "alive": .bool(item.alive),
                         "partitions": .array(item.partitions.map { .number(String($0)) })])
            }),
            "unownedPartitions": .array(status.partitions.filter { $0.owner == nil }.map { .number(String($0.partition)) }),
            "ticks": .array(status.ticks.map { tick in
                .object(["plugin": .string(tick.plugin), "date": .string(tick.localDate), "leader": .string(tick.leader),
                         "done": .bool(tick.done)])
            }),
        ]
        if let member { object["member"] = .string(member) }
        return .object(object)
    }

    /// Waits (up to twice `lease_timeout`) for another live run of this instance's name to go: a previous run that
    /// crashed has a heartbeat that expires; a second process configured with the same name does not, and this one then
    /// stops before it ingests or sends anything.
    func waitForPreviousRun() async throws {
        let deadline = ContinuousClock.now + member.settings.leaseTimeout * 2
        var warned = false
        while true {
            let others = try await store.aliveInstances(now: timeSource.now()).filter {
                $0 != member.memberId && ClusterMember.instanceName(of: $0) == member.settings.instance
            }
            guard !others.isEmpty else { return }
            guard ContinuousClock.now < deadline else { throw ClusterMember.DuplicateInstance(others: others) }
            if !warned {
                logger.warning("another run of this instance is alive; waiting for its heartbeat to expire",
                               metadata: ["cluster.instance": "\(member.settings.instance)", "cluster.others": "\(others)"])
                warned = true
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Starts the store's pool, migrates it (once across instances starting together), checks the partition count, and
    /// runs until SIGTERM or SIGINT.
    public func run() async throws {
        let pool = Task { await store.run() }
        defer { pool.cancel() }
        try await store.migrate()
        try await store.agreePartitions(member.settings.partitions)
        try await waitForPreviousRun()
        let enabled = configuration.plugins.filter(\.enabled).map(\.id)
        logger.info("insightd starting", metadata: [
            "config.path": "\(configuration.configPath)", "store": "\(store.settings.redacted)",
            "cluster.instance": "\(member.settings.instance)", "cluster.partitions": "\(member.settings.partitions)",
            "cluster.lease_timeout": "\(member.settings.leaseTimeout)", "plugins.enabled": "\(enabled.joined(separator: ","))",
        ])
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services().map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger.component("lifecycle")))
        try await group.run()
        logger.info("insightd stopped cleanly", metadata: ["cluster.instance": "\(member.settings.instance)"])
    }
}

/// `POST /v1/admin/tick` in a cluster: it waits for every partition (whoever holds it) to pass the events journaled
/// before the request, then runs the ticks on this instance, whether or not another instance ran that day's.
struct ClusterTicks: TickRunner {
    let store: PostgresStore
    let member: ClusterMember
    let outbox: OutboxService

    func unhandled(upTo head: Int64) async throws -> Int64 {
        try await store.unhandledEvents(upTo: head)
    }

    func runTick(_ tick: ScheduleTick, plugin: String) async throws -> [Lead] {
        guard let leads = try await member.runTick(tick, plugin: plugin, claimed: false) else {
            var problem = Problem(.serviceUnavailable, "Service Unavailable",
                                  detail: "this instance holds no partition yet (it is starting or the cluster is rebalancing); "
                                      + "try again shortly or on another instance")
            problem.headers[.retryAfter] = "5"
            throw problem
        }
        if !leads.isEmpty { outbox.newLeads.wake() }
        return leads
    }
}
