import Foundation
import HTTPTypes
import HummingbirdTesting
import InsightCore
import InsightHTTP
import InsightStore
import InsightTesting
import Testing

@Suite("POST /v1/events: content types")
struct ContentTypeTests {
    @Test("application/json with one object")
    func jsonObject() async throws {
        try await withClient { stack, client in
            expectAccepted(try await client.post(headers: bearerHeaders(), body: transaction("j-1")), accepted: 1)
            #expect(try stack.database.readJournal(after: 0, limit: 10).map(\.id) == ["j-1"])
        }
    }

    @Test("application/json with an array")
    func jsonArray() async throws {
        try await withClient { stack, client in
            let body = "[\(transaction("a-1")), \(transaction("a-2", client: "C000002")), \(transaction("a-3"))]"
            expectAccepted(try await client.post(headers: bearerHeaders(), body: body), accepted: 3)
            #expect(try stack.database.readJournal(after: 0, limit: 10).map(\.id) == ["a-1", "a-2", "a-3"])
        }
    }

    @Test("media type parameters and case do not matter", arguments: [
        "application/json; charset=utf-8", "Application/JSON", "application/json ;charset=UTF-8",
    ])
    func jsonWithParameters(contentType: String) async throws {
        try await withClient { stack, client in
            expectAccepted(try await client.post(headers: bearerHeaders(contentType: contentType), body: transaction("p-1")), accepted: 1)
            #expect(try stack.database.journalCount() == 1)
        }
    }

    @Test("application/x-ndjson, with blank lines and CRLF", arguments: [
        "application/x-ndjson", "application/ndjson", "application/jsonl",
    ])
    func ndjson(contentType: String) async throws {
        try await withClient { stack, client in
            let body = "\(transaction("n-1"))\r\n\n   \n\(transaction("n-2"))\n\(transaction("n-3"))"
            expectAccepted(try await client.post(headers: bearerHeaders(contentType: contentType), body: body), accepted: 3)
            #expect(try stack.database.readJournal(after: 0, limit: 10).map(\.id) == ["n-1", "n-2", "n-3"])
        }
    }

    @Test("application/cloudevents+json (structured mode)")
    func cloudEventStructured() async throws {
        try await withClient { stack, client in
            let reply = try await client.post(headers: bearerHeaders(contentType: "application/cloudevents+json"),
                                              body: cloudEvent("ce-s-1", client: "C000777"))
            expectAccepted(reply, accepted: 1)
            let event = try #require(try stack.database.readJournal(after: 0, limit: 10).first)
            #expect(event.id == "ce-s-1")
            #expect(event.source == "crm//core-banking", "the CloudEvent's source, in the authenticated sender's namespace")
            #expect(event.clientId == "C000777")
            #expect(event.data["amount"] == .string("10.00"))
        }
    }

    @Test("application/cloudevents-batch+json")
    func cloudEventBatch() async throws {
        try await withClient { stack, client in
            let body = "[\(cloudEvent("ce-b-1")), \(cloudEvent("ce-b-2"))]"
            let reply = try await client.post(headers: bearerHeaders(contentType: "application/cloudevents-batch+json"), body: body)
            expectAccepted(reply, accepted: 2)
            #expect(try stack.database.journalCount() == 2)
        }
    }

    @Test("a CloudEvents batch that is not an array is a 400")
    func cloudEventBatchNotArray() async throws {
        try await withClient { stack, client in
            let reply = try await client.post(headers: bearerHeaders(contentType: "application/cloudevents-batch+json"),
                                              body: cloudEvent("ce-b-3"))
            expectProblem(reply, .badRequest, detailContains: "must be a JSON array")
            #expect(try stack.database.journalCount() == 0)
        }
    }

