import Foundation
import Testing
@testable import InsightCore

/// Parses `text` and decodes it as one native envelope.
private func decode(_ text: String, defaultSource: String = "core-bank") throws -> Result<Event, EventRejection> {
    NativeEventDecoder().decodeEnvelope(try JSONParser.parse(text), defaultSource: defaultSource)
}

private struct UnexpectedlyAccepted: Error, CustomStringConvertible {
    let event: Event
    var description: String { "expected a rejection, but event \"\(event.id)\" was accepted" }
}

/// The rejection for `text`; throws (failing the test) if it was accepted.
private func rejection(_ text: String) throws -> EventRejection {
    switch try decode(text) {
    case .failure(let rejection): return rejection
    case .success(let event): throw UnexpectedlyAccepted(event: event)
    }
}

/// An envelope with the given type and data (a JSON object text).
private func envelope(type: String, clientId: String? = "C000123", data: String) -> String {
    let client = clientId.map { #","clientId":"\#($0)""# } ?? ""
    return #"{"id":"evt-1","type":"\#(type)","time":"2026-11-20T10:00:00+08:00"\#(client),"data":\#(data)}"#
}

struct InvalidDataCase: Sendable, CustomTestStringConvertible {
    let type: String
    let data: String
    let reason: String
    var testDescription: String { "\(type) \(data)" }
}

@Suite("Event decoding")
struct EventDecodingTests {
    @Test func decodesAValidTransaction() throws {
        let text = """
            {"id": "evt-1", "source": "core", "type": "account.transaction", "time": "2026-11-20T10:00:00+08:00",
             "clientId": "C000123",
             "data": {"accountId": "A1", "amount": 1234.50, "currency": "CNY", "direction": "credit",
                      "channel": "mobile", "balanceAfter": "5000.00"}}
            """
        let event = try decode(text).get()
        #expect(event.id == "evt-1")
        #expect(event.source == "core")
        #expect(event.type == EventType.accountTransaction)
        #expect(event.time == (try utcDate(2026, 11, 20, 2)))
        #expect(event.clientId == "C000123")
        #expect(event.sequence == 0)
        #expect(event.data["amount"] == .number("1234.50"))
        #expect(event.data["balanceAfter"] == .string("5000.00"))
        #expect(event.data["accountId"] == .string("A1"))
    }

    @Test func sourceFallsBackToTheDefault() throws {
        let event = try decode(envelope(type: "custom.thing", data: "{}"), defaultSource: "nightly-file").get()
        #expect(event.source == "nightly-file")
    }

    @Test(arguments: [#""source":"""#, #""source":5"#, #""source":null"#])
    func sourceMustBeANonEmptyString(_ field: String) throws {
        let text = #"{"id":"evt-1","type":"x.y","time":"2026-11-20T10:00:00Z",\#(field)}"#
        let rejected = try rejection(text)
        #expect(rejected.eventId == "evt-1")
        #expect(rejected.reason.contains(#"field "source" must be a non-empty string"#))
    }

    @Test func numericIdIsKeptAsItsLiteral() throws {
        let event = try decode(#"{"id":42,"type":"x.y","time":"2026-11-20T10:00:00Z"}"#).get()
        #expect(event.id == "42")
    }

    @Test(arguments: [
        #"{"type":"x.y","time":"2026-11-20T10:00:00Z"}"#,
        #"{"id":null,"type":"x.y","time":"2026-11-20T10:00:00Z"}"#,
        #"{"id":true,"type":"x.y","time":"2026-11-20T10:00:00Z"}"#,
    ])
    func idIsRequired(_ text: String) throws {
        let rejected = try rejection(text)
        #expect(rejected.eventId == nil)
        #expect(rejected.reason.contains(#"field "id" is required"#))
    }

    @Test func idLengthLimits() throws {
        let longest = String(repeating: "a", count: Event.maximumIdLength)
        let accepted = try decode(#"{"id":"\#(longest)","type":"x.y","time":"2026-11-20T10:00:00Z"}"#).get()
        #expect(accepted.id == longest)

        let tooLong = longest + "b"
        let rejected = try rejection(#"{"id":"\#(tooLong)","type":"x.y","time":"2026-11-20T10:00:00Z"}"#)
        #expect(rejected.eventId == nil, "an id over the limit is no id: the reason shows its start")
        #expect(rejected.reason.contains("1 to 128 characters"))
        #expect(rejected.reason.hasSuffix(#", got "\#(String(repeating: "a", count: 64))…" (129 bytes)"#))

        let empty = try rejection(#"{"id":"","type":"x.y","time":"2026-11-20T10:00:00Z"}"#)
        #expect(empty.reason.contains("1 to 128 characters"))
    }

    @Test func idLengthCountsCharactersNotBytes() throws {
        let id = String(repeating: "张", count: Event.maximumIdLength)  // 384 UTF-8 bytes
        let event = try decode(#"{"id":"\#(id)","type":"x.y","time":"2026-11-20T10:00:00Z"}"#).get()
        #expect(event.id == id)
    }

    @Test(arguments: [
        #"{"id":"evt-1","time":"2026-11-20T10:00:00Z"}"#,
        #"{"id":"evt-1","type":"","time":"2026-11-20T10:00:00Z"}"#,
        #"{"id":"evt-1","type":7,"time":"2026-11-20T10:00:00Z"}"#,
    ])
    func typeIsRequired(_ text: String) throws {
        let rejected = try rejection(text)
        #expect(rejected.eventId == "evt-1")
        #expect(rejected.reason.contains(#"field "type" is required"#))
    }

    @Test(arguments: [#"{"id":"evt-1","type":"x.y"}"#, #"{"id":"evt-1","type":"x.y","time":1795132800}"#])
    func timeIsRequired(_ text: String) throws {
        let rejected = try rejection(text)
        #expect(rejected.eventId == "evt-1")
        #expect(rejected.reason.contains(#"field "time" is required"#))
    }

    @Test(arguments: ["2026-11-20 10:00", "2026-11-20T10:00:00", "2026-13-20T10:00:00Z", "yesterday"])
    func badTimeIsRejected(_ time: String) throws {
        let rejected = try rejection(#"{"id":"evt-1","type":"x.y","time":"\#(time)"}"#)
        #expect(rejected.eventId == "evt-1")
        #expect(rejected.reason == #"field "time" is not an RFC 3339 time: "\#(time)""#)
    }

    @Test(arguments: ["[1]", #""text""#, "null", "3"])
    func envelopeMustBeAnObject(_ text: String) throws {
        let rejected = try rejection(text)
        #expect(rejected.eventId == nil)
        #expect(rejected.reason.hasPrefix("an event must be a JSON object"))
    }

    @Test func dataMustBeAnObject() throws {
        let rejected = try rejection(envelope(type: "x.y", data: "[1]"))
        #expect(rejected.reason == #"field "data" must be a JSON object, got an array"#)
    }

    @Test func unknownTypeAcceptsAnyData() throws {
        let data = #"{"anything":[1,{"n":null}],"amount":true,"currency":"cny"}"#
        let event = try decode(envelope(type: "custom.alert", clientId: nil, data: data)).get()
        #expect(event.type == "custom.alert")
        #expect(event.clientId == nil)
        #expect(event.data == (try JSONParser.parse(data)))
    }

    @Test func missingDataBecomesAnEmptyObject() throws {
        let event = try decode(#"{"id":"evt-1","type":"x.y","time":"2026-11-20T10:00:00Z"}"#).get()
        #expect(event.data == .object([:]))
    }

    static let invalidData: [InvalidDataCase] = [
        .init(type: "account.transaction", data: #"{"accountId":"A1","amount":true,"direction":"credit"}"#,
              reason: "data.amount must be a decimal number or decimal string such as \"1234.50\", got true"),
        .init(type: "account.transaction", data: #"{"accountId":"A1","amount":"12abc","direction":"credit"}"#,
              reason: "data.amount must be a decimal number"),
        .init(type: "account.transaction", data: #"{"accountId":"A1","amount":null,"direction":"credit"}"#,
              reason: "data.amount is required and must not be null"),
        .init(type: "account.transaction", data: #"{"accountId":"A1","amount":1,"direction":"sideways"}"#,
              reason: "data.direction must be one of credit, debit, got \"sideways\""),
        .init(type: "account.transaction", data: #"{"accountId":"A1","amount":1,"direction":"credit","currency":"cny"}"#,
              reason: "data.currency must be an ISO 4217 code such as \"CNY\", got \"cny\""),
        .init(type: "account.transaction", data: #"{"accountId":"A1","amount":1,"direction":"credit","currency":"RMBX"}"#,
              reason: "data.currency must be an ISO 4217 code"),
        .init(type: "account.transaction", data: #"{"amount":1,"direction":"credit"}"#,
              reason: "data.accountId is required for type account.transaction"),
        .init(type: "account.transaction", data: #"{"accountId":"","amount":1,"direction":"credit"}"#,
              reason: "data.accountId must be a non-empty string, got a string"),
        .init(type: "account.transaction", data: #"{"accountId":"A1","amount":1}"#,
              reason: "data.direction is required for type account.transaction"),
        .init(type: "client.profile", data: #"{"riskLevel":7}"#, reason: "data.riskLevel must be 1–5 or C1–C5, got 7"),
        .init(type: "client.profile", data: #"{"riskLevel":"C0"}"#, reason: "data.riskLevel must be 1–5 or C1–C5"),
        .init(type: "client.profile", data: #"{"birthDate":"1990-13-01"}"#,
              reason: "data.birthDate must be a date as YYYY-MM-DD, got \"1990-13-01\""),
        .init(type: "client.profile", data: #"{"birthCalendar":"lunar"}"#,
              reason: "data.birthCalendar must be one of gregorian, chinese"),
        .init(type: "client.profile", data: #"{"segment":"vip"}"#, reason: "data.segment must be one of"),
        .init(type: "client.profile", data: #"{"tags":["a",1]}"#, reason: "data.tags must be a list of strings, got an array"),
        .init(type: "client.profile", data: #"{"marketingConsent":"yes"}"#, reason: "data.marketingConsent must be true or false"),
        .init(type: "client.profile", data: #"{"riskAssessedAt":"2026-11-20T10:00"}"#,
              reason: "data.riskAssessedAt must be a date (YYYY-MM-DD) or an RFC 3339 time"),
        .init(type: "account.balance", data: #"{"asOf":"2026/11/20","aum":1}"#, reason: "data.asOf must be a date"),
        .init(type: "account.balance", data: #"{"asOf":"2026-11-20"}"#, reason: "data.aum is required for type account.balance"),
        .init(type: "deposit.term", data: #"{"depositId":"D1","amount":1}"#,
              reason: "data.maturityDate is required for type deposit.term"),
        .init(type: "loan.account", data: #"{"loanId":"L1","overdueDays":-1}"#, reason: "data.overdueDays must be a whole number ≥ 0, got -1"),
        .init(type: "loan.account", data: #"{"loanId":"L1","overdueDays":1.5}"#, reason: "data.overdueDays must be a whole number"),
        .init(type: "loan.account", data: #"{"loanId":"L1","status":"late"}"#, reason: "data.status must be one of active, repaid, overdue"),
        .init(type: "wealth.trade", data: #"{"productId":"P1","action":"hold","amount":1}"#,
              reason: "data.action must be one of buy, redeem"),
        .init(type: "corporate.financials", data: #"{"revenue":1}"#, reason: "data.period is required"),
        .init(type: "crm.interaction", data: #"{"channel":"email"}"#, reason: "data.channel must be one of call, visit, wechat, branch"),
    ]

    @Test("known type with invalid data names the field", arguments: invalidData)
    func invalidDataIsRejected(_ testCase: InvalidDataCase) throws {
        let rejected = try rejection(envelope(type: testCase.type, data: testCase.data))
        #expect(rejected.eventId == "evt-1")
        #expect(rejected.reason.hasPrefix(testCase.reason), "reason was: \(rejected.reason)")
    }

    @Test func managerProfileRequiresManagerId() throws {
        let rejected = try rejection(envelope(type: "manager.profile", clientId: nil, data: #"{"name":"王经理"}"#))
        #expect(rejected.reason == "data.managerId is required for type manager.profile")
    }

    @Test("client-scoped types need a clientId", arguments: EventType.known.filter { $0 != EventType.managerProfile })
    func clientIdIsRequired(_ type: String) throws {
        let rejected = try rejection(envelope(type: type, clientId: nil, data: "{}"))
        #expect(rejected.eventId == "evt-1")
        #expect(rejected.reason == #"field "clientId" is required for type \#(type)"#)
    }

    @Test func nullClientIdCountsAsMissing() throws {
        let text = #"{"id":"evt-1","type":"crm.interaction","time":"2026-11-20T10:00:00Z","clientId":null}"#
        #expect(try rejection(text).reason == #"field "clientId" is required for type crm.interaction"#)
    }

    @Test func managerProfileNeedsNoClientId() throws {
        let event = try decode(envelope(type: "manager.profile", clientId: nil, data: #"{"managerId":"M1","name":"王经理"}"#)).get()
        #expect(event.clientId == nil)
        #expect(event.data["managerId"] == .string("M1"))
    }

    @Test func numericClientIdIsKeptAsItsLiteral() throws {
        let text = #"{"id":"evt-1","type":"crm.interaction","time":"2026-11-20T10:00:00Z","clientId":123}"#
        #expect(try decode(text).get().clientId == "123")
    }

    @Test(arguments: [#""clientId":"""#, #""clientId":true"#, #""clientId":{}"#])
    func clientIdMustBeANonEmptyString(_ field: String) throws {
        let text = #"{"id":"evt-1","type":"x.y","time":"2026-11-20T10:00:00Z",\#(field)}"#
        #expect(try rejection(text).reason == #"field "clientId" must be a non-empty string"#)
    }

    @Test(arguments: [#""1234.50""#, "1234.50", #"" 1234.50 ""#, "1.23450e3", #""1e3""#])
    func amountAsDecimalNumberOrString(_ amount: String) throws {
        let data = #"{"accountId":"A1","amount":\#(amount),"direction":"debit"}"#
        let event = try decode(envelope(type: "account.transaction", data: data)).get()
        let value = try #require(event.data["amount"]?.decimalValue)
        #expect(value > 0)
        #expect(event.data["amount"] == (try JSONParser.parse(amount)))
    }

    @Test func decimalStringIsExact() throws {
        let data = #"{"accountId":"A1","amount":"1234.50","direction":"debit"}"#
        let event = try decode(envelope(type: "account.transaction", data: data)).get()
        #expect(event.data["amount"]?.decimalValue == Decimal(sign: .plus, exponent: -2, significand: 123_450))
    }

    @Test(arguments: ["1.2.3", "1-2", "12e", "1e3e4", "--1", "1+"])
    func malformedDecimalStringsAreRejected(_ amount: String) throws {
        let data = #"{"accountId":"A1","amount":"\#(amount)","direction":"debit"}"#
        let result = try decode(envelope(type: "account.transaction", data: data))
        guard case .failure(let rejected) = result else {
            let value = JSONValue.string(amount).decimalValue.map { "\($0)" } ?? "nil"
            Issue.record("amount \"\(amount)\" was accepted as the decimal \(value)")
            return
        }
        #expect(rejected.reason.hasPrefix("data.amount must be a decimal number"))
    }

    @Test(arguments: ["12abc", "abc", "", " ", "1,000", "NaN", "0x10", "1 000"])
    func nonNumericDecimalStringsAreRejected(_ amount: String) throws {
        let data = #"{"accountId":"A1","amount":"\#(amount)","direction":"debit"}"#
        let rejected = try rejection(envelope(type: "account.transaction", data: data))
        #expect(rejected.reason.hasPrefix("data.amount must be a decimal number"))
    }

    @Test(arguments: [#"3"#, #""3""#, #""C3""#, #""c3""#])
    func riskLevelForms(_ level: String) throws {
        let event = try decode(envelope(type: "client.profile", data: #"{"riskLevel":\#(level)}"#)).get()
        #expect(event.data["riskLevel"].flatMap(RiskLevel.init) == RiskLevel(3))
    }

    @Test func optionalFieldsMayBeNull() throws {
        let data = #"{"name":null,"birthDate":null,"riskLevel":null,"tags":null}"#
        let event = try decode(envelope(type: "client.profile", data: data)).get()
        #expect(event.data["name"] == .null)
    }

    @Test func riskAssessedAtAcceptsADateOrATime() throws {
        for value in ["2026-11-20", "2026-11-20T10:00:00+08:00"] {
            let result = try decode(envelope(type: "client.profile", data: #"{"riskAssessedAt":"\#(value)"}"#))
            #expect(throws: Never.self) { try result.get() }
        }
    }

    /// Issue 14: one character may hold any number of combining marks; a limit in characters alone bounds nothing.
    @Test func idLengthBoundsBytesToo() throws {
        let marks = String(repeating: "\u{301}", count: 5000)
        let rejected = try rejection(#"{"id":"e\#(marks)","type":"x.y","time":"2026-11-20T10:00:00Z"}"#)
        #expect(rejected.reason.utf8.starts(with: #"field "id" must be 1 to 128 characters, got "e"#.utf8))  // "é́…": bytes
        #expect(rejected.reason.hasSuffix("…\" (10001 bytes)"))
        let widest = String(repeating: "😀", count: Event.maximumIdLength)  // 512 bytes, the most
        #expect(try decode(#"{"id":"\#(widest)","type":"x.y","time":"2026-11-20T10:00:00Z"}"#).get().id == widest)
    }

    /// Issue 14: `source`, `type` and `clientId` are keys too, limited as `id` is.
    @Test(arguments: ["source", "type", "clientId"])
    func otherIdentifiersAreLimitedToo(_ field: String) throws {
        let long = String(repeating: "x", count: Event.maximumIdLength + 1)
        var members = ["id": "evt-1", "source": "core", "type": "x.y", "clientId": "C1"]
        members[field] = long
        let text = #"{"id":"\#(members["id"] ?? "")","source":"\#(members["source"] ?? "")","type":"\#(members["type"] ?? "")","time":"2026-11-20T10:00:00Z","clientId":"\#(members["clientId"] ?? "")"}"#
        let rejected = try rejection(text)
        #expect(rejected.eventId == "evt-1")
        #expect(rejected.reason == #"field "\#(field)" must be at most 128 characters, got "\#(String(repeating: "x", count: 64))…" (129 bytes)"#)
        members[field] = String(repeating: "x", count: Event.maximumIdLength)
        let fits = #"{"id":"evt-1","source":"\#(members["source"] ?? "")","type":"\#(members["type"] ?? "")","time":"2026-11-20T10:00:00Z","clientId":"\#(members["clientId"] ?? "")"}"#
        #expect(throws: Never.self) { try decode(fits).get() }
    }

    /// Issue 14: a reason quotes at most 64 scalars of any one input, then its size: the payload kept in
    /// quarantine is capped, and the reason must not carry the input whole instead.
    @Test func reasonsQuoteInputsCutShort() throws {
        let huge = String(repeating: "k", count: 1 << 20)
        let combining = "2" + String(repeating: "\u{301}", count: 100_000)  // one character
        let lines = [
            #"{"\#(huge)":1,"\#(huge)":2}"#,  // duplicate key
            #"{"\#(huge)" 1}"#,  // no colon after the key
            #"{"id":"e1","type":"x.y","time":"\#(huge)"}"#,
            #"{"id":"e1","type":"x.y","time":"\#(combining)"}"#,
            envelope(type: "account.transaction", data: #"{"accountId":"A1","amount":"\#(huge)","direction":"debit"}"#),
            envelope(type: "account.transaction", data: #"{"accountId":"A1","amount":1,"direction":1\#(String(repeating: "0", count: 1 << 20))}"#),
            envelope(type: "client.profile", data: #"{"riskLevel":"\#(huge)"}"#),
        ]
        for (number, line) in lines.enumerated() {
            let item = Array(line.utf8).withUnsafeBufferPointer { bytes in
                EventBatch.decodeLine(bytes, number: number + 1, defaultSource: "core", decoder: NativeEventDecoder())
            }
            guard case .failure(let rejected)? = item?.result else {
                Issue.record("line \(number + 1) was not rejected")
                continue
            }
            #expect(rejected.reason.utf8.count < 400, "line \(number + 1): \(rejected.reason.prefix(300))")
            #expect(rejected.reason.contains("…") && rejected.reason.contains(" bytes)"), "line \(number + 1): \(rejected.reason.prefix(300))")
        }
    }

    @Test func excerptsShowTheStartAndTheSize() {
        #expect(EventRejection.excerpt("short") == #""short""#)
        #expect(EventRejection.excerpt("short", quoted: false) == "short")
        let long = String(repeating: "张", count: 65)
        #expect(EventRejection.excerpt(long) == "\"" + String(repeating: "张", count: 64) + "…\" (195 bytes)")
        #expect(EventRejection.excerpt(long, quoted: false) == String(repeating: "张", count: 64) + "… (195 bytes)")
        #expect(EventRejection.excerpt(String(repeating: "a", count: 64)) == "\"" + String(repeating: "a", count: 64) + "\"")
    }

    @Test func aReasonItselfIsBounded() {
        let rejected = EventRejection(eventId: String(repeating: "i", count: 200), reason: String(repeating: "r", count: 100_000))
        #expect(rejected.eventId == nil)
        #expect(rejected.reason.utf8.count < 1100)
        #expect(rejected.reason.hasSuffix("… (100000 bytes)"))
    }

    @Test func rejectionDescriptionIncludesTheEventId() {
        #expect(EventRejection(eventId: "evt-1", reason: "bad").description == #"event "evt-1": bad"#)
        #expect(EventRejection(eventId: nil, reason: "bad").description == "bad")
    }

    /// An event's reference fields share one box between copies; writing `dataText` on one copy leaves the others
    /// as they were, and identity (equality, hash) is the fields', not the box's.
    @Test func copiesShareTheirFieldsAndWritesStayLocal() {
        let original = Event(sequence: 1, id: "e1", source: "core", type: EventType.accountTransaction,
                             time: Date(timeIntervalSince1970: 1_700_000_000), clientId: "C1",
                             data: .object(["amount": .number("12.5")]))
        var copy = original
        copy.dataText = #"{"amount":12.5}"#
        copy.sequence = 2
        #expect(original.dataText == nil)
        #expect(copy.dataText == #"{"amount":12.5}"#)
        #expect(original.sequence == 1)
        var unique = Event(id: "e1", source: "core", type: "x.custom", time: original.time, clientId: nil, data: .object([:]))
        unique.dataText = "{}"
        #expect(unique.dataText == "{}")

        // Built apart with the same fields: equal, same hash; the dataText takes no part.
        let twin = Event(sequence: 2, id: "e1", source: "core", type: "account.transaction", time: original.time,
                         clientId: "C1", data: .object(["amount": .number("12.5")]))
        #expect(twin == copy)
        #expect(twin.hashValue == copy.hashValue)
        #expect(original != copy)  // the sequence differs
        var moved = original
        moved.sequence = 2
        #expect(moved == twin)
        #expect(Event(id: "e2", source: "core", type: "x", time: original.time, clientId: nil, data: .object([:]))
            != Event(id: "e3", source: "core", type: "x", time: original.time, clientId: nil, data: .object([:])))
    }

    @Test func knownTypesAreInternedAndOthersKept() throws {
        let known = try decode(envelope(type: "account.balance", data: #"{"asOf":"2026-11-20","aum":1}"#)).get()
        #expect(known.type == EventType.accountBalance)
        let custom = try decode(envelope(type: "custom.thing", data: "{}")).get()
        #expect(custom.type == "custom.thing")
        #expect(EventType.interned("x.custom") == "x.custom")
        for type in EventType.known {
            // A copy of the name built at run time comes back as the shared constant, equal to it.
            #expect(EventType.interned(String(decoding: Array(type.utf8), as: UTF8.self)) == type)
        }
    }
}
