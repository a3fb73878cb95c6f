import Crypto
import Foundation
import InsightCore

/// Reads one claimed file into events, chunk by chunk, each chunk committed with the file's checkpoint so a
/// crash resumes exactly where the last commit ended.
struct InboxFileReader: Sendable {
    enum Outcome: Sendable, Equatable {
        /// Every line committed, the last checkpoint marked finished.
        case done(accepted: Int, duplicates: Int, rejected: Int)
        /// Every whole line committed; the bytes after the last newline were left, as the file changed while it was
        /// read: they are the start of a line still being written, for the next read.
        case readSoFar(accepted: Int, duplicates: Int, rejected: Int)
        case interrupted
    }

    struct Unreadable: Error, CustomStringConvertible {
        let description: String
    }

    enum Kind: Sendable {
        case jsonLines
        case csv(CSVMapping)
    }

    let settings: InboxSettings
    let sink: any IngestSink
    let onCommitted: @Sendable () -> Void

    static func kind(of fileName: String, settings: InboxSettings) throws(Unreadable) -> Kind {
        let lower = fileName.lowercased()
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") { return .jsonLines }
        if lower.hasSuffix(".csv") {
            guard let mapping = settings.mappings.first(where: { $0.matches(fileName) }) else {
                throw Unreadable(description: "no csv mapping of source \(settings.name) matches \(fileName) (globs: \(settings.mappings.map(\.match).joined(separator: ", ")))")
            }
            return .csv(mapping)
        }
        throw Unreadable(description: "\(fileName) is neither .jsonl/.ndjson nor .csv")
    }

    /// The file's identity across restarts: its name and a hash of its first `length` bytes (all of it, as it was
    /// when claimed), read through `handle`. With `prefixLength`, also the identity its first `prefixLength` bytes
    /// had, to tell a file that grew in place since they were read (one pass for both).
    static func fileKeys(handle: FileHandle, name: String, length: UInt64,
                         prefixLength: UInt64? = nil) throws -> (whole: String, prefix: String?) {
        func key(_ hasher: SHA256) -> String {
            name + "|" + hasher.finalize().prefix(16).map { String(format: "%02x", $0) }.joined()
        }
        try handle.seek(toOffset: 0)
        var hasher = SHA256()
        var position: UInt64 = 0
        var prefix = prefixLength == 0 ? key(hasher) : nil
        while position < length {
            var count = min(1 << 20, length - position)
            if let prefixLength, position < prefixLength { count = min(count, prefixLength - position) }
            guard let chunk = try handle.read(upToCount: Int(count)), !chunk.isEmpty else { break }
            hasher.update(data: chunk)
            position += UInt64(chunk.count)
            if position == prefixLength { prefix = key(hasher) }
        }
        return (key(hasher), prefix)
    }

