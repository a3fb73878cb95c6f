import Foundation
import HTTPTypes
import Hummingbird
import InsightCore
import NIOCore
import NIOHTTP1

/// An RFC 9457 problem: the only shape errors leave the HTTP API in (`application/problem+json`).
public struct Problem: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let title: String
    public let detail: String
    /// Extra members, e.g. the rejected items of a batch.
    public var extra: [String: JSONValue] = [:]
    public var headers: HTTPFields = [:]

    /// `detail` is clipped to ``maximumDetailCharacters``: a detail may quote what the caller sent, and a caller
    /// may send megabytes.
    public init(_ status: HTTPResponse.Status, _ title: String, detail: String) {
        self.status = status
        self.title = title
        self.detail = Self.clipped(detail, to: Self.maximumDetailCharacters)
    }

    public static let maximumDetailCharacters = 1024

    /// `text` if it has at most `limit` Unicode scalars, else its first `limit`, an ellipsis and the size it had
    /// (``EventRejection/excerpt(_:quoted:length:)``, unquoted).
    public static func clipped(_ text: String, to limit: Int) -> String {
        EventRejection.excerpt(text, quoted: false, length: limit)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var object = extra
        object["type"] = .string("about:blank")
        object["title"] = .string(title)
        object["status"] = .number(String(status.code))
        object["detail"] = .string(detail)
        object["instance"] = .string(Self.clipped(request.uri.path, to: 256))
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields,
                        body: ResponseBody(byteBuffer: ByteBuffer(string: JSONWriter.string(.object(object)))))
    }

    static func badRequest(_ detail: String) -> Problem { Problem(.badRequest, "Bad Request", detail: detail) }
    static func unauthorized(_ detail: String) -> Problem { Problem(.unauthorized, "Unauthorized", detail: detail) }
    static func forbidden(_ detail: String) -> Problem { Problem(.forbidden, "Forbidden", detail: detail) }
    static func notFound(_ detail: String) -> Problem { Problem(.notFound, "Not Found", detail: detail) }
    static func tooLarge(_ limit: Int) -> Problem {
        Problem(.contentTooLarge, "Content Too Large",
                detail: "the body is over the \(limit)-byte limit; split it into several requests")
    }
    /// 503 with `Retry-After: 1`: a limit of the server's is reached for now.
    static func busy(_ detail: String) -> Problem {
        var problem = Problem(.serviceUnavailable, "Service Unavailable", detail: detail)
        problem.headers[.retryAfter] = "1"
        return problem
    }
    static func tooManyItems(_ limit: Int) -> Problem {
        Problem(.contentTooLarge, "Content Too Large",
                detail: "the body holds more than \(limit) items (http.max_items); split it into several requests")
    }
    static func unsupportedType(_ type: String?) -> Problem {
        Problem(.unsupportedMediaType, "Unsupported Media Type",
                detail: "Content-Type \(type.map { "\"\(clipped($0, to: 100))\"" } ?? "is missing"); send application/json, application/x-ndjson, application/cloudevents+json, application/cloudevents-batch+json, or a binary-mode CloudEvent (ce-* headers with application/json)")
    }
}

/// Turns anything a handler throws that is not already a problem into one, so no stack trace or plain
/// text ever reaches a caller. Errors that are not the caller's fault are 503 (retry later), and logged.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return try problem.response(from: request, context: context)
        } catch is NIOTooManyBytesError {
            return try Problem(.contentTooLarge, "Content Too Large", detail: "the body is over this route's size limit")
                .response(from: request, context: context)
        } catch let error as HTTPError {
            let status = error.status
            let detail = error.body ?? (status == .notFound ? "no route \(request.method) \(request.uri.path)" : status.reasonPhrase)
            return try Problem(status, status.reasonPhrase, detail: detail).response(from: request, context: context)
        } catch where error is CancellationError || error is ChannelError || error is IOError || error is HTTPParserError {
            // The client went away, or its connection was closed (a deadline, the shutdown grace), or it sent what is
            // not HTTP (Hummingbird answers 400 and closes): nothing that is insightd's failure.
            context.logger.debug("request ended with its connection", metadata: ["error": "\(error)", "http.path": "\(Problem.clipped(request.uri.path, to: 256))"])
            throw error
        } catch {
            context.logger.error("request failed inside insightd", metadata: ["error": "\(error)", "http.path": "\(Problem.clipped(request.uri.path, to: 256))"])
            var problem = Problem(.serviceUnavailable, "Service Unavailable",
                                  detail: "insightd could not complete the request; nothing was stored, retry later")
            problem.headers[.retryAfter] = "5"
            return try problem.response(from: request, context: context)
        }
    }
}
