import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import InsightCore
import InsightDelivery
import InsightStore
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Deliveries per second through the whole outbox (routing, claiming, signed webhook POSTs on loopback,
/// recording every attempt), first to one receiver that answers at once, then again with a second receiver
/// that hangs: the fast receiver's throughput and latency in the second run, against the first.
struct DeliveryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delivery",
        abstract: "Deliveries/s to a loopback webhook receiver, alone and next to a receiver that hangs.")

    @Option(help: "Leads to deliver per run.") var leads = 20_000
    @Option(help: "Attempts in flight per receiver.") var concurrency = 4
    @Option(help: "Seconds the hanging receiver's sends wait before they time out.") var hangTimeout = 2.0
    @Option(help: "Directory for the temporary databases.") var directory = NSTemporaryDirectory()
    @Flag(help: "Route as the shipped config does: inhibit rules over marketing leads (each lead is a target, so its client's open leads are read) and a 60 s group window.")
    var compliance = false

    /// The router alone, or with the shipped compliance policy (`--compliance`).
    func planner(routes: [Route], timeZone: TimeZone) -> DeliveryPlanner {
        let router = Router(routes: routes, timeZone: timeZone)
        guard compliance else { return DeliveryPlanner(router: router) }
        let aml = LeadMatcher(kinds: AMLNotice.defaultKinds)
        return DeliveryPlanner(router: router, compliance: CompliancePolicy(inhibitRules: [
            InhibitRule(index: 0, source: aml, target: LeadMatcher(plugins: ["product-match"]), duration: 30 * 86_400),
            InhibitRule(index: 1, source: aml, target: LeadMatcher(plugins: ["rules"], tags: ["marketing"]), duration: 30 * 86_400),
        ]), groupWindow: 60)
    }

    func run() async throws {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let server = LoopbackReceiver()
        try await server.run(logger: logger) { base in
            print("delivery bench: \(leads) leads per run, concurrency \(concurrency) per receiver, webhook POSTs signed "
                  + "(Standard Webhooks) to a loopback Hummingbird receiver in this process; synchronous=FULL"
                  + (compliance ? "; inhibit rules and a 60 s group window on" : ""))
            let alone = try await measure(base: base, second: nil, logger: logger)
            print(alone.line("alone"))
            // The baseline for isolation: the same two deliveries per lead, both receivers healthy.
            let baseline = try await measure(base: base, second: "/fast2", logger: logger)
            print(baseline.line("beside a healthy receiver (baseline)"))
            let beside = try await measure(base: base, second: "/hang", logger: logger)
            print(beside.line("beside a hanging receiver"))
            print(String(format: "hanging receiver: %d attempts timed out meanwhile; the fast receiver's p99 is %.2f× and its throughput %.2f× the baseline's",
                         beside.secondAttempts, beside.p99 / max(baseline.p99, 0.001), beside.rate / max(baseline.rate, 0.001)))
            print("peak RSS \(PeakRSS.megabytes()) MB")
        }
    }

    struct Result {
        var delivered: Int
        var seconds: Double
        var cpu: CPUSample
        var p50: Double
        var p99: Double
        var secondAttempts: Int

        var rate: Double { Double(delivered) / seconds }

        func line(_ label: String) -> String {
            String(format: "%@: %d delivered in %.2f s = %.0f deliveries/s; send p50 %.2f ms, p99 %.2f ms; CPU %.1f s (stolen %.1f s)",
                   label, delivered, seconds, rate, p50, p99, cpu.process, cpu.steal)
        }
    }

    /// One run: `fast` alone, or beside a second receiver at `second` (`/fast2` answers at once, `/hang` hangs).
    func measure(base: String, second: String?, logger: Logger) async throws -> Result {
        let root = (directory as NSString).appendingPathComponent("insightd-delivery-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let database = try AppDatabase.open(directory: root)
        let templates = try MessageTemplates(locale: "zh-CN", timeZone: TimeZone(identifier: "Asia/Shanghai") ?? .current)
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let fast = TimedReceiver(try HTTPReceiver(name: "fast", kind: .webhook, url: base + "/fast", secret: secret,
                                                  timeout: .seconds(15), concurrency: concurrency, client: OutboundHTTP.client(),
                                                  templates: templates))
        var receivers: [any Receiver] = [fast]
        var routes = [Route(index: 0, receivers: ["fast"])]
        if let second {
            receivers.append(try HTTPReceiver(name: "second", kind: .webhook, url: base + second, secret: secret,
                                              timeout: .milliseconds(Int64(hangTimeout * 1000)), concurrency: concurrency,
                                              client: OutboundHTTP.client(), templates: templates))
            routes = [Route(index: 0, receivers: ["fast", "second"])]
        }
        let created = Date()
        var step = DispatchCommit()
        for index in 0..<leads {
            let key = "bench:C\(index):\(UUID().uuidString.prefix(8))"
            step.leads.append((lead: Lead(
                id: Lead.id(forKey: key), key: key, plugin: "rules", kind: "large_inflow", priority: .normal,
                client: ClientReference(id: "C\(index)", name: "张*", segment: "affluent"),
                manager: ManagerReference(id: "M\(index % 200)", name: "李*", branchId: "B03"), title: "大额资金入账",
                summary: "单笔入账¥500,000", suggestedAction: "两日内致电", evidence: [Evidence(key: "amount", label: "金额", value: "¥500,000")],
                products: nil, dueAt: nil, createdAt: created, sourceEvents: ["evt-\(index)"], status: .new,
                tags: compliance ? ["marketing"] : nil), sequence: nil))
            if step.leads.count == 5_000 {
                try database.commit(step, at: created)
                step = DispatchCommit()
            }
        }
        try database.commit(step, at: created)

        let outbox = OutboxService(
            database: database, planner: planner(routes: routes, timeZone: templates.timeZone),
            receivers: receivers, settings: .init(policy: RetryPolicy(), pollInterval: .milliseconds(50)), logger: logger)
        let group = ServiceGroup(services: [outbox], logger: logger)
        let cpuBefore = CPUSample.now()
        let start = ContinuousClock.now
        var seconds = 0.0
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while true {
                try await Task.sleep(for: .milliseconds(50))
                if try sentCount(database) >= leads { break }
            }
            let elapsed = ContinuousClock.now - start
            seconds = elapsed.timeInterval
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let cpu = CPUSample.now() - cpuBefore
        let durations = fast.milliseconds.sorted()
        let secondAttempts = second == nil ? 0 : try database.attemptDurations(receiver: "second").count
        func percentile(_ p: Double) -> Double {
            durations.isEmpty ? 0 : durations[min(durations.count - 1, Int(Double(durations.count) * p))]
        }
        try database.close()
        return Result(delivered: leads, seconds: seconds, cpu: cpu, p50: percentile(0.5), p99: percentile(0.99),
                      secondAttempts: secondAttempts)
    }

    func sentCount(_ database: AppDatabase) throws -> Int {
        try database.outboxDepth().first { $0.receiver == "fast" && $0.status == .sent }?.count ?? 0
    }

}

