import Foundation

/// Splits a request body or file into events: one JSON object, a JSON array of them, or NDJSON (one per
/// line). A bad item is rejected on its own, with its position; the good items around it still go through.
public enum EventBatch {
    public enum Format: Sendable {
        /// One JSON document: an object or an array of objects.
        case json
        /// One JSON object per line; blank lines are skipped.
        case ndjson
        /// JSON when the whole body parses, else NDJSON.
        case automatic
    }

    public struct Item: Sendable {
        /// 1-based line for NDJSON, or 1 for a single document.
        public let line: Int
        /// 0-based position in the batch.
        public let index: Int
        public let result: Result<Event, EventRejection>
        /// The item's raw text, for quarantine.
        public let raw: String

        public init(line: Int, index: Int, result: Result<Event, EventRejection>, raw: String) {
            self.line = line
            self.index = index
            self.result = result
            self.raw = raw
        }
    }

    /// A body that cannot be read as a whole (not JSON at all, or not UTF-8): the caller answers 400.
    public struct Unreadable: Error, Sendable, CustomStringConvertible {
        public let description: String
        /// The body holds more items than the caller's `maximumItems`.
        public var tooManyItems = false
    }

    /// With `encodeData`, each event's ``Event/dataText`` is written here (see
    /// ``decodeLine(_:number:defaultSource:decoder:encodeData:)``).
    /// More than `maximumItems` items (events, valid or not) is ``Unreadable`` with ``Unreadable/tooManyItems``,
    /// found before the items past the limit are decoded.
    public static func decode(_ bytes: [UInt8], format: Format, defaultSource: String,
                              decoder: some EventDecoding = NativeEventDecoder(),
                              encodeData: Bool = false, maximumItems: Int = .max) throws(Unreadable) -> [Item] {
        guard !bytes.isEmpty, bytes.contains(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else {
            throw Unreadable(description: "the body is empty: send a JSON event, an array of events, or NDJSON")
        }
        if String(validating: bytes, as: UTF8.self) == nil {
            throw Unreadable(description: "the body is not valid UTF-8; send UTF-8 text")
        }
        let tooMany = Unreadable(description: "the body holds more than \(maximumItems) items", tooManyItems: true)
        switch format {
        case .ndjson:
            return try decodeLines(bytes, defaultSource: defaultSource, decoder: decoder, encodeData: encodeData,
                                   maximumItems: maximumItems)
        case .json:
            do {
                return items(from: try JSONParser.parse(bytes, maximumTopLevelElements: maximumItems),
                             defaultSource: defaultSource, decoder: decoder, encodeData: encodeData)
            } catch {
                if error.exceedsLimit { throw tooMany }
                throw Unreadable(description: "the body is not valid JSON: \(error)")
            }
        case .automatic:
            do {
                let document = try JSONParser.parse(bytes, maximumTopLevelElements: maximumItems)
                return items(from: document, defaultSource: defaultSource, decoder: decoder, encodeData: encodeData)
            } catch {
                if error.exceedsLimit { throw tooMany }
            }
            let lines = try decodeLines(bytes, defaultSource: defaultSource, decoder: decoder, encodeData: encodeData,
                                        maximumItems: maximumItems)
            if lines.count <= 1, lines.allSatisfy({ if case .failure = $0.result { true } else { false } }) {
                do { _ = try JSONParser.parse(bytes) } catch { throw Unreadable(description: "the body is not valid JSON: \(error)") }
            }
            return lines
        }
    }

    private static func items(from document: JSONValue, defaultSource: String, decoder: some EventDecoding,
                              encodeData: Bool) -> [Item] {
        let values: [JSONValue]
        if case .array(let array) = document { values = array } else { values = [document] }
        return values.enumerated().map { index, value in
            switch decoder.decodeEnvelope(value, defaultSource: defaultSource) {
            case .success(var event):
                if encodeData { event.dataText = JSONWriter.string(event.data) }
                return Item(line: 1, index: index, result: .success(event), raw: "")
            case .failure(let rejection):
                return Item(line: 1, index: index, result: .failure(rejection), raw: JSONWriter.string(value))
            }
        }
    }

    private static func decodeLines(_ bytes: [UInt8], defaultSource: String, decoder: some EventDecoding,
                                    encodeData: Bool, maximumItems: Int = .max) throws(Unreadable) -> [Item] {
        var items: [Item] = []
        var lineNumber = 0
        let complete = bytes.withUnsafeBufferPointer { buffer in
            var start = 0
            while start <= buffer.count {
                let end = buffer[start...].firstIndex(of: 0x0A) ?? buffer.count
                lineNumber += 1
                if var item = decodeLine(UnsafeBufferPointer(rebasing: buffer[start..<end]), number: lineNumber,
                                         defaultSource: defaultSource, decoder: decoder, encodeData: encodeData) {
                    guard items.count < maximumItems else { return false }
                    item = Item(line: item.line, index: items.count, result: item.result, raw: item.raw)
                    items.append(item)
                }
                start = end + 1
            }
            return true
        }
        guard complete else { throw Unreadable(description: "the body holds more than \(maximumItems) items", tooManyItems: true) }
        return items
    }

    /// Decodes one NDJSON line (its `\n` excluded; a trailing `\r` is dropped). Nil for a blank line. The
    /// item's `raw` text is kept only when the line is rejected, for the quarantine; its `index` is 0. With
    /// `encodeData`, an event's ``Event/dataText`` is written here, where lines decode in parallel, for the
    /// journal.
    public static func decodeLine(_ line: UnsafeBufferPointer<UInt8>, number: Int, defaultSource: String,
                                  decoder: some EventDecoding, encodeData: Bool = false) -> Item? {
        var slice = line[...]
        if slice.last == 0x0D { slice = slice.dropLast() }
        guard slice.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return nil }
        let result: Result<Event, EventRejection>
        var dataText: String?
        let bytes = UnsafeBufferPointer(rebasing: slice)
        // The typed fast path: a flat native envelope is read straight into the event, no envelope object built.
        if let members = JSONParser.scanEnvelope(bytes), let decoded = decoder.decodeMembers(members, defaultSource: defaultSource) {
            result = decoded
            if encodeData && decoder.keepsDataVerbatim, let range = members.dataRange {
                dataText = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
            }
        } else {
            (result, dataText) = decodeLineReference(bytes, number: number, defaultSource: defaultSource, decoder: decoder,
                                                     encodeData: encodeData)
        }
        switch result {
        case .success(var event):
            // The bytes as sent when the decoder kept them (no write at all), else written once here.
            if encodeData { event.dataText = dataText ?? JSONWriter.string(event.data) }
            return Item(line: number, index: 0, result: .success(event), raw: "")
        case .failure:
            return Item(line: number, index: 0, result: result, raw: String(decoding: bytes, as: UTF8.self))
        }
    }

