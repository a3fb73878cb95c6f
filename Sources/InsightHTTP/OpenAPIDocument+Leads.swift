import InsightCore
import InsightStore

/// The leads, clients, snoozes and outbox routes (DESIGN §4–§5).
extension OpenAPIDocument {
    static func query(_ name: String, _ description: String, type: String = "string", format: String? = nil,
                      values: [String]? = nil) -> JSONValue {
        var schema: [String: JSONValue] = ["type": .string(type)]
        if let format { schema["format"] = .string(format) }
        if let values { schema["enum"] = .array(values.map(JSONValue.string)) }
        return .object(["name": .string(name), "in": .string("query"), "required": .bool(false),
                        "description": .string(description), "schema": .object(schema)])
    }

    static func path(_ name: String, _ description: String) -> JSONValue {
        .object(["name": .string(name), "in": .string("path"), "required": .bool(true), "description": .string(description),
                 "schema": .object(["type": .string("string")])])
    }

    static func scope(_ name: String) -> JSONValue { .array([.object(["bearer": .array([.string(name)])])]) }

    static func body(_ required: [String], _ properties: [String: JSONValue]) -> JSONValue {
        .object(["required": .bool(true), "content": .object(["application/json": .object(["schema": .object([
            "type": .string("object"), "required": .array(required.map(JSONValue.string)), "properties": .object(properties),
        ])])])])
    }

    static let object: JSONValue = .object(["type": .string("object")])
    static let string: JSONValue = .object(["type": .string("string")])
    static let dateTime: JSONValue = .object(["type": .string("string"), "format": .string("date-time")])

    static func auth(_ scope: String) -> [String: JSONValue] {
        ["401": problemResponse("Bad or missing token"), "403": problemResponse("Token lacks scope \(scope)")]
    }

    static let lead: JSONValue = .object([
        "type": .string("object"),
        "description": .string("A lead (DESIGN §5): id, key, plugin, kind, priority, client, manager, title, summary, suggestedAction, evidence, products, dueAt, createdAt, sourceEvents, status. Times are RFC 3339 in the bank's time zone; personal data is masked."),
        "properties": .object([
            "id": string, "key": string, "plugin": string, "kind": string,
            "priority": .object(["type": .string("string"), "enum": .array(LeadPriority.allCases.map { .string($0.rawValue) })]),
            "status": .object(["type": .string("string"), "enum": .array(LeadStatus.allCases.map { .string($0.rawValue) })]),
            "client": object, "manager": object, "title": string, "summary": string, "suggestedAction": string,
            "evidence": .object(["type": .string("array"), "items": .object([
                "type": .string("object"),
                "description": .string("One fact: key is stable for integrations, label and value are in the bank's locale"),
                "properties": .object(["key": string, "label": string, "value": string]),
            ])]),
            "tags": .object(["type": .string("array"), "items": string, "description": .string("Labels from the rule (e.g. marketing)")]),
            "products": .object(["type": .string("array"), "items": object]),
            "dueAt": dateTime, "createdAt": dateTime,
            "sourceEvents": .object(["type": .string("array"), "items": string]),
        ]),
    ])

