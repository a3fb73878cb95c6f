import Foundation
import InsightCore
import Logging

/// One JSON object per line on stderr, for journald and log shippers:
/// `{"level":"info","label":"insightd","message":"lead created","metadata":{"lead.id":"ld_…"},"time":"…"}`.
struct JSONLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    let label: String

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        FileHandle.standardError.write(Data(line(for: event, at: Date()).utf8))
    }

    /// The record as one line, ending in `\n`: ``JSONWriter`` escapes the C0 control characters in strings, so
    /// a newline in a message or a metadata value cannot end the line early; see also
    /// ``escapingSeparators(_:)``.
    func line(for event: LogEvent, at time: Date) -> String {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var object: [String: JSONValue] = [
            "time": .string(RFC3339.format(time, timeZone: TimeZone(secondsFromGMT: 0) ?? .current)),
            "level": .string(event.level.rawValue),
            "label": .string(label),
            "message": .string(event.message.description),
            "source": .string(event.source),
        ]
        if !merged.isEmpty { object["metadata"] = .object(merged.mapValues(Self.json)) }
        return Self.escapingSeparators(JSONWriter.string(.object(object))) + "\n"
    }

    /// JSON text with DEL, the C1 controls (among them NEL, U+0085), U+2028 and U+2029 escaped as `\uXXXX`.
    /// JSON allows them unescaped and ``JSONWriter`` leaves them so (its canonical output is `JSONEncoder`'s),
    /// but some log readers end a line at them or pass them to the terminal. JSON text holds them only inside
    /// strings, where the escape means the same character: the record reads back the same.
    static func escapingSeparators(_ json: String) -> String {
        func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
            (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
        }
        guard json.unicodeScalars.contains(where: needsEscape) else { return json }
        var escaped = ""
        escaped.reserveCapacity(json.utf8.count + 12)
        for scalar in json.unicodeScalars {
            if needsEscape(scalar) {
                let hex = String(scalar.value, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    private static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let items): .array(items.map(json))
        case .dictionary(let dictionary): .object(dictionary.mapValues(json))
        }
    }
}
