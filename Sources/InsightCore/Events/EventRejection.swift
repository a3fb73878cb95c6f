/// Why one incoming item was not accepted. It is kept in quarantine with this reason.
public struct EventRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// The event id, when the item had a readable one that fits ``Event/fitsIdLength(_:)`` (a longer one is
    /// shown in the reason, cut short).
    public let eventId: String?
    public let reason: String

    /// A reason over ``maximumReasonBytes`` is cut short too: reasons quote their inputs through
    /// ``excerpt(_:quoted:)``, and this keeps one that did not within bounds all the same.
    public init(eventId: String?, reason: String) {
        self.eventId = eventId.flatMap { Event.fitsIdLength($0) ? $0 : nil }
        self.reason = reason.utf8.count > Self.maximumReasonBytes ? Self.excerpt(reason, quoted: false, length: 1024) : reason
    }

    public var description: String {
        eventId.map { "event \"\($0)\": \(reason)" } ?? reason
    }

    /// The most UTF-8 bytes a reason keeps whole.
    public static let maximumReasonBytes = 4096

    /// The most Unicode scalars of one input value a reason quotes.
    public static let excerptLength = 64

    /// An input value (an id, a key, a time, a number's text) as a reason quotes it: whole when it is at most
    /// ``excerptLength`` scalars, else its first ones, `…` and its size, `"aaaa…" (8388608 bytes)`. Reasons are
    /// stored with every quarantined item and sent back to the sender, and the item itself is kept only up to a
    /// limit; an 8 MB key quoted in full would take 8 MB more each time. Cut by scalars, not characters: one
    /// character may hold any number of combining marks.
    public static func excerpt(_ text: some StringProtocol, quoted: Bool = true, length: Int = excerptLength) -> String {
        let scalars = text.unicodeScalars
        guard let cut = scalars.index(scalars.startIndex, offsetBy: length, limitedBy: scalars.endIndex),
              cut != scalars.endIndex else {
            return quoted ? "\"\(text)\"" : String(text)
        }
        var shown = ""
        shown.unicodeScalars.append(contentsOf: scalars[..<cut])
        shown += "…"
        return (quoted ? "\"\(shown)\"" : shown) + " (\(text.utf8.count) bytes)"
    }
}
