import Foundation
import HTTPTypes
import Hummingbird
import InsightCore
import InsightIngest
import InsightStore
import NIOCore

/// `POST /v1/events`: native JSON, JSON arrays, NDJSON and CloudEvents (structured, batch, binary), signed
/// with Standard Webhooks or sent with a bearer token. 202 only once the accepted events are committed.
struct EventsController: Sendable {
    let authenticator: Authenticator
    let journal: any JournalStore
    let queue: IngestQueue
    let maximumBodyBytes: Int
    let limits: ServerLimits
    let bodies: BodyAdmission
    let timeSource: any TimeSource

    enum Format {
        case batch(EventBatch.Format)
        case cloudEvent
        case cloudEventBatch
        case cloudEventBinary
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/events") { request, context in try await self.ingest(request, context: context) }
    }

    func ingest(_ request: Request, context: BasicRequestContext) async throws -> Response {
        // Everything the head can tell is checked before one byte of the body is read: who sends it (a bearer
        // token, or a signed request's id, timestamp and signature header), its format, its declared length,
        // the header values the events are built from.
        let now = timeSource.now()
        var check = try authenticator.check(head: request.headers, now: now)
        let format = try Self.format(of: request.headers)
        try Self.checkHeaderValues(request.headers)
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maximumBodyBytes {
            throw Problem.tooLarge(maximumBodyBytes)
        }
        guard bodies.tryEnter() else {
            throw Problem.busy("insightd holds \(bodies.limit) request bodies already (http.max_bodies_in_flight); retry shortly")
        }
        defer { bodies.leave() }
        // The body's bytes stay reserved until the answer: they are held, decoded and committed until then.
        var reserved = 0
        defer { bodies.release(reserved) }
        var bytes = try await readBody(request.body, feeding: &check, reserved: &reserved)
        let sender: Authenticator.Sender
        switch check {
        case .sender(let known): sender = known
        case .signed(let pending): sender = try pending.finish()
        }
        if let webhookId = sender.webhookId, try await journal.webhookSeen(source: sender.source, id: webhookId) {
            return Self.replayResponse(webhookId)
        }

        // Decoded, a body weighs more than its bytes, the more so the smaller its items (a line `x` of 2 bytes becomes a
        // rejection, a place and a reason): the most it can weigh is reserved before it is decoded, from the same
        // budget as the bytes, and what its items turn out to weigh is kept until the answer.
        let bound = Self.itemBound(bytes, format: format, maximumItems: limits.maximumItems) * BodyAdmission.decodedItemWeight
        guard bodies.reserve(bound) else {
            throw Problem.busy("the request bodies insightd holds have reached http.max_body_bytes_in_flight (\(bodies.byteLimit) bytes, counting \(BodyAdmission.decodedItemWeight) per decoded item); retry shortly")
        }
        reserved += bound
        let split: EventBatch.Split
        let itemCount: Int
        do {
            // Everything a sender sends is journaled in its own namespace: `sender`, or `sender/source` when
            // the body names another source (see Event.journaled(under:)).
            let items = try Self.decode(bytes, format: format, headers: request.headers, source: sender.source,
                                        maximumItems: limits.maximumItems).map { item in
                EventBatch.Item(line: item.line, index: item.index,
                                result: item.result.map { $0.journaled(under: sender.source) }, raw: item.raw)
            }
            bytes = []
            guard !items.isEmpty else { throw Problem.badRequest("the body holds no events; send at least one") }
            let spare = bound - min(bound, items.count * BodyAdmission.decodedItemWeight)
            bodies.release(spare)
            reserved -= spare
            itemCount = items.count
            // The first rejected items are kept for the operators to look at, the rest only counted (each is still
            // listed as rejected, up to the limit).
            split = EventBatch.split(items, source: sender.source, origin: "webhook:\(sender.source)", receivedAt: now,
                                     maximumQuarantined: limits.quarantinedPerRequest)
        }
        let outcome: IngestOutcome
        do {
            outcome = try await queue.submit(IngestSubmission(
                events: split.events, quarantine: split.quarantine,
                webhook: sender.webhookId.map { (source: sender.source, id: $0) }))
        } catch let refusal as IngestQueue.Refusal {
            var problem = Problem(.serviceUnavailable, "Service Unavailable",
                                  detail: refusal == .full ? "insightd is busy committing earlier requests; retry shortly"
                                      : "insightd is shutting down; retry shortly")
            problem.headers[.retryAfter] = "1"
            throw problem
        }
        if outcome.replayedWebhook, let webhookId = sender.webhookId { return Self.replayResponse(webhookId) }
        IngestMetrics.count(source: sender.source, received: itemCount, accepted: outcome.acceptedCount,
                            duplicates: outcome.duplicateCount, rejected: split.rejected.count)

        let rejectedJSON: [JSONValue] = split.rejected.prefix(limits.listedRejections).map { item in
            var entry: [String: JSONValue] = ["index": .number(String(item.index)),
                                              "error": .string(Problem.clipped(item.rejection.reason, to: Self.maximumReasonCharacters))]
            if let id = item.rejection.eventId { entry["id"] = .string(Problem.clipped(id, to: Self.maximumReasonCharacters)) }
            if item.line > 1 || format.isLineOriented { entry["line"] = .number(String(item.line)) }
            return .object(entry)
        }
        // Listed up to `http.max_listed_rejections`; the count is always whole.
        var counts: [String: JSONValue] = ["rejectedCount": .number(String(split.rejected.count))]
        if split.quarantineDropped > 0 {
            counts["quarantined"] = .number(String(split.quarantine.count))
        }
        if split.events.isEmpty {
            var problem = Problem(.unprocessableContent, "Unprocessable Content",
                                  detail: "none of the \(itemCount) item\(itemCount == 1 ? " is" : "s are") a valid event; see rejected")
            problem.extra = counts
            problem.extra["rejected"] = .array(rejectedJSON)
            problem.extra["accepted"] = .number("0")
            problem.extra["duplicates"] = .number("0")
            throw problem
        }
        counts["accepted"] = .number(String(outcome.acceptedCount))
        counts["duplicates"] = .number(String(outcome.duplicateCount))
        counts["rejected"] = .array(rejectedJSON)
        return Self.json(.object(counts), status: .accepted)
    }

