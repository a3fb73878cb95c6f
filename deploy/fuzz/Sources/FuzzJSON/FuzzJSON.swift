import InsightCore

// The JSON parser (Sources/InsightCore/JSON/JSONParser.swift), every entry point on the same bytes, and the
// places they must agree:
// - `parse` returns a value or a `Failure`; it must not trap, overflow or read out of bounds (ASan).
// - `parseMembers` gives the same value (its members' object) or the same failure at the same place.
// - `parseEnvelope` gives the same value, and its `dataText` is the root object's `data` member's text.
// - `scanEnvelope` (the typed fast path) reads members only out of a document the full parse accepts, and
//   they are the same values; the `data` range holds exactly that member's text.
// - `JSONWriter` writes the value as JSON the parser reads back to the same value, and writing that again
//   gives the same text (canonical output).
// A disagreement traps (`check`), which libFuzzer reports as a crash with the input.

@inline(never)
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("differential check failed: \(message())") }
}

func value(of document: JSONDocument) -> JSONValue {
    switch document {
    case .members(let members): .object(members.object)
    case .value(let value): value
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)

    let full: Result<JSONValue, JSONParser.Failure> = Result { () throws(JSONParser.Failure) in try JSONParser.parse(bytes) }
    if case .failure(let failure) = full {
        check(failure.offset >= 0 && failure.offset <= count, "failure offset \(failure.offset) outside 0...\(count)")
        check(failure.line >= 1 && failure.column >= 1, "failure at line \(failure.line), column \(failure.column)")
    }

    // parseMembers: the same value or the same failure.
    let members = Result { () throws(JSONParser.Failure) in try JSONParser.parseMembers(bytes) }
    switch (full, members) {
    case (.success(let expected), .success(let document)):
        check(value(of: document) == expected, "parseMembers read another value")
        if case .members(let object) = document {
            guard case .object(let dictionary) = expected else { fatalError("parseMembers kept members of a non-object") }
            check(object.members.count == dictionary.count, "parseMembers kept \(object.members.count) members of \(dictionary.count)")
            for (key, item) in dictionary { check(object[key] == item, "parseMembers: member \(key) differs") }
        }
    case (.failure(let expected), .failure(let failure)):
        check(failure == expected, "parseMembers failed otherwise: \(failure) vs parse's \(expected)")
    case (.success, .failure(let failure)):
        fatalError("parseMembers rejected a document parse accepts: \(failure)")
    case (.failure(let failure), .success):
        fatalError("parseMembers accepted a document parse rejects: \(failure)")
    }

    // parseEnvelope: the same value; `dataText` is the root object's `data`, as text that parses to it.
    let envelope = Result { () throws(JSONParser.Failure) in try JSONParser.parseEnvelope(bytes) }
    switch (full, envelope) {
    case (.success(let expected), .success(let (value, dataText))):
        check(value == expected, "parseEnvelope read another value")
        if case .object(let object) = expected, let data = object["data"] {
            guard let dataText else { fatalError("parseEnvelope lost the data member's text") }
            check((try? JSONParser.parse(dataText)) == data, "parseEnvelope's dataText is not the data member")
        } else {
            check(dataText == nil, "parseEnvelope gave dataText without a root data member")
        }
    case (.failure(let expected), .failure(let failure)):
        check(failure == expected, "parseEnvelope failed otherwise: \(failure) vs parse's \(expected)")
    default:
        fatalError("parseEnvelope and parse disagree on whether the document is JSON")
    }

    // scanEnvelope: members only of a document the full parse accepts, and the same ones.
    if let scanned = JSONParser.scanEnvelope(bytes) {
        guard case .success(.object(let object)) = full else {
            fatalError("scanEnvelope read members of a document parse does not accept as an object: \(full)")
        }
        let known: Set<String> = ["id", "type", "time", "source", "clientId", "data"]
        check(Set(object.keys).isSubset(of: known), "scanEnvelope accepted an envelope with other members: \(object.keys.sorted())")
        check(scanned.id == object["id"], "scanEnvelope: id differs")
        check(scanned.type == object["type"], "scanEnvelope: type differs")
        check(scanned.time == object["time"], "scanEnvelope: time differs")
        check(scanned.source == object["source"], "scanEnvelope: source differs")
        check(scanned.clientId == object["clientId"], "scanEnvelope: clientId differs")
        check(scanned.data.map(value(of:)) == object["data"], "scanEnvelope: data differs")
        if let range = scanned.dataRange {
            check(range.lowerBound >= 0 && range.upperBound <= count, "scanEnvelope: data range \(range) outside the input")
            let text = UnsafeBufferPointer(rebasing: bytes[range])
            check((try? JSONParser.parse(text)) == object["data"], "scanEnvelope: the data range is not the data member's text")
        } else {
            check(object["data"] == nil, "scanEnvelope: data without its range")
        }
    }

    // The writer: what it writes parses back to the same value, and is canonical.
    if case .success(let parsed) = full {
        let written = JSONWriter.string(parsed)
        guard let reread = try? JSONParser.parse(written) else { fatalError("JSONWriter wrote text the parser rejects: \(written)") }
        check(reread == parsed, "JSONWriter's text reads back to another value: \(written)")
        check(JSONWriter.string(reread) == written, "JSONWriter is not canonical: \(written)")
    }
    return 0
}
