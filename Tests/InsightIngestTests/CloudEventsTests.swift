import Foundation
import InsightCore
import InsightIngest
import Testing

/// A structured-mode CloudEvent as JSON text, with the required attributes unless overridden (`nil` removes one).
private func structured(_ overrides: [String: String?] = [:], extra: String = "",
                        data: String? = #"{"accountId": "6222020200112233", "amount": "1234.50", "direction": "credit"}"#)
    throws -> JSONValue {
    var attributes: [String: String?] = [
        "specversion": "1.0", "id": "ce-1", "source": "/core-banking", "type": "account.transaction",
        "time": "2026-11-20T10:00:00+08:00", "clientid": "C000001",
    ]
    for (key, value) in overrides { attributes[key] = value }
    var members = attributes.sorted { $0.key < $1.key }.compactMap { key, value in value.map { "\"\(key)\": \"\($0)\"" } }
    if let data { members.append("\"data\": \(data)") }
    if !extra.isEmpty { members.append(extra) }
    return try JSONParser.parse("{" + members.joined(separator: ", ") + "}")
}

private func decoded(_ value: JSONValue) throws -> Event {
    try CloudEvents.decodeStructured(value).get()
}

private func rejection(_ result: Result<Event, EventRejection>) -> EventRejection? {
    if case .failure(let rejection) = result { return rejection }
    return nil
}

private func fixture(_ name: String, _ type: String) throws -> [UInt8] {
    let path = try #require(Bundle.module.path(forResource: name, ofType: type, inDirectory: "Fixtures"))
    return Array(try #require(FileManager.default.contents(atPath: path)))
}

@Suite("CloudEvents structured mode")
struct CloudEventsStructuredTests {
    @Test("the attributes map onto the event, data kept exact")
    func attributes() throws {
        let event = try decoded(try structured())
        #expect(event.id == "ce-1")
        #expect(event.source == "/core-banking")
        #expect(event.type == "account.transaction")
        #expect(event.time == RFC3339.parse("2026-11-20T02:00:00Z"))
        #expect(event.clientId == "C000001")
        #expect(event.data["amount"] == .string("1234.50"))
    }

    @Test("a number in data keeps its literal text")
    func numberLiteral() throws {
        let event = try decoded(try structured(data: #"{"accountId": "6222", "amount": 0.10, "direction": "debit"}"#))
        #expect(event.data["amount"] == .number("0.10"))
    }

    @Test("clientId: the clientid extension wins over subject and data.clientId")
    func clientIdFromExtension() throws {
        let event = try decoded(try structured(["clientid": "FROM-EXT", "subject": "FROM-SUBJECT"],
                                               data: #"{"clientId": "FROM-DATA", "accountId": "1", "amount": 1, "direction": "credit"}"#))
        #expect(event.clientId == "FROM-EXT")
    }

    @Test("clientId: subject when there is no clientid extension")
    func clientIdFromSubject() throws {
        let event = try decoded(try structured(["clientid": nil, "subject": "FROM-SUBJECT"],
                                               data: #"{"clientId": "FROM-DATA", "accountId": "1", "amount": 1, "direction": "credit"}"#))
        #expect(event.clientId == "FROM-SUBJECT")
    }

    @Test("clientId: data.clientId when there is neither clientid nor subject")
    func clientIdFromData() throws {
        let event = try decoded(try structured(["clientid": nil],
                                               data: #"{"clientId": "FROM-DATA", "accountId": "1", "amount": 1, "direction": "credit"}"#))
        #expect(event.clientId == "FROM-DATA")
    }

    @Test("no clientId at all: refused for a client-scoped type, accepted for an unknown type")
    func noClientId() throws {
        let scoped = rejection(CloudEvents.decodeStructured(try structured(["clientid": nil])))
        #expect(scoped?.reason.contains("clientId") == true)
        #expect(scoped?.eventId == "ce-1")
        let unknown = try decoded(try structured(["clientid": nil, "type": "insurance.policy"], data: #"{"status": "lapsed"}"#))
        #expect(unknown.clientId == nil)
        #expect(unknown.type == "insurance.policy")
    }

    @Test("no data is an empty object")
    func noData() throws {
        let event = try decoded(try structured(["type": "com.example.ping", "clientid": nil], data: nil))
        #expect(event.data == .object([:]))
    }

    @Test("a missing or empty required attribute is refused, naming it", arguments: [
        ("specversion", "specversion"), ("id", "id is required"), ("source", "source is required"),
        ("type", "type is required"), ("time", "time is required"),
    ])
    func missingAttribute(attribute: String, expected: String) throws {
        let missing = rejection(CloudEvents.decodeStructured(try structured([attribute: nil])))
        #expect(missing?.reason.contains(expected) == true, "\(String(describing: missing))")
        if attribute != "time" {
            let empty = rejection(CloudEvents.decodeStructured(try structured([attribute: ""])))
            #expect(empty?.reason.contains(attribute) == true, "\(String(describing: empty))")
        }
    }

    @Test("only specversion 1.0 is accepted", arguments: ["0.3", "1", "1.0.0", "2.0"])
    func wrongSpecVersion(version: String) throws {
        let result = rejection(CloudEvents.decodeStructured(try structured(["specversion": version])))
        #expect(result?.reason.contains("specversion must be \"1.0\"") == true)
        #expect(result?.reason.contains(version) == true)
    }

    @Test("a time that is not RFC 3339 is refused")
    func badTime() throws {
        let result = rejection(CloudEvents.decodeStructured(try structured(["time": "20 Nov 2026 10:00"])))
        #expect(result?.reason.contains("RFC 3339") == true)
        #expect(result?.eventId == "ce-1")
    }

    @Test("an id over 128 characters is refused; 128 is fine")
    func idLength() throws {
        let longest = String(repeating: "x", count: Event.maximumIdLength)
        #expect(try decoded(try structured(["id": longest])).id == longest)
        let tooLong = rejection(CloudEvents.decodeStructured(try structured(["id": longest + "x"])))
        #expect(tooLong?.reason.contains("id is required (1 to 128 characters)") == true)
    }

    @Test("datacontenttype must be JSON", arguments: ["text/plain", "application/xml", "application/octet-stream"])
    func nonJSONContentType(contentType: String) throws {
        let result = rejection(CloudEvents.decodeStructured(try structured(["datacontenttype": contentType])))
        #expect(result?.reason.contains("datacontenttype must be application/json") == true)
        #expect(result?.reason.contains(contentType) == true)
    }

    @Test("datacontenttype application/json with parameters is accepted")
    func jsonContentTypeWithCharset() throws {
        #expect(try decoded(try structured(["datacontenttype": "application/json; charset=utf-8"])).id == "ce-1")
    }

    @Test("data_base64 is refused")
    func dataBase64() throws {
        let value = try structured(extra: #""data_base64": "eyJhIjoxfQ==""#, data: nil)
        let result = rejection(CloudEvents.decodeStructured(value))
        #expect(result?.reason.contains("data_base64 is not supported") == true)
        #expect(result?.eventId == "ce-1")
    }

    @Test("data that is not an object is refused", arguments: ["[1, 2]", "\"text\"", "42", "true"])
    func dataNotObject(data: String) throws {
        let result = rejection(CloudEvents.decodeStructured(try structured(data: data)))
        #expect(result?.reason.contains("data must be a JSON object") == true)
    }

    @Test("a JSON value that is not an object is refused", arguments: ["[]", "1", "\"x\"", "null"])
    func notAnObject(text: String) throws {
        let result = rejection(CloudEvents.decodeStructured(try JSONParser.parse(text)))
        #expect(result?.reason.contains("a CloudEvent must be a JSON object") == true)
        #expect(result?.eventId == nil)
    }

    @Test("known types are validated: a bad amount is refused, naming data.amount", arguments: [
        #""twelve""#, #""12abc""#, #""1.2.3""#, "true", "null", "[]", #""NaN""#,
    ])
    func badAmount(amount: String) throws {
        let data = #"{"accountId": "6222", "amount": \#(amount), "direction": "credit"}"#
        let result = rejection(CloudEvents.decodeStructured(try structured(data: data)))
        #expect(result?.reason.hasPrefix("data.amount") == true, "\(String(describing: result))")
        #expect(result?.eventId == "ce-1")
    }

    @Test("known types are validated: a missing required field is refused")
    func missingDirection() throws {
        let result = rejection(CloudEvents.decodeStructured(try structured(data: #"{"accountId": "6222", "amount": "1"}"#)))
        #expect(result?.reason == "data.direction is required for type account.transaction")
    }

    @Test("numeric and boolean attributes are read as text")
    func nonStringAttributes() throws {
        let value = try JSONParser.parse("""
            {"specversion": "1.0", "id": 42, "source": "/s", "type": "com.example.thing",
             "time": "2026-11-20T10:00:00Z", "flag": true}
            """)
        #expect(try decoded(value).id == "42")
    }

    @Test("isStructured looks for specversion")
    func isStructured() throws {
        #expect(CloudEvents.isStructured(try structured()))
        #expect(!CloudEvents.isStructured(try JSONParser.parse(#"{"id": "e", "type": "t"}"#)))
        #expect(!CloudEvents.isStructured(.array([])))
    }

    @Test("a batch fixture: valid events decode, the bad one is refused alone")
    func batchFixture() throws {
        guard case .array(let values) = try JSONParser.parse(try fixture("cloudevents-batch", "json")) else {
            Issue.record("fixture is not an array")
            return
        }
        let results = values.map(CloudEvents.decodeStructured)
        #expect(results.count == 5)
        let events = results.compactMap { try? $0.get() }
        #expect(events.map(\.id) == ["ce-1", "ce-2", "ce-3", "ce-5"])
        #expect(events.map(\.clientId) == ["C000001", "C000002", "C000003", nil])
        #expect(rejection(results[3])?.reason.hasPrefix("data.amount") == true)
    }
}

@Suite("CloudEvents binary mode")
struct CloudEventsBinaryTests {
    static let body = Array(#"{"accountId": "6222020200112233", "amount": "88.80", "direction": "debit"}"#.utf8)

    static func headers(_ overrides: [String: String?] = [:]) -> [String: String] {
        var headers: [String: String?] = [
            "ce-specversion": "1.0", "ce-id": "bin-1", "ce-source": "/core-banking", "ce-type": "account.transaction",
            "ce-time": "2026-11-20T10:00:00+08:00", "ce-clientid": "C000009", "content-type": "application/json",
        ]
        for (key, value) in overrides { headers[key] = value }
        return headers.compactMapValues { $0 }
    }

    @Test("ce-* headers are the attributes and the body is data")
    func decodes() throws {
        let event = try CloudEvents.decodeBinary(headers: Self.headers(), body: Self.body).get()
        #expect(event.id == "bin-1")
        #expect(event.source == "/core-banking")
        #expect(event.clientId == "C000009")
        #expect(event.data["amount"] == .string("88.80"))
    }

    @Test("header names are matched in any case")
    func anyCase() throws {
        let headers = [
            "CE-SpecVersion": "1.0", "Ce-Id": "bin-2", "CE-SOURCE": "/crm", "ce-Type": "crm.interaction",
            "cE-tImE": "2026-11-20T10:00:00Z", "Ce-Subject": "C000010", "Content-Type": "application/json",
        ]
        let event = try CloudEvents.decodeBinary(headers: headers, body: Array(#"{"channel": "call"}"#.utf8)).get()
        #expect(event.id == "bin-2")
        #expect(event.type == "crm.interaction")
        #expect(event.clientId == "C000010")
    }

    @Test("header values are percent-decoded")
    func percentDecoding() throws {
        let event = try CloudEvents.decodeBinary(headers: Self.headers(["ce-source": "/core%20banking"]), body: Self.body).get()
        #expect(event.source == "/core banking")
    }

    @Test("headers without the ce- prefix are not attributes")
    func otherHeadersIgnored() throws {
        let headers = Self.headers(["ce-clientid": nil, "clientid": "NOT-ME", "subject": "NOT-ME-EITHER"])
        let result = rejection(CloudEvents.decodeBinary(headers: headers, body: Self.body))
        #expect(result?.reason.contains("clientId") == true)
    }

    @Test("clientId falls back to data.clientId")
    func clientIdFromBody() throws {
        let body = Array(#"{"clientId": "C-BODY", "accountId": "1", "amount": 1, "direction": "credit"}"#.utf8)
        let event = try CloudEvents.decodeBinary(headers: Self.headers(["ce-clientid": nil]), body: body).get()
        #expect(event.clientId == "C-BODY")
    }

    @Test("an empty body is empty data")
    func emptyBody() throws {
        let event = try CloudEvents.decodeBinary(headers: Self.headers(["ce-type": "com.example.ping"]), body: []).get()
        #expect(event.data == .object([:]))
    }

    @Test("a body that is not JSON is refused, keeping the id")
    func nonJSONBody() throws {
        let result = rejection(CloudEvents.decodeBinary(headers: Self.headers(), body: Array("amount=12".utf8)))
        #expect(result?.reason.contains("not valid JSON") == true)
        #expect(result?.eventId == "bin-1")
    }

    @Test("a missing required header is refused, naming it", arguments: [
        ("ce-specversion", "specversion"), ("ce-id", "id is required"), ("ce-source", "source is required"),
        ("ce-type", "type is required"), ("ce-time", "time is required"),
    ])
    func missingHeader(header: String, expected: String) {
        let result = rejection(CloudEvents.decodeBinary(headers: Self.headers([header: nil]), body: Self.body))
        #expect(result?.reason.contains(expected) == true, "\(String(describing: result))")
    }

    @Test("ce-datacontenttype other than JSON is refused")
    func binaryDataContentType() {
        let result = rejection(CloudEvents.decodeBinary(headers: Self.headers(["ce-datacontenttype": "text/csv"]), body: Self.body))
        #expect(result?.reason.contains("datacontenttype must be application/json") == true)
    }

    @Test("known types are validated in binary mode too")
    func validation() {
        let body = Array(#"{"accountId": "6222", "amount": "1,000", "direction": "credit"}"#.utf8)
        let result = rejection(CloudEvents.decodeBinary(headers: Self.headers(), body: body))
        #expect(result?.reason.hasPrefix("data.amount must be a decimal") == true)
    }
}

/// Issue 14: header values that are not UTF-8, or whose percent escapes are not, were read leniently, and two
/// different ids could become one; inputs were echoed in reasons whole.
@Suite("CloudEvents header values and limits")
struct CloudEventsHeaderValueTests {
    static func rawHeaders(_ overrides: [String: [UInt8]] = [:]) -> [String: [UInt8]] {
        var headers = CloudEventsBinaryTests.headers().mapValues { Array($0.utf8) }
        for (key, value) in overrides { headers[key] = value }
        return headers
    }

    @Test("raw header bytes that are UTF-8 and percent-encoded decode as before")
    func rawBytes() throws {
        let event = try CloudEvents.decodeBinary(headers: Self.rawHeaders([
            "ce-id": Array("caf%C3%a9-%25-€".utf8), "ce-source": Array("/core%20banking".utf8),
        ]), body: CloudEventsBinaryTests.body).get()
        #expect(event.id == "café-%-€")
        #expect(event.source == "/core banking")
    }

    @Test("a header value that is not UTF-8 is refused, naming the header", arguments: [
        [0x62, 0x69, 0x6E, 0xFF], [0xC0, 0xA0], [0xE2, 0x82], [0xED, 0xA0, 0x80],
    ] as [[UInt8]])
    func notUTF8(bytes: [UInt8]) throws {
        #expect(CloudEvents.validateHeaderValue(bytes) == .notUTF8)
        let result = rejection(CloudEvents.decodeBinary(headers: Self.rawHeaders(["ce-id": bytes]), body: CloudEventsBinaryTests.body))
        #expect(result?.reason == "header ce-id is not UTF-8 text; send other characters percent-encoded (%E2%82%AC)")
        #expect(result?.eventId == nil)
        let other = rejection(CloudEvents.decodeBinary(headers: Self.rawHeaders(["ce-source": bytes]), body: CloudEventsBinaryTests.body))
        #expect(other?.reason.hasPrefix("header ce-source is not UTF-8") == true)
        #expect(other?.eventId == "bin-1")
    }

    @Test("percent escapes must be two hex digits standing for UTF-8", arguments: [
        ("50%", CloudEvents.HeaderValueProblem.badPercentEscape), ("a%2", .badPercentEscape), ("a%zz", .badPercentEscape),
        ("%FF", .escapesNotUTF8), ("%C0%A0", .escapesNotUTF8), ("%E2%82", .escapesNotUTF8),
    ])
    func badEscapes(value: String, problem: CloudEvents.HeaderValueProblem) {
        #expect(CloudEvents.validateHeaderValue(Array(value.utf8)) == problem)
        let result = rejection(CloudEvents.decodeBinary(headers: CloudEventsBinaryTests.headers(["ce-id": value]),
                                                        body: CloudEventsBinaryTests.body))
        #expect(result?.reason == "header ce-id \(problem)")
    }

    @Test("well-formed values pass validation", arguments: ["bin-1", "%20", "%e2%82%ac", "Euro%20%E2%82%AC%20%F0%9F%98%80", "", "张三"])
    func validValues(value: String) {
        #expect(CloudEvents.validateHeaderValue(Array(value.utf8)) == nil)
    }

    /// Before, `%FF` (not UTF-8 once decoded) was kept as written, the same id as `%25FF` decoded.
    @Test("two different header values never give one id")
    func noCollision() throws {
        let escaped = CloudEvents.decodeBinary(headers: CloudEventsBinaryTests.headers(["ce-id": "%25FF"]), body: CloudEventsBinaryTests.body)
        #expect(try escaped.get().id == "%FF")
        let raw = CloudEvents.decodeBinary(headers: CloudEventsBinaryTests.headers(["ce-id": "%FF"]), body: CloudEventsBinaryTests.body)
        #expect(rejection(raw) != nil)
    }

    @Test("one attribute in two headers is refused")
    func twice() {
        var headers = Self.rawHeaders()
        headers["CE-ID"] = Array("bin-2".utf8)
        let result = rejection(CloudEvents.decodeBinary(headers: headers, body: CloudEventsBinaryTests.body))
        #expect(result?.reason == "header ce-id is given more than once")
    }

    @Test("source, type and clientid are limited as id is", arguments: ["source", "type", "clientid"])
    func attributeLength(attribute: String) throws {
        let long = String(repeating: "s", count: Event.maximumIdLength + 1)
        let result = rejection(CloudEvents.decodeStructured(try structured([attribute: long])))
        let field = attribute == "clientid" ? "clientId" : attribute
        #expect(result?.reason == #"field "\#(field)" must be at most 128 characters, got "\#(String(repeating: "s", count: 64))…" (129 bytes)"#)
        #expect(result?.eventId == "ce-1")
    }

    @Test("reasons quote at most 64 characters of an attribute", arguments: ["specversion", "id", "time", "datacontenttype"])
    func reasonsAreBounded(attribute: String) throws {
        let huge = String(repeating: "v", count: 1 << 20)
        let result = rejection(CloudEvents.decodeStructured(try structured([attribute: huge])))
        let reason = try #require(result?.reason)
        #expect(reason.utf8.count < 300, "\(reason.prefix(300))")
        #expect(reason.contains(String(repeating: "v", count: 64) + "…"))
        #expect(reason.contains("(1048576 bytes)"))
    }
}

@Suite("IngestDecoder")
struct IngestDecoderTests {
    @Test("NDJSON may mix native envelopes and structured CloudEvents")
    func mixed() throws {
        let items = try EventBatch.decode(try fixture("mixed", "ndjson"), format: .ndjson, defaultSource: "sender",
                                          decoder: IngestDecoder())
        #expect(items.count == 3)
        let native = try items[0].result.get()
        #expect(native.id == "native-1")
        #expect(native.source == "sender")
        #expect(native.data["amount"] == .number("99.90"))
        let cloud = try items[1].result.get()
        #expect(cloud.source == "/crm")
        #expect(cloud.clientId == "C000001")
        #expect(rejection(items[2].result)?.reason.contains("specversion") == true)
        #expect(items[2].line == 3)
    }

    @Test("without IngestDecoder a CloudEvent is read as a native envelope")
    func nativeOnly() throws {
        let value = try structured(["clientid": nil, "subject": "C000001"])
        #expect(rejection(NativeEventDecoder().decodeEnvelope(value, defaultSource: "s"))?.reason.contains("clientId") == true)
        #expect(try IngestDecoder().decodeEnvelope(value, defaultSource: "s").get().clientId == "C000001")
    }
}
