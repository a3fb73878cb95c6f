import Foundation
import InsightCore

/// CloudEvents 1.0 into insightd events: structured mode (one JSON object), batch mode (an array of them)
/// and binary mode (`ce-*` headers, the body is `data`). `clientId` comes from the `clientid` extension,
/// else `subject`, else `data.clientId`.
public enum CloudEvents {
    /// Decodes one structured-mode event.
    public static func decodeStructured(_ value: JSONValue) -> Result<Event, EventRejection> {
        guard case .object(let object) = value else {
            return .failure(EventRejection(eventId: nil, reason: "a CloudEvent must be a JSON object, got \(value.typeName)"))
        }
        var attributes: [String: String] = [:]
        for (key, item) in object where key != "data" && key != "data_base64" {
            switch item {
            case .string(let text): attributes[key] = text
            case .number(let literal): attributes[key] = literal
            case .bool(let flag): attributes[key] = String(flag)
            default: break
            }
        }
        if object["data_base64"] != nil {
            return .failure(EventRejection(eventId: attributes["id"],
                                           reason: "data_base64 is not supported: send data as a JSON object"))
        }
        return event(attributes: attributes, data: object["data"])
    }

    /// Decodes a binary-mode event from its headers as received: names in any case, values as their raw bytes
    /// (see ``headerValue(_:)``), and its body. A `ce-*` value that cannot be read refuses the event, naming
    /// the header: read leniently, bytes that are not UTF-8 would become U+FFFD and two different ids one.
    public static func decodeBinary(headers: [String: [UInt8]], body: [UInt8]) -> Result<Event, EventRejection> {
        var attributes: [String: String] = [:]
        var problem: String?
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            let lower = name.lowercased()
            guard lower.hasPrefix("ce-") else { continue }
            let attribute = String(lower.dropFirst(3))
            switch headerValue(value) {
            case .success(let text):
                if attributes.updateValue(text, forKey: attribute) != nil {
                    problem = problem ?? "header \(EventRejection.excerpt(lower, quoted: false)) is given more than once"
                }
            case .failure(let failure):
                problem = problem ?? "header \(EventRejection.excerpt(lower, quoted: false)) \(failure)"
            }
        }
        if let problem { return .failure(EventRejection(eventId: attributes["id"], reason: problem)) }
        var data: JSONValue?
        if !body.isEmpty {
            do {
                data = try JSONParser.parse(body)
            } catch {
                return .failure(EventRejection(eventId: attributes["id"], reason: "the body (CloudEvent data) is not valid JSON: \(error)"))
            }
        }
        return event(attributes: attributes, data: data)
    }

    /// Decodes a binary-mode event from headers already read as text. Text cannot tell a U+FFFD sent from one
    /// put in place of bytes that were not UTF-8: where the raw bytes are at hand, pass them instead (the
    /// overload taking `[String: [UInt8]]`).
    public static func decodeBinary(headers: [String: String], body: [UInt8]) -> Result<Event, EventRejection> {
        decodeBinary(headers: headers.mapValues { Array($0.utf8) }, body: body)
    }

    /// Why a `ce-*` header value cannot be read.
    public enum HeaderValueProblem: Error, Sendable, Equatable, CustomStringConvertible {
        /// The bytes received are not UTF-8.
        case notUTF8
        /// A `%` not followed by two hex digits (a `%` in a value is sent as `%25`).
        case badPercentEscape
        /// The bytes the percent escapes stand for are not UTF-8 (`%FF`, the overlong `%C0%A0`).
        case escapesNotUTF8

        public var description: String {
            switch self {
            case .notUTF8: "is not UTF-8 text; send other characters percent-encoded (%E2%82%AC)"
            case .badPercentEscape: "has a % not followed by two hex digits; send % itself as %25"
            case .escapesNotUTF8: "has percent escapes that are not UTF-8 (such as %FF or the overlong %C0%A0)"
            }
        }
    }

    /// The attribute value of a `ce-*` header, from the bytes received: one round of percent-decoding (hex in
    /// either case), as the CloudEvents HTTP binding says; the bytes received and the bytes they decode to must
    /// both be UTF-8 ("encoded byte sequences which are invalid in UTF-8 MUST be rejected"). Strict about `%`,
    /// so that each value has one reading: `50%` is refused rather than kept as written, where it would be the
    /// same value as `50%25`.
    public static func headerValue(_ bytes: some Collection<UInt8>) -> Result<String, HeaderValueProblem> {
        guard String(validating: bytes, as: UTF8.self) != nil else { return .failure(.notUTF8) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            index = bytes.index(after: index)
            guard byte == UInt8(ascii: "%") else {
                decoded.append(byte)
                continue
            }
            guard index != bytes.endIndex, let high = hexValue(bytes[index]) else { return .failure(.badPercentEscape) }
            index = bytes.index(after: index)
            guard index != bytes.endIndex, let low = hexValue(bytes[index]) else { return .failure(.badPercentEscape) }
            index = bytes.index(after: index)
            decoded.append(high << 4 | low)
        }
        guard let text = String(validating: decoded, as: UTF8.self) else { return .failure(.escapesNotUTF8) }
        return .success(text)
    }

    /// Nil when `bytes` is a readable `ce-*` header value (see ``headerValue(_:)``), else what is wrong with it:
    /// for the HTTP layer, which holds each header's raw bytes, to refuse a request before it decodes it.
    public static func validateHeaderValue(_ bytes: some Collection<UInt8>) -> HeaderValueProblem? {
        if case .failure(let problem) = headerValue(bytes) { return problem }
        return nil
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// True for a JSON object that looks like a structured CloudEvent.
    public static func isStructured(_ value: JSONValue) -> Bool {
        value["specversion"] != nil
    }

    static func event(attributes: [String: String], data: JSONValue?) -> Result<Event, EventRejection> {
        let id = attributes["id"]
        func reject(_ reason: String) -> Result<Event, EventRejection> { .failure(EventRejection(eventId: id, reason: reason)) }
        guard attributes["specversion"] == "1.0" else {
            return reject("specversion must be \"1.0\", got \(attributes["specversion"].map { EventRejection.excerpt($0) } ?? "nothing")")
        }
        guard let id, !id.isEmpty else { return reject("id is required (1 to \(Event.maximumIdLength) characters)") }
        guard Event.fitsIdLength(id) else {
            return reject("id is required (1 to \(Event.maximumIdLength) characters), got \(EventRejection.excerpt(id))")
        }
        guard let source = attributes["source"], !source.isEmpty else { return reject("source is required") }
        guard let type = attributes["type"], !type.isEmpty else { return reject("type is required") }
        guard let timeText = attributes["time"] else { return reject("time is required by insightd (RFC 3339)") }
        guard let time = RFC3339.parse(timeText) else {
            return reject("time is not an RFC 3339 time: \(EventRejection.excerpt(timeText))")
        }
        if let contentType = attributes["datacontenttype"], !contentType.lowercased().hasPrefix("application/json") {
            return reject("datacontenttype must be application/json, got \(EventRejection.excerpt(contentType, quoted: false))")
        }
        let payload = data ?? .object([:])
        guard case .object = payload else { return reject("data must be a JSON object, got \(payload.typeName)") }
        let clientId = attributes["clientid"] ?? attributes["subject"] ?? payload["clientId"]?.stringValue
        let event = Event(id: id, source: source, type: type, time: time, clientId: clientId, data: payload)
        if let problem = EventValidator.problem(with: event) { return reject(problem) }
        return .success(event)
    }
}
