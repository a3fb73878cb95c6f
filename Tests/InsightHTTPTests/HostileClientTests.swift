import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InsightCore
@testable import InsightHTTP
import NIOCore
import InsightStore
import InsightTesting
import ServiceLifecycle
import Testing

/// What a client without credentials, or with a grudge, can take of the server: each test is one finding of the
/// security review (issue 14), over a real socket where the finding was about sockets.
@Suite("hostile clients")
struct HostileClientTests {
    /// Runs `body` with the stack's server listening on a loopback port.
    func withLiveServer(limits: ServerLimits = ServerLimits(), maximumBodyBytes: Int = 10 * 1024 * 1024,
                        _ body: @escaping @Sendable (Stack, Int) async throws -> Void) async throws {
        try await withStack(maximumBodyBytes: maximumBodyBytes, limits: limits) { stack in
            try await stack.server.application().test(.live) { client in
                let port = try #require(client.port)
                try await body(stack, port)
            }
        }
    }

    /// Runs `body` with the stack's application as the daemon runs it (`.live` testing rebuilds the configuration
    /// without its connection limit, and opens a connection of its own).
    func withRunningApplication(limits: ServerLimits, _ body: @escaping @Sendable (Stack, Int) async throws -> Void) async throws {
        try await withStack(limits: limits) { stack in
            let (ports, continuation) = AsyncStream<Int>.makeStream()
            let app = stack.server.application { port in continuation.yield(port) }
            let group = ServiceGroup(services: [app], logger: quietLogger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var iterator = ports.makeAsyncIterator()
                let port = try #require(await iterator.next())
                do {
                    try await body(stack, port)
                } catch {
                    await group.triggerGracefulShutdown()
                    throw error
                }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }

    /// Polls `condition` for up to 30 s.
    func waitUntil(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<600 where !condition() { try await Task.sleep(for: .milliseconds(50)) }
        #expect(condition(), "still not so after 30 s")
    }

    /// A head announcing a body of `length` bytes, with `headers` (each a full `Name: value` line).
    func head(length: Int, headers: [String]) -> String {
        (["POST /v1/events HTTP/1.1", "Host: insightd", "Content-Type: application/json", "Content-Length: \(length)"] + headers)
            .joined(separator: "\r\n") + "\r\n\r\n"
    }

    func signedHeaderLines(id: String = "msg_hostile", timestamp: Int64 = Credentials.nowSeconds) -> [String] {
        ["webhook-id: \(id)", "webhook-timestamp: \(timestamp)", "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="]
    }

    @Test("a signed request whose timestamp is stale is refused on its head, before its body is read")
    func staleSignedRefusedOnHead() async throws {
        try await withLiveServer { _, port in
            let connection = try RawConnection(port: port)
            // 10 MB announced, not one byte sent: the answer must not wait for it.
            connection.send(head(length: 10_000_000, headers: signedHeaderLines(timestamp: Credentials.nowSeconds - 3600)))
            let reply = await connection.response(timeout: 30)
            #expect(RawConnection.status(of: reply.text) == 401, "\(reply.text.prefix(300))")
            #expect(reply.text.contains("3600 s old"))
        }
    }

    @Test("a signed request without webhook-id is refused on its head, before its body is read")
    func missingIdRefusedOnHead() async throws {
        try await withLiveServer { _, port in
            let connection = try RawConnection(port: port)
            connection.send(head(length: 10_000_000, headers: Array(signedHeaderLines().dropFirst())))
            let reply = await connection.response(timeout: 30)
            #expect(RawConnection.status(of: reply.text) == 401, "\(reply.text.prefix(300))")
            #expect(reply.text.contains("webhook-id"))
        }
    }

    @Test("a request without credentials is refused on its head")
    func anonymousRefusedOnHead() async throws {
        try await withLiveServer { _, port in
            let connection = try RawConnection(port: port)
            connection.send(head(length: 10_000_000, headers: []))
            let reply = await connection.response(timeout: 30)
            #expect(RawConnection.status(of: reply.text) == 401, "\(reply.text.prefix(300))")
        }
    }

    @Test("a body announced over the limit is refused before it is read")
    func announcedTooLarge() async throws {
        try await withLiveServer(maximumBodyBytes: 4096) { _, port in
            let connection = try RawConnection(port: port)
            connection.send(head(length: 5000, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]))
            let reply = await connection.response(timeout: 30)
            #expect(RawConnection.status(of: reply.text) == 413, "\(reply.text.prefix(300))")
        }
    }

    @Test("a head that never ends has its connection closed after http.header_timeout")
    func slowHead() async throws {
        try await withLiveServer(limits: ServerLimits(headerTimeout: .milliseconds(300))) { stack, port in
            let connection = try RawConnection(port: port)
            connection.send("POST /v1/events HTTP/1.1\r\nHost: insightd\r\n")
            // Closed by the 300 ms deadline; the wait is long only for a loaded machine (without a deadline the
            // connection stays open for ever, or until the 75 s idle timeout).
            let reply = await connection.receive(timeout: 20)
            #expect(reply.closed, "the connection was still open 20 s later")
            #expect(stack.server.connections.timedOutConnections >= 1)
            // The server still answers others.
            let other = try RawConnection(port: port)
            other.send("GET /healthz HTTP/1.1\r\nHost: insightd\r\n\r\n")
            let reply1 = await other.response(timeout: 30)
            #expect(RawConnection.status(of: reply1.text) == 200)
        }
    }

    @Test("a connection that sends nothing is closed after http.header_timeout, not kept until the idle timeout")
    func silentConnection() async throws {
        try await withLiveServer(limits: ServerLimits(headerTimeout: .milliseconds(300))) { _, port in
            let connection = try RawConnection(port: port)
            let reply = await connection.receive(timeout: 20)
            #expect(reply.closed, "a silent connection was still open 20 s later")
        }
    }

    @Test("after a refusal on the head the connection is closed: the body announced is never read")
    func refusalClosesTheConnection() async throws {
        try await withLiveServer { _, port in
            let connection = try RawConnection(port: port)
            connection.send(head(length: 100_000_000, headers: []))
            let refused = await connection.response(timeout: 30)
            #expect(RawConnection.status(of: refused.text) == 401)
            #expect(refused.text.lowercased().contains("connection: close"), "\(refused.text.prefix(300))")
            var closed = refused.closed
            let started = Date()
            while !closed, Date().timeIntervalSince(started) < 20 {
                if !connection.send(Array(repeating: UInt8(ascii: "x"), count: 65_536)) { closed = true; break }
                closed = await connection.receive(timeout: 0.05).closed
            }
            #expect(closed, "the server kept reading the refused request's body")
        }
    }

    @Test("signed bodies not yet verified get a quarter of the places: forged slow ones cannot starve a bearer sender")
    func forgedSignaturesCannotStarve() async throws {
        try await withLiveServer(limits: ServerLimits(maximumBodiesInFlight: 4)) { stack, port in
            let forged = try RawConnection(port: port)
            forged.send(head(length: 1000, headers: signedHeaderLines(id: "msg_forged_1")))
            forged.send("{")
            try await waitUntil { stack.server.bodiesInFlight == 1 }
            let second = try RawConnection(port: port)
            second.send(head(length: 1000, headers: signedHeaderLines(id: "msg_forged_2")) + "{")
            let refused = await second.response(timeout: 30)
            #expect(RawConnection.status(of: refused.text) == 503, "\(refused.text.prefix(300))")
            let bearer = try RawConnection(port: port)
            let body = transaction("bearer-amid-forged")
            bearer.send(head(length: body.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]) + body)
            let accepted = await bearer.response(timeout: 30)
            #expect(RawConnection.status(of: accepted.text) == 202, "\(accepted.text.prefix(300))")
        }
    }

