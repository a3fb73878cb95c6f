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
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var object: [String: JSONValue] = [
            "time": .string(RFC3339.format(Date(), timeZone: TimeZone(secondsFromGMT: 0) ?? .current)),
            "level": .string(event.level.rawValue),
            "label": .string(label),
            "message": .string(event.message.description),
            "source": .string(event.source),
        ]
        if !merged.isEmpty { object["metadata"] = .object(merged.mapValues(Self.json)) }
        var line = JSONWriter.string(.object(object))
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
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
