import Foundation
import InsightDelivery
import InsightStore
import Metrics
import Prometheus
import Synchronization

/// The process's metrics: swift-metrics backed by one Prometheus registry, which `GET /metrics` exposes.
public enum DaemonMetrics {
    public static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    /// Makes swift-metrics record into ``registry``. Once per process (swift-metrics allows one bootstrap);
    /// later calls do nothing.
    public static func bootstrap() {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        var factory = PrometheusMetricsFactory(registry: registry)
        // Prometheus names are [a-zA-Z_:][a-zA-Z0-9_:]*; libraries use dotted names (http.server.request.duration).
        factory.nameAndLabelSanitizer = { name, labels in
            (sanitize(name), labels.map { (sanitize($0.0), $0.1) })
        }
        MetricsSystem.bootstrap(factory)
    }

    static func sanitize(_ name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") ? $0 : "_" })
    }

    /// The gauges read at scrape time: journal lag (head − the dispatcher's position), how far the client state
    /// in the database is behind it (events since the last state checkpoint), the outbox's depth and oldest pending
    /// age, and the process's resident memory.
    static func refresh(database: AppDatabase, position: Int64, statePosition: Int64, outbox: OutboxService) async {
        if let head = try? database.journalHead() {
            Gauge(label: "insightd_journal_lag_events").record(max(0, head - position))
            Gauge(label: "insightd_journal_head").record(head)
        }
        Gauge(label: "insightd_state_checkpoint_lag_events").record(max(0, position - statePosition))
        try? await outbox.publishGauges()
        if let rss = residentBytes() { Gauge(label: "insightd_process_resident_memory_bytes").record(rss) }
    }

    /// Resident set size from /proc/self/statm (pages × page size); nil where /proc is absent.
    static func residentBytes() -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int64(fields[1]) else { return nil }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }
}