    @Test("answered requests keep their connection: keep-alive and pipelining are not taken for refusals")
    func keepAliveAndPipelining() async throws {
        try await withLiveServer(limits: ServerLimits(headerTimeout: .seconds(30))) { _, port in
            let connection = try RawConnection(port: port)
            let body = transaction("kept-alive-1")
            connection.send(head(length: body.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]) + body)
            let first = await connection.response(timeout: 30)
            #expect(RawConnection.status(of: first.text) == 202, "\(first.text.prefix(300))")
            #expect(!first.text.lowercased().contains("connection: close"))
            // Two requests in one write, the second a POST whose body is in the same write.
            let second = transaction("kept-alive-2")
            connection.send("GET /healthz HTTP/1.1\r\nHost: insightd\r\n\r\n"
                + head(length: second.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]) + second)
            let both = await connection.receive(timeout: 30) { $0.components(separatedBy: "HTTP/1.1 ").count >= 3 && $0.contains("\"accepted\"") }
            #expect(both.text.contains("HTTP/1.1 200") && both.text.contains("HTTP/1.1 202"), "\(both.text.prefix(600))")
            #expect(!both.closed)
        }
    }

    @Test("a body that stops has its connection closed after http.body_timeout, and nothing is stored")
    func stalledBody() async throws {
        try await withLiveServer(limits: ServerLimits(bodyTimeout: .milliseconds(400))) { stack, port in
            let connection = try RawConnection(port: port)
            let body = transaction("stalled-1")
            connection.send(head(length: body.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]))
            connection.send(Array(body.utf8.prefix(20)))
            let reply = await connection.receive(timeout: 30)
            #expect(reply.closed, "the connection was still open 30 s later")
            #expect(try stack.database.journalCount() == 0)
        }
    }

    @Test("a trickling body is cut at http.body_timeout even though bytes keep coming")
    func tricklingBody() async throws {
        try await withLiveServer(limits: ServerLimits(bodyTimeout: .milliseconds(500))) { _, port in
            let connection = try RawConnection(port: port)
            connection.send(head(length: 10_000, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]))
            let started = Date()
            var closed = false
            while !closed, Date().timeIntervalSince(started) < 30 {
                if !connection.send("[") { closed = true; break }
                closed = await connection.receive(timeout: 0.1).closed
            }
            #expect(closed, "a body trickling a byte every 100 ms was still being read 30 s later")
        }
    }

    @Test("over http.max_bodies_in_flight, a request is answered 503 with Retry-After, not queued")
    func bodiesInFlight() async throws {
        try await withLiveServer(limits: ServerLimits(maximumBodiesInFlight: 1)) { stack, port in
            let slow = try RawConnection(port: port)
            let body = transaction("slow-1")
            slow.send(head(length: body.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]))
            slow.send(Array(body.utf8.prefix(10)))
            // The slow one is reading its body once the server has admitted it.
            try await waitUntil { stack.server.bodiesInFlight == 1 }
            let other = try RawConnection(port: port)
            let otherBody = transaction("fast-1")
            other.send(head(length: otherBody.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]) + otherBody)
            let reply = await other.response(timeout: 30)
            #expect(RawConnection.status(of: reply.text) == 503, "\(reply.text.prefix(300))")
            #expect(reply.text.lowercased().contains("retry-after: 1"))
            // The slow one finishes and is accepted; then the other goes through.
            slow.send(Array(body.utf8.dropFirst(10)))
            let reply2 = await slow.response(timeout: 30)
            #expect(RawConnection.status(of: reply2.text) == 202)
            let again = try RawConnection(port: port)
            again.send(head(length: otherBody.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]) + otherBody)
            let reply3 = await again.response(timeout: 30)
            #expect(RawConnection.status(of: reply3.text) == 202)
            #expect(try stack.database.journalCount() == 2)
        }
    }

    @Test("over http.max_body_bytes_in_flight, a request is answered 503 with Retry-After, and the budget comes back")
    func bodyBytesInFlight() async throws {
        // One item per body: the budget is raised to one largest body decoded, 4096 + 512 bytes.
        try await withLiveServer(limits: ServerLimits(maximumBodyBytesInFlight: 4096, maximumItems: 1), maximumBodyBytes: 4096) { stack, port in
            let slow = try RawConnection(port: port)
            let padding = String(repeating: " ", count: 3000)
            let body = transaction("big-1") + padding
            slow.send(head(length: body.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]))
            slow.send(Array(body.utf8.prefix(3000)))
            try await waitUntil { stack.server.bodyBytesInFlight >= 3000 }
            let other = try RawConnection(port: port)
            let otherBody = transaction("other-1") + padding
            other.send(head(length: otherBody.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]) + otherBody)
            let refused = await other.response(timeout: 30)
            #expect(RawConnection.status(of: refused.text) == 503, "\(refused.text.prefix(300))")
            #expect(refused.text.contains("max_body_bytes_in_flight"))
            slow.send(Array(body.utf8.dropFirst(3000)))
            let accepted = await slow.response(timeout: 30)
            #expect(RawConnection.status(of: accepted.text) == 202, "\(accepted.text.prefix(300))")
            let again = try RawConnection(port: port)
            again.send(head(length: otherBody.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]) + otherBody)
            let second = await again.response(timeout: 30)
            #expect(RawConnection.status(of: second.text) == 202, "\(second.text.prefix(300))")
            #expect(try stack.database.journalCount() == 2)
        }
    }

    @Test("over http.max_connections a new connection waits, and is served once one closes")
    func connectionLimit() async throws {
        try await withRunningApplication(limits: ServerLimits(maximumConnections: 2)) { _, port in
            var idle = [try RawConnection(port: port), try RawConnection(port: port)]
            try await Task.sleep(for: .milliseconds(200))
            let third = try RawConnection(port: port)  // the kernel accepts it into the backlog
            third.send("GET /healthz HTTP/1.1\r\nHost: insightd\r\n\r\n")
            let reply4 = await third.response(timeout: 1)
            #expect(RawConnection.status(of: reply4.text) == nil, "served over the limit")
            idle.removeFirst()  // closes it
            let reply5 = await third.response(timeout: 30)
            #expect(RawConnection.status(of: reply5.text) == 200)
            _ = idle
        }
    }

    @Test("over http.max_connections_per_address a new connection from that address is closed at once")
    func perAddressLimit() async throws {
        try await withRunningApplication(limits: ServerLimits(maximumConnectionsPerAddress: 2)) { stack, port in
            var held = [try RawConnection(port: port), try RawConnection(port: port)]  // silent: header timeout 10 s
            try await Task.sleep(for: .milliseconds(200))
            let third = try RawConnection(port: port)
            third.send("GET /healthz HTTP/1.1\r\nHost: insightd\r\n\r\n")
            let refused = await third.response(timeout: 30)
            #expect(refused.closed && RawConnection.status(of: refused.text) == nil, "\(refused.text.prefix(200))")
            #expect(stack.server.connections.refusedConnections == 1)
            // Its own connections still work, and a closed one frees its place.
            held[0].send("GET /healthz HTTP/1.1\r\nHost: insightd\r\n\r\n")
            let served = await held[0].response(timeout: 30)
            #expect(RawConnection.status(of: served.text) == 200)
            held.removeLast()  // closes it: its place is free again
            try await Task.sleep(for: .milliseconds(200))
            let fresh = try RawConnection(port: port)
            fresh.send("GET /healthz HTTP/1.1\r\nHost: insightd\r\n\r\n")
            let again = await fresh.response(timeout: 30)
            #expect(RawConnection.status(of: again.text) == 200, "\(again.text.prefix(200))")
            _ = held
        }
    }

    @Test("decoded items are charged to http.max_body_bytes_in_flight beside their bytes")
    func decodedItemsCharged() async throws {
        // 4096-byte bodies of at most 10 items: the budget is raised to what one such body weighs decoded,
        // 4096 + 10 × 512 bytes, and no further.
        try await withLiveServer(limits: ServerLimits(maximumBodyBytesInFlight: 4096, maximumItems: 10), maximumBodyBytes: 4096) { stack, port in
            let slow = try RawConnection(port: port)
            let event = transaction("held-1")
            let held = event + String(repeating: " ", count: 4096 - event.utf8.count)
            slow.send(head(length: held.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]))
            slow.send(Array(held.utf8.prefix(4090)))
            try await waitUntil { stack.server.bodyBytesInFlight >= 4090 }
            // The 31 bytes of ten `{}` items fit beside the 4090 held; decoded (5120 more) they do not.
            let tiny = "[" + Array(repeating: "{}", count: 10).joined(separator: ",") + "]"
            let other = try RawConnection(port: port)
            other.send(head(length: tiny.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]) + tiny)
            let refused = await other.response(timeout: 30)
            #expect(RawConnection.status(of: refused.text) == 503, "\(refused.text.prefix(300))")
            #expect(refused.text.contains("per decoded item"))
            #expect(try stack.database.quarantinedItems(limit: 100).isEmpty)
            slow.send(Array(held.utf8.dropFirst(4090)))
            let accepted = await slow.response(timeout: 30)
            #expect(RawConnection.status(of: accepted.text) == 202, "\(accepted.text.prefix(300))")
            // Alone, the same body is decoded and answered (every item rejected).
            let again = try RawConnection(port: port)
            again.send(head(length: tiny.utf8.count, headers: ["Authorization: Bearer \(Credentials.sourceToken)"]) + tiny)
            let answered = await again.response(timeout: 30)
            #expect(RawConnection.status(of: answered.text) == 422, "\(answered.text.prefix(300))")
        }
    }

    @Test("the items a body can hold are bounded without decoding it: its lines, its top-level elements, at most max_items")
    func itemBounds() {
        let lines = Array("{\"a\":1,\"b\":2}\n{}\n\nx".utf8)
        #expect(EventsController.itemBound(lines, format: .batch(.ndjson), maximumItems: 100) == 4)
        // Commas inside the items and inside strings do not count.
        let array = Array(#"[{"a":1,"b":[2,3]},{"c":"x,\",y"},{}]"#.utf8)
        #expect(EventsController.itemBound(array, format: .batch(.json), maximumItems: 100) == 3)
        #expect(EventsController.itemBound(array, format: .cloudEventBatch, maximumItems: 2) == 2)
        #expect(EventsController.itemBound(Array(#"{"a":1,"b":2}"#.utf8), format: .batch(.json), maximumItems: 100) == 1)
        let decodedArray = try? EventsController.decode(array, format: .batch(.json), headers: [:], source: "crm")
        #expect(decodedArray?.count == 3)
        #expect(EventsController.itemBound(array, format: .cloudEventBinary, maximumItems: 100) == 1)
        // Never under the items decoded: a bound that were would let a body past the budget.
        let tiny = Array(String(repeating: "x\n", count: 1000).utf8)
        let decoded = try? EventsController.decode(tiny, format: .batch(.ndjson), headers: [:], source: "crm")
        #expect(decoded?.count == 1000)
        #expect(EventsController.itemBound(tiny, format: .batch(.ndjson), maximumItems: 100_000) >= 1000)
    }

    @Test("connections are counted per IPv4 address, per IPv6 /64, and a mapped IPv4 address as itself")
    func peerKeys() throws {
        #expect(DeadlineHTTP1Channel.peerKey(try SocketAddress(ipAddress: "192.0.2.7", port: 1)) == "192.0.2.7")
        let first = DeadlineHTTP1Channel.peerKey(try SocketAddress(ipAddress: "2001:db8:1:2:aaaa::1", port: 1))
        let second = DeadlineHTTP1Channel.peerKey(try SocketAddress(ipAddress: "2001:db8:1:2:ffff:1:2:3", port: 1))
        let otherNetwork = DeadlineHTTP1Channel.peerKey(try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1))
        #expect(first == "2001:db8:1:2::/64")
        #expect(first == second)
        #expect(otherNetwork != first)
        #expect(DeadlineHTTP1Channel.peerKey(try SocketAddress(ipAddress: "::ffff:192.0.2.7", port: 1)) == "192.0.2.7")
        #expect(DeadlineHTTP1Channel.peerKey(nil) == "local")
    }

    @Test("a header value that is not UTF-8 is refused, not turned into U+FFFD")
    func headerNotUTF8() async throws {
        try await withLiveServer { _, port in
            let connection = try RawConnection(port: port)
            let body = #"{"accountId":"6222","amount":"10.00","direction":"debit"}"#
            var bytes = Array(("POST /v1/events HTTP/1.1\r\nHost: insightd\r\nContent-Type: application/json\r\n"
                + "Authorization: Bearer \(Credentials.sourceToken)\r\nce-specversion: 1.0\r\nce-type: account.transaction\r\n"
                + "ce-source: /core-banking\r\nce-time: 2026-11-20T10:00:00+08:00\r\nce-clientid: C000001\r\nce-id: evt-").utf8)
            bytes += [0xFF, 0xFE]
            bytes += Array("\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
            connection.send(bytes)
            let reply = await connection.response(timeout: 30)
            #expect(RawConnection.status(of: reply.text) == 400, "\(reply.text.prefix(300))")
            #expect(reply.text.contains("ce-id is not valid UTF-8"))
        }
    }
}

