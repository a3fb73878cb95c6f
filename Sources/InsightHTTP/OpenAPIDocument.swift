import Hummingbird
import InsightCore

/// The OpenAPI 3.1 description of every route, served at `GET /openapi.json`. A test checks that each
/// route registered on the router appears here.
enum OpenAPIDocument {
    static func register(on router: Router<BasicRequestContext>) {
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
    }

    static let problem: JSONValue = .object(["$ref": .string("#/components/schemas/Problem")])

    static func problemResponse(_ description: String) -> JSONValue {
        .object(["description": .string(description),
                 "content": .object(["application/problem+json": .object(["schema": problem])])])
    }

    static func jsonResponse(_ description: String, _ schema: JSONValue) -> JSONValue {
        .object(["description": .string(description), "content": .object(["application/json": .object(["schema": schema])])])
    }

    static let ingestResult: JSONValue = .object([
        "type": .string("object"),
        "properties": .object([
            "accepted": .object(["type": .string("integer")]),
            "duplicates": .object(["type": .string("integer")]),
            "rejectedCount": .object(["type": .string("integer"),
                                      "description": .string("every rejected item; `rejected` lists the first http.max_listed_rejections")]),
            "quarantined": .object(["type": .string("integer"),
                                    "description": .string("present when not every rejected item was kept in the quarantine (http.max_quarantined_per_request)")]),
            "rejected": .object(["type": .string("array"), "items": .object([
                "type": .string("object"),
                "properties": .object([
                    "index": .object(["type": .string("integer")]), "id": .object(["type": .string("string")]),
                    "line": .object(["type": .string("integer")]), "error": .object(["type": .string("string")]),
                ]),
            ])]),
        ]),
    ])

    static let document: JSONValue = .object([
        "openapi": .string("3.1.0"),
        "info": .object([
            "title": .string("insightd"),
            "version": .string("1"),
            "description": .string("Events in, explained leads out. Errors are RFC 9457 application/problem+json."),
        ]),
        "paths": .object(leadPaths.merging([
            "/v1/events": .object(["post": .object([
                "summary": .string("Ingest events: native JSON (object or array), NDJSON, CloudEvents structured, batch or binary"),
                "security": .array([.object(["standardWebhooks": .array([])]), .object(["bearer": .array([.string("ingest")])])]),
                "requestBody": .object(["required": .bool(true), "content": .object([
                    "application/json": .object([:]), "application/x-ndjson": .object([:]),
                    "application/cloudevents+json": .object([:]), "application/cloudevents-batch+json": .object([:]),
                ])]),
                "responses": .object([
                    "202": jsonResponse("Committed to the journal", ingestResult),
                    "200": jsonResponse("A replayed webhook-id: nothing processed again", ingestResult),
                    "400": problemResponse("The body cannot be read as a whole"),
                    "401": problemResponse("Bad, missing or stale signature, or bad token"),
                    "403": problemResponse("Token lacks scope ingest"),
                    "413": problemResponse("Body over the limit"),
                    "415": problemResponse("Unsupported content type"),
                    "422": problemResponse("Every item was invalid"),
                    "503": problemResponse("Busy or shutting down; retry after Retry-After"),
                ]),
            ])]),
            "/v1/admin/tick": .object(["post": .object([
                "summary": .string("Run the scheduled plugins as of an instant (createdAt, due dates and texts use it), after the "
                                   + "dispatcher has handled every event journaled before the request"),
                "security": .array([.object(["bearer": .array([.string("admin")])])]),
                "requestBody": .object(["required": .bool(true), "content": .object(["application/json": .object(["schema": .object([
                    "type": .string("object"), "required": .array([.string("at")]),
                    "properties": .object(["at": .object(["type": .string("string"), "format": .string("date-time")])]),
                ])])])]),
                "responses": .object([
                    "200": jsonResponse("Ticks ran", .object(["type": .string("object")])),
                    "401": problemResponse("Bad or missing token"), "403": problemResponse("Token lacks scope admin"),
                    "422": problemResponse("No valid at"),
                    "503": problemResponse("The dispatcher did not catch up in time; nothing ran; retry after Retry-After"),
                ]),
            ])]),
            "/healthz": .object(["get": .object([
                "summary": .string("Liveness"), "responses": .object(["200": jsonResponse("Alive", .object(["type": .string("object")]))]),
            ])]),
            "/readyz": .object(["get": .object([
                "summary": .string("Readiness: database writable and sources running"),
                "responses": .object([
                    "200": jsonResponse("Ready", .object(["type": .string("object")])),
                    "503": jsonResponse("Not ready; problems lists why", .object(["type": .string("object")])),
                ]),
            ])]),
            "/metrics": .object(["get": .object([
                "summary": .string("Prometheus text: events, journal lag, dispatch, leads, deliveries, outbox depth, HTTP durations, RSS"),
                "responses": .object(["200": .object(["description": .string("Prometheus exposition format 0.0.4"),
                                                      "content": .object(["text/plain": .object(["schema": .object(["type": .string("string")])])])])]),
            ])]),
            "/openapi.json": .object(["get": .object([
                "summary": .string("This document"), "responses": .object(["200": jsonResponse("OpenAPI 3.1", .object([:]))]),
            ])]),
        ]) { first, _ in first }),
        "components": .object([
            "securitySchemes": .object([
                "bearer": .object(["type": .string("http"), "scheme": .string("bearer")]),
                "standardWebhooks": .object(["type": .string("apiKey"), "in": .string("header"), "name": .string("webhook-signature"),
                                             "description": .string("v1,<base64 HMAC-SHA256 of id.timestamp.body> with webhook-id and webhook-timestamp")]),
            ]),
            "schemas": .object(["Problem": .object([
                "type": .string("object"),
                "properties": .object([
                    "type": .object(["type": .string("string")]), "title": .object(["type": .string("string")]),
                    "status": .object(["type": .string("integer")]), "detail": .object(["type": .string("string")]),
                    "instance": .object(["type": .string("string")]),
                ]),
            ])]),
        ]),
    ])

    static let text = JSONWriter.string(document)
}
