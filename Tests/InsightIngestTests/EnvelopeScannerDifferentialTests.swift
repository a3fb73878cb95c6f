import Foundation
import InsightCore
import InsightIngest
import Testing

/// The typed fast path of `EventBatch.decodeLine` (the envelope scanned straight from its bytes) against the
/// reference (the whole line parsed into a `JSONValue`, then decoded): over a corpus of valid, invalid and
/// hostile lines, both must give identical events (with identical journal text) and identical rejections.
@Suite("Envelope scanner: differential against the reference parser")
struct EnvelopeScannerDifferentialTests {
    /// Lines a bank's files hold, and lines a hostile or broken sender writes.
    static let handwritten: [String] = [
        // The W1 workload's line, and its variants.
        #"{"id":"evt-00000000","type":"account.transaction","time":"2026-11-01T00:00:00Z","clientId":"C000409","source":"w1","data":{"accountId":"A001002863","amount":"2497.80","currency":"CNY","direction":"debit","channel":"mobile","counterparty":"STATE GRID"}}"#,
        "\u{FEFF}" + #"{"id":"e1","type":"account.transaction","time":"2026-11-01T00:00:00Z","clientId":"C1","data":{"accountId":"A1","amount":"1.00","direction":"debit"}}"#,
        #"  { "id" : "e2" , "type" : "account.transaction" , "time" : "2026-11-01T08:00:00+08:00" , "clientId" : "C2" , "data" : { "accountId" : "A2" , "amount" : "10" , "direction" : "credit" } }  "#,
        #"{"id":"e3","type":"client.profile","time":"2026-11-01T00:00:00Z","clientId":"C3","data":{"name":"王小明","birthday":"1990-01-01","phone":"13812345678"}}"#,
        #"{"id":"e4","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{"x":[1,2,{"y":null}],"z":true,"w":-0.5e-3}}"#,
        #"{"id":"e5","type":"custom.thing","time":"2026-11-01T00:00:00Z"}"#,
        #"{"id":12345,"type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{}}"#,
        #"{"id":"e6","type":"account.transaction","time":"2026-11-01T00:00:00Z","clientId":4711,"data":{"accountId":"A","amount":"1","direction":"debit"}}"#,
        #"{"id":"e7","type":"custom.thing","time":"2026-11-01T00:00:00Z","clientId":null,"data":{}}"#,
        #"{"id":"e8","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":[]}"#,
        #"{"id":"e9","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":"text"}"#,
        #"{"id":"e10","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":null}"#,
        #"{"id":"e11","id":"e11b","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{}}"#,
        #"{"id":"e12","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{},"data":{}}"#,
        #"{"\u0069d":"e13","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{}}"#,
        #"{"id":"e14","type":"custom.thing","time":"2026-11-01T00:00:00Z","subject":"C9","data":{}}"#,
        #"{"specversion":"1.0","id":"ce1","source":"crm","type":"account.transaction","time":"2026-11-01T00:00:00Z","clientid":"C1","data":{"accountId":"A","amount":"1","direction":"debit"}}"#,
        #"{"id":"ce2","source":"crm","type":"custom.thing","time":"2026-11-01T00:00:00Z","specversion":"0.3","data":{}}"#,
        #"{"id":"e15","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{}"#,
        #"{"id":"e16","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{}} x"#,
        #"{"id":"e17","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{}}{"id":"e18"}"#,
        #"{"id":"e19,"type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{}}"#,
        "{\"id\":\"e20\u{01}\",\"type\":\"custom.thing\",\"time\":\"2026-11-01T00:00:00Z\",\"data\":{}}",
        #"{"id":"e21\u0001","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{}}"#,
        #"{"id":"e22","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{"s":"\ud800"}}"#,
        #"{"id":"e23","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{"s":"\ud83d\ude00 \u4e2d \/ \" \\ \n"}}"#,
        #"{"id":"e24","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{"s":"\q"}}"#,
        #"{"id":"e25","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{"n":012}}"#,
        #"{"id":"e26","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{"n":1.}}"#,
        #"{"id":"e27","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{"k":1,"k":2}}"#,
        #"{"id":"e28","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":"# + String(repeating: "[", count: 70)
            + String(repeating: "]", count: 70) + "}",
        #"{"id":"e29","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{"a":"# + String(repeating: "[", count: 61)
            + String(repeating: "]", count: 61) + "}}",
        "[]", #""x""#, "42", "null", "true", "{}", "{", "}", #"{"":1}"#, #"{"id"}"#, #"{"id":}"#, #"{,}"#,
        #"{"id":"","type":"custom.thing","time":"2026-11-01T00:00:00Z"}"#,
        #"{"id":""# + String(repeating: "x", count: 129) + #"","type":"custom.thing","time":"2026-11-01T00:00:00Z"}"#,
        #"{"id":""# + String(repeating: "中", count: 128) + #"","type":"custom.thing","time":"2026-11-01T00:00:00Z"}"#,
        #"{"id":"e30","type":"","time":"2026-11-01T00:00:00Z"}"#,
        #"{"id":"e31","type":7,"time":"2026-11-01T00:00:00Z"}"#,
        #"{"id":"e32","type":"custom.thing","time":"yesterday"}"#,
        #"{"id":"e33","type":"custom.thing"}"#,
        #"{"id":"e34","type":"custom.thing","time":"2026-11-01T00:00:00Z","source":""}"#,
        #"{"id":"e35","type":"custom.thing","time":"2026-11-01T00:00:00Z","source":5}"#,
        #"{"id":"e36","type":"account.transaction","time":"2026-11-01T00:00:00Z","data":{"accountId":"A","amount":"1","direction":"debit"}}"#,
        #"{"id":"e37","type":"account.transaction","time":"2026-11-01T00:00:00Z","clientId":"C","data":{"accountId":"A","amount":"x","direction":"debit"}}"#,
        #"{"id":"e38","type":"account.transaction","time":"2026-11-01T00:00:00Z","clientId":"","data":{}}"#,
        #"{"ids":"e39","i":"x","dataX":{},"type":"custom.thing","time":"2026-11-01T00:00:00Z"}"#,
        #"{"clíentId":"C","id":"e40","type":"custom.thing","time":"2026-11-01T00:00:00Z"}"#,
        #"{"id":"e41","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{"a":1} ,}"#,
        #"{"id":"e42" "type":"custom.thing"}"#,
        #"{"id":"e43","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{"a":tru}}"#,
        #"{"id":"e44","type":"custom.thing","time":"2026-11-01T00:00:00Z","data":{"big":123456789012345678901234567890.123456789}}"#,
    ]