@Suite("hostile bodies")
struct HostileBodyTests {
    @Test("more items than http.max_items are refused whole with 413, in every format", arguments: [
        "application/x-ndjson", "application/json", "application/cloudevents-batch+json",
    ])
    func tooManyItems(contentType: String) async throws {
        try await withClient(limits: ServerLimits(maximumItems: 10)) { stack, client in
            let items = (0..<11).map { contentType.contains("cloudevents") ? cloudEvent("many-\($0)") : transaction("many-\($0)") }
            let body = contentType == "application/x-ndjson" ? items.joined(separator: "\n") : "[" + items.joined(separator: ",") + "]"
            let reply = try await client.post(headers: bearerHeaders(contentType: contentType), body: body)
            expectProblem(reply, .contentTooLarge, detailContains: "more than 10 items")
            #expect(try stack.database.journalCount() == 0)
            // Ten go through.
            let ten = contentType == "application/x-ndjson" ? items.prefix(10).joined(separator: "\n")
                : "[" + items.prefix(10).joined(separator: ",") + "]"
            expectAccepted(try await client.post(headers: bearerHeaders(contentType: contentType), body: ten), accepted: 10)
        }
    }

    @Test("a body of tiny invalid items lists the first rejections, counts all, and stores a bounded quarantine")
    func tinyInvalidItems() async throws {
        try await withClient(limits: ServerLimits(listedRejections: 100, quarantinedPerRequest: 50)) { stack, client in
            let body = String(repeating: "x\n", count: 5000) + transaction("among-junk")
            let reply = try await client.post(headers: bearerHeaders(contentType: "application/x-ndjson"), body: body)
            #expect(reply.status == .accepted, "\(reply)")
            #expect(reply.int("accepted") == 1)
            #expect(reply.rejected.count == 100)
            #expect(reply.int("rejectedCount") == 5000)
            #expect(reply.int("quarantined") == 50)
            #expect(reply.text.utf8.count < 64 * 1024, "answer of \(reply.text.utf8.count) bytes")
            #expect(try stack.database.quarantinedItems(limit: 10_000).count == 50)
            #expect(try stack.database.journalCount() == 1)
        }
    }

