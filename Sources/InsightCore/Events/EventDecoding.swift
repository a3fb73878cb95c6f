import Foundation

/// Turns raw bytes into events. The one seam where a faster JSON engine can replace the default without
/// touching plugins (DESIGN §2, "Where the time goes").
public protocol EventDecoding: Sendable {
    /// Decodes one native envelope; `defaultSource` names the sender when the envelope has no `source`.
    func decodeEnvelope(_ value: JSONValue, defaultSource: String) -> Result<Event, EventRejection>

    /// True when a decoded event's `data` is always the envelope's `data` member as given (or `{}` without
    /// one): its original text may then be journaled instead of writing it again.
    var keepsDataVerbatim: Bool { get }

    /// Decodes the members of a flat native envelope (``JSONParser/scanEnvelope(_:)``), the fast path that
    /// builds no object for the envelope. Must give exactly what ``decodeEnvelope(_:defaultSource:)`` gives
    /// for an object of these members; nil when this decoder needs the whole object (the caller then parses
    /// it and calls `decodeEnvelope`).
    func decodeMembers(_ members: EnvelopeMembers, defaultSource: String) -> Result<Event, EventRejection>?
}

extension EventDecoding {
    public var keepsDataVerbatim: Bool { false }

    public func decodeMembers(_ members: EnvelopeMembers, defaultSource: String) -> Result<Event, EventRejection>? { nil }
}

/// The members of insightd's native envelope, from a parsed object or scanned from bytes.
public struct EnvelopeMembers: Sendable {
    public enum Member: Sendable {
        case id, type, time, source, clientId, data
    }

    public var id: JSONValue?
    public var type: JSONValue?
    public var time: JSONValue?
    public var source: JSONValue?
    public var clientId: JSONValue?
    /// `data` as read: an object of at most the parser's linear limit of members is kept as its members
    /// (``JSONDocument/members(_:)``) by ``JSONParser/scanEnvelope(_:)``; anything else is a whole value. A
    /// decoder must handle both.
    public var data: JSONDocument?
    /// Where `data`'s value lies in the scanned bytes (only from ``JSONParser/scanEnvelope(_:)``).
    public var dataRange: Range<Int>?

    public init() {}

    /// An envelope object's members; the others are ignored, as the native envelope ignores them.
    public init(_ object: [String: JSONValue]) {
        id = object["id"]
        type = object["type"]
        time = object["time"]
        source = object["source"]
        clientId = object["clientId"]
        data = object["data"].map(JSONDocument.value)
    }
}

/// The default decoder: ``JSONParser`` plus the envelope and `data` rules of DESIGN §3.
public struct NativeEventDecoder: EventDecoding {
    public init() {}

    public var keepsDataVerbatim: Bool { true }

    public func decodeEnvelope(_ value: JSONValue, defaultSource: String) -> Result<Event, EventRejection> {
        guard case .object(let object) = value else {
            return .failure(EventRejection(eventId: nil, reason: "an event must be a JSON object, got \(value.typeName)"))
        }
        return decode(EnvelopeMembers(object), defaultSource: defaultSource)
    }

    public func decodeMembers(_ members: EnvelopeMembers, defaultSource: String) -> Result<Event, EventRejection>? {
        decode(members, defaultSource: defaultSource)
    }

    /// The envelope rules, the same whichever way the members were read.
    private func decode(_ members: EnvelopeMembers, defaultSource: String) -> Result<Event, EventRejection> {
        let rawId = members.id
        guard let id = rawId?.stringValue ?? rawId.flatMap(numberText) else {
            return .failure(EventRejection(eventId: nil, reason: "field \"id\" is required (a string of at most \(Event.maximumIdLength) characters)"))
        }
        func reject(_ reason: String) -> Result<Event, EventRejection> {
            .failure(EventRejection(eventId: id, reason: reason))
        }
        guard !id.isEmpty, Event.fitsIdLength(id) else {
            return reject("field \"id\" must be 1 to \(Event.maximumIdLength) characters, got \(EventRejection.excerpt(id))")
        }
        guard let type = members.type?.stringValue.map(EventType.interned), !type.isEmpty else {
            return reject("field \"type\" is required (for example \"account.transaction\")")
        }
        guard let timeText = members.time?.stringValue else {
            return reject("field \"time\" is required, as an RFC 3339 time such as \"2026-11-20T10:00:00+08:00\"")
        }
        guard let time = RFC3339.parse(timeText) else {
            return reject("field \"time\" is not an RFC 3339 time: \(EventRejection.excerpt(timeText))")
        }
        var source = defaultSource
        if let given = members.source {
            guard let text = given.stringValue, !text.isEmpty else { return reject("field \"source\" must be a non-empty string") }
            source = text
        }
        if case .value(let data)? = members.data, data.objectValue == nil {
            return reject("field \"data\" must be a JSON object, got \(data.typeName)")
        }
        var clientId: String?
        if let given = members.clientId, given != .null {
            guard let text = given.stringValue ?? numberText(given), !text.isEmpty else {
                return reject("field \"clientId\" must be a non-empty string")
            }
            clientId = text
        }
        let event = switch members.data {
        case .members(let dataMembers)?:
            Event(id: id, source: source, type: type, time: time, clientId: clientId, dataMembers: dataMembers)
        case .value(let data)?:
            Event(id: id, source: source, type: type, time: time, clientId: clientId, data: data)
        case nil:
            Event(id: id, source: source, type: type, time: time, clientId: clientId, data: .object([:]))
        }
        if let problem = EventValidator.problem(with: event) { return reject(problem) }
        return .success(event)
    }

    private func numberText(_ value: JSONValue) -> String? {
        if case .number(let literal) = value { return literal }
        return nil
    }
}

/// Checks a decoded event against the contract of its type.
public enum EventValidator {
    /// Nil when the event is valid; otherwise what is wrong and what to change.
    public static func problem(with event: Event) -> String? {
        // The control characters are ASCII: scanning the UTF-8 bytes finds the same ones as scanning scalars.
        func hasControl(_ text: String) -> Bool { text.utf8.contains { $0 < 0x20 || $0 == 0x7F } }
        func control(_ name: String) -> String {
            "field \"\(name)\" contains a control character; identifiers must be printable text"
        }
        // Each is a key in the journal and the state: bounded, whichever decoder made the event (the envelope
        // decoders check `id` first, in their own words).
        func tooLong(_ name: String, _ value: String?) -> String? {
            guard let value, !Event.fitsIdLength(value) else { return nil }
            return "field \"\(name)\" must be at most \(Event.maximumIdLength) characters, got \(EventRejection.excerpt(value))"
        }
        if let problem = tooLong("id", event.id) ?? tooLong("source", event.source) ?? tooLong("type", event.type)
            ?? tooLong("clientId", event.clientId) {
            return problem
        }
        if hasControl(event.id) { return control("id") }
        if hasControl(event.source) { return control("source") }
        if hasControl(event.type) { return control("type") }
        if let clientId = event.clientId, hasControl(clientId) { return control("clientId") }
        if EventType.isClientScoped(event.type), event.clientId == nil {
            return "field \"clientId\" is required for type \(event.type)"
        }
        guard let rules = EventType.schema(for: event.type) else { return nil }
        for rule in rules {
            guard let value = event.field(rule.name) else {
                if rule.required { return "data.\(rule.name) is required for type \(event.type)" }
                continue
            }
            if let problem = rule.problem(with: value) { return "data.\(rule.name) \(problem)" }
        }
        return nil
    }
}