    /// Bytes a mutation may insert: JSON's structure, escapes, control bytes and broken UTF-8.
    static let alphabet: [UInt8] = Array(#"{}[]",:\ 0123456789.eE-+tfnulaxdi"#.utf8) + [0x00, 0x01, 0x0A, 0x7F, 0x80, 0xC3, 0xE4, 0xFF]

    /// `count` lines made from the handwritten ones by one to three random edits (seeded: the same every run).
    static func mutated(count: Int) -> [[UInt8]] {
        var random = SeededRandom(seed: 2026_1205)
        let seeds = handwritten.map { Array($0.utf8) }.filter { !$0.isEmpty }
        var lines: [[UInt8]] = []
        for _ in 0..<count {
            var line = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0...(random.next() % 3) where !line.isEmpty {
                let at = Int(random.next() % UInt64(line.count))
                switch random.next() % 5 {
                case 0: line.remove(at: at)
                case 1: line.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: at)
                case 2: line[at] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                case 3:  // a span repeated (a duplicated member, a doubled quote)
                    let end = min(line.count, at + 1 + Int(random.next() % 24))
                    line.insert(contentsOf: line[at..<end], at: end)
                default: line.removeSubrange(at..<min(line.count, at + 1 + Int(random.next() % 12)))  // cut short
                }
            }
            lines.append(line.filter { $0 != 0x0A })  // one line each
        }
        return lines
    }

    struct Outcome: Equatable, CustomStringConvertible {
        var event: Event?
        var dataText: String?
        var rejection: EventRejection?
        var raw: String?
        var description: String {
            if let event { return "event \(event.id) \(event.type) \(event.clientId ?? "-") data \(dataText ?? "nil")" }
            return "rejected \(rejection.map { "\($0)" } ?? "?") raw \(raw ?? "nil")"
        }
    }

    static func fast(_ line: [UInt8], decoder: some EventDecoding, encodeData: Bool) -> Outcome? {
        line.withUnsafeBufferPointer { buffer in
            guard let item = EventBatch.decodeLine(buffer, number: 7, defaultSource: "inbox-crm", decoder: decoder,
                                                   encodeData: encodeData) else { return nil }
            switch item.result {
            case .success(let event): return Outcome(event: event, dataText: event.dataText)
            case .failure(let rejection): return Outcome(rejection: rejection, raw: item.raw)
            }
        }
    }

