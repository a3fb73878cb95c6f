import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import InsightCore
import InsightDelivery
import InsightStore
import InsightTesting
import Logging
import CoreMetrics
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

let shanghai = TimeZone(identifier: "Asia/Shanghai") ?? TimeZone(secondsFromGMT: 8 * 3600) ?? .current
let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
let webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func instant(_ text: String) -> Date {
    guard let date = RFC3339.parse(text) else { preconditionFailure("bad instant \(text)") }
    return date
}

func makeLead(_ key: String, plugin: String = "birthday-care", kind: String = "birthday", priority: LeadPriority = .normal,
              client: String = "C1", manager: String? = "M017", createdAt: Date = instant("2026-11-20T10:00:00+08:00")) -> Lead {
    let fullKey = "\(plugin):\(key)"
    return Lead(id: Lead.id(forKey: fullKey), key: fullKey, plugin: plugin, kind: kind, priority: priority,
                client: ClientReference(id: client, name: "张*", segment: "affluent"),
                manager: manager.map { ManagerReference(id: $0, name: "李*", branchId: "B03") },
                title: "客户张*生日提醒", summary: "张* 11月25日生日", suggestedAction: "致电问候",
                evidence: [Evidence(key: "birthDate", label: "生日", value: "11-25")], products: nil,
                dueAt: instant("2026-11-25T00:00:00+08:00"), createdAt: createdAt, sourceEvents: ["evt-1"], status: .new)
}

/// Commits leads (and a manager profile) as the dispatcher would.
func commitLeads(_ leads: [Lead], to database: AppDatabase, manager: ManagerState? = nil) throws {
    var step = DispatchCommit()
    step.leads = leads.map { (lead: $0, sequence: nil) }
    if let manager { step.managers = [manager] }
    try database.commit(step, at: instant("2026-11-20T10:00:00+08:00"))
}

/// One request a test receiver saw.
struct ReceivedRequest: Sendable {
    var path: String
    var headers: [String: String]
    var body: [UInt8]
    var at: Date
}

/// A scripted response: status and headers.
struct ScriptedResponse: Sendable {
    var status: HTTPResponse.Status
    var headers: [String: String] = [:]
    /// Answer only after this long (a hanging receiver).
    var delay: Duration = .zero
    var body: String = "ok"
}

/// A small Hummingbird server on loopback that records what it receives and answers from a script (then 200).
final class TestReceiverServer: Sendable {
    private let state = Mutex<(requests: [ReceivedRequest], script: [ScriptedResponse])>(([], []))
    /// Requests to this path hang until ``release()``, then get 200; the script does not apply to them.
    let hangPath: String?
    private let released = Mutex(false)

    init(script: [ScriptedResponse] = [], hangPath: String? = nil) {
        self.hangPath = hangPath
        state.withLock { $0.script = script }
    }

    /// Lets the requests hanging on `hangPath` (and later ones) answer.
    func release() {
        released.withLock { $0 = true }
    }

    var requests: [ReceivedRequest] { state.withLock { $0.requests } }

    func router() -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router(context: BasicRequestContext.self)
        router.post("/{path}") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let received = ReceivedRequest(path: request.uri.path, headers: headers, body: Array(body.readableBytesView), at: Date())
            let hangs = received.path == self.hangPath
            let response = self.state.withLock { state -> ScriptedResponse in
                state.requests.append(received)
                if hangs { return ScriptedResponse(status: .ok) }
                return state.script.isEmpty ? ScriptedResponse(status: .ok) : state.script.removeFirst()
            }
            while hangs && !self.released.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
            if response.delay > .zero { try await Task.sleep(for: response.delay) }
            var fields = HTTPFields()
            // No keep-alive: the server can stop at once at the end of a test, whatever the client's pool holds.
            fields[.connection] = "close"
            for (name, value) in response.headers {
                if let field = HTTPField.Name(name) { fields[field] = value }
            }
            return Response(status: response.status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: response.body)))
        }
        return router
    }

    /// Runs the server for the duration of `body`, which gets the base URL.
    func run<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let port = Mutex<Int?>(nil)
        let app = Application(router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
                              logger: quietLogger)
        let group = ServiceGroup(services: [app], logger: quietLogger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var bound: Int?
            for _ in 0..<500 {
                bound = port.withLock { $0 }
                if bound != nil { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            do {
                guard let bound else { throw CancellationError() }
                let value = try await body("http://127.0.0.1:\(bound)")
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
}

/// A state directory with a database and an outbox over the given receivers (driven by hand: `routeOnce`,
/// `sendDue`).
struct OutboxHarness {
    let directory: TemporaryDirectory
    let database: AppDatabase
    let outbox: OutboxService

    init(directory: TemporaryDirectory = TemporaryDirectory("insightd-outbox"), routes: [Route], receivers: [any Receiver],
         unassigned: [String] = [], policy: RetryPolicy = RetryPolicy(schedule: [0, 0.05, 0.05, 0.05], jitter: 0),
         timeSource: any TimeSource = SystemTimeSource(), metrics: any MetricsFactory = MetricsSystem.factory,
         compliance: CompliancePolicy = CompliancePolicy(), groupWindow: TimeInterval = 0) throws {
        self.directory = directory
        database = try AppDatabase.open(directory: directory.path)
        outbox = OutboxService(database: database,
                               planner: DeliveryPlanner(router: InsightDelivery.Router(routes: routes, timeZone: shanghai, unassigned: unassigned),
                                                        compliance: compliance, groupWindow: groupWindow),
                               receivers: receivers, settings: .init(policy: policy), timeSource: timeSource, logger: quietLogger,
                               metrics: metrics)
    }

    /// Sends what is due until `done` holds. The deadline is only a safety net for a test that would otherwise wait
    /// for ever: it is generous because the whole suite runs in parallel on two cores, where a test's tasks can wait
    /// tens of seconds for a thread (a 10-second window once ran out after three of four scripted attempts).
    func sendUntil(_ receiver: any Receiver, timeout: Duration = .seconds(90), _ done: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !done() {
            guard ContinuousClock.now < deadline else {
                Issue.record("sendUntil: the condition did not hold within \(timeout)")
                return
            }
            if try await outbox.sendDue(receiver) == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
    }
}

func templates(_ locale: String = "zh-CN") throws -> MessageTemplates {
    try MessageTemplates(locale: locale, timeZone: shanghai)
}

func webhookReceiver(_ url: String, name: String = "gateway", secret: String? = webhookSecret, concurrency: Int = 4,
                     timeout: TimeAmount = .seconds(5)) throws -> HTTPReceiver {
    try HTTPReceiver(name: name, kind: .webhook, url: url, secret: secret, timeout: timeout, concurrency: concurrency,
                     client: OutboundHTTP.client(), templates: templates())
}
