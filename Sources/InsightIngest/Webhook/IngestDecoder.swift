import InsightCore

/// Decodes an item that is either insightd's native envelope or a structured CloudEvent (it has
/// `specversion`), so JSON bodies, NDJSON and inbox JSONL files may mix both.
public struct IngestDecoder: EventDecoding {
    let native = NativeEventDecoder()

    public init() {}

    /// Both envelopes take `data` as sent (a structured CloudEvent's `data` member, the native `data`).
    public var keepsDataVerbatim: Bool { true }

    public func decodeEnvelope(_ value: JSONValue, defaultSource: String) -> Result<Event, EventRejection> {
        CloudEvents.isStructured(value) ? CloudEvents.decodeStructured(value) : native.decodeEnvelope(value, defaultSource: defaultSource)
    }

    /// A flat native envelope has no `specversion`: it is never a structured CloudEvent.
    public func decodeMembers(_ members: EnvelopeMembers, defaultSource: String) -> Result<Event, EventRejection>? {
        native.decodeMembers(members, defaultSource: defaultSource)
    }
}
