import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import NIOCore
import NIOHTTPTypes
import Synchronization

/// What one client, or many, may take of the server before anything is authenticated: connections, time to send
/// a request, bodies being read at once, items per request. Every limit has a default safe for a bank's network
/// and is set under `http:` in the configuration.
public struct ServerLimits: Sendable, Equatable {
    /// Open connections; over it the listener stops accepting (new ones wait in the kernel's backlog) until one
    /// closes. The daemon keeps it under its descriptor limit, so the inbox and the database always get theirs.
    public var maximumConnections: Int
    /// Open connections from one client address (0: no limit); over it a new connection is closed at once, so one
    /// host cannot take every connection from the others.
    public var maximumConnectionsPerAddress: Int
    /// Requests on `POST /v1/events` holding their bodies at once (read, decoded, committed); over it: 503 with
    /// `Retry-After`, nothing queued.
    public var maximumBodiesInFlight: Int
    /// The bytes those bodies may hold in all, whatever their number: a request whose body would go over it is
    /// answered 503 with `Retry-After`. Bounds the memory that bodies, signed but not yet verified ones among them,
    /// can take. At least the body limit, so that one largest body always fits.
    public var maximumBodyBytesInFlight: Int
    /// From the first byte of a request to the end of its head; over it the connection is closed.
    public var headerTimeout: Duration
    /// From the end of a request's head to the end of its body; over it the connection is closed.
    public var bodyTimeout: Duration
    /// A kept-alive connection with no request in progress is closed after this.
    public var idleTimeout: Duration
    /// After SIGTERM, how long requests in progress may take to finish before their connections are closed.
    public var shutdownGrace: Duration
    /// Items (events) per request; a body with more is refused whole with 413.
    public var maximumItems: Int
    /// Rejected items listed in an answer (the rest are counted in `rejectedCount`).
    public var listedRejections: Int
    /// Rejected items of one request kept in the quarantine (the rest are counted, not stored).
    public var quarantinedPerRequest: Int

    public init(maximumConnections: Int = 1024, maximumConnectionsPerAddress: Int = 256, maximumBodiesInFlight: Int = 256, maximumBodyBytesInFlight: Int = 64 << 20,
                headerTimeout: Duration = .seconds(10),
                bodyTimeout: Duration = .seconds(60), idleTimeout: Duration = .seconds(75), shutdownGrace: Duration = .seconds(10),
                maximumItems: Int = 100_000, listedRejections: Int = 100, quarantinedPerRequest: Int = 1000) {
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
        self.maximumBodiesInFlight = maximumBodiesInFlight
        self.maximumBodyBytesInFlight = maximumBodyBytesInFlight
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.shutdownGrace = shutdownGrace
        self.maximumItems = maximumItems
        self.listedRejections = listedRejections
        self.quarantinedPerRequest = quarantinedPerRequest
    }
}

/// The server's connections: counted for `/metrics` and `/readyz`, and held under ``ServerLimits/maximumConnections``
/// by Hummingbird's accept gate.
public final class ConnectionGauge: Sendable {
    /// Open connections; the gauge is recorded under the same lock, so two connections closing at once on two event
    /// loops cannot leave it at a count that no longer holds.
    private let open = Mutex<Int>(0)
    private let timedOut = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    private let byAddress = Mutex<[String: Int]>([:])

    public init() {}

    public var openConnections: Int { open.withLock { $0 } }
    /// Connections closed because a request's head or body did not arrive in time.
    public var timedOutConnections: Int { timedOut.load(ordering: .relaxed) }

    func opened() { open.withLock { $0 += 1; Self.record($0) } }
    func closed() { open.withLock { $0 -= 1; Self.record($0) } }
    private static func record(_ count: Int) { Gauge(label: "insightd_http_connections_open").record(count) }
    func timedOutOne() { timedOut.add(1, ordering: .relaxed) }

    /// Connections closed at once because their address had too many open.
    public var refusedConnections: Int { refused.load(ordering: .relaxed) }

    /// Counts a connection from `address` unless that address has `limit` open already (0: no limit).
    func admit(_ address: String, limit: Int) -> Bool {
        let admitted = byAddress.withLock { counts in
            let open = counts[address, default: 0]
            guard limit == 0 || open < limit else { return false }
            counts[address] = open + 1
            return true
        }
        if !admitted {
            refused.add(1, ordering: .relaxed)
            Counter(label: "insightd_http_connections_refused_total").increment()
        }
        return admitted
    }