    @Test("an all-invalid body answers 422 with the same bounds")
    func allInvalid() async throws {
        try await withClient(limits: ServerLimits(listedRejections: 5, quarantinedPerRequest: 3)) { stack, client in
            let reply = try await client.post(headers: bearerHeaders(contentType: "application/x-ndjson"),
                                              body: String(repeating: "x\n", count: 40))
            expectProblem(reply, .unprocessableContent)
            #expect(reply.rejected.count == 5)
            #expect(reply.int("rejectedCount") == 40)
            #expect(try stack.database.quarantinedItems(limit: 100).count == 3)
        }
    }

    @Test("a 200 KB key is not echoed whole in a problem or a rejection")
    func longKeyClipped() async throws {
        try await withClient { _, client in
            let key = String(repeating: "k", count: 200_000)
            let event = #"{"id":"long-key","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","clientId":"C1","#
                + #""\#(key)":1,"data":{}}"#
            let reply = try await client.post(headers: bearerHeaders(), body: event)
            // The event is refused, and its rejection does not quote the key whole.
            expectProblem(reply, .unprocessableContent)
            #expect(reply.rejected.count == 1)
            #expect(reply.text.utf8.count < 8 * 1024, "answer of \(reply.text.utf8.count) bytes")
            let type = try await client.post(headers: bearerHeaders(contentType: String(repeating: "t", count: 50_000)), body: "{}")
            expectProblem(type, .unsupportedMediaType)
            #expect(type.text.utf8.count < 4 * 1024)
            // One character of 20,000 combining marks: clipped by scalars, not characters.
            let marks = "a" + String(repeating: "\u{0301}", count: 20_000)
            let combining = try await client.post(headers: bearerHeaders(contentType: marks), body: "{}")
            expectProblem(combining, .unsupportedMediaType)
            #expect(combining.text.utf8.count < 4 * 1024, "answer of \(combining.text.utf8.count) bytes")
            let duplicateKey = #"{"id":"dup","id":"\#(marks)","type":"account.transaction","time":"2026-11-20T10:00:00+08:00","data":{}}"#
            let duplicate = try await client.post(headers: bearerHeaders(), body: duplicateKey)
            #expect(duplicate.text.utf8.count < 8 * 1024, "answer of \(duplicate.text.utf8.count) bytes")
        }
    }

