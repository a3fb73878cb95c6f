import Foundation
import InsightTesting
import Testing
@testable import InsightCore

// MARK: - Helpers

/// A valid native event line (no newline): id `e<n>`, its data padded with `padding` bytes.
private func eventLine(_ n: Int, padding: Int = 0, time: String = "2026-11-20T10:00:00+08:00") -> String {
    #"{"id":"e\#(n)","type":"test.record","time":"\#(time)","source":"feed","clientId":"C\#(n % 97)","data":{"n":\#(n),"pad":"\#(String(repeating: "x", count: padding))"}}"#
}

/// Writes `bytes` to `name` in `directory` and returns the path.
private func write(_ directory: TemporaryDirectory, _ name: String, _ bytes: [UInt8]) -> String {
    let path = directory.file(name)
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return path
}

/// The lines joined with `\n`, each followed by one.
private func ndjson(_ lines: [String]) -> [UInt8] {
    Array(lines.map { $0 + "\n" }.joined().utf8)
}

/// Every chunk of `path`, read to the end (a runaway reader fails the test instead of hanging it).
private func chunks(_ path: String, chunkBytes: Int = 4 << 20, startOffset: Int64 = 0, startLine: Int = 0,
                    decoder: some EventDecoding = NativeEventDecoder()) throws -> [EventFileReader.Chunk] {
    var reader = try EventFileReader(path: path, decoder: decoder, defaultSource: "file", startOffset: startOffset,
                                     startLine: startLine, chunkBytes: chunkBytes)
    var read: [EventFileReader.Chunk] = []
    while let chunk = try reader.next() {
        read.append(chunk)
        if read.count > 100_000 {
            Issue.record("the reader does not end")
            break
        }
    }
    if try reader.next() != nil { Issue.record("the end stays the end") }
    return read
}

/// What a decoded item says, comparable across the streamed and the whole-file decoding. (`index` is left out:
/// the streaming reader leaves it 0, as ``EventBatch/decodeLine(_:number:defaultSource:decoder:)`` documents.)
struct DecodedItem: Equatable, CustomStringConvertible {
    let line: Int
    let result: Result<Event, EventRejection>
    let raw: String

    init(_ item: EventBatch.Item) {
        line = item.line
        result = item.result
        raw = item.raw
    }

    var description: String {
        switch result {
        case .success(let event): "line \(line): event \(event.source)/\(event.id)"
        case .failure(let rejection): "line \(line): rejected (\(rejection)) raw \(raw.prefix(80).debugDescription)"
        }
    }

    var eventId: String? { try? result.get().id }
    var isRejected: Bool { if case .failure = result { true } else { false } }
}

private func items(_ chunks: [EventFileReader.Chunk]) -> [DecodedItem] {
    chunks.flatMap { $0.items.map(DecodedItem.init) }
}

/// Where a file's newlines are, found with `memchr` (a byte-by-byte scan is slow in a debug build).
struct LineIndex {
    let newlines: [Int]
    let size: Int