    @Test("CloudEvents binary mode: ce-* headers (any case) and a JSON body")
    func cloudEventBinary() async throws {
        try await withClient { stack, client in
            var headers = bearerHeaders(contentType: "application/json")
            headers[HTTPField.Name("CE-SpecVersion")!] = "1.0"
            headers[HTTPField.Name("ce-id")!] = "ce-bin-1"
            headers[HTTPField.Name("Ce-Source")!] = "/core-banking"
            headers[HTTPField.Name("ce-type")!] = "account.transaction"
            headers[HTTPField.Name("ce-time")!] = "2026-11-20T10:00:00+08:00"
            headers[HTTPField.Name("CE-SUBJECT")!] = "C000888"
            let body = #"{"accountId": "6222", "amount": 12.30, "direction": "debit"}"#
            expectAccepted(try await client.post(headers: headers, body: body), accepted: 1)
            let event = try #require(try stack.database.readJournal(after: 0, limit: 10).first)
            #expect(event.id == "ce-bin-1")
            #expect(event.clientId == "C000888")
            #expect(event.data["amount"] == .number("12.30"))
        }
    }

    @Test("CloudEvents binary mode with a body that is not JSON is a 422 naming the problem")
    func cloudEventBinaryNotJSON() async throws {
        try await withClient { stack, client in
            var headers = bearerHeaders(contentType: "application/json")
            headers[HTTPField.Name("ce-specversion")!] = "1.0"
            headers[HTTPField.Name("ce-id")!] = "ce-bin-2"
            headers[HTTPField.Name("ce-source")!] = "/x"
            headers[HTTPField.Name("ce-type")!] = "com.example.thing"
            headers[HTTPField.Name("ce-time")!] = "2026-11-20T10:00:00Z"
            let reply = try await client.post(headers: headers, body: "amount=1")
            expectProblem(reply, .unprocessableContent)
            #expect(reply.rejected.first?["error"]?.stringValue?.contains("not valid JSON") == true)
            #expect(reply.rejected.first?["id"] == .string("ce-bin-2"))
            #expect(try stack.database.quarantinedItems().map(\.payload) == ["amount=1"])
        }
    }

    @Test("binary mode with a non-JSON content type is a 415")
    func cloudEventBinaryWrongType() async throws {
        try await withClient { _, client in
            var headers = bearerHeaders(contentType: "text/plain")
            headers[HTTPField.Name("ce-specversion")!] = "1.0"
            expectProblem(try await client.post(headers: headers, body: "{}"), .unsupportedMediaType, detailContains: "text/plain")
        }
    }

    /// The CloudEvents HTTP binding picks the mode from Content-Type: `application/cloudevents…` is structured mode
    /// whatever other headers say. `EventsController.format(of:)` checks for `ce-specversion` first and answers 415.
    @Test("structured mode wins when Content-Type is application/cloudevents+json, even with ce-* headers")
    func structuredModeWithCeHeaders() async throws {
        try await withClient { stack, client in
            var headers = bearerHeaders(contentType: "application/cloudevents+json")
            headers[HTTPField.Name("ce-specversion")!] = "1.0"
            headers[HTTPField.Name("ce-id")!] = "ce-mixed-1"
            let reply = try await client.post(headers: headers, body: cloudEvent("ce-mixed-1"))
            #expect(reply.status.code < 500, "\(reply)")
            let journaled = try stack.database.journalCount()
            #expect(reply.status == .accepted, "\(reply)")
            #expect(journaled == 1)
        }
    }

    @Test("an unsupported content type is a 415 naming it", arguments: [
        "text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "",
    ])
    func unsupported(contentType: String) async throws {
        try await withClient { stack, client in
            let reply = try await client.post(headers: bearerHeaders(contentType: contentType), body: transaction("u-1"))
            expectProblem(reply, .unsupportedMediaType, detailContains: "Content-Type \"\(contentType)\"")
            #expect(reply.detail.contains("application/x-ndjson"))
            #expect(try stack.database.journalCount() == 0)
        }
    }

    @Test("a missing content type is a 415")
    func missingContentType() async throws {
        try await withClient { stack, client in
            let reply = try await client.post(headers: bearerHeaders(contentType: nil), body: transaction("u-2"))
            expectProblem(reply, .unsupportedMediaType, detailContains: "Content-Type is missing")
            #expect(try stack.database.journalCount() == 0)
        }
    }
}