    /// Reads the file open in `handle` (the one that was hashed) up to `end`, the size it had when claimed, from
    /// `start` if it was started before, committing as it goes. `shouldStop` is checked between commits.
    ///
    /// Bytes after the last newline are a last line only if `lastLineIsWhole()` says so once every line before
    /// them is committed (as late as can be): the file has not changed since it was claimed. If it has, they are
    /// the start of a line still being written, left for the next read rather than taken cut short.
    func read(handle: FileHandle, name: String, fileKey: String, end: UInt64, start: InboxCheckpoint?, modified: Date,
              shouldStop: () -> Bool, lastLineIsWhole: () -> Bool) throws -> Outcome {
        let kind = try Self.kind(of: name, settings: settings)
        try handle.seek(toOffset: 0)
        var layout: [(field: String, column: Int)] = []
        var startOffset: UInt64 = 0
        var startLine = 0
        if case .csv(let mapping) = kind {
            guard let (header, headerBytes) = try readHeader(handle, mapping: mapping, name: name, end: end,
                                                             isWhole: lastLineIsWhole) else {
                return .readSoFar(accepted: 0, duplicates: 0, rejected: 0)
            }
            do {
                layout = try mapping.layout(header: header)
            } catch {
                throw Unreadable(description: "\(name): \(error)")
            }
            startOffset = headerBytes
            startLine = 1
        }
        if let start {
            startOffset = UInt64(start.byteOffset)
            startLine = start.line
        }
        try handle.seek(toOffset: startOffset)

        var offset = startOffset  // absolute offset of `pending[0]`
        var position = startOffset  // absolute offset of the next read
        var line = startLine
        var pending = [UInt8]()
        var totals = (accepted: 0, duplicates: 0, rejected: 0)
        var atEnd = false
        // One group is decoded on the other cores while the group before it commits.
        var inFlight: (submission: BackgroundWork<IngestSubmission>, finished: Bool)?
        /// Commits the group decoded before, if any; true when the reader is asked to stop after it.
        func commitInFlight() throws -> Bool {
            guard let decoded = inFlight else { return false }
            inFlight = nil
            let submission = decoded.submission.value()
            let outcome = try sink.ingest([submission], receivedAt: Date())[0]
            totals.accepted += outcome.acceptedCount
            totals.duplicates += outcome.duplicateCount
            totals.rejected += submission.quarantine.count
            if outcome.acceptedCount > 0 { onCommitted() }
            return !decoded.finished && shouldStop()
        }
        while !atEnd {
            if shouldStop() {
                _ = try commitInFlight()  // what is decoded is committed, as a stop between commits finds it
                return .interrupted
            }
            let count = Int(min(4 << 20, end - min(position, end)))
            let chunk = count > 0 ? try handle.read(upToCount: count) ?? Data() : Data()
            position += UInt64(chunk.count)
            atEnd = chunk.isEmpty
            let buffer = pending + chunk
            // Complete lines, each with the absolute offset just past it (where a resume would start). The line
            // ends are found with memchr, as the event file reader finds them.
            var ends: [Int] = []
            buffer.withUnsafeBufferPointer { bytes in
                var from = 0
                while let index = bytes.newlineIndex(from: from) {
                    ends.append(index)
                    from = index + 1
                }
            }
            var lines: [Line] = []
            lines.reserveCapacity(ends.count + 1)
            var lineStart = 0
            for index in ends {
                line += 1
                lines.append(Line(number: line, bytes: buffer[lineStart..<index], end: offset + UInt64(index + 1)))
                lineStart = index + 1
            }
            pending = Array(buffer[lineStart..<buffer.count])
            let consumedTo = offset + UInt64(lineStart)

            var groupStart = 0
            repeat {
                let groupEnd = min(lines.count, groupStart + settings.linesPerCommit)
                let group = lines[groupStart..<groupEnd]
                let finished = atEnd && groupEnd == lines.count && pending.isEmpty
                guard !group.isEmpty || finished else { break }
                let checkpoint = InboxCheckpoint(source: settings.name, fileKey: fileKey, fileName: name,
                                                 byteOffset: Int64(group.last?.end ?? consumedTo),
                                                 line: group.last?.number ?? line, finished: finished)
                let reader = self, columns = layout
                let next = BackgroundWork {
                    reader.decode(group, kind: kind, layout: columns, name: name, modified: modified, checkpoint: checkpoint)
                }
                if try commitInFlight() { return .interrupted }
                inFlight = (next, finished)
                groupStart = groupEnd
            } while groupStart < lines.count
            offset = consumedTo
        }
        _ = try commitInFlight()
        if !pending.isEmpty {
            // The bytes end without a newline: a last line if the file is whole, committed on its own.
            guard lastLineIsWhole() else {
                return .readSoFar(accepted: totals.accepted, duplicates: totals.duplicates, rejected: totals.rejected)
            }
            line += 1
            let last = Line(number: line, bytes: pending[...], end: offset + UInt64(pending.count))
            let checkpoint = InboxCheckpoint(source: settings.name, fileKey: fileKey, fileName: name,
                                             byteOffset: Int64(last.end), line: line, finished: true)
            let reader = self, columns = layout
            inFlight = (BackgroundWork {
                reader.decode([last][...], kind: kind, layout: columns, name: name, modified: modified, checkpoint: checkpoint)
            }, true)
            _ = try commitInFlight()
        }
        return .done(accepted: totals.accepted, duplicates: totals.duplicates, rejected: totals.rejected)
    }

