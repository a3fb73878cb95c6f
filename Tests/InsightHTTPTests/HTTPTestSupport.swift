import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InsightCore
import InsightEngine
import InsightHTTP
import InsightIngest
import InsightStore
import InsightTesting
import Logging
import ServiceLifecycle
import Testing

let shanghai = TimeZone(identifier: "Asia/Shanghai") ?? TimeZone(secondsFromGMT: 8 * 3600)!
let quietLogger = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })

/// Credentials and instants every HTTP test shares.
enum Credentials {
    /// The webhook source "core-banking" signs with the Standard Webhooks test-vector secret.
    static let webhookSource = "core-banking"
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let wrongSecret = "whsec_" + Data(repeating: 0x42, count: 32).base64EncodedString()
    /// The webhook source "crm" sends with a bearer token instead.
    static let tokenSource = "crm"
    static let sourceToken = "crm-source-token-0123456789"
    static let ingestToken = "api-ingest-token-0123456789"
    static let readToken = "api-read-token-0123456789"
    static let adminToken = "api-admin-token-0123456789"
    static let complianceToken = "api-compliance-token-0123456789"

    static let authenticator = Authenticator(
        webhookSecrets: [webhookSource: secret],
        sourceTokens: [tokenSource: sourceToken],
        apiTokens: [
            .init(name: "etl-loader", token: ingestToken, scopes: [.ingest]),
            .init(name: "dashboard", token: readToken, scopes: [.read, .feedback]),
            .init(name: "operator", token: adminToken, scopes: [.admin, .read]),
            .init(name: "aml-officer", token: complianceToken, scopes: [.compliance, .read, .feedback]),
        ])

    /// The server's clock.
    static let now = RFC3339.parse("2026-11-20T10:05:00+08:00") ?? Date(timeIntervalSince1970: 1_795_140_300)
    static var nowSeconds: Int64 { Int64(now.timeIntervalSince1970) }
}

/// A real stack over a temporary SQLite file: database, dispatcher, running ingest queue, HTTP server.
struct Stack: Sendable {
    let directory: TemporaryDirectory
    let database: AppDatabase
    let settings: SettingsBox
    let dispatcher: Dispatcher
    let queue: IngestQueue
    let health: HealthBoard
    let clock: FixedTimeSource
    let server: HTTPServer
}