    func release(_ address: String) {
        byAddress.withLock { counts in
            let open = counts[address, default: 1] - 1
            counts[address] = open > 0 ? open : nil
        }
    }
}

/// The requests on `POST /v1/events` holding a body, counted and weighed: ``tryEnter()`` refuses one over
/// ``ServerLimits/maximumBodiesInFlight``, ``reserve(_:)`` refuses bytes over ``ServerLimits/maximumBodyBytesInFlight``,
/// rather than queueing either.
final class BodyAdmission: Sendable {
    private let inFlight = Atomic<Int>(0)
    private let bytes = Atomic<Int>(0)
    let limit: Int
    let byteLimit: Int

    /// The largest body one request may send: the unverified share always holds one.
    let largestBody: Int

    /// What one decoded item is charged beside its bytes: about what an event, or a rejection with its place, its
    /// reason and its quarantine row, holds in memory until the answer. A line `x` of 2 bytes weighs this much.
    static let decodedItemWeight = 512

    /// The most items a body of `length` bytes can hold, whatever its format: `maximumItems` at most, and an item
    /// takes at least 2 bytes with its separator (`x\n`, `1,`).
    static func mostItems(inBodyOf length: Int, maximumItems: Int) -> Int {
        min(maximumItems, length / 2 + 1)
    }

    /// The byte budget as configured, before it is raised to fit one largest body decoded.
    let configuredByteLimit: Int

    /// The byte budget is never under what one largest body can weigh decoded, so that one request alone is never
    /// refused.
    init(limit: Int, byteLimit: Int, largestBody: Int, maximumItems: Int) {
        self.limit = limit
        configuredByteLimit = max(byteLimit, largestBody)
        self.byteLimit = max(byteLimit, largestBody + Self.mostItems(inBodyOf: largestBody, maximumItems: maximumItems) * Self.decodedItemWeight)
        self.largestBody = largestBody
    }

    /// Whether a body may be read now; if so the caller must ``leave()`` once it is done with it.
    func tryEnter() -> Bool { Self.add(1, to: inFlight, upTo: limit) }

    func leave() { inFlight.subtract(1, ordering: .releasing) }

    /// Whether `count` more bytes of bodies may be held; if so the caller must ``release(_:)`` them.
    func reserve(_ count: Int) -> Bool { Self.add(count, to: bytes, upTo: byteLimit) }

    func release(_ count: Int) { bytes.subtract(count, ordering: .releasing) }

    // Signed bodies whose signature is not checked yet (it can be only at their end) come from callers not known
    // to be anyone: they get a quarter of the places and half the bytes, so that forged ones sent slowly cannot
    // hold every place and starve the senders a bearer token already identified.
    private let unverified = Atomic<Int>(0)
    private let unverifiedBytes = Atomic<Int>(0)
    var unverifiedLimit: Int { max(1, limit / 4) }
    /// Unverified bodies are never decoded: their share is half the budget as configured, not as raised for decoding.
    var unverifiedByteLimit: Int { max(configuredByteLimit / 2, largestBody) }

    /// Like ``tryEnter()``, for a body not yet verified; ``leaveUnverified()`` once it is verified or refused.
    func tryEnterUnverified() -> Bool { Self.add(1, to: unverified, upTo: unverifiedLimit) }
    func leaveUnverified() { unverified.subtract(1, ordering: .releasing) }
    func reserveUnverified(_ count: Int) -> Bool { Self.add(count, to: unverifiedBytes, upTo: unverifiedByteLimit) }
    func releaseUnverified(_ count: Int) { unverifiedBytes.subtract(count, ordering: .releasing) }

    var current: Int { inFlight.load(ordering: .relaxed) }
    var currentBytes: Int { bytes.load(ordering: .relaxed) }

