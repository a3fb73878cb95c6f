import Foundation
import Hummingbird
import InsightCore
import InsightEngine
import InsightStore
import Logging

/// Builds the Hummingbird application from its parts. The daemon runs it as a Service; tests drive the same
/// router with `app.test(.router)` or over loopback.
public struct HTTPServer: Sendable {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        public var maximumBodyBytes: Int

        public init(host: String = "127.0.0.1", port: Int = 8080, maximumBodyBytes: Int = 10 * 1024 * 1024) {
            self.host = host
            self.port = port
            self.maximumBodyBytes = maximumBodyBytes
        }
    }

    let settings: Settings
    let authenticator: Authenticator
    let database: AppDatabase
    let queue: IngestQueue
    let dispatcher: Dispatcher
    let pipeline: SettingsBox
    let health: HealthBoard
    let timeSource: any TimeSource
    let logger: Logger
    let timeZone: TimeZone
    let outboxChanged: @Sendable () -> Void
    let receiverNames: Set<String>

    public init(settings: Settings, authenticator: Authenticator, database: AppDatabase, queue: IngestQueue,
                dispatcher: Dispatcher, pipeline: SettingsBox, health: HealthBoard,
                timeSource: any TimeSource = SystemTimeSource(), logger: Logger,
                timeZone: TimeZone = TimeZone(identifier: "Asia/Shanghai") ?? .current,
                outboxChanged: @escaping @Sendable () -> Void = {}, receiverNames: Set<String> = []) {
        self.settings = settings
        self.authenticator = authenticator
        self.database = database
        self.queue = queue
        self.dispatcher = dispatcher
        self.pipeline = pipeline
        self.health = health
        self.timeSource = timeSource
        self.logger = logger
        self.timeZone = timeZone
        self.outboxChanged = outboxChanged
        self.receiverNames = receiverNames
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        EventsController(authenticator: authenticator, database: database, queue: queue,
                         maximumBodyBytes: settings.maximumBodyBytes, timeSource: timeSource).register(on: router)
        AdminController(authenticator: authenticator, dispatcher: dispatcher, settings: pipeline).register(on: router)
        LeadsController(authenticator: authenticator, database: database, timeZone: timeZone, timeSource: timeSource,
                        outboxChanged: outboxChanged, receiverNames: receiverNames).register(on: router)
        HealthController(database: database, health: health).register(on: router)
        OpenAPIDocument.register(on: router)
        return router
    }

    /// The application; `onListening` gets the bound port (useful with port 0).
    public func application(onListening: @escaping @Sendable (Int) -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: router(),
                    configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "insightd"),
                    onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
                    logger: logger)
    }
}
