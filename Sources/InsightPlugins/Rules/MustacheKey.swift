import Foundation
import InsightCore
import Mustache

/// A rule's dedupe key template, rendered as plain text with the event's fields (`id`, `source`, `type`,
/// `clientId`, `date` (local), `data.<path>`) and the client's (`client.segment`, ...).
struct MustacheKey: Sendable {
    let template: MustacheTemplate
    /// The variables the template names (`data.loanId`), checked before rendering.
    let variables: [[String]]

    init(_ source: String) throws {
        template = try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + source)
        variables = Self.variables(in: source)
    }

    /// The key, or nil when a variable it names is missing, empty or not a single value: an empty part would
    /// make every such event share one key (all but the first lead lost), and an object's text depends on
    /// dictionary order.
    func render(event: Event, client: ClientState?, timeZone: TimeZone) -> String? {
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
        for path in variables {
            var value: Any? = values
            for key in path { value = (value as? [String: Any])?[key] }
            guard let value, !(value is [String: Any]), !(value is [Any]) else { return nil }
            if let text = value as? String, text.isEmpty { return nil }
        }
        return template.render(values)
    }

    /// `{{a.b}}`, `{{{a.b}}}` and `{{&a.b}}` tags (sections, comments and partials are not keys' parts).
    static func variables(in source: String) -> [[String]] {
        var result: [[String]] = []
        var rest = source[...]
        while let open = rest.range(of: "{{") {
            rest = rest[open.upperBound...]
            guard let close = rest.range(of: "}}") else { break }
            var tag = rest[..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            rest = rest[close.upperBound...]
            if tag.hasPrefix("{") { tag = String(tag.dropFirst()).trimmingCharacters(in: .whitespaces) }
            if tag.hasPrefix("&") { tag = String(tag.dropFirst()).trimmingCharacters(in: .whitespaces) }
            guard let first = tag.first, first.isLetter || first == "_" else { continue }
            result.append(tag.split(separator: ".").map(String.init))
        }
        return result
    }

    /// JSON as the plain Swift values Mustache walks: numbers keep their literal text.
    static func plain(_ value: JSONValue) -> Any {
        switch value {
        case .null: return ""
        case .bool(let flag): return flag
        case .number(let literal): return literal
        case .string(let text): return text
        // Containers stay walkable for dotted names; a key never renders one (see `render`), since their text
        // would depend on dictionary order.
        case .array(let items): return items.map(plain)
        case .object(let fields): return fields.mapValues(plain)
        }
    }
}
