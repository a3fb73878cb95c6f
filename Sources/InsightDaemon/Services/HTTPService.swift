import Hummingbird
import InsightCore
import InsightHTTP
import Logging
import ServiceLifecycle

/// Runs the Hummingbird application; opens the ready gate once the listener is bound.
///
/// On graceful shutdown Hummingbird stops accepting and waits for the requests in progress. A request whose client
/// stalls would keep it waiting for ever (and systemd would SIGKILL the daemon before its WAL checkpoint): after
/// `http.shutdown_grace` the server is cancelled, which closes every connection still open.
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
            let grace = server.settings.limits.shutdownGrace
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.run() }
                group.addTask {
                    // Returns when graceful shutdown begins (throws if this task is cancelled first).
                    try await gracefulShutdown()
                    try await Task.sleep(for: grace)
                    logger.warning("closing the HTTP connections still open after http.shutdown_grace",
                                   metadata: ["http.shutdown_grace": "\(grace)"])
                }
                // The first to finish: the server (it stopped), or the grace (it did not, in time); the other goes.
                _ = try await group.next()
                group.cancelAll()
            }
        } catch is CancellationError {
            return
        } catch {
            health.report("http", .failed("\(error)"))
            logger.error("http server failed", metadata: ["error": "\(error)"])
            throw error
        }
    }
}