    init(_ data: Data) {
        size = data.count
        var found: [Int] = []
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress else { return }
            var index = 0
            while index < raw.count, let hit = memchr(base + index, 0x0A, raw.count - index) {
                let offset = base.distance(to: UnsafeRawPointer(hit))
                found.append(offset)
                index = offset + 1
            }
        }
        newlines = found
    }

    init(_ bytes: [UInt8]) { self.init(Data(bytes)) }

    /// How many newlines come before `end`.
    private func newlines(before end: Int) -> Int {
        var low = 0, high = newlines.count
        while low < high {
            let middle = (low + high) / 2
            if newlines[middle] < end { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// True when `end` is just past a newline, or the end of the file.
    func isLineBoundary(_ end: Int) -> Bool {
        end == size || (end > 0 && newlines(before: end) > newlines(before: end - 1))
    }

    /// The number of lines in `[0, end)`: its newlines, plus a last line without one at the end of the file.
    func lineCount(upTo end: Int) -> Int {
        let count = newlines(before: end)
        return end == size && size > 0 && newlines.last != size - 1 ? count + 1 : count
    }
}

/// Every chunk ends on a line boundary, and its `endLine` counts the lines up to that boundary: where a
/// checkpoint can resume.
private func expectResumablePositions(_ chunks: [EventFileReader.Chunk], _ index: LineIndex,
                                      sourceLocation: SourceLocation = #_sourceLocation) {
    var previous: Int64 = 0
    for (number, chunk) in chunks.enumerated() {
        let end = Int(chunk.endOffset)
        #expect(chunk.endOffset >= previous, "chunk \(number): offsets only move forward", sourceLocation: sourceLocation)
        guard end >= 0, end <= index.size else {
            Issue.record("chunk \(number): endOffset \(end) is outside the file (\(index.size) bytes)", sourceLocation: sourceLocation)
            continue
        }
        #expect(index.isLineBoundary(end), "chunk \(number): endOffset \(end) is on a line boundary", sourceLocation: sourceLocation)
        #expect(chunk.endLine == index.lineCount(upTo: end), "chunk \(number): endLine counts the lines before endOffset",
                sourceLocation: sourceLocation)
        if let last = chunk.items.last { #expect(last.line <= chunk.endLine, sourceLocation: sourceLocation) }
        previous = chunk.endOffset
    }
}

private func expectResumablePositions(_ chunks: [EventFileReader.Chunk], _ bytes: [UInt8],
                                      sourceLocation: SourceLocation = #_sourceLocation) {
    expectResumablePositions(chunks, LineIndex(bytes), sourceLocation: sourceLocation)
}

/// A file of `parts` (built with `Data`, which a debug build fills at memset speed).
private func writeParts(_ directory: TemporaryDirectory, _ name: String, _ parts: [Data]) -> (path: String, index: LineIndex) {
    var data = Data()
    for part in parts { data.append(part) }
    let path = directory.file(name)
    _ = FileManager.default.createFile(atPath: path, contents: data)
    return (path, LineIndex(data))
}

private func text(_ string: String) -> Data { Data(string.utf8) }

/// `count` bytes of `x`.
private func filler(_ count: Int) -> Data { Data(repeating: UInt8(ascii: "x"), count: count) }

/// Chunks of 1 MiB: the reader reaches its 16 MiB line limit in whole chunks whatever the lines before.
private let megabyteChunks = 1 << 20

/// A deterministic pseudo-random sequence (a 64-bit LCG), so a failing corpus is the same on every run.
struct ReaderTestRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }
}

