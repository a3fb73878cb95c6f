import Hummingbird
import InsightCore
import InsightHTTP
import Logging
import ServiceLifecycle

/// Runs the Hummingbird application; opens the ready gate once the listener is bound.
struct HTTPService: Service {
    let server: HTTPServer
    let listening: ReadyGate
    let health: HealthBoard
    let logger: Logger

    func run() async throws {
        health.report("http", .starting)
        let app = server.application { port in
            health.report("http", .running)
            logger.info("http listening", metadata: ["http.port": "\(port)"])
            listening.open()
        }
        do {
            // `run()`, not `runService()`: the latter adds its own ServiceGroup and SIGTERM handler, so the
            // server would stop before the daemon's group asks it to, out of order.
            try await app.run()
        } catch {
            health.report("http", .failed("\(error)"))
            logger.error("http server failed", metadata: ["error": "\(error)"])
            throw error
        }
    }
}