/// Times every send of the receiver it wraps: the HTTP round trip and signing, as the outbox sees it.
final class TimedReceiver: Receiver {
    let wrapped: any Receiver
    private let samples = Mutex<[Double]>([])

    init(_ wrapped: any Receiver) {
        self.wrapped = wrapped
    }

    var name: String { wrapped.name }
    var concurrency: Int { wrapped.concurrency }
    var milliseconds: [Double] { samples.withLock { $0 } }

    func send(_ message: OutboundMessage, at now: Date) async -> SendOutcome {
        let start = ContinuousClock.now
        let outcome = await wrapped.send(message, at: now)
        let elapsed = ContinuousClock.now - start
        let value = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        samples.withLock { $0.append(value) }
        return outcome
    }
}

/// The bench's receiver: `/fast` and `/fast2` answer 204 at once; `/hang` answers only after a minute.
final class LoopbackReceiver: Sendable {
    func run<T: Sendable>(logger: Logger, _ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Hummingbird.Router(context: BasicRequestContext.self)
        for path in ["/fast", "/fast2"] {
            router.post(RouterPath(stringLiteral: path)) { request, _ -> HTTPResponse.Status in
                _ = try await request.body.collect(upTo: 1 << 20)
                return .noContent
            }
        }
        router.post("/hang") { request, _ -> HTTPResponse.Status in
            _ = try await request.body.collect(upTo: 1 << 20)
            try await Task.sleep(for: .seconds(60))
            return .noContent
        }
        let port = Mutex<Int?>(nil)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }, logger: logger)
        let group = ServiceGroup(services: [app], logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var bound: Int?
            while bound == nil {
                try await Task.sleep(for: .milliseconds(10))
                bound = port.withLock { $0 }
            }
            let value = try await body("http://127.0.0.1:\(bound ?? 0)")
            tasks.cancelAll()
            return value
        }
    }
}
