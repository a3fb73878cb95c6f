import Foundation

/// A lead as the API and the webhook receiver show it (DESIGN §5): RFC 3339 times in the bank's time zone.
/// (The ledger stores epoch milliseconds; this is the outside view.)
public enum LeadJSON {
    public static func encoder(timeZone: TimeZone) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date, timeZone: timeZone))
        }
        return encoder
    }

    /// The lead as a JSON value, for embedding in larger documents: what ``referenceValue(_:timeZone:)`` gives (its
    /// `Codable` form through ``encoder(timeZone:)``, parsed), built directly. A replay writes one per lead, and
    /// the encoder and parser cost several times the lead's own making.
    public static func value(_ lead: Lead, timeZone: TimeZone) throws -> JSONValue {
        value(lead) { .string(RFC3339.format($0, timeZone: timeZone)) }
    }

    /// The lead as its stored form in the ledger: what `JSONEncoder` with `.millisecondsSince1970` dates makes of it
    /// (a date is its milliseconds since 1970 as a number), built directly. Decoding it gives the same lead.
    public static func storedValue(_ lead: Lead) -> JSONValue {
        value(lead) { date in .number(millisecondsText(date)) }
    }

    /// A date's milliseconds since 1970 as `JSONEncoder` writes `.millisecondsSince1970`: the `Double`, exactly
    /// (its shortest round-trip text; a whole number without a fraction).
    static func millisecondsText(_ date: Date) -> String {
        let milliseconds = date.timeIntervalSince1970 * 1000
        if milliseconds.rounded() == milliseconds, let whole = Int64(exactly: milliseconds) { return String(whole) }
        return "\(milliseconds)"
    }

    private static func value(_ lead: Lead, date: (Date) -> JSONValue) -> JSONValue {
        func optional(_ text: String?) -> JSONValue? { text.map(JSONValue.string) }
        func strings(_ texts: [String]) -> JSONValue { .array(texts.map(JSONValue.string)) }
        // A nil member is left out, as `encodeIfPresent` leaves it out.
        var fields: [String: JSONValue] = [
            "id": .string(lead.id), "key": .string(lead.key), "plugin": .string(lead.plugin), "kind": .string(lead.kind),
            "priority": .string(lead.priority.rawValue), "title": .string(lead.title), "summary": .string(lead.summary),
            "suggestedAction": .string(lead.suggestedAction),
            "evidence": .array(lead.evidence.map {
                .object(["key": .string($0.key), "label": .string($0.label), "value": .string($0.value)])
            }),
            "createdAt": date(lead.createdAt), "sourceEvents": strings(lead.sourceEvents),
            "status": .string(lead.status.rawValue),
        ]
        if let client = lead.client {
            var object: [String: JSONValue] = ["id": .string(client.id)]
            object["name"] = optional(client.name)
            object["segment"] = optional(client.segment)
            fields["client"] = .object(object)
        }
        if let manager = lead.manager {
            var object: [String: JSONValue] = ["id": .string(manager.id)]
            object["name"] = optional(manager.name)
            object["branchId"] = optional(manager.branchId)
            fields["manager"] = .object(object)
        }
        if let products = lead.products {
            fields["products"] = .array(products.map {
                .object(["id": .string($0.id), "name": .string($0.name), "riskLevel": .string($0.riskLevel),
                         "reason": .string($0.reason)])
            })
        }
        if let dueAt = lead.dueAt { fields["dueAt"] = date(dueAt) }
        if let tags = lead.tags { fields["tags"] = strings(tags) }
        return .object(fields)
    }

    /// The lead's `Codable` form through ``encoder(timeZone:)``, parsed: the reference ``value(_:timeZone:)`` must
    /// equal (a test compares them over every kind of lead).
    public static func referenceValue(_ lead: Lead, timeZone: TimeZone) throws -> JSONValue {
        try JSONParser.parse(Array(encoder(timeZone: timeZone).encode(lead)))
    }

    public static func data(_ lead: Lead, timeZone: TimeZone) throws -> Data {
        try encoder(timeZone: timeZone).encode(lead)
    }
}
