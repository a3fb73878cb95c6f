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
    let database: AppDatabase
    let queue: IngestQueue
    let maximumBodyBytes: Int
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
        // A bearer token needs no body: check it before buffering up to the body limit.
        let now = timeSource.now()
        let bearerSender = request.headers[.webhookSignature] == nil
            ? try authenticator.sender(headers: request.headers, body: [UInt8](), now: now) : nil
        let format = try Self.format(of: request.headers)
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maximumBodyBytes)
        } catch is NIOTooManyBytesError {
            throw Problem.tooLarge(maximumBodyBytes)
        }
        let bytes = Array(body.readableBytesView)
        let sender = try bearerSender ?? authenticator.sender(headers: request.headers, body: bytes, now: now)
        if let webhookId = sender.webhookId, try database.webhookSeen(source: sender.source, id: webhookId) {
            return Self.replayResponse(webhookId)
        }

        // Everything a sender sends is journaled in its own namespace: `sender`, or `sender/source` when
        // the body names another source (see Event.journaled(under:)).
        let items = try Self.decode(bytes, format: format, headers: request.headers, source: sender.source).map { item in
            EventBatch.Item(line: item.line, index: item.index,
                            result: item.result.map { $0.journaled(under: sender.source) }, raw: item.raw)
        }
        guard !items.isEmpty else { throw Problem.badRequest("the body holds no events; send at least one") }
        let split = EventBatch.split(items, source: sender.source, origin: "webhook:\(sender.source)", receivedAt: now)
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
        IngestMetrics.count(source: sender.source, received: items.count, accepted: outcome.acceptedCount,
                            duplicates: outcome.duplicateCount, rejected: split.rejected.count)

        let rejectedJSON: [JSONValue] = split.rejected.map { item, rejection in
            var entry: [String: JSONValue] = ["index": .number(String(item.index)), "error": .string(rejection.reason)]
            if let id = rejection.eventId { entry["id"] = .string(id) }
            if item.line > 1 || format.isLineOriented { entry["line"] = .number(String(item.line)) }
            return .object(entry)
        }
        if split.events.isEmpty {
            var problem = Problem(.unprocessableContent, "Unprocessable Content",
                                  detail: "none of the \(items.count) item\(items.count == 1 ? " is" : "s are") a valid event; see rejected")
            problem.extra["rejected"] = .array(rejectedJSON)
            problem.extra["accepted"] = .number("0")
            problem.extra["duplicates"] = .number("0")
            throw problem
        }
        let answer: JSONValue = .object([
            "accepted": .number(String(outcome.acceptedCount)),
            "duplicates": .number(String(outcome.duplicateCount)),
            "rejected": .array(rejectedJSON),
        ])
        return Self.json(answer, status: .accepted)
    }

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

    static func decode(_ bytes: [UInt8], format: Format, headers: HTTPFields, source: String) throws(Problem) -> [EventBatch.Item] {
        let decoder = IngestDecoder()
        switch format {
        case .batch(let batchFormat):
            do {
                // The data's JSON is written here, on the request's task, not on the journal's single writer.
                return try EventBatch.decode(bytes, format: batchFormat, defaultSource: source, decoder: decoder,
                                             encodeData: true)
            } catch {
                throw Problem.badRequest(error.description)
            }
        case .cloudEvent, .cloudEventBatch:
            let document: JSONValue
            do {
                guard !bytes.isEmpty else { throw Problem.badRequest("the body is empty: send a CloudEvent") }
                document = try JSONParser.parse(bytes)
            } catch let problem as Problem {
                throw problem
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
            var attributes: [String: String] = [:]
            for field in headers { attributes[field.name.canonicalName] = field.value }
            let raw = String(decoding: bytes.prefix(65_536), as: UTF8.self)
            return [EventBatch.Item(line: 1, index: 0, result: CloudEvents.decodeBinary(headers: attributes, body: bytes), raw: raw)]
        }
    }
}

extension EventsController.Format {
    var isLineOriented: Bool {
        if case .batch(.ndjson) = self { return true }
        return false
    }
}
