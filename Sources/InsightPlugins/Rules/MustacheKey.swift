import Foundation
import InsightCore
import Mustache

/// A rule's dedupe key template, rendered as plain text with the event's fields (`id`, `source`, `type`,
/// `clientId`, `date` (local), `data.<path>`) and the client's (`client.segment`, ...).
struct MustacheKey: Sendable {
    let template: MustacheTemplate

    init(_ source: String) throws {
        template = try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + source)
    }

    func render(event: Event, client: ClientState?, timeZone: TimeZone) -> String {
        var values: [String: Any] = [
            "id": event.id, "source": event.source, "type": event.type, "clientId": event.clientId ?? "-",
            "date": LocalDate(event.time, in: timeZone).description, "data": Self.plain(event.data),
        ]
        if let client {
            var fields: [String: Any] = [:]
            for name in RuleCondition.clientFields {
                if let value = RuleCondition.value(of: "client." + name, event: event, client: client) {
                    fields[name] = Self.plain(value)
                }
            }
            values["client"] = fields
        }
        return template.render(values)
    }

    /// JSON as the plain Swift values Mustache walks: numbers keep their literal text.
    static func plain(_ value: JSONValue) -> Any {
        switch value {
        case .null: return ""
        case .bool(let flag): return flag
        case .number(let literal): return literal
        case .string(let text): return text
        case .array(let items): return items.map(plain)
        case .object(let fields): return fields.mapValues(plain)
        }
    }
}