@Suite("POST /v1/events: partial batches")
struct PartialBatchTests {
    @Test("an array with one invalid item: 202, the item rejected with index, id and error, and quarantined")
    func arrayWithInvalidItem() async throws {
        try await withClient { stack, client in
            let body = "[\(transaction("ok-1")), \(transaction("bad-1", amount: #""twelve""#)), \(transaction("ok-2"))]"
            let reply = try await client.post(headers: bearerHeaders(), body: body)
            expectAccepted(reply, accepted: 2, rejected: 1)
            let rejected = try #require(reply.rejected.first)
            #expect(rejected["index"] == .number("1"))
            #expect(rejected["id"] == .string("bad-1"))
            #expect(rejected["error"]?.stringValue?.hasPrefix("data.amount must be a decimal") == true, "\(rejected)")
            #expect(rejected["line"] == nil)

            #expect(try stack.database.readJournal(after: 0, limit: 10).map(\.id) == ["ok-1", "ok-2"])
            let quarantined = try stack.database.quarantinedItems()
            #expect(quarantined.count == 1)
            let item = try #require(quarantined.first)
            #expect(item.eventId == "bad-1")
            #expect(item.source == Credentials.tokenSource)
            #expect(item.origin.hasPrefix("webhook:\(Credentials.tokenSource)"))
            #expect(item.reason.hasPrefix("data.amount"))
            #expect(try JSONParser.parse(item.payload)["id"] == .string("bad-1"))
        }
    }

    @Test("NDJSON with a line that is not JSON: that line is rejected with its line number, the rest accepted")
    func ndjsonWithBadLine() async throws {
        try await withClient { stack, client in
            let body = "\(transaction("l-1"))\n{\"id\": \"l-2\", oops\n\n\(transaction("l-4"))\n"
            let reply = try await client.post(headers: bearerHeaders(contentType: "application/x-ndjson"), body: body)
            expectAccepted(reply, accepted: 2, rejected: 1)
            let rejected = try #require(reply.rejected.first)
            #expect(rejected["index"] == .number("1"))
            #expect(rejected["line"] == .number("2"))
            #expect(rejected["id"] == nil)
            #expect(rejected["error"]?.stringValue?.hasPrefix("line 2 is not valid JSON") == true, "\(rejected)")

            #expect(try stack.database.readJournal(after: 0, limit: 10).map(\.id) == ["l-1", "l-4"])
            let quarantined = try stack.database.quarantinedItems()
            #expect(quarantined.map(\.payload) == [#"{"id": "l-2", oops"#])
            #expect(quarantined.first?.origin == "webhook:\(Credentials.tokenSource):2")
        }
    }

    @Test("NDJSON: a valid JSON line that is an invalid event carries both line and id")
    func ndjsonInvalidEvent() async throws {
        try await withClient { _, client in
            let body = "\(transaction("v-1"))\n\(transaction("v-2", amount: "true"))\n"
            let reply = try await client.post(headers: bearerHeaders(contentType: "application/x-ndjson"), body: body)
            expectAccepted(reply, accepted: 1, rejected: 1)
            #expect(reply.rejected.first?["line"] == .number("2"))
            #expect(reply.rejected.first?["id"] == .string("v-2"))
        }
    }

    @Test("every item invalid: 422 problem with the rejected list, all quarantined, nothing journaled")
    func allInvalid() async throws {
        try await withClient { stack, client in
            let body = "[\(transaction("x-1", amount: "null")), {\"id\": \"x-2\"}, 42]"
            let reply = try await client.post(headers: bearerHeaders(), body: body)
            expectProblem(reply, .unprocessableContent, detailContains: "none of the 3 items are a valid event")
            #expect(reply.int("accepted") == 0)
            #expect(reply.int("duplicates") == 0)
            let rejected = reply.rejected
            #expect(rejected.count == 3)
            #expect(rejected.map { $0["index"] } == [.number("0"), .number("1"), .number("2")])
            #expect(rejected.map { $0["id"] } == [.string("x-1"), .string("x-2"), nil])
            #expect(rejected[1]["error"]?.stringValue?.contains("\"type\" is required") == true)
            #expect(rejected[2]["error"]?.stringValue?.contains("must be a JSON object") == true)
            #expect(try stack.database.journalCount() == 0)
            #expect(try stack.database.quarantinedItems().count == 3)
        }
    }