/// Lines no feed should send, each of which must be rejected (or skipped, if blank) on its own.
private let hostileLines: [String] = [
    #"{"id":"x1","type":"test.record","time":"yesterday"}"#,
    #"{"id":"","type":"test.record","time":"2026-11-20T10:00:00+08:00"}"#,
    #"{"id":"ctl\u0000id","type":"test.record","time":"2026-11-20T10:00:00+08:00"}"#,
    #"{"id":"\#(String(repeating: "i", count: 200))","type":"test.record","time":"2026-11-20T10:00:00+08:00"}"#,
    #"{"type":"test.record","time":"2026-11-20T10:00:00+08:00"}"#,
    #"{"id":"nodata","type":"test.record","time":"2026-11-20T10:00:00+08:00","data":[1]}"#,
    #"{"id":"src","type":"test.record","time":"2026-11-20T10:00:00+08:00","source":""}"#,
    "[1,2,3]", #""just a string""#, "null", "42", "true", "{", "}", #"{"unterminated":""#,
    #"{"id":"a","type":"t","time":"2026-11-20T10:00:00+08:00"} trailing"#,
    #"{"id":"a"}{"id":"b"}"#,
    #"{"id":"comma","type":"t","time":"2026-11-20T10:00:00+08:00",}"#,
    #"{"id":"deep","type":"test.record","time":"2026-11-20T10:00:00+08:00","data":"#
        + String(repeating: #"{"a":"#, count: 80) + "1" + String(repeating: "}", count: 80) + "}",
    #"{"id":"tab"# + "\t" + #"inside","type":"t","time":"2026-11-20T10:00:00+08:00"}"#,
    "\u{0C}", "\u{0B}{}",
    #"{"id":"lone","type":"test.record","time":"2026-11-20T10:00:00+08:00","data":{"s":"\ud800"}}"#,
    #"{"id":1e400,"type":"test.record","time":"2026-11-20T10:00:00+08:00"}"#,
    #"{"id":"account","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","data":{}}"#,
]

/// Valid lines with something unusual about them.
private let oddValidLines: [String] = [
    #"{"id":"zh","type":"test.record","time":"2026-11-20T10:00:00+08:00","data":{"name":"张三 😀 \u2028 \"q\" \\n"}}"#,
    "\u{FEFF}" + #"{"id":"bom","type":"test.record","time":"2026-11-20T10:00:00+08:00"}"#,
    #"  {"id":"spaced","type":"test.record","time":"2026-11-20T10:00:00Z"}  "#,
    #"{"id":12345,"type":"test.record","time":"2026-11-20T10:00:00.123456+08:00","clientId":678}"#,
    #"{"id":"dupkey","id":"dupkey2","type":"test.record","time":"2026-11-20T10:00:00+08:00"}"#,
    #"{"id":"nested","type":"test.record","time":"2026-11-20T10:00:00+08:00","data":{"a":[{"b":[1,2,{"c":null}]}]}}"#,
]

/// A mixed corpus of about `count` lines: valid events of every length (some longer than a small chunk),
/// hostile lines, blank lines, CRLF endings; its first line is a valid event, its last has no newline.
private func mixedCorpus(count: Int, seed: UInt64) -> [UInt8] {
    var random = ReaderTestRandom(seed)
    var bytes = Array((eventLine(0) + "\n").utf8)
    for n in 1..<count {
        let line: String
        switch random.next(20) {
        case 0, 1: line = hostileLines[random.next(hostileLines.count)]
        case 2: line = oddValidLines[random.next(oddValidLines.count)]
        case 3: line = ["", " ", "\t \t", "\r"][random.next(4)]
        case 4: line = eventLine(n, padding: 3_000 + random.next(7_000))
        default: line = eventLine(n, padding: random.next(300))
        }
        bytes.append(contentsOf: line.utf8)
        if n < count - 1 { bytes.append(contentsOf: random.next(3) == 0 ? [0x0D, 0x0A] : [0x0A]) }
    }
    return bytes
}

// MARK: - Tests

@Suite("Event file reader")
struct EventFileReaderTests {
    @Test func aFileOfSeveralChunksGivesEveryEventOnceInOrderWithItsLine() throws {
        let directory = TemporaryDirectory("reader-chunks")
        let count = 40_000
        let lines = (1...count).map { eventLine($0, padding: 100) }
        let bytes = ndjson(lines)
        #expect(bytes.count > 2 * (4 << 20), "more than the first chunk (the reader starts with two reads of 4 MiB)")
        let path = write(directory, "big.ndjson", bytes)
        let read = try chunks(path)
        #expect(read.count >= 2, "read a chunk at a time, not whole: \(read.count) chunk(s)")
        let all = items(read)
        #expect(all.count == count)
        #expect(all.map(\.eventId) == (1...count).map { "e\($0)" }, "every event exactly once, in file order")
        #expect(all.map(\.line) == Array(1...count), "each with its own line number")
        #expect(all.allSatisfy { !$0.isRejected })
        // Each chunk ends just past its last line, and says which line that is.
        var offsetAfter: [Int64] = [0]
        for line in lines { offsetAfter.append(offsetAfter[offsetAfter.count - 1] + Int64(line.utf8.count + 1)) }
        for chunk in read {
            let last = try #require(chunk.items.last)
            #expect(chunk.endLine == last.line)
            #expect(chunk.endOffset == offsetAfter[last.line])
        }
        #expect(read.last?.endOffset == Int64(bytes.count))
        #expect(read.last?.endLine == count)
    }

    @Test(arguments: [4096, 4097, 5003])
    func smallChunksSplitLinesAnywhereAndLoseNone(chunkBytes: Int) throws {
        let directory = TemporaryDirectory("reader-small-chunks")
        // Lengths around and beyond a chunk: a line is often cut by a chunk's end, some span several chunks.
        var random = ReaderTestRandom(UInt64(chunkBytes))
        let lines = (1...400).map { eventLine($0, padding: $0 == 1 ? 0 : random.next(10) == 0 ? 4_000 + random.next(9_000) : random.next(600)) }
        let bytes = ndjson(lines)
        let path = write(directory, "lines.ndjson", bytes)
        let read = try chunks(path, chunkBytes: chunkBytes)
        #expect(read.count > 10)
        let all = items(read)
        #expect(all.map(\.eventId) == (1...400).map { "e\($0)" })
        #expect(all.map(\.line) == Array(1...400))
        #expect(all.allSatisfy { !$0.isRejected })
        expectResumablePositions(read, bytes)
    }

    @Test func crlfLineEndingsAndALastLineWithoutANewline() throws {
        let directory = TemporaryDirectory("reader-crlf")
        // With 4 KiB chunks, some chunk ends fall between a \r and its \n.
        let count = 300
        var text = (1..<count).map { eventLine($0, padding: $0 * 7 % 211) + "\r\n" }.joined()
        text += eventLine(count)  // no newline at the end of the file
        let bytes = Array(text.utf8)
        let path = write(directory, "crlf.ndjson", bytes)
        for chunkBytes in [4096, 4 << 20] {
            let read = try chunks(path, chunkBytes: chunkBytes)
            let all = items(read)
            #expect(all.map(\.eventId) == (1...count).map { "e\($0)" }, "chunks of \(chunkBytes)")
            #expect(all.map(\.line) == Array(1...count))
            #expect(all.allSatisfy { !$0.isRejected }, "a trailing \\r is not part of the line")
            let events = all.compactMap { try? $0.result.get() }
            #expect(events.allSatisfy { !$0.id.contains("\r") && $0.data["pad"]?.stringValue?.contains("\r") != true })
            #expect(read.last?.endOffset == Int64(bytes.count), "the last line, without a newline, is read to the end")
            #expect(read.last?.endLine == count)
            expectResumablePositions(read, bytes)
        }
    }

    @Test func blankLinesAreSkippedButStillCounted() throws {
        let directory = TemporaryDirectory("reader-blank")
        let text = "\n" + eventLine(1) + "\n\n   \n\t\n\r\n" + eventLine(2) + "\r\n \r\n" + eventLine(3) + "\n\n\n"
        let path = write(directory, "blank.ndjson", Array(text.utf8))
        let read = try chunks(path, chunkBytes: 4096)
        let all = items(read)
        #expect(all.map(\.eventId) == ["e1", "e2", "e3"])
        #expect(all.map(\.line) == [2, 7, 9])
        #expect(read.last?.endLine == 11)
    }

    @Test func aBadLineIsRejectedAloneWithItsLineAndTextWhileItsNeighboursGoThrough() throws {
        let directory = TemporaryDirectory("reader-bad")
        let lines = [
            eventLine(1),
            #"{"id":"broken","type":"#,
            eventLine(3),
            "[1]",
            #"{"id":"e5","type":"test.record"}"#,
            eventLine(6),
        ]
        let path = write(directory, "bad.ndjson", ndjson(lines))
        let all = items(try chunks(path, chunkBytes: 4096))
        #expect(all.map(\.line) == [1, 2, 3, 4, 5, 6])
        #expect(all.map(\.isRejected) == [false, true, false, true, true, false])
        #expect(all.map(\.eventId) == ["e1", nil, "e3", nil, nil, "e6"])
        #expect(all[1].raw == lines[1], "the rejected line's text is kept for the quarantine")
        #expect(all[3].raw == "[1]")
        guard case .failure(let notJSON) = all[1].result, case .failure(let missingTime) = all[4].result else { return }
        #expect(notJSON.reason.contains("line 2 is not valid JSON"), "\(notJSON)")
        #expect(missingTime.eventId == "e5" && missingTime.reason.contains("\"time\""), "\(missingTime)")
    }

    @Test func aLineThatIsNotUTF8IsRejectedAlone() throws {
        let directory = TemporaryDirectory("reader-utf8")
        var bytes = Array((eventLine(1) + "\n").utf8)
        bytes += Array(#"{"id":"bad","type":"test.record","time":"2026-11-20T10:00:00+08:00","data":{"s":""#.utf8)
        bytes += [0xFF, 0xC3, 0x28]
        bytes += Array("\"}}\n".utf8) + Array((eventLine(3) + "\n").utf8)
        let path = write(directory, "latin1.ndjson", bytes)
        let all = items(try chunks(path, chunkBytes: 4096))
        #expect(all.map(\.line) == [1, 2, 3])
        #expect(all.map(\.isRejected) == [false, true, false])
    }

    @Test func resumingFromAnyChunkEndGivesExactlyTheRestWithTheirLines() throws {
        let directory = TemporaryDirectory("reader-resume")
        let bytes = mixedCorpus(count: 300, seed: 7)
        let path = write(directory, "resume.ndjson", bytes)
        let read = try chunks(path, chunkBytes: 4096)
        #expect(read.count > 5)
        expectResumablePositions(read, bytes)
        for index in read.indices {
            let rest = try chunks(path, chunkBytes: 4096, startOffset: read[index].endOffset, startLine: read[index].endLine)
            #expect(items(rest) == items(Array(read[(index + 1)...])), "resumed after chunk \(index)")
            if let last = rest.last { #expect(last.endLine == read.last?.endLine) }
        }
        // A different chunk size on the resumed run reads the same rest.
        let middle = read[read.count / 2]
        let other = try chunks(path, chunkBytes: 1 << 20, startOffset: middle.endOffset, startLine: middle.endLine)
        #expect(items(other) == items(Array(read[(read.count / 2 + 1)...])))
    }

    @Test func streamedDecodingAgreesWithWholeFileDecodingOverAMixedCorpus() throws {
        let directory = TemporaryDirectory("reader-differential")
        for seed: UInt64 in [1, 2, 3] {
            let bytes = mixedCorpus(count: 1_200, seed: seed)
            let path = write(directory, "corpus-\(seed).ndjson", bytes)
            let whole = try EventBatch.decode(bytes, format: .automatic, defaultSource: "file").map(DecodedItem.init)
            let lineIndex = LineIndex(bytes)
            #expect(whole.contains { $0.isRejected } && whole.contains { !$0.isRejected })
            for chunkBytes in [4096, 65_536, 4 << 20] {
                let read = try chunks(path, chunkBytes: chunkBytes)
                let streamed = items(read)
                #expect(streamed.count == whole.count, "seed \(seed), chunks of \(chunkBytes)")
                for (index, (a, b)) in zip(streamed, whole).enumerated() where a != b {
                    Issue.record("seed \(seed), chunks of \(chunkBytes), item \(index): streamed \(a) but whole \(b)")
                    break
                }
                expectResumablePositions(read, lineIndex)
            }
        }
    }

    @Test func aLineOverTheLimitIsRejectedAloneAndTheLinesAfterItKeepTheirNumbers() throws {
        let directory = TemporaryDirectory("reader-overlong")
        let file = writeParts(directory, "overlong.ndjson", [
            text(eventLine(1) + "\n"),
            text(#"{"id":"huge","type":"test.record","time":"2026-11-20T10:00:00+08:00","data":{"pad":""#),
            filler(18 << 20), text("\"}}\n"),
            text(eventLine(3) + "\n" + eventLine(4) + "\n"),
        ])
        let read = try chunks(file.path, chunkBytes: megabyteChunks)
        let all = items(read)
        #expect(all.map(\.line) == [1, 2, 3, 4], "\(all)")
        #expect(all.map(\.eventId) == ["e1", nil, "e3", "e4"])
        let rejected = try #require(all.first { $0.isRejected })
        guard case .failure(let rejection) = rejected.result else { return }
        #expect(rejection.reason.contains("longer than 16 MiB"))
        #expect(rejected.raw.utf8.count <= 1024, "only the line's start is kept")
        #expect(read.last?.endLine == 4)
        expectResumablePositions(read, file.index)
    }

    @Test func resumingAfterTheChunkOfAnOverlongLineGivesTheLinesAfterIt() throws {
        let directory = TemporaryDirectory("reader-overlong-resume")
        let file = writeParts(directory, "overlong.ndjson", [
            text(eventLine(1) + "\n"), text(#"{"id":"huge","data":""#), filler(18 << 20), text("\"}\n"),
            text(eventLine(3) + "\n" + eventLine(4) + "\n"),
        ])
        let read = try chunks(file.path, chunkBytes: megabyteChunks)
        let rejectedChunk = try #require(read.firstIndex { chunk in chunk.items.contains { DecodedItem($0).isRejected } })
        let chunk = read[rejectedChunk]
        // A checkpoint taken after this chunk must be a place a resumed read can start from.
        let rest = items(try chunks(file.path, chunkBytes: megabyteChunks, startOffset: chunk.endOffset, startLine: chunk.endLine))
        #expect(rest == items(Array(read[(rejectedChunk + 1)...])), "a resumed read gives what the first read gave after it")
        let resumed = items(Array(read[...rejectedChunk])) + rest
        #expect(resumed.map(\.line) == [1, 2, 3, 4], "\(resumed)")
        #expect(resumed.map(\.eventId) == ["e1", nil, "e3", "e4"])
        expectResumablePositions(read, file.index)
    }

    @Test func aLineOfTwiceTheLimitGivesOneRejection() throws {
        let directory = TemporaryDirectory("reader-overlong-twice")
        let file = writeParts(directory, "overlong.ndjson", [
            text(eventLine(1) + "\n"), text(#"{"id":"huge","data":""#), filler(36 << 20), text("\"}\n"), text(eventLine(3) + "\n"),
        ])
        let all = items(try chunks(file.path, chunkBytes: megabyteChunks))
        #expect(all.count { $0.isRejected } == 1, "one line, one rejection: \(all)")
        #expect(all.map(\.line) == [1, 2, 3])
        #expect(all.last?.eventId == "e3")
    }

    /// The file's last line is overlong, has no newline and ends exactly where a read ends (the file is whole
    /// chunks): the read finds the end of the file only on an empty read. Its chunk still ends past the line, so
    /// a run resumed from it reads nothing and does not reject the line again.
    @Test func anOverlongLastLineEndingAtAReadsEndIsPassedByTheResumePoint() throws {
        let directory = TemporaryDirectory("reader-overlong-last")
        let first = eventLine(1) + "\n"
        let size = 18 * megabyteChunks
        let file = writeParts(directory, "overlong-last.ndjson", [text(first), filler(size - first.utf8.count)])
        let read = try chunks(file.path, chunkBytes: megabyteChunks)
        let all = items(read)
        #expect(all.map(\.line) == [1, 2])
        #expect(all.map(\.isRejected) == [false, true])
        let last = try #require(read.last)
        #expect(last.endOffset == Int64(size), "the resume point is past the overlong line")
        #expect(last.endLine == 2)
        let resumed = try chunks(file.path, chunkBytes: megabyteChunks, startOffset: last.endOffset, startLine: last.endLine)
        #expect(resumed.isEmpty, "nothing is read again: \(items(resumed))")
    }

    /// A line just over the limit is rejected as overlong whatever the chunk size. (With 4 MiB chunks the
    /// reader first sees 20 MiB of buffer, finds this line's end in it and decodes it: a well-formed 17 MiB
    /// event is then accepted.)
    @Test(arguments: [1 << 20, 4 << 20])
    func aLineJustOverTheLimitIsRejectedAsOverlongWhateverTheChunkSize(chunkBytes: Int) throws {
        let directory = TemporaryDirectory("reader-overlong-17")
        let limit = EventFileReader.maximumLineBytes
        let file = writeParts(directory, "overlong.ndjson", [
            text(eventLine(1) + "\n"), filler(limit + (1 << 20)), text("\n" + eventLine(3) + "\n"),
        ])
        let all = items(try chunks(file.path, chunkBytes: chunkBytes))
        #expect(all.map(\.line) == [1, 2, 3])
        #expect(all.map(\.isRejected) == [false, true, false])
        guard all.count > 1, case .failure(let rejection) = all[1].result else { return }
        #expect(rejection.reason.contains("longer than 16 MiB"), "a \(limit + (1 << 20))-byte line: \(rejection)")
    }

    @Test func aJSONArrayFileIsReadWholeAsOneDocument() throws {
        let directory = TemporaryDirectory("reader-array")
        let text = "[\n  " + eventLine(1) + ",\n  " + eventLine(2) + ",\n  42,\n  " + eventLine(4) + "\n]\n"
        let bytes = Array(text.utf8)
        let path = write(directory, "array.json", bytes)
        let read = try chunks(path, chunkBytes: 4096)
        #expect(read.count == 1)
        let all = items(read)
        #expect(all.map(\.eventId) == ["e1", "e2", nil, "e4"])
        #expect(all == (try EventBatch.decode(bytes, format: .json, defaultSource: "file")).map(DecodedItem.init))
        #expect(read.first?.items.map(\.index) == [0, 1, 2, 3], "a document's items keep their position")
        #expect(read.first?.endOffset == Int64(bytes.count))
        #expect(try chunks(path, startOffset: Int64(bytes.count), startLine: read[0].endLine).isEmpty,
                "resuming at its end reads nothing more")
    }

    @Test func aLargeArrayDocumentSpanningManyChunksIsReadWhole() throws {
        let directory = TemporaryDirectory("reader-array-large")
        let text = "[" + (1...200).map { eventLine($0, padding: 200) }.joined(separator: ",\n") + "]"
        let path = write(directory, "array.json", Array(text.utf8))
        let all = items(try chunks(path, chunkBytes: 4096))
        #expect(all.map(\.eventId) == (1...200).map { "e\($0)" })
    }

    @Test func aPrettyPrintedEventIsReadWhole() throws {
        let directory = TemporaryDirectory("reader-pretty")
        let text = """

            {
              "id": "pretty-1",
              "type": "test.record",
              "time": "2026-11-20T10:00:00+08:00",
              "clientId": "C000123",
              "data": {
                "amount": "12.50",
                "note": "多行"
              }
            }

            """
        let bytes = [0xEF, 0xBB, 0xBF] + Array(text.utf8)
        let path = write(directory, "pretty.json", bytes)
        let read = try chunks(path)
        let all = items(read)
        #expect(all.count == 1)
        let event = try #require(try? all.first?.result.get())
        #expect(event.id == "pretty-1" && event.source == "file" && event.clientId == "C000123")
        #expect(event.data["amount"] == .string("12.50") && event.data["note"] == .string("多行"))
        #expect(read.first?.endOffset == Int64(bytes.count))
    }

    @Test func anEmptyFileGivesNoEventsAndABlankOneNoItems() throws {
        let directory = TemporaryDirectory("reader-empty")
        let empty = write(directory, "empty.ndjson", [])
        #expect(try chunks(empty).isEmpty)
        let blank = write(directory, "blank.ndjson", Array("\n \r\n\t\n\n".utf8))
        #expect(items(try chunks(blank, chunkBytes: 4096)).isEmpty)
    }

    @Test func aDirectoryOrAMissingFileIsAFailureNotACrash() throws {
        let directory = TemporaryDirectory("reader-missing")
        #expect(throws: EventFileReader.Failure.self) { _ = try chunks(directory.path) }
        #expect(throws: EventFileReader.Failure.self) { _ = try chunks(directory.file("nothing.ndjson")) }
    }

    @Test func readAheadGivesTheSameChunksAsReadingInTurn() throws {
        let directory = TemporaryDirectory("reader-ahead")
        let bytes = mixedCorpus(count: 500, seed: 11)
        let path = write(directory, "ahead.ndjson", bytes)
        let inTurn = try chunks(path, chunkBytes: 4096)
        let shared = SharedEventFileReader(try EventFileReader(path: path, decoder: NativeEventDecoder(), defaultSource: "file",
                                                               chunkBytes: 4096))
        #expect(shared.fileSize == Int64(bytes.count))
        var ahead: [EventFileReader.Chunk] = []
        var pending = shared.readAhead()
        while let chunk = try pending.value() {
            pending = shared.readAhead()
            ahead.append(chunk)
        }
        #expect(items(ahead) == items(inTurn))
        #expect(ahead.map(\.endOffset) == inTurn.map(\.endOffset))
        #expect(ahead.map(\.endLine) == inTurn.map(\.endLine))
    }

    @Test func anNDJSONFileWhoseFirstLineIsLongerThanAChunkIsStillStreamed() throws {
        let directory = TemporaryDirectory("reader-long-first")
        // The first line is a valid event longer than the first read: the file is still NDJSON.
        let lines = [eventLine(1, padding: 6_000)] + (2...300).map { eventLine($0, padding: 100) }
        let path = write(directory, "long-first.ndjson", ndjson(lines))
        let read = try chunks(path, chunkBytes: 4096)
        #expect(items(read).map(\.eventId) == (1...300).map { "e\($0)" })
        #expect(items(read).map(\.line) == Array(1...300))
        #expect(read.count > 1, "read a chunk at a time, not as one document held whole")
    }
}
