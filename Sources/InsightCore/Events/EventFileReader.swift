import Foundation

/// Streams an NDJSON file of events: it reads whole lines a chunk at a time and decodes each chunk's lines
/// on every core, in order, so memory stays the size of a chunk whatever the file's size. `insightd ingest`
/// and `insightd replay` read files through it; each line is decoded exactly as a webhook body's line is
/// (``EventBatch/decodeLine(_:number:defaultSource:decoder:encodeData:)``).
///
/// A file that is one JSON document (an array of events, or one pretty-printed event) is read whole, as
/// `POST /v1/events` reads a body: it is a small file's convenience, not a nightly feed's format.
public struct EventFileReader: ~Copyable {
    /// One chunk's decoded lines (blank lines are skipped), with where the next chunk starts.
    public struct Chunk: Sendable {
        public var items: [EventBatch.Item]
        /// The byte offset just past the chunk's last line: where a resumed read starts.
        public var endOffset: Int64
        /// The number of the chunk's last line (lines before `startOffset` included).
        public var endLine: Int
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The longest line read; a longer one is rejected on its own (its position kept) and skipped.
    public static let maximumLineBytes = 16 << 20

    private let path: String
    private let descriptor: Int32
    private let decoder: any EventDecoding
    private let defaultSource: String
    private let chunkBytes: Int
    /// Write each event's ``Event/dataText`` while decoding (for the journal).
    private let encodeData: Bool
    private var buffer: [UInt8] = []
    /// Bytes of `buffer` already handed out.
    private var consumed = 0
    private var offset: Int64
    private var line: Int
    private var atEnd = false
    /// The whole file as one document, when it is not NDJSON.
    private var document: [EventBatch.Item]?
    /// Skipping the rest of an overlong line.
    private var skipping = false

