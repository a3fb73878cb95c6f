import Foundation

/// Streams an NDJSON file of events: it reads whole lines a chunk at a time and decodes each chunk's lines
/// on every core, in order, so memory stays the size of a chunk whatever the file's size. `insightd ingest`
/// and `insightd replay` read files through it; each line is decoded exactly as a webhook body's line is
/// (``EventBatch/decodeLine(_:number:defaultSource:decoder:)``).
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
    public init(path: String, decoder: some EventDecoding, defaultSource: String, startOffset: Int64 = 0,
                startLine: Int = 0, chunkBytes: Int = 4 << 20) throws(Failure) {
        self.path = path
        self.decoder = decoder
        self.defaultSource = defaultSource
        self.chunkBytes = max(4096, chunkBytes)
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

    /// The next chunk of decoded lines, or nil at the end of the file.
    public mutating func next() throws(Failure) -> Chunk? {
        if let whole = document {
            document = []
            return whole.isEmpty ? nil : Chunk(items: whole, endOffset: fileSize, endLine: whole.last?.line ?? 1)
        }
        var lines: [(number: Int, range: Range<Int>, end: Int64)] = []
        var overlong: [EventBatch.Item] = []
        while lines.isEmpty && overlong.isEmpty {
            if consumed > 0 {
                buffer.removeSubrange(0..<consumed)
                consumed = 0
            }
            if atEnd && buffer.isEmpty { return nil }
            if !atEnd { try fill() }
            var start = 0
            buffer.withUnsafeBufferPointer { bytes in
                var index = 0
                while let newline = memchrIndex(bytes, from: index) {
                    line += 1
                    if skipping {
                        skipping = false
                    } else {
                        lines.append((line, start..<newline, offset + Int64(newline + 1)))
                    }
                    start = newline + 1
                    index = start
                }
            }
            if atEnd, start < buffer.count {  // a last line without a newline
                line += 1
                if !skipping { lines.append((line, start..<buffer.count, offset + Int64(buffer.count))) }
                skipping = false
                start = buffer.count
            }
            if start == 0, buffer.count >= Self.maximumLineBytes {  // no newline in sight: reject the line, skip the rest
                line += 1
                overlong.append(EventBatch.Item(line: line, index: 0, result: .failure(EventRejection(
                    eventId: nil, reason: "line \(line) is longer than \(Self.maximumLineBytes >> 20) MiB")),
                    raw: String(decoding: buffer.prefix(1024), as: UTF8.self)))
                skipping = true
                start = buffer.count
            }
            offset += Int64(start)
            consumed = start
        }
        let source = defaultSource, decoder = self.decoder, found = lines
        let decoded: [EventBatch.Item?] = buffer.withUnsafeBufferPointer { bytes in
            let shared = UnsafeSendableBuffer(bytes)
            return ParallelMap.map(count: found.count, minimumForParallel: 2_000) { index in
                let line = found[index]
                return EventBatch.decodeLine(UnsafeBufferPointer(rebasing: shared.buffer[line.range]), number: line.number,
                                             defaultSource: source, decoder: decoder)
            }
        }
        var items = overlong
        items.reserveCapacity(decoded.count)
        for case let item? in decoded { items.append(item) }
        return Chunk(items: items, endOffset: lines.last?.end ?? offset, endLine: line)
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

    /// A file that starts with `[`, or with `{` on a first line that is not a JSON value (a pretty-printed
    /// event), is read whole and decoded as a request body is (one document, else lines).
    private mutating func readWholeDocumentIfNotLines() throws(Failure) {
        try fill()
        guard let first = buffer.firstIndex(where: { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }) else { return }
        if buffer[first] == UInt8(ascii: "{") {
            let end = buffer[first...].firstIndex(of: 0x0A) ?? buffer.count
            if (try? JSONParser.parse(buffer[first..<end])) != nil { return }
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

    private func memchrIndex(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int? {
        guard let base = bytes.baseAddress, index < bytes.count,
              let found = memchr(base + index, 0x0A, bytes.count - index) else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }
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
        let pending = Pending()
        pending.group.enter()
        DispatchQueue.global().async {
            pending.result = Result { () throws(EventFileReader.Failure) in try self.next() }
            pending.group.leave()
        }
        return pending
    }

    public final class Pending: @unchecked Sendable {
        fileprivate let group = DispatchGroup()
        fileprivate var result: Result<EventFileReader.Chunk?, EventFileReader.Failure> = .success(nil)

        /// The chunk (nil at the end of the file), once read.
        public func value() throws(EventFileReader.Failure) -> EventFileReader.Chunk? {
            group.wait()
            return try result.get()
        }
    }
}

/// A buffer read by several threads at once while its owner waits for them (``ParallelMap``).
struct UnsafeSendableBuffer: @unchecked Sendable {
    let buffer: UnsafeBufferPointer<UInt8>
    init(_ buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }
}
