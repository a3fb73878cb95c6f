import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import InsightCore
import InsightEngine
import InsightStore
import Logging
import Prometheus

/// Builds the Hummingbird application from its parts. The daemon runs it as a Service; tests drive the same
/// router with `app.test(.router)` or over loopback.
public struct HTTPServer: Sendable {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        public var maximumBodyBytes: Int
        /// How long `POST /v1/admin/tick` waits for the dispatcher to handle the events journaled before it.
        public var tickCatchUp: Duration
        public var limits: ServerLimits

        public init(host: String = "127.0.0.1", port: Int = 8080, maximumBodyBytes: Int = 10 * 1024 * 1024,
                    tickCatchUp: Duration = .seconds(30), limits: ServerLimits = ServerLimits()) {
            self.host = host
            self.port = port
            self.maximumBodyBytes = maximumBodyBytes
            self.tickCatchUp = tickCatchUp
            self.limits = limits
        }
    }

    public let settings: Settings
    let authenticator: Authenticator
    /// The store the leads API runs on: the embedded SQLite or the shared PostgreSQL.
    let leads: any LeadsStore
    let journal: any JournalStore
    let queue: IngestQueue
    /// What runs `POST /v1/admin/tick`: the single instance's dispatcher, or this instance's cluster member.
    let ticks: any TickRunner
    let readiness: StoreReadiness
    let pipeline: SettingsBox
    let health: HealthBoard
    let timeSource: any TimeSource
    let logger: Logger
    let timeZone: TimeZone
    let outboxChanged: @Sendable () -> Void
    let receiverNames: Set<String>
    let metrics: MetricsEndpoint
    /// The open connections, for `/metrics` and `/readyz`.
    public let connections = ConnectionGauge()
    let bodies: BodyAdmission
    /// Requests on `POST /v1/events` holding a body now.
    public var bodiesInFlight: Int { bodies.current }
    /// The weight the bodies in flight hold of `http.max_body_bytes_in_flight`: their bytes, and their items once decoded.
    public var bodyBytesInFlight: Int { bodies.currentBytes }

    /// What `GET /metrics` exposes, and the gauges it refreshes first.
    public struct MetricsEndpoint: Sendable {
        public var registry: PrometheusCollectorRegistry
        public var refresh: @Sendable () async -> Void

        public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), refresh: @escaping @Sendable () async -> Void = {}) {
            self.registry = registry
            self.refresh = refresh
        }
    }

    public init(settings: Settings, authenticator: Authenticator, database: AppDatabase, queue: IngestQueue,
                dispatcher: Dispatcher, pipeline: SettingsBox, health: HealthBoard,
                timeSource: any TimeSource = SystemTimeSource(), logger: Logger,
                timeZone: TimeZone = TimeZone(identifier: "Asia/Shanghai") ?? .current,
                outboxChanged: @escaping @Sendable () -> Void = {}, receiverNames: Set<String> = [],
                metrics: MetricsEndpoint = MetricsEndpoint()) {
        self.init(settings: settings, authenticator: authenticator, leads: database, journal: database, queue: queue,
                  ticks: dispatcher, readiness: .sqlite(database), pipeline: pipeline, health: health,
                  timeSource: timeSource, logger: logger, timeZone: timeZone, outboxChanged: outboxChanged,
                  receiverNames: receiverNames, metrics: metrics)
    }

    /// A server over any store.
    public init(settings: Settings, authenticator: Authenticator, leads: any LeadsStore, journal: any JournalStore,
                queue: IngestQueue, ticks: any TickRunner, readiness: StoreReadiness, pipeline: SettingsBox,
                health: HealthBoard, timeSource: any TimeSource, logger: Logger, timeZone: TimeZone,
                outboxChanged: @escaping @Sendable () -> Void, receiverNames: Set<String>, metrics: MetricsEndpoint) {
        self.settings = settings
        self.authenticator = authenticator
        self.leads = leads
        self.journal = journal
        self.queue = queue
        self.ticks = ticks
        self.readiness = readiness
        self.pipeline = pipeline
        self.health = health
        self.timeSource = timeSource
        self.logger = logger
        self.timeZone = timeZone
        self.outboxChanged = outboxChanged
        self.receiverNames = receiverNames
        self.metrics = metrics
        bodies = BodyAdmission(limit: settings.limits.maximumBodiesInFlight, byteLimit: settings.limits.maximumBodyBytesInFlight,
                               largestBody: settings.maximumBodyBytes, maximumItems: settings.limits.maximumItems)
        if bodies.byteLimit > settings.limits.maximumBodyBytesInFlight {
            logger.notice("http.max_body_bytes_in_flight raised so that one largest body fits with its items decoded", metadata: [
                "http.max_body_bytes_in_flight": "\(settings.limits.maximumBodyBytesInFlight)", "raised_to": "\(bodies.byteLimit)",
                "http.max_body_bytes": "\(settings.maximumBodyBytes)", "http.max_items": "\(settings.limits.maximumItems)",
            ])
        }
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        // Request counts and durations by route template (`http.route`), never by raw path.
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware())
        EventsController(authenticator: authenticator, journal: journal, queue: queue,
                         maximumBodyBytes: settings.maximumBodyBytes, limits: settings.limits, bodies: bodies,
                         timeSource: timeSource).register(on: router)
        AdminController(authenticator: authenticator, runner: ticks, journal: journal, settings: pipeline,
                        catchUp: settings.tickCatchUp).register(on: router)
        LeadsController(authenticator: authenticator, store: leads, timeZone: timeZone, timeSource: timeSource,
                        outboxChanged: outboxChanged, receiverNames: receiverNames, settings: pipeline).register(on: router)
        HealthController(store: readiness, health: health, authenticator: authenticator, connections: connections,
                         maximumConnections: settings.limits.maximumConnections).register(on: router)
        MetricsController(registry: metrics.registry, refresh: metrics.refresh).register(on: router)
        OpenAPIDocument.register(on: router)
        return router
    }

    /// The application; `onListening` gets the bound port (useful with port 0). HTTP/1.1 with the request
    /// deadlines and the connection limit of ``Settings/limits``.
    public func application(onListening: @escaping @Sendable (Int) -> Void = { _ in }) -> some ApplicationProtocol {
        let limits = settings.limits
        let connections = connections
        return Application(router: router(),
                           server: HTTPServerBuilder { responder in
                               DeadlineHTTP1Channel(responder: responder, limits: limits, gauge: connections)
                           },
                           configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "insightd",
                                                availableConnectionsDelegate: ConnectionLimit(gauge: connections,
                                                                                              maximum: limits.maximumConnections)),
                           onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
                           logger: logger)
    }
}
