import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InsightCore
import InsightEngine
import InsightHTTP
import InsightStore
import InsightTesting
import Testing

private func tickHeaders(_ token: String?) -> HTTPFields {
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    if let token { headers[.authorization] = "Bearer \(token)" }
    return headers
}

private func recordingPlugin(_ recorder: PluginRecorder) -> LoadedPlugin {
    LoadedPlugin(RecordingPlugin(configuration: .init(recorder: recorder, schedule: LocalTime(hour: 8, minute: 30))))
}

@Suite("POST /v1/admin/tick")
struct AdminTickTests {
    static let body = #"{"at": "2026-11-24T17:30:00Z"}"#

    @Test("without a token: 401")
    func noToken() async throws {
        let recorder = PluginRecorder()
        try await withClient(plugins: [recordingPlugin(recorder)]) { _, client in
            let reply = try await client.post("/v1/admin/tick", headers: tickHeaders(nil), body: Self.body)
            expectProblem(reply, .unauthorized, instance: "/v1/admin/tick")
        }
        #expect(recorder.tickLog.isEmpty)
    }

    @Test("with an unknown token, or a source token (not an API token): 401",
          arguments: ["nope", Credentials.sourceToken])
    func badToken(token: String) async throws {
        try await withClient { _, client in
            let reply = try await client.post("/v1/admin/tick", headers: tickHeaders(token), body: Self.body)
            expectProblem(reply, .unauthorized, detailContains: "not valid", instance: "/v1/admin/tick")
        }
    }

    @Test("with a token lacking admin: 403", arguments: [
        (Credentials.ingestToken, "etl-loader"), (Credentials.readToken, "dashboard"),
    ])
    func withoutAdminScope(token: String, name: String) async throws {
        let recorder = PluginRecorder()
        try await withClient(plugins: [recordingPlugin(recorder)]) { _, client in
            let reply = try await client.post("/v1/admin/tick", headers: tickHeaders(token), body: Self.body)
            expectProblem(reply, .forbidden, detailContains: "token \(name) lacks scope admin", instance: "/v1/admin/tick")
        }
        #expect(recorder.tickLog.isEmpty)
    }

    @Test("without a valid at: 422", arguments: [
        "{}", #"{"at": "tomorrow"}"#, #"{"at": 1795140300}"#, #"{"at": null}"#, #"{"when": "2026-11-24T17:30:00Z"}"#,
        #"{"at": "2026-11-24"}"#, "[]",
    ])
    func invalidAt(body: String) async throws {
        let recorder = PluginRecorder()
        try await withClient(plugins: [recordingPlugin(recorder)]) { _, client in
            let reply = try await client.post("/v1/admin/tick", headers: tickHeaders(Credentials.adminToken), body: body)
            expectProblem(reply, .unprocessableContent, detailContains: "field \"at\" is required", instance: "/v1/admin/tick")
        }
        #expect(recorder.tickLog.isEmpty)
    }

    @Test("events journaled before the tick that the dispatcher cannot handle in time: 503, and nothing ran")
    func dispatcherBehind() async throws {
        let recorder = PluginRecorder()
        try await withClient(plugins: [recordingPlugin(recorder)], tickCatchUp: .milliseconds(300)) { stack, client in
            // Journaled (acknowledged) but never dispatched: this stack runs no dispatcher.
            let event = EventFixtures.event("e1", "client.profile", client: "C1", source: "crm", data: ["name": .string("张三")])
            _ = try stack.database.append([event], receivedAt: Credentials.now)
            let reply = try await client.post("/v1/admin/tick", headers: tickHeaders(Credentials.adminToken), body: Self.body)
            expectProblem(reply, .serviceUnavailable, detailContains: "has not yet handled the events journaled before this tick",
                          instance: "/v1/admin/tick")
            #expect(reply.headers[.retryAfter] == "5")
            #expect(reply.detail.contains("1 waiting"))
        }
        #expect(recorder.tickLog.isEmpty, "no plugin ticked on stale state")
    }

    @Test("a body that is not JSON: 400", arguments: ["", "at=2026-11-24T17:30:00Z", "{\"at\": "])
    func notJSON(body: String) async throws {
        try await withClient { _, client in
            let reply = try await client.post("/v1/admin/tick", headers: tickHeaders(Credentials.adminToken), body: body)
            expectProblem(reply, .badRequest, detailContains: "the body must be", instance: "/v1/admin/tick")
        }
    }

    @Test("with admin: 200, each scheduled plugin ticks for the local date in Asia/Shanghai")
    func ticks() async throws {
        let recorder = PluginRecorder()
        try await withClient(plugins: [recordingPlugin(recorder)]) { stack, client in
            // A client in projected state, so the tick has someone to make a lead for.
            expectAccepted(try await client.post(headers: bearerHeaders(), body: transaction("tick-1", client: "C000042")), accepted: 1)
            try await stack.dispatcher.drain()

            // 17:30 UTC on the 24th is 01:30 on the 25th in Shanghai.
            let reply = try await client.post("/v1/admin/tick", headers: tickHeaders(Credentials.adminToken), body: Self.body)
            #expect(reply.status == .ok, "\(reply)")
            #expect(reply.contentType == "application/json")
            #expect(reply["localDate"] == .string("2026-11-25"))
            #expect(reply["at"] == .string("2026-11-25T01:30:00+08:00"))
            #expect(reply["plugins"] == .array([.object(["plugin": .string("recording"), "newLeads": .number("1")])]))

            let ticks = recorder.tickLog
            #expect(ticks.count == 1)
            #expect(ticks.first?.localDate == LocalDate(year: 2026, month: 11, day: 25))
            #expect(ticks.first?.scheduledAt == RFC3339.parse("2026-11-24T17:30:00Z"))

            // The same tick again makes no new lead: the ledger already has it.
            let again = try await client.post("/v1/admin/tick", headers: tickHeaders(Credentials.adminToken), body: Self.body)
            #expect(again.status == .ok)
            #expect(again["plugins"]?.arrayValue?.first?["newLeads"] == .number("0"))
        }
    }

