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

    /// Decodes a binary-mode event from its headers (any case) and body.
    public static func decodeBinary(headers: [String: String], body: [UInt8]) -> Result<Event, EventRejection> {
        var attributes: [String: String] = [:]
        for (name, value) in headers {
            let lower = name.lowercased()
            guard lower.hasPrefix("ce-") else { continue }
            attributes[String(lower.dropFirst(3))] = value.removingPercentEncoding ?? value
        }
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

    /// True for a JSON object that looks like a structured CloudEvent.
    public static func isStructured(_ value: JSONValue) -> Bool {
        value["specversion"] != nil
    }

    static func event(attributes: [String: String], data: JSONValue?) -> Result<Event, EventRejection> {
        let id = attributes["id"]
        func reject(_ reason: String) -> Result<Event, EventRejection> { .failure(EventRejection(eventId: id, reason: reason)) }
        guard attributes["specversion"] == "1.0" else {
            return reject("specversion must be \"1.0\", got \(attributes["specversion"].map { "\"\($0)\"" } ?? "nothing")")
        }
        guard let id, !id.isEmpty, Event.fitsIdLength(id) else {
            return reject("id is required (1 to \(Event.maximumIdLength) characters)")
        }
        guard let source = attributes["source"], !source.isEmpty else { return reject("source is required") }
        guard let type = attributes["type"], !type.isEmpty else { return reject("type is required") }
        guard let timeText = attributes["time"] else { return reject("time is required by insightd (RFC 3339)") }
        guard let time = RFC3339.parse(timeText) else { return reject("time is not an RFC 3339 time: \"\(timeText.prefix(40))\"") }
        if let contentType = attributes["datacontenttype"], !contentType.lowercased().hasPrefix("application/json") {
            return reject("datacontenttype must be application/json, got \(contentType)")
        }
        let payload = data ?? .object([:])
        guard case .object = payload else { return reject("data must be a JSON object, got \(payload.typeName)") }
        let clientId = attributes["clientid"] ?? attributes["subject"] ?? payload["clientId"]?.stringValue
        let event = Event(id: id, source: source, type: type, time: time, clientId: clientId, data: payload)
        if let problem = EventValidator.problem(with: event) { return reject(problem) }
        return .success(event)
    }
}