    /// Opens `path`, to read from `startOffset` (a checkpoint), `startLine` being the number of lines before it.
    /// With `encodeData`, each event's ``Event/dataText`` is written as it is decoded, on every core.
    public init(path: String, decoder: some EventDecoding, defaultSource: String, startOffset: Int64 = 0,
                startLine: Int = 0, chunkBytes: Int = 4 << 20, encodeData: Bool = false) throws(Failure) {
        self.path = path
        self.decoder = decoder
        self.defaultSource = defaultSource
        self.chunkBytes = max(4096, chunkBytes)
        self.encodeData = encodeData
        offset = startOffset
        line = startLine
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(description: "\(path): cannot open: \(String(cString: strerror(errno)))") }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw Failure(description: "\(path): not a regular file")
        }
        if startOffset > 0, lseek(descriptor, off_t(startOffset), SEEK_SET) < 0 {
            close(descriptor)
            throw Failure(description: "\(path): cannot seek to \(startOffset)")
        }
        if startOffset == 0 { try readWholeDocumentIfNotLines() }
    }

    deinit { close(descriptor) }

    /// The size of the file, for progress.
    public var fileSize: Int64 {
        var status = stat()
        return fstat(descriptor, &status) == 0 ? Int64(status.st_size) : 0
    }

    /// A line found in the buffer: to decode, or already rejected as too long.
    private enum Found {
        case line(number: Int, range: Range<Int>)
        case rejected(EventBatch.Item)
    }

    /// The next chunk of decoded lines, or nil at the end of the file. A chunk always ends at a line's end,
    /// so its `endOffset` is a place a resumed read can start; a line longer than ``maximumLineBytes`` is
    /// rejected alone (with its number and first KiB) and the lines around it keep theirs.
    public mutating func next() throws(Failure) -> Chunk? {
        if let whole = document {
            document = []
            return whole.isEmpty ? nil : Chunk(items: whole, endOffset: fileSize, endLine: whole.last?.line ?? 1)
        }
        var found: [Found] = []
        var chunkEnd = offset  // just past the last line end consumed
        var firstPass = true
        // Until something is found and no overlong line is being skipped (the chunk must end at a line's end).
        while found.isEmpty || skipping {
            if consumed > 0 {  // nothing found refers to the buffer here: `found` is empty or holds only rejections
                buffer.removeSubrange(0..<consumed)
                consumed = 0
            }
            if atEnd && buffer.isEmpty { break }
            if !atEnd && (!firstPass || buffer.count < chunkBytes) { try fill() }
            firstPass = false
            var start = 0
            buffer.withUnsafeBufferPointer { bytes in
                var index = 0
                while let newline = bytes.newlineIndex(from: index) {
                    if skipping {
                        skipping = false  // the end of the overlong line, already counted and rejected
                    } else {
                        line += 1
                        found.append(newline - start > Self.maximumLineBytes
                            ? .rejected(overlong(line, bytes[start..<newline]))
                            : .line(number: line, range: start..<newline))
                    }
                    start = newline + 1
                    index = start
                    chunkEnd = offset + Int64(start)
                }
                if atEnd, start < bytes.count {  // a last line without a newline
                    if skipping {
                        skipping = false
                    } else {
                        line += 1
                        found.append(bytes.count - start > Self.maximumLineBytes
                            ? .rejected(overlong(line, bytes[start..<bytes.count]))
                            : .line(number: line, range: start..<bytes.count))
                    }
                    start = bytes.count
                    chunkEnd = offset + Int64(start)
                }
                if skipping {
                    start = bytes.count  // still inside the overlong line: drop what was read of it
                } else if bytes.count - start > Self.maximumLineBytes && found.isEmpty {
                    // A line already too long with no end in sight, first in its chunk: reject it now and skip the
                    // rest of it as it is read (the chunk goes on until it ends). Not first: the next chunk does this.
                    line += 1
                    found.append(.rejected(overlong(line, bytes[start..<bytes.count])))
                    skipping = true
                    start = bytes.count
                }
            }
            offset += Int64(start)
            consumed = start
        }
        if skipping && atEnd && buffer.count == consumed {
            // The overlong line was the file's last, without a newline, and ended at a read's end: it is over,
            // and a resumed read starts past it (not at its start, which would reject it a second time).
            skipping = false
            chunkEnd = offset
        }
        if found.isEmpty { return nil }
        let source = defaultSource, decoder = self.decoder, lines = found, encodeData = self.encodeData
        let decoded: [EventBatch.Item?] = buffer.withUnsafeBufferPointer { bytes in
            let shared = UnsafeSendableBuffer(bytes)
            return ParallelMap.map(count: lines.count, minimumForParallel: 2_000) { index in
                switch lines[index] {
                case .rejected(let item):
                    return item
                case .line(let number, let range):
                    return EventBatch.decodeLine(UnsafeBufferPointer(rebasing: shared.buffer[range]), number: number,
                                                 defaultSource: source, decoder: decoder, encodeData: encodeData)
                }
            }
        }
        var items: [EventBatch.Item] = []
        items.reserveCapacity(decoded.count)
        for case let item? in decoded { items.append(item) }
        return Chunk(items: items, endOffset: chunkEnd, endLine: line)
    }

    private func overlong(_ number: Int, _ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> EventBatch.Item {
        EventBatch.Item(line: number, index: 0, result: .failure(EventRejection(
            eventId: nil, reason: "line \(number) is longer than \(Self.maximumLineBytes >> 20) MiB")),
            raw: String(decoding: UnsafeBufferPointer(rebasing: bytes.prefix(1024)), as: UTF8.self))
    }

    /// Reads until the buffer holds a chunk's worth (or the file ends).
    private mutating func fill() throws(Failure) {
        let wanted = buffer.count + chunkBytes
        let before = buffer.count
        buffer.reserveCapacity(wanted)
        var readError: Int32 = 0
        buffer.append(contentsOf: repeatElement(0, count: chunkBytes))
        let count = buffer.withUnsafeMutableBufferPointer { bytes -> Int in
            var total = 0
            while total < chunkBytes {
                let got = read(descriptor, bytes.baseAddress.map { $0 + before + total }, chunkBytes - total)
                if got < 0 {
                    if errno == EINTR { continue }
                    readError = errno
                    return -1
                }
                if got == 0 { break }
                total += got
            }
            return total
        }
        guard count >= 0 else {
            buffer.removeSubrange(before..<buffer.count)
            throw Failure(description: "\(path): read failed: \(String(cString: strerror(readError)))")
        }
        buffer.removeSubrange((before + count)..<buffer.count)
        if count < chunkBytes { atEnd = true }
    }

    /// A file that starts with `[`, or with `{` on a first line that breaks off before its value ends (a
    /// pretty-printed event), is read whole and decoded as a request body is (one document, else lines). A
    /// first line that is whole but wrong, or longer than the first read, leaves the file to be read as lines:
    /// a corrupt first line of a nightly feed is rejected alone, not taken for a document.
    private mutating func readWholeDocumentIfNotLines() throws(Failure) {
        try fill()
        guard let first = buffer.firstIndex(where: { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }) else { return }
        if buffer[first] == UInt8(ascii: "{") {
            guard let end = buffer[first...].firstIndex(of: 0x0A) else { return }
            do {
                _ = try JSONParser.parse(buffer[first..<end])
                return
            } catch {
                // Broken off at the line's end (the value goes on below it): a document. Wrong before: a bad line.
                let lineLength = end - first - (buffer[end - 1] == 0x0D ? 1 : 0)
                guard error.offset >= lineLength else { return }
            }
        } else if buffer[first] != UInt8(ascii: "[") {
            return
        }
        while !atEnd {
            guard buffer.count <= Self.maximumDocumentBytes else {
                throw Failure(description: "\(path): a JSON document larger than \(Self.maximumDocumentBytes >> 20) MiB; write one event per line (NDJSON)")
            }
            try fill()
        }
        do {
            document = try EventBatch.decode(buffer, format: .automatic, defaultSource: defaultSource, decoder: decoder)
        } catch {
            throw Failure(description: "\(path): \(error.description)")
        }
        buffer = []
        offset = fileSize
    }

    /// The largest file read as one JSON document.
    public static let maximumDocumentBytes = 256 << 20
}