    @Test("an over-long webhook-id is refused")
    func longWebhookId() async throws {
        try await withClient { _, client in
            let body = Array(transaction("long-id").utf8)
            let reply = try await client.post(headers: try signedHeaders(body, id: String(repeating: "i", count: 300)), body: body)
            expectProblem(reply, .unauthorized, detailContains: "at most 256")
        }
    }
}

@Suite("readiness")
struct ReadinessTests {
    @Test("/readyz names a failed component to anyone, and its reason only to a token holder")
    func reasonsNeedAToken() async throws {
        try await withClient { stack, client in
            stack.health.report("inbox:core-banking", .failed("cannot read /var/lib/insightd/inbox/secret-path: permission denied"))
            let anonymous = try await client.get("/readyz")
            #expect(anonymous.status == .serviceUnavailable)
            #expect(anonymous.text.contains("inbox:core-banking"))
            #expect(!anonymous.text.contains("secret-path"), "\(anonymous)")
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(Credentials.adminToken)"
            let operatorReply = try await client.execute(uri: "/readyz", method: .get, headers: headers) { Reply($0) }
            #expect(operatorReply.text.contains("secret-path"), "\(operatorReply)")
        }
    }

    @Test("/readyz reports the descriptors in use against the limit")
    func descriptors() async throws {
        try await withClient { _, client in
            let reply = try await client.get("/readyz")
            #expect(reply.status == .ok, "\(reply)")
            let open = try #require(reply["descriptors"]?["open"]?.intValue)
            let limit = try #require(reply["descriptors"]?["limit"]?.intValue)
            #expect(open > 0 && open < limit)
        }
    }

    @Test("descriptors are low when fewer than a tenth (and at least 64) are left")
    func lowDescriptors() {
        #expect(DescriptorUse(open: 200, limit: 256).isLow)
        #expect(!DescriptorUse(open: 100, limit: 256).isLow)
        #expect(DescriptorUse(open: 59_000, limit: 65_536).isLow)
        #expect(!DescriptorUse(open: 1000, limit: 65_536).isLow)
    }
}
