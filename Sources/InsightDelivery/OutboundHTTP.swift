import AsyncHTTPClient
import NIOCore
import Synchronization

/// The process's one outbound HTTP client: connection pooling for every receiver, and a connect timeout.
/// It lives as long as the process, so it never needs a shutdown; each request carries its own deadline
/// (`delivery.timeout`).
///
/// Receivers on the same host share that host's connection pool, so the pool must hold every receiver's
/// attempts at once: otherwise a receiver that hangs fills the pool and the others on its host queue behind
/// it. The first caller sizes it (the daemon passes the sum of its receivers' concurrency).
public enum OutboundHTTP {
    private static let shared = Mutex<HTTPClient?>(nil)

    public static func client(connectionsPerHost: Int = 64) -> HTTPClient {
        shared.withLock { client in
            if let client { return client }
            let created = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: HTTPClient.Configuration(
                    // A redirect would turn the POST into a GET without its body, and a 200 to that GET would
                    // count as delivered: a receiver that moved answers 3xx, which is a failure to look at.
                    redirectConfiguration: .disallow,
                    timeout: .init(connect: .seconds(15), read: .seconds(60)),
                    connectionPool: .init(idleTimeout: .seconds(60),
                                          concurrentHTTP1ConnectionsPerHostSoftLimit: max(64, connectionsPerHost)),
                    decompression: .disabled))
            client = created
            return created
        }
    }
}
