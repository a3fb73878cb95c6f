import Foundation
import InsightCore
import InsightIngest

// The event decoders on the same bytes:
// - `EventBatch.decode` as JSON, NDJSON and automatic, with the native and the ingest decoder (native envelopes
//   and structured CloudEvents), with and without the journal's data text: no trap, and what it returns is
//   consistent (items in order, accepted events valid, their data text the data's JSON).
// - Each NDJSON line through the typed fast path (`EventBatch.decodeLine`) and the reference (`decodeLineReference`):
//   the same event or the same rejection, as EnvelopeScannerDifferentialTests checks on a fixed corpus.
// - `CloudEvents.decodeStructured` on the document (and each element of an array) and `CloudEvents.decodeBinary`
//   on the input read as an HTTP message: `Name: value` header lines, a blank line, the body.
// A disagreement traps (`check`), which libFuzzer reports as a crash with the input.

@inline(never)
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("check failed: \(message())") }
}

let defaultSource = "inbox-crm"

/// An accepted event: valid by its type's contract, `data` an object, and (with `encodeData`) its data text the
/// data as JSON.
func checkAccepted(_ event: Event, encodeData: Bool, _ what: String) {
    check(EventValidator.problem(with: event) == nil, "\(what): accepted an event the validator rejects")
    check(event.dataIsObject, "\(what): accepted an event whose data is not an object")
    check(!event.id.isEmpty && Event.fitsIdLength(event.id), "\(what): accepted id \(event.id.debugDescription)")
    if encodeData {
        guard let text = event.dataText else { fatalError("\(what): no data text with encodeData") }
        check((try? JSONParser.parse(text)) == event.data, "\(what): the data text is not the data: \(text)")
    }
}

struct Outcome: Equatable {
    var event: Event?
    var dataText: String?
    var rejection: EventRejection?
    var raw: String?
}

func fast(_ line: UnsafeBufferPointer<UInt8>, decoder: some EventDecoding, encodeData: Bool) -> Outcome? {
    guard let item = EventBatch.decodeLine(line, number: 7, defaultSource: defaultSource, decoder: decoder,
                                           encodeData: encodeData) else { return nil }
    switch item.result {
    case .success(let event): return Outcome(event: event, dataText: event.dataText)
    case .failure(let rejection): return Outcome(rejection: rejection, raw: item.raw)
    }
}

func reference(_ line: UnsafeBufferPointer<UInt8>, decoder: some EventDecoding, encodeData: Bool) -> Outcome? {
    var trimmed = line[...]
    if trimmed.last == 0x0D { trimmed = trimmed.dropLast() }
    guard trimmed.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return nil }
    let buffer = UnsafeBufferPointer(rebasing: trimmed)
    let (result, dataText) = EventBatch.decodeLineReference(buffer, number: 7, defaultSource: defaultSource,
                                                            decoder: decoder, encodeData: encodeData)
    switch result {
    case .success(let event):
        return Outcome(event: event, dataText: encodeData ? dataText ?? JSONWriter.string(event.data) : nil)
    case .failure(let rejection):
        return Outcome(rejection: rejection, raw: String(decoding: buffer, as: UTF8.self))
    }
}

/// The fast path against the reference on one line; their events' data read field by field must agree too.
func compareLine(_ line: UnsafeBufferPointer<UInt8>, decoder: some EventDecoding) {
    for encodeData in [false, true] {
        let fastOutcome = fast(line, decoder: decoder, encodeData: encodeData)
        let referenceOutcome = reference(line, decoder: decoder, encodeData: encodeData)
        check(fastOutcome == referenceOutcome,
              "fast path and reference differ (encodeData \(encodeData)): \(String(describing: fastOutcome)) vs \(String(describing: referenceOutcome))")
        guard let event = fastOutcome?.event, let expected = referenceOutcome?.event else { continue }
        checkAccepted(event, encodeData: encodeData, "decodeLine")
        let object = expected.data.objectValue ?? [:]
        for (key, value) in object { check(event.field(key) == value, "fast path: data.\(key) differs") }
        check(event.field("no such field") == nil, "fast path: a field that is not there")
        check(event.dataIsObject == (expected.data.objectValue != nil), "fast path: dataIsObject differs")
        let fields = event.transaction, wanted = expected.transaction
        check((fields == nil) == (wanted == nil), "fast path: transaction fields differ")
        if let fields, let wanted {
            check(fields.accountId == wanted.accountId && fields.amount == wanted.amount
                      && fields.amountLiteral == wanted.amountLiteral && fields.direction == wanted.direction
                      && fields.currency == wanted.currency && fields.channel == wanted.channel
                      && fields.counterparty == wanted.counterparty && fields.balanceAfter == wanted.balanceAfter,
                  "fast path: transaction fields differ")
        }
    }
}

