import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InsightCore
import InsightStore
import Testing

private func lead(_ key: String, plugin: String, kind: String, client: String = "C000789") -> Lead {
    let full = "\(plugin):\(key)"
    return Lead(id: Lead.id(forKey: full), key: full, plugin: plugin, kind: kind, priority: .urgent,
                client: ClientReference(id: client, name: "陈**", segment: "corporate"),
                manager: ManagerReference(id: "M017", name: "李*", branchId: "B03"), title: "t", summary: "s",
                suggestedAction: "a", evidence: [], products: nil, dueAt: nil, createdAt: Credentials.now, sourceEvents: ["evt-13"],
                status: .new)
}

private func read() -> HTTPFields { bearerHeaders(Credentials.readToken) }
private func admin() -> HTTPFields { bearerHeaders(Credentials.adminToken) }
private func compliance() -> HTTPFields { bearerHeaders(Credentials.complianceToken) }

@Suite("Compliance API: AML decisions, snooze limits and powers")
struct ComplianceAPITests {
    @Test func onlyComplianceDecidesAnAMLLeadOnceWithWhoAndWhen() async throws {
        try await withClient { stack, client in
            let aml = lead("C000789:rapid", plugin: "risk-alerts", kind: "risk_rapid_in_out")
            let sale = lead("C000789:inflow", plugin: "product-match", kind: "large_inflow")
            try commitLeads([aml, sale], to: stack.database)
            let uri = "/v1/leads/\(aml.id)/decision"
            let cleared = ByteBuffer(string: #"{"decision":"cleared","note":"salary of the company, call 13912345678 to confirm"}"#)
            for (headers, status) in [(read(), HTTPResponse.Status.forbidden), (admin(), .forbidden)] {
                let refused = try await client.execute(uri: uri, method: .post, headers: headers, body: cleared) { Reply($0) }
                #expect(refused.status == status && refused.detail.contains("compliance"), "feedback and admin tokens cannot decide")
            }
            let anonymous = try await client.execute(uri: uri, method: .post, body: cleared) { Reply($0) }
            #expect(anonymous.status == .unauthorized)
            let bad = try await client.execute(uri: uri, method: .post, headers: compliance(),
                                               body: ByteBuffer(string: #"{"decision":"ignored"}"#)) { Reply($0) }
            #expect(bad.status == .unprocessableContent && bad.detail.contains("cleared, reported"))
            let noReference = try await client.execute(uri: uri, method: .post, headers: compliance(),
                                                       body: ByteBuffer(string: #"{"decision":"reported"}"#)) { Reply($0) }
            #expect(noReference.status == .unprocessableContent && noReference.detail.contains("reference"))
            let notAML = try await client.execute(uri: "/v1/leads/\(sale.id)/decision", method: .post, headers: compliance(),
                                                  body: cleared) { Reply($0) }
            #expect(notAML.status == .unprocessableContent && notAML.detail.contains("AML"))
            let missing = try await client.execute(uri: "/v1/leads/ld_0000000000000000/decision", method: .post, headers: compliance(),
                                                   body: cleared) { Reply($0) }
            #expect(missing.status == .notFound && missing.isProblem)

            let ok = try await client.execute(uri: uri, method: .post, headers: compliance(), body: cleared) { Reply($0) }
            #expect(ok.status == .ok)
            #expect(ok["decision"]?.stringValue == "cleared" && ok["actor"]?.stringValue == "api:aml-officer")
            #expect(ok["at"]?.stringValue == "2026-11-20T10:05:00+08:00")
            #expect(ok["note"]?.stringValue?.contains("13912345678") == false, "a phone in the note is masked")
            let again = try await client.execute(uri: uri, method: .post, headers: compliance(),
                                                 body: ByteBuffer(string: #"{"decision":"reported","reference":"STR-2026-001"}"#)) { Reply($0) }
            #expect(again.status == .conflict && again.detail.contains("already decided cleared"))

            let shown = try await client.execute(uri: "/v1/leads/\(aml.id)", method: .get, headers: compliance()) { Reply($0) }
            #expect(shown["decision"]?["decision"]?.stringValue == "cleared")
            let history = shown["activity"]?.arrayValue ?? []
            #expect(history.contains { $0["kind"]?.stringValue == "decision" && $0["outcome"]?.stringValue == "cleared"
                && $0["actor"]?.stringValue == "api:aml-officer" })
            let managerView = try await client.execute(uri: "/v1/leads/\(aml.id)", method: .get, headers: read()) { Reply($0) }
            #expect(managerView["decision"] == nil, "whether a report was filed is compliance's alone")
            #expect(!(managerView["activity"]?.arrayValue ?? []).contains { $0["kind"]?.stringValue == "decision" })
        }
    }

    @Test func anAMLLeadReadsNeutralOutsideCompliance() async throws {
        try await withClient { stack, client in
            var aml = lead("C000789:rapid", plugin: "risk-alerts", kind: "risk_rapid_in_out")
            aml.title = "快进快出：¥1,200,000入账后3小时内转出83.3%"
            aml.suggestedAction = "按反洗钱流程提交可疑交易复核，必要时提交可疑交易报告。"
            aml.evidence = [Evidence(key: "creditAmount", label: "入账金额", value: "¥1,200,000")]
            var state = ClientState(id: "C000789")
            state.profile.managerId = "M017"
            var step = DispatchCommit()
            step.clients = [DispatchCommit.ClientUpdate(state: state, changes: [.profile])]
            try stack.database.commit(step, at: Credentials.now)
            try commitLeads([aml], to: stack.database)
            for uri in ["/v1/leads/\(aml.id)", "/v1/leads?client=C000789", "/v1/clients/C000789"] {
                let manager = try await client.execute(uri: uri, method: .get, headers: read()) { Reply($0) }
                #expect(manager.status == .ok && manager.text.contains(aml.id), "\(uri)")
                #expect(!manager.text.contains("可疑") && !manager.text.contains("快进快出") && !manager.text.contains("1,200,000"),
                        "\(uri): \(manager.text)")
            }
            let officer = try await client.execute(uri: "/v1/leads/\(aml.id)", method: .get, headers: compliance()) { Reply($0) }
            #expect(officer["title"]?.stringValue == aml.title && officer.text.contains("可疑交易报告"))
        }
    }

    @Test func aManagerCanNeitherSnoozeNorDismissAnAMLLead() async throws {
        try await withClient { stack, client in
            let aml = lead("C000789:rapid", plugin: "risk-alerts", kind: "risk_rapid_in_out")
            let overdue = lead("C000789:overdue", plugin: "risk-alerts", kind: "risk_overdue")
            try commitLeads([aml, overdue], to: stack.database)
            for body in [#"{"outcome":"dismissed"}"#, #"{"outcome":"snoozed","until":"2026-12-01T00:00:00+08:00"}"#] {
                let refused = try await client.execute(uri: "/v1/leads/\(aml.id)/feedback", method: .post, headers: read(),
                                                       body: ByteBuffer(string: body)) { Reply($0) }
                #expect(refused.status == .forbidden && refused.detail.contains("AML verification task"), "\(body)")
                #expect(!refused.detail.contains("risk_"), "the answer names no monitoring rule")
            }
            #expect(try stack.database.lead(id: aml.id)?.status == .new)
            let contacted = try await client.execute(uri: "/v1/leads/\(aml.id)/feedback", method: .post, headers: read(),
                                                     body: ByteBuffer(string: #"{"outcome":"contacted"}"#)) { Reply($0) }
            #expect(contacted.status == .ok, "a manager may still report the verification call")
            let dismissed = try await client.execute(uri: "/v1/leads/\(overdue.id)/feedback", method: .post, headers: read(),
                                                     body: ByteBuffer(string: #"{"outcome":"dismissed"}"#)) { Reply($0) }
            #expect(dismissed.status == .ok, "other risk kinds are the manager's call")
            let byCompliance = try await client.execute(uri: "/v1/leads/\(aml.id)/feedback", method: .post, headers: compliance(),
                                                        body: ByteBuffer(string: #"{"outcome":"dismissed"}"#)) { Reply($0) }
            #expect(byCompliance.status == .ok)
            let kindSnooze = try await client.execute(uri: "/v1/snoozes", method: .post, headers: read(), body: ByteBuffer(
                string: #"{"clientId":"C000789","kind":"risk_velocity","until":"2026-12-01T00:00:00+08:00"}"#)) { Reply($0) }
            #expect(kindSnooze.status == .forbidden && kindSnooze.detail.contains("compliance"))
        }
    }

    @Test func snoozesReachAtMostMaxDaysAndOnlyTheirScopeEndsThem() async throws {
        try await withClient { _, client in
            let forever = try await client.execute(uri: "/v1/snoozes", method: .post, headers: read(), body: ByteBuffer(
                string: #"{"clientId":"C1","until":"9999-12-31T00:00:00+08:00"}"#)) { Reply($0) }
            #expect(forever.status == .unprocessableContent && forever.detail.contains("90 days"))
            let limit = try await client.execute(uri: "/v1/snoozes", method: .post, headers: read(), body: ByteBuffer(
                string: #"{"clientId":"C1","until":"2027-02-18T10:05:00+08:00"}"#)) { Reply($0) }
            #expect(limit.status == .created, "exactly 90 days ahead is allowed")
            #expect(limit["scope"]?.stringValue == "feedback")
            let feedbackOverLimit = try await client.execute(uri: "/v1/leads/ld_0000000000000000/feedback", method: .post, headers: read(),
                                                             body: ByteBuffer(string: #"{"outcome":"snoozed","until":"2027-03-01T00:00:00+08:00"}"#)) { Reply($0) }
            #expect(feedbackOverLimit.status == .unprocessableContent, "feedback snoozed obeys max_days too")

            let everyone = try await client.execute(uri: "/v1/snoozes", method: .post, headers: admin(), body: ByteBuffer(
                string: #"{"plugin":"product-match","until":"2026-12-20T00:00:00+08:00"}"#)) { Reply($0) }
            #expect(everyone.status == .created && everyone["scope"]?.stringValue == "admin")
            let adminId = try #require(everyone["id"].flatMap { $0.intValue })
            let byFeedback = try await client.execute(uri: "/v1/snoozes/\(adminId)", method: .delete, headers: read()) { Reply($0) }
            #expect(byFeedback.status == .forbidden && byFeedback.detail.contains("scope admin"),
                    "a feedback token cannot end an operator's snooze")

            let amlSnooze = try await client.execute(uri: "/v1/snoozes", method: .post, headers: compliance(), body: ByteBuffer(
                string: #"{"clientId":"C000789","kind":"risk_velocity","until":"2026-12-01T00:00:00+08:00","note":"case STR-1 open"}"#)) { Reply($0) }
            #expect(amlSnooze.status == .created && amlSnooze["scope"]?.stringValue == "compliance")
            let amlId = try #require(amlSnooze["id"].flatMap { $0.intValue })
            let managerEnds = try await client.execute(uri: "/v1/snoozes/\(amlId)", method: .delete, headers: read()) { Reply($0) }
            #expect(managerEnds.status == .forbidden)
            let complianceEnds = try await client.execute(uri: "/v1/snoozes/\(amlId)", method: .delete, headers: compliance()) { Reply($0) }
            #expect(complianceEnds.status == .noContent)
            let adminEnds = try await client.execute(uri: "/v1/snoozes/\(adminId)", method: .delete, headers: admin()) { Reply($0) }
            #expect(adminEnds.status == .noContent, "the operator ends an operator's snooze")
        }
    }
}
