import Foundation
import InsightCore
import InsightIngest
import InsightTesting
import Testing

/// `insightd ingest` and `replay` read files with ``IngestDecoder``: structured CloudEvents and native envelopes
/// may share a file, line by line, and the streamed read decodes them exactly as the whole-body decode does.
@Suite("Event file reader: CloudEvents and native lines")
struct MixedEncodingEventFileReaderTests {
    static func native(_ n: Int) -> String {
        #"{"id":"n\#(n)","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","clientId":"C\#(n % 13)","data":{"accountId":"6222","amount":"\#(n).50","direction":"credit","memo":"\#(String(repeating: "m", count: n * 37 % 900))"}}"#
    }

    static func cloudEvent(_ n: Int, specversion: String = "1.0") -> String {
        #"{"specversion":"\#(specversion)","id":"ce-\#(n)","source":"/core-banking","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","clientid":"C\#(n % 13)","datacontenttype":"application/json","data":{"accountId":"6222","amount":\#(n).25,"direction":"debit","memo":"\#(String(repeating: "c", count: n * 53 % 900))"}}"#
    }

    /// What an item says, without its `index` (0 for every streamed line).
    static func summary(_ item: EventBatch.Item) -> String {
        switch item.result {
        case .success(let event): "\(item.line) ok \(event.source) \(event.id) \(event.type) \(event.time.timeIntervalSince1970) \(event.clientId ?? "-") \(JSONWriter.string(event.data))"
        case .failure(let rejection): "\(item.line) rejected \(rejection) \(item.raw)"
        }
    }

    @Test func structuredCloudEventsAndNativeLinesInOneFileBothDecodeAsTheWholeBodyWould() throws {
        let directory = TemporaryDirectory("reader-cloudevents")
        var lines: [String] = []
        for n in 1...600 {
            switch n % 7 {
            case 0: lines.append(Self.cloudEvent(n, specversion: "2.0"))  // rejected: only 1.0
            case 1, 3, 5: lines.append(Self.cloudEvent(n))
            case 4: lines.append(n % 2 == 0 ? "" : #"{"specversion":"1.0","id":"ce-broken""#)
            default: lines.append(Self.native(n))
            }
        }
        let bytes = Array((lines.joined(separator: "\r\n") + "\n").utf8)
        let path = directory.file("mixed.ndjson")
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let whole = try EventBatch.decode(bytes, format: .automatic, defaultSource: "nightly", decoder: IngestDecoder()).map(Self.summary)

        for chunkBytes in [4096, 6007, 4 << 20] {
            var reader = try EventFileReader(path: path, decoder: IngestDecoder(), defaultSource: "nightly", chunkBytes: chunkBytes)
            var streamed: [EventBatch.Item] = []
            while let chunk = try reader.next() { streamed += chunk.items }
            #expect(streamed.map(Self.summary) == whole, "chunks of \(chunkBytes)")

            let events = streamed.compactMap { try? $0.result.get() }
            let cloud = try #require(events.first { $0.id == "ce-1" })
            #expect(cloud.source == "/core-banking" && cloud.clientId == "C1" && cloud.data["amount"] == .number("1.25"),
                    "a structured CloudEvent keeps its own source, clientid and data")
            let native = try #require(events.first { $0.id == "n2" })
            #expect(native.source == "nightly" && native.clientId == "C2", "a native envelope without a source takes the file's")
            #expect(events.count == lines.indices.count { [1, 2, 3, 5, 6].contains(($0 + 1) % 7) })
            let rejected = streamed.filter { if case .failure = $0.result { true } else { false } }
            #expect(rejected.contains { $0.line == 7 && "\($0.result)".contains("specversion") })
        }
    }
}

@Suite("TextEncoding")
struct TextEncodingTests {
    /// Found by deploy/fuzz (the csv target): GBK's byte 0x80 is €, three bytes of UTF-8, and a line mostly of
    /// them overflowed an output buffer sized for two bytes each, so it was refused as "not valid GBK text".
    @Test("a GBK line of euro signs decodes, whatever its length", arguments: [1, 17, 40, 4096])
    func gbkEuros(count: Int) throws {
        let text = try TextEncoding.gbk.decode(ArraySlice(repeating: 0x80, count: count))
        #expect(text == String(repeating: "€", count: count))
    }
}
