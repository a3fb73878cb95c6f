import Foundation

/// A rejected input item, as kept in quarantine.
public struct QuarantinedItem: Sendable, Hashable {
    public var id: Int64?
    public var receivedAt: Date
    public var source: String
    /// Where it came from: `webhook`, `file:loans_20261120.csv:17`, `cli:events.ndjson:3`.
    public var origin: String
    public var eventId: String?
    public var reason: String
    /// The raw item text, bounded to 64 KiB of UTF-8 (cut on a character boundary).
    public var payload: String

    public static let maximumPayloadBytes = 65_536

    public init(receivedAt: Date, source: String, origin: String, eventId: String?, reason: String, payload: String) {
        self.receivedAt = receivedAt
        self.source = source
        self.origin = origin
        self.eventId = eventId
        self.reason = reason
        self.payload = Self.bounded(payload)
    }
}

extension QuarantinedItem {
    /// The longest prefix of whole characters that fits in ``maximumPayloadBytes`` of UTF-8.
    static func bounded(_ text: String) -> String {
        guard text.utf8.count > maximumPayloadBytes else { return text }
        var bytes = 0
        var end = text.startIndex
        for index in text.indices {
            let next = text.index(after: index)
            let size = text.utf8.distance(from: index, to: next)
            if bytes + size > maximumPayloadBytes { break }
            bytes += size
            end = next
        }
        return String(text[..<end])
    }
}