    @Test("a single invalid object is a 422")
    func singleInvalid() async throws {
        try await withClient { stack, client in
            let reply = try await client.post(headers: bearerHeaders(), body: #"{"id": "s-1", "type": "account.transaction"}"#)
            expectProblem(reply, .unprocessableContent, detailContains: "none of the 1 item is a valid event")
            #expect(reply.rejected.first?["error"]?.stringValue?.contains("\"time\" is required") == true)
            #expect(try stack.database.quarantinedItems().count == 1)
        }
    }

    @Test("a CloudEvents batch with one wrong specversion: the rest go through")
    func cloudEventBatchPartial() async throws {
        try await withClient { stack, client in
            let body = "[\(cloudEvent("cp-1")), \(cloudEvent("cp-2", specversion: "0.3")), \(cloudEvent("cp-3"))]"
            let reply = try await client.post(headers: bearerHeaders(contentType: "application/cloudevents-batch+json"), body: body)
            expectAccepted(reply, accepted: 2, rejected: 1)
            #expect(reply.rejected.first?["index"] == .number("1"))
            #expect(reply.rejected.first?["id"] == .string("cp-2"))
            #expect(try stack.database.quarantinedItems().map(\.eventId) == ["cp-2"])
        }
    }
}

@Suite("POST /v1/events: unreadable and oversized bodies")
struct UnreadableBodyTests {
    @Test("truncated JSON is a 400")
    func truncated() async throws {
        try await withClient { stack, client in
            let full = transaction("tr-1")
            let reply = try await client.post(headers: bearerHeaders(), body: String(full.prefix(full.count - 7)))
            expectProblem(reply, .badRequest, detailContains: "not valid JSON")
            #expect(try stack.database.journalCount() == 0)
            #expect(try stack.database.quarantinedItems().isEmpty)
        }
    }

    @Test("bytes that are not UTF-8 are a 400", arguments: ["application/json", "application/x-ndjson"])
    func invalidUTF8(contentType: String) async throws {
        try await withClient { stack, client in
            var body = Array(transaction("utf-1").utf8)
            body.insert(contentsOf: [0xFF, 0xFE, 0xC3], at: 10)
            let reply = try await client.post(headers: bearerHeaders(contentType: contentType), body: body)
            expectProblem(reply, .badRequest, detailContains: "not valid UTF-8")
            #expect(try stack.database.journalCount() == 0)
        }
    }

    @Test("an empty body is a 400", arguments: [
        "application/json", "application/x-ndjson", "application/cloudevents+json", "application/cloudevents-batch+json",
    ])
    func empty(contentType: String) async throws {
        try await withClient { _, client in
            let reply = try await client.post(headers: bearerHeaders(contentType: contentType), body: [UInt8]())
            expectProblem(reply, .badRequest, detailContains: "empty")
        }
    }

    @Test("a body of white space only is a 400")
    func whitespace() async throws {
        try await withClient { _, client in
            let reply = try await client.post(headers: bearerHeaders(contentType: "application/x-ndjson"), body: " \n\r\n\t\n")
            expectProblem(reply, .badRequest, detailContains: "empty")
        }
    }

    @Test("a body over the limit is a 413, and nothing is stored")
    func tooLarge() async throws {
        try await withClient(maximumBodyBytes: 4096) { stack, client in
            let lines = (0..<60).map { transaction("big-\($0)") }.joined(separator: "\n")
            #expect(lines.utf8.count > 10_000)
            let reply = try await client.post(headers: bearerHeaders(contentType: "application/x-ndjson"), body: lines)
            expectProblem(reply, .contentTooLarge, detailContains: "over the 4096-byte limit")
            #expect(try stack.database.journalCount() == 0)
        }
    }

