/// Why one incoming item was not accepted. It is kept in quarantine with this reason.
public struct EventRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// The event id, when the item had a readable one.
    public let eventId: String?
    public let reason: String

    public init(eventId: String?, reason: String) {
        self.eventId = eventId
        self.reason = reason
    }

    public var description: String {
        eventId.map { "event \"\($0)\": \(reason)" } ?? reason
    }
}