    static func reference(_ line: [UInt8], decoder: some EventDecoding, encodeData: Bool) -> Outcome? {
        var trimmed = line[...]
        if trimmed.last == 0x0D { trimmed = trimmed.dropLast() }
        guard trimmed.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return nil }
        return Array(trimmed).withUnsafeBufferPointer { buffer in
            let (result, dataText) = EventBatch.decodeLineReference(buffer, number: 7, defaultSource: "inbox-crm",
                                                                    decoder: decoder, encodeData: encodeData)
            switch result {
            case .success(let event):
                return Outcome(event: event, dataText: encodeData ? dataText ?? JSONWriter.string(event.data) : nil)
            case .failure(let rejection): return Outcome(rejection: rejection, raw: String(decoding: buffer, as: UTF8.self))
            }
        }
    }

    /// Runs both ways over `lines`; returns how many took the fast path (the scanner read the envelope).
    static func compare(_ lines: [[UInt8]], decoder: some EventDecoding) -> Int {
        var scanned = 0
        for line in lines {
            if line.withUnsafeBufferPointer({ JSONParser.scanEnvelope($0) }) != nil { scanned += 1 }
            for encodeData in [false, true] {
                let fast = fast(line, decoder: decoder, encodeData: encodeData)
                let reference = reference(line, decoder: decoder, encodeData: encodeData)
                #expect(fast == reference, "line \(String(decoding: line, as: UTF8.self).debugDescription), encodeData \(encodeData)")
                if let event = fast?.event, let expected = reference?.event {
                    expectSameFields(event, expected)
                }
            }
        }
        return scanned
    }

    /// Each of `data`'s fields read one at a time (the fast path keeps `data` as its members), and a transaction's
    /// fields, are those of the reference's object.
    static func expectSameFields(_ event: Event, _ expected: Event) {
        let object = expected.data.objectValue ?? [:]
        for (key, value) in object { #expect(event.field(key) == value, "data.\(key)") }
        #expect(event.field("no such field") == nil)
        #expect(event.dataIsObject == (expected.data.objectValue != nil))
        let fields = event.transaction, reference = expected.transaction
        #expect(fields?.accountId == reference?.accountId)
        #expect(fields?.amount == reference?.amount)
        #expect(fields?.amountLiteral == reference?.amountLiteral)
        #expect(fields?.direction == reference?.direction)
        #expect(fields?.currency == reference?.currency)
        #expect(fields?.channel == reference?.channel)
        #expect(fields?.counterparty == reference?.counterparty)
        #expect(fields?.balanceAfter == reference?.balanceAfter)
    }

    @Test("handwritten lines: the same events and rejections, native and ingest decoders")
    func handwrittenLines() {
        let lines = Self.handwritten.map { Array($0.utf8) }
        let scannedNative = Self.compare(lines, decoder: NativeEventDecoder())
        let scannedIngest = Self.compare(lines, decoder: IngestDecoder())
        #expect(scannedNative == scannedIngest)
        // The fast path is taken for the flat envelopes (not a vacuous comparison) and not for the rest.
        #expect(scannedNative >= 20)
        #expect(scannedNative < lines.count - 20)
    }

    @Test("20,000 mutated lines: the same events and rejections")
    func mutatedLines() {
        let lines = Self.mutated(count: 20_000)
        let scanned = Self.compare(lines, decoder: IngestDecoder())
        #expect(scanned > 1_000, "the mutations left too few lines for the fast path: \(scanned)")
        _ = Self.compare(Array(lines.prefix(5_000)), decoder: NativeEventDecoder())
    }

    @Test("the W1 line takes the fast path and journals its data bytes as sent")
    func workloadLineTakesTheFastPath() throws {
        let line = Array(Self.handwritten[0].utf8)
        let members = try #require(line.withUnsafeBufferPointer { JSONParser.scanEnvelope($0) })
        #expect(members.id == .string("evt-00000000"))
        #expect(members.clientId == .string("C000409"))
        let outcome = try #require(Self.fast(line, decoder: IngestDecoder(), encodeData: true))
        #expect(outcome.dataText == #"{"accountId":"A001002863","amount":"2497.80","currency":"CNY","direction":"debit","channel":"mobile","counterparty":"STATE GRID"}"#)
        #expect(outcome.event?.source == "w1")
    }

    @Test("a structured CloudEvent and a line with extra members go the reference way")
    func otherShapesAreLeftToTheReference() {
        for text in [Self.handwritten[16], Self.handwritten[15], Self.handwritten[14]] {
            #expect(Array(text.utf8).withUnsafeBufferPointer { JSONParser.scanEnvelope($0) } == nil, "\(text)")
        }
    }
}