    @Test("a body of exactly the limit is accepted")
    func exactlyAtLimit() async throws {
        try await withClient(maximumBodyBytes: 4096) { stack, client in
            let line = transaction("edge-1") + "\n"
            let body = line + String(repeating: " ", count: 4096 - line.utf8.count)
            #expect(body.utf8.count == 4096)
            expectAccepted(try await client.post(headers: bearerHeaders(contentType: "application/x-ndjson"), body: body), accepted: 1)
            #expect(try stack.database.journalCount() == 1)
        }
    }

    @Test("a request with neither signature nor token is refused before its body is read")
    func unauthenticatedIsRefusedFirst() async throws {
        try await withClient(maximumBodyBytes: 4096) { stack, client in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            let reply = try await client.post(headers: headers, body: [UInt8](repeating: 0x20, count: 10_240))
            expectProblem(reply, .unauthorized)
            #expect(try stack.database.journalCount() == 0)
        }
    }

    @Test("a signed oversized body is a 413: the limit holds while the body streams in")
    func tooLargeSigned() async throws {
        try await withClient(maximumBodyBytes: 4096) { _, client in
            let body = [UInt8](repeating: 0x20, count: 10_240)
            let reply = try await client.post(headers: try signedHeaders(body, id: "msg_big"), body: body)
            expectProblem(reply, .contentTooLarge)
        }
    }
}

@Suite("POST /v1/events: idempotency")
struct DuplicateTests {
    @Test("the same event id twice (bearer, no webhook-id): the second answer is a duplicate")
    func sameIdTwice() async throws {
        try await withClient { stack, client in
            expectAccepted(try await client.post(headers: bearerHeaders(), body: transaction("dup-1")), accepted: 1)
            let second = try await client.post(headers: bearerHeaders(), body: transaction("dup-1"))
            expectAccepted(second, accepted: 0, duplicates: 1)
            #expect(second["duplicate"] == nil)
            #expect(try stack.database.journalCount() == 1)
        }
    }

    @Test("the same id twice in one request counts one duplicate")
    func sameIdInOneRequest() async throws {
        try await withClient { stack, client in
            let reply = try await client.post(headers: bearerHeaders(), body: "[\(transaction("dup-2")), \(transaction("dup-2"))]")
            expectAccepted(reply, accepted: 1, duplicates: 1)
            #expect(try stack.database.journalCount() == 1)
        }
    }

    @Test("the same id from two sources is two events: the key is (source, id)")
    func sameIdTwoSources() async throws {
        try await withClient { stack, client in
            expectAccepted(try await client.post(headers: bearerHeaders(Credentials.sourceToken), body: transaction("dup-3")), accepted: 1)
            expectAccepted(try await client.post(headers: bearerHeaders(Credentials.ingestToken), body: transaction("dup-3")), accepted: 1)
            #expect(try stack.database.journalCount() == 2)
        }
    }

    @Test("concurrent requests are each answered once their own events are committed")
    func concurrentRequests() async throws {
        try await withClient { stack, client in
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        try await client.post(headers: bearerHeaders(), body: "[\(transaction("cc-\(index)")), \(transaction("cc-shared"))]")
                    }
                }
                return try await group.reduce(into: [Reply]()) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.status == .accepted })
            #expect(replies.map { $0.int("accepted") ?? -1 }.reduce(0, +) == 41)
            #expect(replies.map { $0.int("duplicates") ?? -1 }.reduce(0, +) == 39)
            #expect(try stack.database.journalCount() == 41)
        }
    }
}

@Suite("POST /v1/events: volume")
struct VolumeTests {
    @Test("a 100,000-line NDJSON body is accepted whole and journaled", .timeLimit(.minutes(5)))
    func hundredThousandLines() async throws {
        var body = [UInt8]()
        body.reserveCapacity(100_000 * 240)
        for index in 0..<100_000 {
            body.append(contentsOf: transaction("vol-\(index)", client: "C\(index % 5_000)").utf8)
            body.append(0x0A)
        }
        let payload = body
        try await withClient(maximumBodyBytes: 64 * 1024 * 1024) { stack, client in
            let reply = try await client.post(headers: bearerHeaders(contentType: "application/x-ndjson"), body: payload)
            expectAccepted(reply, accepted: 100_000)
            #expect(try stack.database.journalCount() == 100_000)
        }
    }
}
