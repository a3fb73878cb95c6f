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

    /// The lead as a JSON value, for embedding in larger documents.
    public static func value(_ lead: Lead, timeZone: TimeZone) throws -> JSONValue {
        try JSONParser.parse(Array(encoder(timeZone: timeZone).encode(lead)))
    }

    public static func data(_ lead: Lead, timeZone: TimeZone) throws -> Data {
        try encoder(timeZone: timeZone).encode(lead)
    }
}
