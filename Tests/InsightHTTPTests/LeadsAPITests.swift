import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InsightCore
import InsightDelivery
import InsightStore
import Testing

private func lead(_ key: String, client: String = "C000123", manager: String = "M017", plugin: String = "birthday-care") -> Lead {
    let full = "\(plugin):\(key)"
    return Lead(id: Lead.id(forKey: full), key: full, plugin: plugin, kind: "birthday", priority: .normal,
                client: ClientReference(id: client, name: "张*", segment: "affluent"),
                manager: ManagerReference(id: manager, name: "李*", branchId: "B03"), title: "客户张*生日提醒", summary: "s",
                suggestedAction: "a", evidence: [Evidence(key: "birthDate", label: "生日", value: "11-25")], products: nil,
                dueAt: RFC3339.parse("2026-11-25T00:00:00+08:00"), createdAt: Credentials.now, sourceEvents: ["evt-1"], status: .new)
}


private func read() -> HTTPFields { bearerHeaders(Credentials.readToken) }
private func admin() -> HTTPFields { bearerHeaders(Credentials.adminToken) }

@Suite("Leads API: list, show, feedback, clients, snoozes, dead letters")
struct LeadsAPITests {
    @Test func listingPagesWithACursorThatIsStableUnderInserts() async throws {
        try await withClient { stack, client in
            try commitLeads((1...5).map { lead("C\($0):2026", client: "C\($0)") }, to: stack.database)
            let first = try await client.execute(uri: "/v1/leads?limit=2", method: .get, headers: read()) { Reply($0) }
            #expect(first.status == .ok)
            let firstIds = first["leads"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            #expect(firstIds.count == 2)
            let cursor = try #require(first["nextCursor"]?.stringValue)
            // New leads arrive between pages: the next page neither repeats nor skips.
            try commitLeads([lead("C9:2026")], to: stack.database)
            var seen = firstIds
            var next: String? = cursor
            while let page = next {
                let reply = try await client.execute(uri: "/v1/leads?limit=2&cursor=\(page)", method: .get, headers: read()) { Reply($0) }
                seen += reply["leads"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                next = reply["nextCursor"]?.stringValue
            }
            #expect(seen.count == 6 && Set(seen).count == 6, "every lead once, the one inserted meanwhile at the end")
            #expect(seen.last == lead("C9:2026").id)
            let firstLead = first["leads"]?.arrayValue?.first
            #expect(firstLead?["createdAt"]?.stringValue == "2026-11-20T10:05:00+08:00", "RFC 3339 in the bank's zone")

            let filtered = try await client.execute(uri: "/v1/leads?client=C3&status=new", method: .get, headers: read()) { Reply($0) }
            #expect(filtered["leads"]?.arrayValue?.count == 1)
            let bad = try await client.execute(uri: "/v1/leads?status=lost", method: .get, headers: read()) { Reply($0) }
            #expect(bad.status == .unprocessableContent && bad.isProblem)
            let badCursor = try await client.execute(uri: "/v1/leads?cursor=zzz", method: .get, headers: read()) { Reply($0) }
            #expect(badCursor.status == .unprocessableContent)
            let anonymous = try await client.get("/v1/leads")
            #expect(anonymous.status == .unauthorized)
        }
    }

    @Test func feedbackUpdatesTheStatusAndAnswers404And422() async throws {
        try await withClient { stack, client in
            let item = lead("C1:2026")
            try commitLeads([item], to: stack.database)
            let ok = try await client.execute(uri: "/v1/leads/\(item.id)/feedback", method: .post, headers: read(), body: ByteBuffer(
                string: #"{"outcome":"contacted","note":"called, will visit; new mobile 13912345678"}"#)) { Reply($0) }
            #expect(ok.status == .ok)
            #expect(ok["status"]?.stringValue == "contacted")
            let missing = try await client.execute(uri: "/v1/leads/ld_0000000000000000/feedback", method: .post, headers: read(),
                                                   body: ByteBuffer(string: #"{"outcome":"contacted"}"#)) { Reply($0) }
            #expect(missing.status == .notFound && missing.isProblem)
            let invalid = try await client.execute(uri: "/v1/leads/\(item.id)/feedback", method: .post, headers: read(),
                                                   body: ByteBuffer(string: #"{"outcome":"won"}"#)) { Reply($0) }
            #expect(invalid.status == .unprocessableContent && invalid.detail.contains("contacted, converted, dismissed"))
            let noUntil = try await client.execute(uri: "/v1/leads/\(item.id)/feedback", method: .post, headers: read(),
                                                   body: ByteBuffer(string: #"{"outcome":"snoozed"}"#)) { Reply($0) }
            #expect(noUntil.status == .unprocessableContent)
            let pastUntil = try await client.execute(uri: "/v1/leads/\(item.id)/feedback", method: .post, headers: read(), body: ByteBuffer(
                string: #"{"outcome":"snoozed","until":"2026-01-01T00:00:00+08:00"}"#)) { Reply($0) }
            #expect(pastUntil.status == .unprocessableContent)
            let notJSON = try await client.execute(uri: "/v1/leads/\(item.id)/feedback", method: .post, headers: read(),
                                                   body: ByteBuffer(string: "outcome=contacted")) { Reply($0) }
            #expect(notJSON.status == .badRequest)
            let wrongScope = try await client.execute(uri: "/v1/leads/\(item.id)/feedback", method: .post, headers: admin(),
                                                      body: ByteBuffer(string: #"{"outcome":"contacted"}"#)) { Reply($0) }
            #expect(wrongScope.status == .forbidden)

            let shown = try await client.execute(uri: "/v1/leads/\(item.id)", method: .get, headers: read()) { Reply($0) }
            #expect(shown["status"]?.stringValue == "contacted")
            let activity = shown["activity"]?.arrayValue ?? []
            #expect(activity.map { $0["outcome"]?.stringValue } == ["contacted"], "recorded with a timestamp")
            #expect(activity.first?["at"]?.stringValue == "2026-11-20T10:05:00+08:00")
            #expect(activity.first?["note"]?.stringValue == "called, will visit; new mobile 139****5678", "numbers in notes are masked")
        }
    }

    @Test func theClientViewIsMasked() async throws {
        try await withClient { stack, client in
            var profile = ClientProfile()
            profile.name = "张三丰"
            profile.phone = "13812345678"
            profile.idNumber = "110101199001011234"
            profile.birthDate = LocalDate(year: 1966, month: 11, day: 25)
            profile.managerId = "M017"
            var state = ClientState(id: "C000123")
            state.profile = profile
            var step = DispatchCommit()
            step.clients = [DispatchCommit.ClientUpdate(state: state, changes: [.profile])]
            try stack.database.commit(step, at: Credentials.now)
            try commitLeads([lead("C000123:2026")], to: stack.database)

            let reply = try await client.execute(uri: "/v1/clients/C000123", method: .get, headers: read()) { Reply($0) }
            #expect(reply.status == .ok)
            #expect(reply["client"]?["name"]?.stringValue == "张**")
            #expect(reply["client"]?["phone"]?.stringValue == "138****5678")
            #expect(reply["client"]?["idNumber"]?.stringValue == "110***********1234")
            #expect(reply["client"]?["birthday"]?.stringValue == "11-25")
            #expect(!reply.text.contains("13812345678") && !reply.text.contains("1966"))
            #expect(reply["openLeads"]?.arrayValue?.count == 1)
            let missing = try await client.execute(uri: "/v1/clients/C404", method: .get, headers: read()) { Reply($0) }
            #expect(missing.status == .notFound)
        }
    }

    @Test func snoozesAreCreatedListedAndEnded() async throws {
        try await withClient { _, client in
            let created = try await client.execute(uri: "/v1/snoozes", method: .post, headers: read(), body: ByteBuffer(
                string: #"{"clientId":"C1","plugin":"product-match","until":"2026-12-20T00:00:00+08:00","note":"on holiday"}"#)) { Reply($0) }
            #expect(created.status == .created)
            let id = try #require(created["id"].flatMap { $0.intValue })
            let nothing = try await client.execute(uri: "/v1/snoozes", method: .post, headers: read(),
                                                   body: ByteBuffer(string: #"{"until":"2026-12-20T00:00:00+08:00"}"#)) { Reply($0) }
            #expect(nothing.status == .unprocessableContent)
            let past = try await client.execute(uri: "/v1/snoozes", method: .post, headers: read(),
                                                body: ByteBuffer(string: #"{"clientId":"C1","until":"2026-01-01T00:00:00+08:00"}"#)) { Reply($0) }
            #expect(past.status == .unprocessableContent)
            let everyone = try await client.execute(uri: "/v1/snoozes", method: .post, headers: read(),
                                                    body: ByteBuffer(string: #"{"plugin":"product-match","until":"2026-12-20T00:00:00+08:00"}"#)) { Reply($0) }
            #expect(everyone.status == .forbidden, "a snooze for every client needs admin")
            let listed = try await client.execute(uri: "/v1/snoozes", method: .get, headers: read()) { Reply($0) }
            #expect(listed["snoozes"]?.arrayValue?.compactMap { $0["clientId"]?.stringValue } == ["C1"])
            let ended = try await client.execute(uri: "/v1/snoozes/\(id)", method: .delete, headers: read()) { Reply($0) }
            #expect(ended.status == .noContent)
            let again = try await client.execute(uri: "/v1/snoozes/\(id)", method: .delete, headers: read()) { Reply($0) }
            #expect(again.status == .notFound)
        }
    }

    @Test func deadLettersAreListedAndRetried() async throws {
        try await withClient { stack, client in
            let item = lead("C1:2026")
            try commitLeads([item], to: stack.database)
            _ = try await LeadRouting.routeNewLeads(in: stack.database, limit: 10, now: Credentials.now,
                                                    localDate: { _ in "2026-11-20" }) { _, _ in
                [DeliveryPlan(receiver: "gateway", route: 0, timing: "immediate", notBefore: Credentials.now)]
            }
            let due = try await OutboxRules.claimDue(in: stack.database, receiver: "gateway", now: Credentials.now, limit: 10,
                                                     claim: DeliveryClaim(claimant: "test", until: Credentials.now + 300))
            let delivery = try #require(due.deliveries.first)
            try await OutboxRules.recordResults([DeliveryResult(delivery: delivery, at: Credentials.now, durationMs: 12, httpStatus: 500,
                                                                   outcome: .failed(next: nil), error: "HTTP 500")], in: stack.database)
            let dead = try await client.execute(uri: "/v1/deliveries?status=dead", method: .get, headers: read()) { Reply($0) }
            #expect(dead["deliveries"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [delivery.id])
            #expect(dead["deliveries"]?.arrayValue?.first?["lastError"]?.stringValue == "HTTP 500")
            let forbidden = try await client.execute(uri: "/v1/deliveries/\(delivery.id)/retry", method: .post, headers: read()) { Reply($0) }
            #expect(forbidden.status == .forbidden)
            let retried = try await client.execute(uri: "/v1/deliveries/\(delivery.id)/retry", method: .post, headers: admin()) { Reply($0) }
            #expect(retried.status == .accepted)
            #expect(retried["status"]?.stringValue == "pending")
            let twice = try await client.execute(uri: "/v1/deliveries/\(delivery.id)/retry", method: .post, headers: admin()) { Reply($0) }
            #expect(twice.status == .conflict)
            let unknown = try await client.execute(uri: "/v1/deliveries/dl_nope/retry", method: .post, headers: admin()) { Reply($0) }
            #expect(unknown.status == .notFound)
            let noReceiver = try await client.execute(uri: "/v1/receivers/nope/enable", method: .post, headers: admin()) { Reply($0) }
            #expect(noReceiver.status == .notFound)
            let shown = try await client.execute(uri: "/v1/leads/\(item.id)", method: .get, headers: read()) { Reply($0) }
            let attempts = shown["deliveries"]?.arrayValue?.first?["attempts"]?.arrayValue ?? []
            #expect(attempts.map { $0["httpStatus"]?.intValue } == [500], "a lead shows its delivery attempts")
        }
    }
}