    @Test("with admin and no scheduled plugin: 200 with an empty plugin list")
    func noScheduledPlugins() async throws {
        let recorder = PluginRecorder()
        let unscheduled = LoadedPlugin(RecordingPlugin(configuration: .init(recorder: recorder)))
        try await withClient(plugins: [unscheduled]) { _, client in
            let reply = try await client.post("/v1/admin/tick", headers: tickHeaders(Credentials.adminToken),
                                              body: #"{"at": "2026-11-25T08:30:00+08:00"}"#)
            #expect(reply.status == .ok, "\(reply)")
            #expect(reply["plugins"] == .array([]))
            #expect(reply["localDate"] == .string("2026-11-25"))
        }
        #expect(recorder.tickLog.isEmpty)
    }
}

@Suite("health")
struct HealthTests {
    @Test("/healthz answers 200")
    func healthz() async throws {
        try await withClient { _, client in
            let reply = try await client.get("/healthz")
            #expect(reply.status == .ok)
            #expect(reply.contentType == "application/json")
            #expect(reply.json == .object(["status": .string("ok")]))
        }
    }

    @Test("/readyz is 200 when everything runs")
    func ready() async throws {
        try await withClient { stack, client in
            stack.health.report("inbox:nightly", .running)
            let reply = try await client.get("/readyz")
            #expect(reply.status == .ok, "\(reply)")
            #expect(reply.contentType == "application/json")
            #expect(reply["status"] == .string("ready"))
            #expect(reply["problems"] == .array([]))
        }
    }

    @Test("/readyz is 503 naming a failed component, and recovers")
    func notReady() async throws {
        try await withClient { stack, client in
            stack.health.report("http", .running)
            stack.health.report("inbox:nightly", .failed("cannot read /data/inbox: permission denied"))
            let reply = try await client.get("/readyz")
            #expect(reply.status == .serviceUnavailable, "\(reply)")
            #expect(reply["status"] == .string("not ready"))
            // Anyone learns what failed; only the log and a token holder learn why (the text can hold paths).
            #expect(reply["problems"] == .array([.string("inbox:nightly: failed (see the daemon's log)")]))

            stack.health.report("inbox:nightly", .starting)
            #expect(try await client.get("/readyz")["problems"] == .array([.string("inbox:nightly: starting")]))

            stack.health.report("inbox:nightly", .running)
            #expect(try await client.get("/readyz").status == .ok)
        }
    }
}

@Suite("OpenAPI and routing")
struct OpenAPITests {
    @Test("/openapi.json is OpenAPI 3.1.0 and describes every route of the router")
    func everyRouteDescribed() async throws {
        try await withClient { stack, client in
            let reply = try await client.get("/openapi.json")
            #expect(reply.status == .ok)
            #expect(reply.contentType == "application/json")
            let document = try #require(reply.json, "\(reply)")
            #expect(document["openapi"] == .string("3.1.0"))
            let paths = try #require(document["paths"]?.objectValue)

            let routes = stack.server.router().routes
            #expect(routes.count >= 5)
            for route in routes {
                let path = route.path.description
                let method = route.method.rawValue.lowercased()
                let operation = paths[path]?[method]
                #expect(operation != nil, "\(route.method) \(path) is not in /openapi.json")
                #expect(operation?["responses"]?.objectValue?.isEmpty == false, "\(route.method) \(path) has no responses")
            }
            // And nothing described that does not exist.
            let registered = Set(routes.map { "\($0.method.rawValue.lowercased()) \($0.path.description)" })
            for (path, item) in paths {
                for method in (item.objectValue ?? [:]).keys {
                    #expect(registered.contains("\(method) \(path)"), "\(method) \(path) is documented but not routed")
                }
            }
        }
    }

    @Test("the ingest operation documents every status it can answer, errors as problem+json")
    func ingestResponses() async throws {
        try await withClient { _, client in
            let document = try #require(try await client.get("/openapi.json").json)
            let responses = try #require(document["paths"]?["/v1/events"]?["post"]?["responses"]?.objectValue)
            for status in ["200", "202", "400", "401", "403", "413", "415", "422"] {
                #expect(responses[status] != nil, "missing \(status)")
            }
            for status in ["400", "401", "403", "413", "415", "422"] {
                #expect(responses[status]?["content"]?["application/problem+json"] != nil, "\(status) is not problem+json")
            }
        }
    }

    @Test("an unknown route is a 404 problem")
    func unknownRoute() async throws {
        try await withClient { _, client in
            let reply = try await client.get("/v1/nope")
            expectProblem(reply, .notFound, instance: "/v1/nope")
        }
    }

    @Test("a known path with the wrong method is a 4xx problem")
    func wrongMethod() async throws {
        try await withClient { _, client in
            let reply = try await client.get("/v1/events")
            #expect((400..<500).contains(reply.status.code), "\(reply)")
            #expect(reply.isProblem, "\(reply)")
        }
    }
}