    /// The most items `bytes` can decode into, counted in one pass without decoding: a line of NDJSON is at most an
    /// item; a JSON document's items are the elements of its top-level array (one when it is not an array), counted
    /// by the commas outside nested values and strings; a binary-mode CloudEvent is one. A document that is not JSON
    /// decodes into no item at all.
    static func itemBound(_ bytes: [UInt8], format: Format, maximumItems: Int) -> Int {
        switch format {
        case .cloudEventBinary, .cloudEvent: return 1
        case .batch(.ndjson):
            var count = 1
            for byte in bytes where byte == 0x0A { count += 1 }
            return min(maximumItems, count)
        case .batch(.automatic): return BodyAdmission.mostItems(inBodyOf: bytes.count, maximumItems: maximumItems)
        case .batch(.json), .cloudEventBatch:
            // Only an array's elements are items: a top-level object is one, whatever its members; anything else is
            // bounded by its length.
            switch bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) {
            case 0x5B: break
            case 0x7B: return 1
            default: return BodyAdmission.mostItems(inBodyOf: bytes.count, maximumItems: maximumItems)
            }
            var depth = 0, count = 1
            var inString = false, escaped = false
            for byte in bytes {
                if inString {
                    if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
                    continue
                }
                switch byte {
                case 0x22: inString = true
                case 0x5B, 0x7B: depth += 1
                case 0x5D, 0x7D: depth -= 1
                case 0x2C where depth == 1: count += 1
                default: break
                }
            }
            return min(maximumItems, count)
        }
    }

    /// The longest rejection reason or id echoed in an answer, in characters.
    static let maximumReasonCharacters = 300

    /// Reads the body up to the limit, feeding a signed request's signature check as each chunk arrives, and
    /// reserving its bytes (adding them to `reserved`) from the bodies' budget before it keeps them. A signed body
    /// also holds a place and its bytes in the unverified share while it is read, the time its sender is unknown.
    private func readBody(_ body: RequestBody, feeding check: inout Authenticator.HeadCheck, reserved: inout Int) async throws -> [UInt8] {
        var pending: Authenticator.PendingSignature?
        if case .signed(let signed) = check { pending = signed }
        let verifying = pending != nil
        if verifying {
            guard bodies.tryEnterUnverified() else {
                throw Problem.busy("insightd is reading \(bodies.unverifiedLimit) signed bodies not yet verified (a quarter of http.max_bodies_in_flight); retry shortly")
            }
        }
        var unverified = 0
        defer {
            if verifying {
                bodies.releaseUnverified(unverified)
                bodies.leaveUnverified()
            }
        }
        var bytes: [UInt8] = []
        for try await chunk in body {
            guard bytes.count + chunk.readableBytes <= maximumBodyBytes else { throw Problem.tooLarge(maximumBodyBytes) }
            if verifying {
                guard bodies.reserveUnverified(chunk.readableBytes) else {
                    throw Problem.busy("signed bodies not yet verified hold half of http.max_body_bytes_in_flight (\(bodies.unverifiedByteLimit) bytes); retry shortly")
                }
                unverified += chunk.readableBytes
            }
            guard bodies.reserve(chunk.readableBytes) else {
                throw Problem.busy("the request bodies insightd holds have reached http.max_body_bytes_in_flight (\(bodies.byteLimit) bytes); retry shortly")
            }
            reserved += chunk.readableBytes
            pending?.update(chunk.readableBytesView)
            bytes.append(contentsOf: chunk.readableBytesView)
        }
        if let pending { check = .signed(pending) }
        return bytes
    }

    /// The `webhook-*` and `ce-*` values become ids and attributes of events: each must be UTF-8 (a byte that is
    /// not would turn into U+FFFD, and two different ids into one) and of a sane length.
    static func checkHeaderValues(_ headers: HTTPFields) throws(Problem) {
        for field in headers {
            let name = field.name.canonicalName
            guard name.hasPrefix("ce-") || name.hasPrefix("webhook-") else { continue }
            // The HTTP/1 decoder has already repaired bytes that are not UTF-8 into U+FFFD: that is the sign of them.
            // ASCII, the usual case, is valid as it is.
            let (valid, count) = field.withUnsafeBytesOfValue { bytes in
                (bytes.allSatisfy { $0 < 0x80 }
                    || String(validating: bytes, as: UTF8.self).map { !$0.unicodeScalars.contains("\u{FFFD}") } == true,
                 bytes.count)
            }
            guard valid else { throw Problem.badRequest("header \(Problem.clipped(name, to: 64)) is not valid UTF-8") }
            guard count <= maximumHeaderValueBytes else {
                throw Problem.badRequest("header \(Problem.clipped(name, to: 64)) is over \(maximumHeaderValueBytes) bytes")
            }
        }
    }

    /// The longest `ce-*` or `webhook-*` header value accepted.
    static let maximumHeaderValueBytes = 4096

    static func replayResponse(_ webhookId: String) -> Response {
        json(.object([
            "accepted": .number("0"), "duplicates": .number("0"), "rejected": .array([]),
            "duplicate": .bool(true), "webhookId": .string(webhookId),
        ]), status: .ok)
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: JSONWriter.string(value))))
    }

    static func format(of headers: HTTPFields) throws(Problem) -> Format {
        let contentType = headers[.contentType]
        let mediaType = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        // CloudEvents HTTP binding: a content type of application/cloudevents… is structured (or batch) mode
        // whatever ce-* headers come along; otherwise ce-specversion means binary mode.
        if mediaType?.hasPrefix("application/cloudevents") != true, headers[.ceSpecVersion] != nil {
            guard mediaType == nil || mediaType == "application/json" else { throw Problem.unsupportedType(contentType) }
            return .cloudEventBinary
        }
        switch mediaType {
        case "application/json": return .batch(.json)
        case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines": return .batch(.ndjson)
        case "application/cloudevents+json": return .cloudEvent
        case "application/cloudevents-batch+json": return .cloudEventBatch
        default: throw Problem.unsupportedType(contentType)
        }
    }

    static func decode(_ bytes: [UInt8], format: Format, headers: HTTPFields, source: String,
                       maximumItems: Int = .max) throws(Problem) -> [EventBatch.Item] {
        let decoder = IngestDecoder()
        switch format {
        case .batch(let batchFormat):
            do {
                // The data's JSON is written here, on the request's task, not on the journal's single writer.
                return try EventBatch.decode(bytes, format: batchFormat, defaultSource: source, decoder: decoder,
                                             encodeData: true, maximumItems: maximumItems)
            } catch {
                if error.tooManyItems { throw Problem.tooManyItems(maximumItems) }
                throw Problem.badRequest(error.description)
            }
        case .cloudEvent, .cloudEventBatch:
            let document: JSONValue
            do {
                guard !bytes.isEmpty else { throw Problem.badRequest("the body is empty: send a CloudEvent") }
                document = try JSONParser.parse(bytes, maximumTopLevelElements: maximumItems)
            } catch let problem as Problem {
                throw problem
            } catch let failure as JSONParser.Failure where failure.exceedsLimit {
                throw Problem.tooManyItems(maximumItems)
            } catch {
                throw Problem.badRequest("the body is not valid JSON: \(error)")
            }
            let values: [JSONValue]
            if case .cloudEventBatch = format {
                guard case .array(let array) = document else {
                    throw Problem.badRequest("a CloudEvents batch must be a JSON array of events")
                }
                values = array
            } else {
                values = [document]
            }
            return values.enumerated().map { index, value in
                EventBatch.Item(line: 1, index: index, result: CloudEvents.decodeStructured(value), raw: JSONWriter.string(value))
            }
        case .cloudEventBinary:
            // The values as received (bytes, not text read leniently); an attribute sent twice is refused, not
            // silently one of the two.
            var attributes: [String: [UInt8]] = [:]
            var repeated: String?
            for field in headers where field.name.canonicalName.hasPrefix("ce-") {
                let name = field.name.canonicalName
                if attributes.updateValue(field.withUnsafeBytesOfValue { Array($0) }, forKey: name) != nil { repeated = repeated ?? name }
            }
            let raw = String(decoding: bytes.prefix(65_536), as: UTF8.self)
            let result: Result<Event, EventRejection> = repeated.map {
                .failure(EventRejection(eventId: nil, reason: "header \(EventRejection.excerpt($0, quoted: false)) is given more than once"))
            } ?? CloudEvents.decodeBinary(headers: attributes, body: bytes)
            return [EventBatch.Item(line: 1, index: 0, result: result, raw: raw)]
        }
    }
}

extension EventsController.Format {
    var isLineOriented: Bool {
        if case .batch(.ndjson) = self { return true }
        return false
    }
}
