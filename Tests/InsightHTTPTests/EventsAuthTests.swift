import Foundation
import HTTPTypes
import HummingbirdTesting
import InsightCore
import InsightHTTP
import InsightStore
import InsightTesting
import Testing

@Suite("POST /v1/events: Standard Webhooks")
struct WebhookSignatureTests {
    @Test("a signed request is accepted and committed before the answer")
    func signedAccepted() async throws {
        try await withClient { stack, client in
            let body = Array(transaction("evt-signed-1").utf8)
            let reply = try await client.post(headers: try signedHeaders(body, id: "msg_001"), body: body)
            #expect(reply.status == .accepted, "\(reply)")
            #expect(reply.contentType == "application/json")
            #expect(reply.json == .object(["accepted": .number("1"), "duplicates": .number("0"), "rejected": .array([]),
                                           "rejectedCount": .number("0")]))
            // 202 means durable: the journal holds it the moment the answer is in.
            #expect(try stack.database.journalCount() == 1)
            let journaled = try stack.database.readJournal(after: 0, limit: 10)
            #expect(journaled.map(\.id) == ["evt-signed-1"])
            #expect(journaled.first?.source == Credentials.webhookSource)
            #expect(journaled.first?.data["amount"] == .string("1234.50"))
            #expect(try stack.database.webhookSeen(source: Credentials.webhookSource, id: "msg_001"))
        }
    }

    @Test("the same webhook-id again is a 200 duplicate and nothing new is journaled")
    func replayedWebhookId() async throws {
        try await withClient { stack, client in
            let body = Array(transaction("evt-replay-1").utf8)
            let first = try await client.post(headers: try signedHeaders(body, id: "msg_replay"), body: body)
            expectAccepted(first, accepted: 1)

            let again = try await client.post(headers: try signedHeaders(body, id: "msg_replay"), body: body)
            #expect(again.status == .ok, "\(again)")
            #expect(again.contentType == "application/json")
            #expect(again["duplicate"] == .bool(true))
            #expect(again["webhookId"] == .string("msg_replay"))
            #expect(again.int("accepted") == 0)
            #expect(again.rejected.isEmpty)

            // A retry carries the same webhook-id with a fresh timestamp and signature; even a different body
            // under a replayed id is not processed again.
            stack.clock.advance(by: 60)
            let other = Array(transaction("evt-replay-2").utf8)
            let retried = try await client.post(
                headers: try signedHeaders(other, id: "msg_replay", timestamp: Credentials.nowSeconds + 60), body: other)
            #expect(retried.status == .ok, "\(retried)")
            #expect(retried["duplicate"] == .bool(true))
            #expect(try stack.database.journalCount() == 1)
        }
    }

    @Test("two concurrent deliveries of one webhook-id: one is processed, the other answered as a duplicate")
    func concurrentReplay() async throws {
        try await withClient { stack, client in
            let body = Array("[\(transaction("evt-race-1")), \(transaction("evt-race-2"))]".utf8)
            let headers = try signedHeaders(body, id: "msg_race")
            async let first = client.post(headers: headers, body: body)
            async let second = client.post(headers: headers, body: body)
            let statuses = try await [first.status, second.status].map(\.code).sorted()
            #expect(statuses == [200, 202])
            #expect(try stack.database.journalCount() == 2)
        }
    }

    @Test("a tampered body is refused with 401")
    func tamperedBody() async throws {
        try await withClient { stack, client in
            let signedBody = Array(transaction("evt-t", amount: #""10.00""#).utf8)
            let sentBody = Array(transaction("evt-t", amount: #""10000000.00""#).utf8)
            let reply = try await client.post(headers: try signedHeaders(signedBody, id: "msg_t"), body: sentBody)
            expectProblem(reply, .unauthorized, detailContains: "no webhook-signature matches the body")
            #expect(try stack.database.journalCount() == 0)
            #expect(try stack.database.webhookSeen(source: Credentials.webhookSource, id: "msg_t") == false)
        }
    }

    @Test("a signature made with another secret is refused with 401")
    func wrongSecret() async throws {
        try await withClient { stack, client in
            let body = Array(transaction("evt-w").utf8)
            let reply = try await client.post(headers: try signedHeaders(body, id: "msg_w", secret: Credentials.wrongSecret), body: body)
            expectProblem(reply, .unauthorized, detailContains: "no webhook-signature matches")
            #expect(try stack.database.journalCount() == 0)
        }
    }

    @Test("a stale timestamp is refused with 401, saying how old it is")
    func stale() async throws {
        try await withClient { stack, client in
            let body = Array(transaction("evt-s").utf8)
            let reply = try await client.post(
                headers: try signedHeaders(body, id: "msg_s", timestamp: Credentials.nowSeconds - 301), body: body)
            expectProblem(reply, .unauthorized, detailContains: "301 s old, beyond the 300 s tolerance")
            #expect(try stack.database.journalCount() == 0)
        }
    }

    @Test("a timestamp too far in the future is refused with 401, saying so")
    func future() async throws {
        try await withClient { stack, client in
            let body = Array(transaction("evt-f").utf8)
            let reply = try await client.post(
                headers: try signedHeaders(body, id: "msg_f", timestamp: Credentials.nowSeconds + 301), body: body)
            expectProblem(reply, .unauthorized, detailContains: "301 s in the future")
            #expect(try stack.database.journalCount() == 0)
        }
    }

    @Test("a timestamp inside the tolerance is accepted (the server clock is the reference)")
    func withinTolerance() async throws {
        try await withClient { stack, client in
            let body = Array(transaction("evt-tol").utf8)
            let reply = try await client.post(
                headers: try signedHeaders(body, id: "msg_tol", timestamp: Credentials.nowSeconds - 299), body: body)
            expectAccepted(reply, accepted: 1)
            #expect(try stack.database.journalCount() == 1)
        }
    }

    @Test("a signature without webhook-id is refused with 401")
    func missingWebhookId() async throws {
        try await withClient { _, client in
            let body = Array(transaction("evt-m").utf8)
            var headers = try signedHeaders(body, id: "msg_m")
            headers[.webhookId] = nil
            let reply = try await client.post(headers: headers, body: body)
            expectProblem(reply, .unauthorized, detailContains: "missing webhook-id")
        }
    }

    @Test("a webhook-timestamp that is not a number is refused with 401")
    func badTimestamp() async throws {
        try await withClient { _, client in
            let body = Array(transaction("evt-b").utf8)
            var headers = try signedHeaders(body, id: "msg_b")
            headers[.webhookTimestamp] = "yesterday"
            let reply = try await client.post(headers: headers, body: body)
            expectProblem(reply, .unauthorized, detailContains: "not whole seconds")
        }
    }

    @Test("key rotation: the valid signature may come second")
    func rotatedSignatures() async throws {
        try await withClient { stack, client in
            let body = Array(transaction("evt-rot").utf8)
            var headers = try signedHeaders(body, id: "msg_rot")
            let valid = try #require(headers[.webhookSignature])
            let stale = try signedHeaders(body, id: "msg_rot", secret: Credentials.wrongSecret)[.webhookSignature] ?? ""
            headers[.webhookSignature] = "\(stale) v1,not-base64!! \(valid)"
            expectAccepted(try await client.post(headers: headers, body: body), accepted: 1)
            #expect(try stack.database.journalCount() == 1)
        }
    }

    @Test("events are journaled in the signing source's namespace, whatever source the envelope names")
    func sourceIsTheSigner() async throws {
        try await withClient { stack, client in
            let body = Array("[\(transaction("evt-src-1")),\(transaction("evt-src-2", source: "branch-42"))]".utf8)
            expectAccepted(try await client.post(headers: try signedHeaders(body, id: "msg_src"), body: body), accepted: 2)
            let sources = try stack.database.readJournal(after: 0, limit: 10).map(\.source)
            // A body cannot reach into another source's (source, id) space, and distinct sources stay distinct.
            #expect(sources == [Credentials.webhookSource, "\(Credentials.webhookSource)/branch-42"])
        }
    }
}

@Suite("POST /v1/events: bearer tokens")
struct BearerTokenTests {
    @Test("a source token is accepted and its source names the events")
    func sourceToken() async throws {
        try await withClient { stack, client in
            let reply = try await client.post(headers: bearerHeaders(Credentials.sourceToken), body: transaction("evt-b1"))
            expectAccepted(reply, accepted: 1)
            #expect(try stack.database.readJournal(after: 0, limit: 10).map(\.source) == [Credentials.tokenSource])
        }
    }

    @Test("an API token with scope ingest is accepted and its name becomes the source")
    func ingestToken() async throws {
        try await withClient { stack, client in
            let reply = try await client.post(headers: bearerHeaders(Credentials.ingestToken), body: transaction("evt-b2"))
            expectAccepted(reply, accepted: 1)
            #expect(try stack.database.readJournal(after: 0, limit: 10).map(\.source) == ["etl-loader"])
        }
    }

    @Test("an API token without scope ingest is refused with 403", arguments: [
        (Credentials.readToken, "dashboard"), (Credentials.adminToken, "operator"),
    ])
    func tokenWithoutIngest(token: String, name: String) async throws {
        try await withClient { stack, client in
            let reply = try await client.post(headers: bearerHeaders(token), body: transaction("evt-b3"))
            expectProblem(reply, .forbidden, detailContains: "token \(name) lacks scope ingest")
            #expect(try stack.database.journalCount() == 0)
        }
    }

    @Test("an unknown token is refused with 401")
    func unknownToken() async throws {
        try await withClient { stack, client in
            let reply = try await client.post(headers: bearerHeaders("no-such-token"), body: transaction("evt-b4"))
            expectProblem(reply, .unauthorized, detailContains: "not valid")
            #expect(try stack.database.journalCount() == 0)
        }
    }

    @Test("a token that differs only in its last character is refused")
    func nearlyRightToken() async throws {
        try await withClient { _, client in
            let token = String(Credentials.sourceToken.dropLast()) + "X"
            expectProblem(try await client.post(headers: bearerHeaders(token), body: transaction("evt-b5")), .unauthorized)
        }
    }

    @Test("no authentication at all is refused with 401, saying what to send")
    func noAuth() async throws {
        try await withClient { stack, client in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            let reply = try await client.post(headers: headers, body: transaction("evt-b6"))
            expectProblem(reply, .unauthorized, detailContains: "Authorization: Bearer")
            #expect(try stack.database.journalCount() == 0)
        }
    }

    @Test("an Authorization header that is not Bearer is refused with 401", arguments: [
        "Basic Y3JtOnNlY3JldA==", "Bearer", "Bearer ", "crm-source-token-0123456789",
    ])
    func notBearer(value: String) async throws {
        try await withClient { _, client in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            headers[.authorization] = value
            let reply = try await client.post(headers: headers, body: transaction("evt-b7"))
            expectProblem(reply, .unauthorized, detailContains: "Bearer <token>")
        }
    }

    @Test("the bearer keyword is case-insensitive")
    func bearerCase() async throws {
        try await withClient { _, client in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            headers[.authorization] = "bearer \(Credentials.sourceToken)"
            expectAccepted(try await client.post(headers: headers, body: transaction("evt-b8")), accepted: 1)
        }
    }
}