/// Builds a stack, runs its ingest queue for the duration of `body`, and stops it gracefully afterwards.
///
/// `IngestQueue.run()` ignores task cancellation (see `IngestQueueLifecycleTests`), so the queue runs inside a
/// `ServiceGroup` and is stopped with a graceful shutdown rather than by cancelling its task.
func withStack<T: Sendable>(maximumBodyBytes: Int = 10 * 1024 * 1024, port: Int = 0, plugins: [LoadedPlugin] = [],
                            tickCatchUp: Duration = .seconds(30), limits: ServerLimits = ServerLimits(),
                            _ body: (Stack) async throws -> T) async throws -> T {
    let directory = TemporaryDirectory("insightd-http")
    let database = try AppDatabase.open(directory: directory.path)
    let settings = SettingsBox(PipelineSettings(plugins: plugins, timeZone: shanghai, locale: "zh-CN"))
    let clock = FixedTimeSource(Credentials.now)
    let dispatcher = try Dispatcher(database: database, settings: settings, clock: .live(clock), logger: quietLogger)
    let queue = IngestQueue(database: database, logger: quietLogger)
    let health = HealthBoard()
    let server = HTTPServer(
        settings: .init(host: "127.0.0.1", port: port, maximumBodyBytes: maximumBodyBytes, tickCatchUp: tickCatchUp, limits: limits),
        authenticator: Credentials.authenticator, database: database, queue: queue, dispatcher: dispatcher,
        pipeline: settings, health: health, timeSource: clock, logger: quietLogger)
    let stack = Stack(directory: directory, database: database, settings: settings, dispatcher: dispatcher,
                      queue: queue, health: health, clock: clock, server: server)

    let group = ServiceGroup(services: [queue], logger: quietLogger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            // An empty submission comes back only once the queue is running: the group has started, so the
            // graceful shutdown below cannot arrive before it.
            _ = try await queue.submit(IngestSubmission(events: []))
            let value = try await body(stack)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return value
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// `withStack` plus a router-level test client.
func withClient<T: Sendable>(maximumBodyBytes: Int = 10 * 1024 * 1024, plugins: [LoadedPlugin] = [], tickCatchUp: Duration = .seconds(30),
                             limits: ServerLimits = ServerLimits(),
                             _ body: @escaping @Sendable (Stack, any TestClientProtocol) async throws -> T) async throws -> T {
    try await withStack(maximumBodyBytes: maximumBodyBytes, plugins: plugins, tickCatchUp: tickCatchUp, limits: limits) { stack in
        try await stack.server.application().test(.router) { client in try await body(stack, client) }
    }
}

// MARK: - Requests

extension HTTPField.Name {
    static let webhookId = HTTPField.Name("webhook-id")!
    static let webhookTimestamp = HTTPField.Name("webhook-timestamp")!
    static let webhookSignature = HTTPField.Name("webhook-signature")!
}

/// Headers for a request signed with Standard Webhooks.
func signedHeaders(_ body: [UInt8], id: String, secret: String = Credentials.secret, timestamp: Int64 = Credentials.nowSeconds,
                   contentType: String? = "application/json") throws -> HTTPFields {
    let signer = try #require(StandardWebhooks(secret: secret))
    var headers = HTTPFields()
    if let contentType { headers[.contentType] = contentType }
    headers[.webhookId] = id
    headers[.webhookTimestamp] = String(timestamp)
    headers[.webhookSignature] = signer.sign(id: id, timestamp: timestamp, body: body)
    return headers
}

/// Headers for a request sent with a bearer token.
func bearerHeaders(_ token: String = Credentials.sourceToken, contentType: String? = "application/json") -> HTTPFields {
    var headers = HTTPFields()
    if let contentType { headers[.contentType] = contentType }
    headers[.authorization] = "Bearer \(token)"
    return headers
}

/// What came back, with the body parsed when it is JSON.
struct Reply: Sendable, CustomStringConvertible {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String
    let json: JSONValue?

    init(_ response: TestResponse) {
        status = response.status
        headers = response.headers
        let bytes = Array(response.body.readableBytesView)
        text = String(decoding: bytes, as: UTF8.self)
        json = try? JSONParser.parse(bytes)
    }

    var contentType: String? { headers[.contentType] }
    var isProblem: Bool { contentType == "application/problem+json" }

    subscript(key: String) -> JSONValue? { json?[key] }
    func int(_ key: String) -> Int? { json?[key].flatMap(\.intValue) }
    var detail: String { json?["detail"]?.stringValue ?? "" }
    var rejected: [JSONValue] { json?["rejected"]?.arrayValue ?? [] }

    var description: String { "\(status.code) \(contentType ?? "-") \(text.prefix(600))" }
}

extension JSONValue {
    var intValue: Int? {
        if case .number(let literal) = self { return Int(literal) }
        return nil
    }
}

extension TestClientProtocol {
    func post(_ uri: String = "/v1/events", headers: HTTPFields, body: [UInt8]) async throws -> Reply {
        try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(bytes: body)) { Reply($0) }
    }

    func post(_ uri: String = "/v1/events", headers: HTTPFields, body: String) async throws -> Reply {
        try await post(uri, headers: headers, body: Array(body.utf8))
    }

    func get(_ uri: String) async throws -> Reply {
        try await execute(uri: uri, method: .get) { Reply($0) }
    }
}

// MARK: - Bodies

/// A native `account.transaction` envelope; `amount` is raw JSON.
func transaction(_ id: String, client: String = "C000001", amount: String = #""1234.50""#, source: String? = nil) -> String {
    let sourceMember = source.map { #","source":"\#($0)""# } ?? ""
    return #"{"id":"\#(id)","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","clientId":"\#(client)"\#(sourceMember),"data":{"accountId":"6222020200112233","amount":\#(amount),"direction":"credit","channel":"transfer"}}"#
}

/// A structured-mode CloudEvent for `account.transaction`.
func cloudEvent(_ id: String, client: String = "C000002", specversion: String = "1.0") -> String {
    #"{"specversion":"\#(specversion)","id":"\#(id)","source":"/core-banking","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","clientid":"\#(client)","datacontenttype":"application/json","data":{"accountId":"6222","amount":"10.00","direction":"debit"}}"#
}

/// Checks the 202 answer of an ingest request.
func expectAccepted(_ reply: Reply, accepted: Int, duplicates: Int = 0, rejected: Int = 0,
                    sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.status == .accepted, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.contentType == "application/json", "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.int("accepted") == accepted, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.int("duplicates") == duplicates, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.rejected.count == rejected, "\(reply)", sourceLocation: sourceLocation)
}

/// Checks an RFC 9457 problem answer.
func expectProblem(_ reply: Reply, _ status: HTTPResponse.Status, detailContains fragment: String? = nil,
                   instance: String = "/v1/events", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.status == status, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.isProblem, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply.int("status") == status.code, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply["type"] == .string("about:blank"), "\(reply)", sourceLocation: sourceLocation)
    #expect(reply["title"]?.stringValue?.isEmpty == false, "\(reply)", sourceLocation: sourceLocation)
    #expect(reply["instance"] == .string(instance), "\(reply)", sourceLocation: sourceLocation)
    if let fragment {
        #expect(reply.detail.contains(fragment), "detail: \(reply.detail)", sourceLocation: sourceLocation)
    }
}

/// Commits leads to the ledger as the dispatcher would, at the server's clock.
func commitLeads(_ leads: [Lead], to database: AppDatabase) throws {
    var step = DispatchCommit()
    step.leads = leads.map { (lead: $0, sequence: nil) }
    try database.commit(step, at: Credentials.now)
}
