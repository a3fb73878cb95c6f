import Hummingbird
import Prometheus

/// `GET /metrics`: Prometheus text exposition of every swift-metrics metric the process records, after the
/// gauges that are read at scrape time (journal lag, outbox depth, RSS) are refreshed.
struct MetricsController: Sendable {
    let registry: PrometheusCollectorRegistry
    let refresh: @Sendable () async -> Void

    func register(on router: Router<BasicRequestContext>) {
        router.get("/metrics") { _, _ -> Response in
            await refresh()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }
}