    /// The header row and the bytes it takes, within the first `end` bytes. Nil when those hold no newline and
    /// `isWhole()` says the file changed since it was claimed: the header is still being written.
    private func readHeader(_ handle: FileHandle, mapping: CSVMapping, name: String, end: UInt64,
                            isWhole: () -> Bool) throws -> ([String], UInt64)? {
        var bytes = [UInt8]()
        var position: UInt64 = 0
        while position < end {
            guard let chunk = try handle.read(upToCount: Int(min(64 * 1024, end - position))), !chunk.isEmpty else { break }
            position += UInt64(chunk.count)
            if let newline = chunk.firstIndex(of: 0x0A) {
                bytes.append(contentsOf: chunk[chunk.startIndex..<newline])
                let length = UInt64(bytes.count + 1)
                return (try headerFields(bytes, mapping: mapping, name: name), length)
            }
            bytes.append(contentsOf: chunk)
            if bytes.count > 1 << 20 { throw Unreadable(description: "\(name): no header line within the first MiB") }
        }
        guard !bytes.isEmpty else { throw Unreadable(description: "\(name) is empty: a CSV file needs a header row") }
        guard isWhole() else { return nil }
        return (try headerFields(bytes, mapping: mapping, name: name), UInt64(bytes.count))
    }

    private func headerFields(_ bytes: [UInt8], mapping: CSVMapping, name: String) throws -> [String] {
        var slice = bytes[...]
        if slice.last == 0x0D { slice = slice.dropLast() }
        do {
            let text = try mapping.encoding.decode(slice)
            return try mapping.fields(of: text)
        } catch {
            throw Unreadable(description: "\(name): the header row cannot be read: \(error)")
        }
    }

    struct Line: Sendable {
        let number: Int
        let bytes: ArraySlice<UInt8>
        let end: UInt64
    }

    private func decode(_ group: ArraySlice<Line>, kind: Kind,
                        layout: [(field: String, column: Int)], name: String, modified: Date,
                        checkpoint: InboxCheckpoint) -> IngestSubmission {
        let results: [(Int, Result<Event, EventRejection>?, String)] = decodeLines(Array(group)) { number, bytes in
            var slice = bytes
            if slice.last == 0x0D { slice = slice.dropLast() }
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return (number, nil, "") }
            switch kind {
            case .jsonLines:
                // The one line decoder of `insightd ingest` and replay; the data's JSON is written here, on every
                // core, for the journal's single writer.
                let item = slice.withUnsafeBufferPointer {
                    EventBatch.decodeLine($0, number: number, defaultSource: settings.name, decoder: IngestDecoder(),
                                          encodeData: true)
                }
                guard let item else { return (number, nil, "") }
                switch item.result {
                case .success(let event):
                    // A file's events are journaled in the inbox source's namespace, so the same file dropped
                    // twice adds nothing.
                    return (number, .success(event.journaled(under: settings.name)), "")
                case .failure(let rejection):
                    return (number, .failure(rejection), String(decoding: slice.prefix(65_536), as: UTF8.self))
                }
            case .csv(let mapping):
                let text: String
                do {
                    text = try mapping.encoding.decode(slice)
                } catch {
                    return (number, .failure(EventRejection(eventId: nil, reason: "\(error)")), String(decoding: slice, as: UTF8.self))
                }
                do {
                    let fields = try mapping.fields(of: text)
                    return (number, mapping.event(row: fields, layout: layout, rawLine: text, defaultSource: settings.name,
                                                  fallbackTime: modified, timeZone: settings.timeZone), text)
                } catch {
                    return (number, .failure(EventRejection(eventId: nil, reason: "\(error)")), text)
                }
            }
        }
        var events: [Event] = []
        var quarantine: [QuarantinedItem] = []
        let now = Date()
        for (number, result, raw) in results {
            switch result {
            case .success(let event)?: events.append(event)
            case .failure(let rejection)?:
                quarantine.append(QuarantinedItem(receivedAt: now, source: settings.name, origin: "file:\(name):\(number)",
                                                  eventId: rejection.eventId, reason: rejection.reason, payload: raw))
            case nil: break
            }
        }
        return IngestSubmission(events: events, quarantine: quarantine, checkpoint: checkpoint)
    }

    /// Decodes lines in parallel slices (decoding is most of the cost of a big file), keeping their order.
    private func decodeLines<T: Sendable>(_ lines: [Line], _ body: @Sendable (Int, ArraySlice<UInt8>) -> T) -> [T] {
        ParallelMap.map(count: lines.count, minimumForParallel: 1_000) { body(lines[$0].number, lines[$0].bytes) }
    }
}