    static let leadPaths: [String: JSONValue] = [
        "/v1/leads": .object(["get": .object([
            "summary": .string("List leads, oldest first; cursor pagination stable under inserts"),
            "security": scope("read"),
            "parameters": .array([
                query("manager", "Manager id"), query("client", "Client id"), query("plugin", "Plugin id"),
                query("status", "Lead status", values: LeadStatus.allCases.map(\.rawValue)),
                query("since", "Created at or after (RFC 3339 time or YYYY-MM-DD)"),
                query("limit", "Page size, 1-500 (default 100)", type: "integer"),
                query("cursor", "nextCursor of the previous page"),
            ]),
            "responses": .object([
                "200": jsonResponse("A page of leads", .object(["type": .string("object"), "properties": .object([
                    "leads": .object(["type": .string("array"), "items": lead]),
                    "nextCursor": .object(["type": .array([.string("string"), .string("null")])]),
                ])])),
                "422": problemResponse("A filter is invalid"),
            ].merging(auth("read")) { first, _ in first }),
        ])]),
        "/v1/leads/{id}": .object(["get": .object([
            "summary": .string("One lead with its evidence, its deliveries and their attempts, and its history"),
            "security": scope("read"), "parameters": .array([path("id", "Lead id (ld_…)")]),
            "responses": .object([
                "200": jsonResponse("The lead, plus deliveries[] and activity[]", lead),
                "404": problemResponse("No such lead"),
            ].merging(auth("read")) { first, _ in first }),
        ])]),
        "/v1/leads/{id}/feedback": .object(["post": .object([
            "summary": .string("Report what was done with a lead; moves its status forward and is recorded with a timestamp"),
            "security": scope("feedback"), "parameters": .array([path("id", "Lead id (ld_…)")]),
            "requestBody": body(["outcome"], [
                "outcome": .object(["type": .string("string"), "enum": .array(FeedbackOutcome.allCases.map { .string($0.rawValue) })]),
                "note": string, "until": dateTime,
            ]),
            "responses": .object([
                "200": jsonResponse("The lead as it now stands", lead),
                "400": problemResponse("The body is not a JSON object"),
                "404": problemResponse("No such lead"), "422": problemResponse("Invalid outcome, or snoozed without until"),
            ].merging(auth("feedback")) { first, _ in first }),
        ])]),
        "/v1/leads/{id}/decision": .object(["post": .object([
            "summary": .string("A compliance officer's decision on an AML lead (cleared, or reported with the report's reference); "
                               + "recorded with who and when, final, and it ends the inhibitions the lead caused"),
            "security": scope("compliance"), "parameters": .array([path("id", "Lead id (ld_…) of an AML lead")]),
            "requestBody": body(["decision"], [
                "decision": .object(["type": .string("string"), "enum": .array(ComplianceDecision.allCases.map { .string($0.rawValue) })]),
                "reference": string, "note": string,
            ]),
            "responses": .object([
                "200": jsonResponse("The decision: leadId, decision, reference, note, actor, at", object),
                "400": problemResponse("The body is not a JSON object"), "404": problemResponse("No such lead"),
                "409": problemResponse("The lead was already decided"),
                "422": problemResponse("Invalid decision, reported without reference, or not an AML lead"),
            ].merging(auth("compliance")) { first, _ in first }),
        ])]),
        "/v1/clients/{id}": .object(["get": .object([
            "summary": .string("The client's current state (masked), open leads and recent CRM interactions"),
            "security": scope("read"), "parameters": .array([path("id", "Client id")]),
            "responses": .object([
                "200": jsonResponse("client, openLeads, recentInteractions", object), "404": problemResponse("No such client"),
            ].merging(auth("read")) { first, _ in first }),
        ])]),
        "/v1/snoozes": .object([
            "get": .object([
                "summary": .string("Snoozes in force"), "security": scope("read"),
                "responses": .object(["200": jsonResponse("snoozes[]", object)].merging(auth("read")) { first, _ in first }),
            ]),
            "post": .object([
                "summary": .string("Suppress new leads for a client, plugin or kind (any combination) until a time, at most snooze.max_days "
                                   + "ahead; suppressed leads are recorded. Without clientId it needs admin; only a compliance "
                                   + "snooze holds back AML kinds"),
                "security": .array(["feedback", "admin", "compliance"].map { .object(["bearer": .array([.string($0)])]) }),
                "requestBody": body(["until"], ["clientId": string, "plugin": string, "kind": string, "until": dateTime, "note": string]),
                "responses": .object([
                    "201": jsonResponse("The snooze", object), "400": problemResponse("The body is not a JSON object"),
                    "403": problemResponse("Without clientId it needs scope admin; an AML kind needs scope compliance"),
                    "422": problemResponse("Nothing to snooze, or until missing, past or beyond snooze.max_days"),
                ].merging(auth("feedback")) { first, _ in first }),
            ]),
        ]),
        "/v1/snoozes/{id}": .object(["delete": .object([
            "summary": .string("End a snooze; it needs the scope the snooze was made with"),
            "security": .array(["feedback", "admin", "compliance"].map { .object(["bearer": .array([.string($0)])]) }),
            "parameters": .array([path("id", "Snooze id")]),
            "responses": .object([
                "204": .object(["description": .string("Ended")]), "404": problemResponse("No such snooze"),
                "403": problemResponse("The snooze was made with a scope the token lacks"),
            ].merging(auth("feedback")) { first, _ in first }),
        ])]),
        "/v1/deliveries": .object(["get": .object([
            "summary": .string("Outbox rows, most recently updated first; status=dead lists dead letters"),
            "security": scope("read"),
            "parameters": .array([
                query("status", "Delivery status", values: DeliveryStatus.allCases.map(\.rawValue)),
                query("receiver", "Receiver name"), query("limit", "1-500 (default 100)", type: "integer"),
            ]),
            "responses": .object([
                "200": jsonResponse("deliveries[]", object), "422": problemResponse("A filter is invalid"),
            ].merging(auth("read")) { first, _ in first }),
        ])]),
        "/v1/deliveries/{id}/retry": .object(["post": .object([
            "summary": .string("Send a dead, held or cancelled delivery again from the start of the retry schedule (same webhook-id)"),
            "security": scope("admin"), "parameters": .array([path("id", "Delivery id (dl_…, the webhook-id)")]),
            "responses": .object([
                "202": jsonResponse("Queued", object), "404": problemResponse("No such delivery"),
                "409": problemResponse("The delivery is pending or already sent"),
            ].merging(auth("admin")) { first, _ in first }),
        ])]),
        "/v1/receivers": .object(["get": .object([
            "summary": .string("Outbox depth per receiver and status, and the targets disabled by a 410"),
            "security": scope("read"),
            "responses": .object(["200": jsonResponse("deliveries, disabledTargets", object)].merging(auth("read")) { first, _ in first }),
        ])]),
        "/v1/receivers/{name}/enable": .object(["post": .object([
            "summary": .string("Re-enable a receiver target disabled by a 410 (one manager's, or all); its held deliveries go out"),
            "security": scope("admin"), "parameters": .array([path("name", "Receiver name")]),
            "requestBody": .object(["required": .bool(false), "content": .object(["application/json": .object(["schema": .object([
                "type": .string("object"), "properties": .object(["managerId": string]),
            ])])])]),
            "responses": .object(["200": jsonResponse("receiver, released", object)].merging(auth("admin")) { first, _ in first }),
        ])]),
        "/v1/stats/conversions": .object(["get": .object([
            "summary": .string("Per-plugin conversion counts: leads, notified, contacted, converted, dismissed, suppressed"),
            "security": scope("read"),
            "responses": .object(["200": jsonResponse("plugins[]", object)].merging(auth("read")) { first, _ in first }),
        ])]),
    ]
}