    private static func add(_ amount: Int, to counter: borrowing Atomic<Int>, upTo limit: Int) -> Bool {
        var current = counter.load(ordering: .relaxed)
        while current + amount <= limit {
            let (exchanged, original) = counter.compareExchange(expected: current, desired: current + amount, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }
}

extension DeadlineHTTP1Channel {
    /// The key a connection is counted under for `http.max_connections_per_address`: an IPv4 address, or an IPv6
    /// address's /64 prefix (one host is usually given a whole /64, and can take any address in it); an IPv4
    /// address mapped into IPv6 (`::ffff:a.b.c.d`, from a dual-stack listener) counts as that IPv4 address.
    static func peerKey(_ address: SocketAddress?) -> String {
        switch address {
        case .v4: return address?.ipAddress ?? "unknown"
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            guard bytes.count == 16 else { return address?.ipAddress ?? "unknown" }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return bytes[12..<16].map(String.init).joined(separator: ".")
            }
            let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            return groups.joined(separator: ":") + "::/64"
        case .unixDomainSocket, .none: return "local"
        }
    }
}

/// Hummingbird's accept gate over ``ConnectionGauge``: the listener reads no new connection while
/// ``ServerLimits/maximumConnections`` are open.
struct ConnectionLimit: AvailableConnectionsDelegate {
    let gauge: ConnectionGauge
    let maximum: Int

    mutating func connectionOpened() { gauge.opened() }
    mutating func connectionClosed() { gauge.closed() }
    func isAcceptingNewConnections() -> Bool { gauge.openConnections < maximum }
}

/// HTTP/1.1 with request deadlines: Hummingbird's channel, plus a handler in front of its decoder that sees the
/// first byte of each request, and one behind it that sees the head and the end of the body. A request whose head
/// is not complete within ``ServerLimits/headerTimeout`` of its first byte, or whose body is not complete within
/// ``ServerLimits/bodyTimeout`` of its head, has its connection closed: a client that sends slowly, or stops,
/// holds a connection and a body buffer for seconds, not for ever.
struct DeadlineHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let limits: ServerLimits
    let gauge: ConnectionGauge

