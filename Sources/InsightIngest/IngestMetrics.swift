import Metrics

/// `insightd_events_total{source, outcome}`: events received, accepted, duplicate and rejected per source
/// (webhook senders and inbox directories alike; sources are configured, so the labels are bounded).
public enum IngestMetrics {
    public static func count(source: String, received: Int, accepted: Int, duplicates: Int, rejected: Int) {
        for (outcome, value) in [("received", received), ("accepted", accepted), ("duplicate", duplicates), ("rejected", rejected)] {
            Counter(label: "insightd_events_total", dimensions: [("source", source), ("outcome", outcome)]).increment(by: value)
        }
    }
}