func decodeBatch(_ bytes: [UInt8], format: EventBatch.Format, decoder: some EventDecoding, encodeData: Bool) -> [EventBatch.Item]? {
    let items: [EventBatch.Item]
    do {
        items = try EventBatch.decode(bytes, format: format, defaultSource: defaultSource, decoder: decoder, encodeData: encodeData)
    } catch {
        return nil
    }
    var lastLine = 0
    for (position, item) in items.enumerated() {
        check(item.index == position, "\(format): item \(position) has index \(item.index)")
        check(item.line >= lastLine && item.line >= 1, "\(format): lines out of order")
        lastLine = item.line
        if case .success(let event) = item.result { checkAccepted(event, encodeData: encodeData, "decode \(format)") }
    }
    return items
}

func sameItems(_ a: [EventBatch.Item]?, _ b: [EventBatch.Item]?) -> Bool {
    guard let a, let b else { return a == nil && b == nil }
    return a.count == b.count && zip(a, b).allSatisfy { $0.line == $1.line && $0.result == $1.result && $0.raw == $1.raw }
}

/// The input as a binary-mode CloudEvent: header lines up to the first blank line, then the body.
func binaryMode(_ bytes: [UInt8]) {
    guard let text = String(validating: bytes, as: UTF8.self) else { return }
    let parts = text.split(separator: "\n\n", maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2 else { return }
    var headers: [String: String] = [:]
    for line in parts[0].split(separator: "\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[String(line[..<colon])] = String(line[line.index(after: colon)...].drop { $0 == " " })
    }
    if case .success(let event) = CloudEvents.decodeBinary(headers: headers, body: Array(parts[1].utf8)) {
        checkAccepted(event, encodeData: false, "decodeBinary")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: start, count: count)
    let bytes = Array(buffer)

    // Whole bodies, every format and decoder.
    for encodeData in [false, true] {
        let native = NativeEventDecoder(), ingest = IngestDecoder()
        let json = decodeBatch(bytes, format: .json, decoder: ingest, encodeData: encodeData)
        _ = decodeBatch(bytes, format: .ndjson, decoder: ingest, encodeData: encodeData)
        let automatic = decodeBatch(bytes, format: .automatic, decoder: ingest, encodeData: encodeData)
        // A body that is one JSON document is read the same way as JSON and automatically.
        if json != nil { check(sameItems(json, automatic), "automatic read a JSON body otherwise than json") }
        _ = decodeBatch(bytes, format: .automatic, decoder: native, encodeData: encodeData)
    }

    // Each line, fast path against reference, both decoders.
    var lineStart = 0
    while lineStart <= count {
        let end = buffer[lineStart...].firstIndex(of: 0x0A) ?? count
        let line = UnsafeBufferPointer(rebasing: buffer[lineStart..<end])
        compareLine(line, decoder: NativeEventDecoder())
        compareLine(line, decoder: IngestDecoder())
        lineStart = end + 1
    }

    // CloudEvents, structured (one or a batch) and binary.
    if let document = try? JSONParser.parse(buffer) {
        let values: [JSONValue] = if case .array(let array) = document { array } else { [document] }
        for value in values {
            if case .success(let event) = CloudEvents.decodeStructured(value) {
                checkAccepted(event, encodeData: false, "decodeStructured")
            }
        }
    }
    binaryMode(bytes)
    return 0
}