    init(responder: @escaping HTTPChannelHandler.Responder, limits: ServerLimits, gauge: ConnectionGauge) {
        self.limits = limits
        self.gauge = gauge
        inner = HTTP1Channel(responder: responder, configuration: .init(
            additionalChannelHandlers: [RequestPhaseHandler()], idleTimeout: TimeAmount(limits.idleTimeout)))
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // One host may not hold every connection: over its share, the connection is closed before a byte is read.
        let address = Self.peerKey(channel.remoteAddress)
        guard gauge.admit(address, limit: limits.maximumConnectionsPerAddress) else {
            logger.notice("closed a connection: its address has http.max_connections_per_address open", metadata: [
                "net.peer": "\(channel.remoteAddress?.ipAddress ?? "unknown")", "net.peer.counted_as": "\(address)",
                "http.max_connections_per_address": "\(limits.maximumConnectionsPerAddress)",
            ])
            return channel.close().flatMapThrowing { throw ChannelError.ioOnClosedChannel }
        }
        let gauge = gauge
        channel.closeFuture.whenComplete { _ in gauge.release(address) }
        do {
            try channel.pipeline.syncOperations.addHandler(
                RequestDeadlineHandler(headerTimeout: TimeAmount(limits.headerTimeout), bodyTimeout: TimeAmount(limits.bodyTimeout),
                                       gauge: gauge, logger: logger))
        } catch {
            // NIO drops a child channel whose setup failed without closing it: close it, or its descriptor and its
            // place under the limits are lost for good.
            return channel.close().flatMapThrowing { throw error }
        }
        return inner.setup(channel: channel, logger: logger).flatMapError { error in
            channel.close().flatMapThrowing { throw error }
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// In front of the HTTP decoder: starts a request's head deadline at its first byte, and closes the connection
/// when a deadline passes. ``RequestPhaseHandler``, behind the decoder, moves it from head to body to response.
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Phase: String {
        /// Between requests: no deadline of ours (Hummingbird's idle timeout applies).
        case idle
        case head
        case body
        /// The request is read; the server is answering it.
        case responding
    }

    private let headerTimeout: TimeAmount
    private let bodyTimeout: TimeAmount
    private let gauge: ConnectionGauge
    private let logger: Logger
    private var phase = Phase.idle
    /// When the current phase's time is up (nil between requests), and that phase's timeout, for the log.
    private var due: NIODeadline?
    private var timeout = TimeAmount.zero
    /// One timer at a time, armed lazily: a phase that starts while the timer is set to fire no later than its own
    /// deadline leaves it, and the timer, when it fires early, arms itself again for the deadline then in force.
    /// So a busy kept-alive connection schedules about one timer per header timeout, not two per request.
    private var timer: Scheduled<Void>?
    private var timerAt: NIODeadline?
    private var context: ChannelHandlerContext?

    init(headerTimeout: TimeAmount, bodyTimeout: TimeAmount, gauge: ConnectionGauge, logger: Logger) {
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.gauge = gauge
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // A new connection owes its first request's head from the start: one that sends nothing is closed after
        // the head deadline, not kept until the idle timeout.
        if context.channel.isActive { start(.head, within: headerTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if phase == .idle { start(.head, within: headerTimeout) }
        context.fireChannelActive()
    }


    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    /// Bytes of a next request arrived while this one was being answered: its head is due once the answer is out
    /// (not before: a slow answer must not cut the connection).
    private var pendingHead = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The first bytes of a request: its head is due.
        if phase == .idle { start(.head, within: headerTimeout) } else if phase == .responding { pendingHead = true }
        context.fireChannelRead(data)
    }

    /// The decoder produced the request's head: its body is due.
    func headReceived() {
        pendingHead = false
        start(.body, within: bodyTimeout)
    }

    /// The decoder produced the end of the request's body.
    func bodyReceived() {
        due = nil
        phase = .responding
    }

    /// The server wrote the end of a response.
    func responseWritten() {
        guard phase == .responding else { return }
        if pendingHead {
            pendingHead = false
            start(.head, within: headerTimeout)
        } else {
            phase = .idle
        }
    }

    private func start(_ next: Phase, within timeout: TimeAmount) {
        phase = next
        self.timeout = timeout
        let deadline = NIODeadline.now() + timeout
        due = deadline
        arm(at: deadline)
    }

    private func arm(at deadline: NIODeadline) {
        if timer != nil, let timerAt, timerAt <= deadline { return }
        timer?.cancel()
        guard let context else { return }
        timerAt = deadline
        timer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) { [self] in fired() }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
        timerAt = nil
        due = nil
    }

    private func fired() {
        timer = nil
        timerAt = nil
        guard phase == .head || phase == .body, let due else { return }
        if NIODeadline.now() >= due { expire(phase, after: timeout) } else { arm(at: due) }
    }

    private func expire(_ phase: Phase, after timeout: TimeAmount) {
        guard let context, self.phase == phase else { return }
        gauge.timedOutOne()
        Counter(label: "insightd_http_connections_timed_out_total", dimensions: [("phase", phase.rawValue)]).increment()
        logger.notice("closed a connection: the request's \(phase == .head ? "head" : "body") did not arrive in time", metadata: [
            "http.timeout_ms": "\(timeout.nanoseconds / 1_000_000)",
            "net.peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "unknown")",
        ])
        context.close(promise: nil)
    }
}

/// Behind the HTTP decoder: tells the ``RequestDeadlineHandler`` in front of it where the request stands.
final class RequestPhaseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var deadlines: RequestDeadlineHandler?

    func handlerAdded(context: ChannelHandlerContext) {
        deadlines = try? context.pipeline.syncOperations.handler(type: RequestDeadlineHandler.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) { deadlines = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: deadlines?.headReceived()
        case .body: break
        case .end:
            requestsEnded += 1
            deadlines?.bodyReceived()
        }
        context.fireChannelRead(data)
    }

    /// Set when an answer goes out before its request's body was read (a refusal on the head): the connection is
    /// closed after it, so the body announced is never read, whatever length it claimed.
    private var closeAfterResponse = false
    /// Requests whose end the decoder produced, and responses whose end was written: the request being answered is
    /// the oldest unanswered one (HTTP/1.1 answers in order), and its body is unread while the two are equal.
    private var requestsEnded = 0
    private var responsesEnded = 0

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response) where requestsEnded == responsesEnded:
            closeAfterResponse = true
            response.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end where closeAfterResponse:
            responsesEnded += 1
            deadlines?.responseWritten()
            // Closed once the answer is written (a close before would drop what the socket has not taken yet).
            let written = context.eventLoop.makePromise(of: Void.self)
            if let promise { written.futureResult.cascade(to: promise) }
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.futureResult.whenComplete { _ in bound.value.close(promise: nil) }
            context.writeAndFlush(data, promise: written)
        case .end:
            responsesEnded += 1
            deadlines?.responseWritten()
            context.write(data, promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }
}