/// A file reader handed from one read-ahead task to the next, so the next chunk is read and decoded while the
/// current one is committed or handled. Only one task uses it at a time: each waits for the one before.
public final class SharedEventFileReader: @unchecked Sendable {
    private var reader: EventFileReader
    public let fileSize: Int64

    public init(_ reader: consuming EventFileReader) {
        fileSize = reader.fileSize
        self.reader = reader
    }

    public func next() throws(EventFileReader.Failure) -> EventFileReader.Chunk? {
        try reader.next()
    }

    /// Reads the next chunk on another thread; `value` waits for it.
    public func readAhead() -> Pending {
        readAhead { $0 }
    }

    /// Reads the next chunk on another thread and hands it to `prepare` there, so that work on a chunk
    /// (sorting its items for the journal) also overlaps the caller's work on the one before.
    public func readAhead<Value: Sendable>(_ prepare: @escaping @Sendable (EventFileReader.Chunk) -> Value) -> Prepared<Value> {
        Prepared(BackgroundWork { Result { () throws(EventFileReader.Failure) in try self.next().map(prepare) } })
    }

    public typealias Pending = Prepared<EventFileReader.Chunk>

    public struct Prepared<Value: Sendable>: Sendable {
        fileprivate let work: BackgroundWork<Result<Value?, EventFileReader.Failure>>

        fileprivate init(_ work: BackgroundWork<Result<Value?, EventFileReader.Failure>>) { self.work = work }

        /// The prepared chunk (nil at the end of the file), once read.
        public func value() throws(EventFileReader.Failure) -> Value? {
            try work.value().get()
        }
    }
}

/// A buffer read by several threads at once while its owner waits for them (``ParallelMap``).
struct UnsafeSendableBuffer: @unchecked Sendable {
    let buffer: UnsafeBufferPointer<UInt8>
    init(_ buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// The index of the first line feed at or after `index` (memchr), or nil: how the file readers find line ends.
    public func newlineIndex(from index: Int) -> Int? {
        guard let base = baseAddress, index >= 0, index < count,
              let found = memchr(base + index, 0x0A, count - index) else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }
}
