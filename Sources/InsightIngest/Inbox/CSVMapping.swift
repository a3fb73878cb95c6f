import Crypto
import CSV
import Foundation
import InsightCore
#if canImport(Glibc)
import Glibc
#endif

/// Maps the rows of CSV files whose names match `match` to events of one type (DESIGN §6):
/// `columns` names, for each event field, the CSV column holding it. `id`, `time` and `clientId` fill the
/// envelope; every other field goes into `data`, coerced to what the type expects (dates such as `20261120`
/// become `2026-11-20`, `Y`/`是` become true, `1,234.50` becomes `1234.50`).
public struct CSVMapping: Sendable {
    public var match: String
    public var type: String
    public var encoding: TextEncoding
    public var delimiter: Character
    public var source: String?
    public var columns: [String: String]

    public init(match: String, type: String, encoding: TextEncoding = .utf8, delimiter: Character = ",",
                source: String? = nil, columns: [String: String]) {
        self.match = match
        self.type = type
        self.encoding = encoding
        self.delimiter = delimiter
        self.source = source
        self.columns = columns
    }

    /// True when `fileName` matches the glob (`loans_*.csv`).
    public func matches(_ fileName: String) -> Bool {
        fnmatch(match, fileName, 0) == 0
    }

    /// Splits one CSV line into fields (quotes and escaped quotes handled by CSV.swift).
    func fields(of line: String) throws(MappingError) -> [String] {
        guard let scalar = delimiter.unicodeScalars.first else { throw MappingError("bad delimiter") }
        do {
            let reader = try CSVReader(string: line, hasHeaderRow: false, delimiter: scalar)
            guard let row = reader.next() else { throw MappingError("empty row") }
            if let error = reader.error { throw MappingError("cannot parse the row: \(error)") }
            if reader.next() != nil {
                throw MappingError("a quoted field spans lines; export without line breaks inside fields")
            }
            return row
        } catch let error as MappingError {
            throw error
        } catch {
            throw MappingError("cannot parse the row: \(error)")
        }
    }

    /// Column positions for the mapped fields, or an error naming the missing columns.
    func layout(header: [String]) throws(MappingError) -> [(field: String, column: Int)] {
        let trimmed = header.map { $0.trimmingCharacters(in: .whitespaces) }
        var missing: [String] = []
        var layout: [(String, Int)] = []
        for (field, column) in columns.sorted(by: { $0.key < $1.key }) {
            if let index = trimmed.firstIndex(of: column) { layout.append((field, index)) } else { missing.append(column) }
        }
        guard missing.isEmpty else {
            throw MappingError("the header has no column \(missing.joined(separator: ", ")) (it has: \(trimmed.joined(separator: ", ")))")
        }
        return layout
    }

    /// One row as an event. `fallbackTime` is used when no `time` column is mapped.
    func event(row: [String], layout: [(field: String, column: Int)], rawLine: String, defaultSource: String,
               fallbackTime: Date, timeZone: TimeZone) -> Result<Event, EventRejection> {
        let rules = Dictionary((EventType.schema(for: type) ?? []).map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a })
        var data: [String: JSONValue] = [:]
        var id: String?
        var time = fallbackTime
        var clientId: String?
        for (field, column) in layout {
            guard column < row.count else {
                return .failure(EventRejection(eventId: nil, reason: "the row has \(row.count) fields; column \(column + 1) (\(columns[field] ?? field)) is missing"))
            }
            let value = row[column].trimmingCharacters(in: .whitespaces)
            if value.isEmpty { continue }
            switch field {
            case "id": id = value
            case "clientId": clientId = value
            case "time":
                if let instant = RFC3339.parse(value) {
                    time = instant
                } else if let date = LocalDate(Self.normalizedDate(value)) {
                    time = date.instant(in: timeZone)
                } else {
                    return .failure(EventRejection(eventId: id, reason: "column \(columns[field] ?? field): \"\(value.prefix(40))\" is not a time (RFC 3339 or YYYY-MM-DD)"))
                }
            default:
                data[field] = Self.coerce(value, kind: rules[field])
            }
        }
        let eventId = id ?? "\(type):" + SHA256.hash(data: Data(rawLine.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
        let event = Event(id: eventId, source: source ?? defaultSource, type: type, time: time, clientId: clientId,
                          data: .object(data))
        if let problem = EventValidator.problem(with: event) {
            return .failure(EventRejection(eventId: eventId, reason: problem))
        }
        return .success(event)
    }

    static func coerce(_ value: String, kind: FieldRule.Kind?) -> JSONValue {
        switch kind {
        case .bool?:
            switch value.lowercased() {
            case "true", "1", "y", "yes", "t", "是": return .bool(true)
            case "false", "0", "n", "no", "f", "否": return .bool(false)
            default: return .string(value)
            }
        case .date?, .dateOrTime?:
            return .string(normalizedDate(value))
        case .decimal?, .nonNegativeInteger?:
            return .string(value.replacingOccurrences(of: ",", with: ""))
        case .stringList?:
            return .array(value.split(whereSeparator: { $0 == "|" || $0 == ";" }).map {
                .string($0.trimmingCharacters(in: .whitespaces))
            })
        default:
            return .string(value)
        }
    }

    /// `20261120` and `2026/11/20` become `2026-11-20`; anything else is left for validation to judge.
    static func normalizedDate(_ value: String) -> String {
        if value.count == 8, value.allSatisfy(\.isNumber) {
            let digits = Array(value)
            return String(digits[0..<4]) + "-" + String(digits[4..<6]) + "-" + String(digits[6..<8])
        }
        if value.count == 10, value.contains("/") { return value.replacingOccurrences(of: "/", with: "-") }
        return value
    }
}

struct MappingError: Error, Sendable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