    /// The reference decoding of a line: the whole document parsed, then its envelope decoded. The fast path
    /// of ``decodeLine(_:number:defaultSource:decoder:encodeData:)`` must give the same (a differential test
    /// runs both over a corpus of valid, invalid and hostile lines).
    public static func decodeLineReference(_ bytes: UnsafeBufferPointer<UInt8>, number: Int, defaultSource: String,
                                           decoder: some EventDecoding, encodeData: Bool) -> (Result<Event, EventRejection>, String?) {
        let result: Result<Event, EventRejection>
        var dataText: String?
        do {
            if encodeData && decoder.keepsDataVerbatim {
                let parsed = try JSONParser.parseEnvelope(bytes)
                dataText = parsed.dataText
                result = decoder.decodeEnvelope(parsed.value, defaultSource: defaultSource)
            } else {
                result = decoder.decodeEnvelope(try JSONParser.parse(bytes), defaultSource: defaultSource)
            }
        } catch {
            result = .failure(EventRejection(eventId: nil, reason: "line \(number) is not valid JSON: \(error.message) at column \(error.column)"))
        }
        return (result, dataText)
    }
}

extension EventBatch {
    /// Decoded items sorted into what is journaled and what is quarantined.
    public struct Split: Sendable {
        public var events: [Event] = []
        /// The rejected items, in input order: where each was, and why.
        public var rejected: [Rejected] = []
        /// One quarantine row per rejected item (up to the caller's bound), its origin suffixed with the item's line.
        public var quarantine: [QuarantinedItem] = []
        /// Rejected items past the caller's bound: counted and listed, but given no quarantine row.
        public var quarantineDropped = 0
    }

    /// A rejected item's place and rejection (not the item: its raw text is in the quarantine row, if any).
    public struct Rejected: Sendable {
        public let line: Int
        public let index: Int
        public let rejection: EventRejection
    }

    /// Splits items; `origin` is where they came from (`webhook:crm`, `cli:events.ndjson`). At most
    /// `maximumQuarantined` quarantine rows are made: a body of many small invalid items must not turn into as
    /// many stored rows, nor hold them all in memory until they are dropped.
    public static func split(_ items: [Item], source: String, origin: String, receivedAt: Date,
                             maximumQuarantined: Int = .max) -> Split {
        var split = Split()
        for item in items {
            switch item.result {
            case .success(let event):
                split.events.append(event)
            case .failure(let rejection):
                split.rejected.append(Rejected(line: item.line, index: item.index, rejection: rejection))
                guard split.quarantine.count < maximumQuarantined else {
                    split.quarantineDropped += 1
                    continue
                }
                split.quarantine.append(QuarantinedItem(receivedAt: receivedAt, source: source,
                                                        origin: "\(origin):\(item.line)", eventId: rejection.eventId,
                                                        reason: rejection.reason, payload: item.raw))
            }
        }
        return split
    }
}
