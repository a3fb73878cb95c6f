import Foundation
import InsightCore
import InsightDaemon
import InsightTesting
import Testing

/// `insightd routes test`: what a lead would do, from the real config loader and router.
@Suite struct RoutesCommandTests {
    static let config = """
        plugins_dir: plugins
        timezone: Asia/Shanghai
        receivers:
          - {name: gateway, kind: webhook, url: "https://gw.example/leads"}
          - {name: wecom, kind: wecom, url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K"}
          - {name: team-lead, kind: console}
          - {name: branch-queue, kind: console}
        routes:
          - {match: {priority: [urgent]}, receivers: [gateway], fallback: branch-queue, escalate_after: 30m, escalation: [team-lead]}
          - {match: {plugin: [birthday-care]}, receivers: [wecom], mode: digest, digest_at: "08:30"}
          - {match: {}, receivers: [gateway], quiet_hours: "21:00-08:00", max_per_manager_per_day: 5}
        delivery: {unassigned: [branch-queue]}
        """

    func run(_ lead: String, at: String, sentToday: Int = 0, open: [String] = [], config: String = Self.config) throws -> (Int32, String) {
        let fixture = ConfigFixture(main: config)
        let path = fixture.directory.write("lead.json", lead)
        let openPaths = open.enumerated().map { fixture.directory.write("open-\($0.offset).json", $0.element) }
        return Commands.routesTest(configPath: fixture.mainPath, leadPath: path, at: at, sentToday: sentToday, openPaths: openPaths)
    }

    @Test func theComplianceQueueNeedsReceiversOfItsOwn() throws {
        let shared = Self.config.replacingOccurrences(of: "delivery: {unassigned: [branch-queue]}",
                                                      with: "delivery: {unassigned: [branch-queue], compliance: [team-lead]}")
        let error = ConfigFixture(main: shared).firstError()
        #expect(error?.contains("delivery.compliance[0]: team-lead is also a route's (or the unassigned queue's) receiver") == true,
                "\(error ?? "no error")")
    }

    @Test func inhibitionAndTheComplianceQueueAreExplained() throws {
        let config = Self.config.replacingOccurrences(of: "  - {name: branch-queue, kind: console}", with: """
              - {name: branch-queue, kind: console}
              - {name: aml-team, kind: console}
            """).replacingOccurrences(of: "delivery: {unassigned: [branch-queue]}", with: """
            delivery: {unassigned: [branch-queue], compliance: [aml-team]}
            inhibit:
              - {source: {kind: [risk_rapid_in_out]}, target: {plugin: [product-match]}, equal: [client], for: 30d}
              - {source: {kind: [risk_rapid_in_out]}, target: {plugin: [rules], tags: [marketing]}}
            """)
        let aml = #"{"id":"ld_aml","plugin":"risk-alerts","kind":"risk_rapid_in_out","priority":"urgent","client":{"id":"C000789"},"manager":{"id":"M017"}}"#
        let sale = #"{"plugin":"product-match","kind":"product_match","client":{"id":"C000789"},"manager":{"id":"M017"}}"#
        let held = try run(sale, at: "2026-11-20T12:00:00+08:00", open: [aml], config: config)
        #expect(held.0 == 0)
        #expect(held.1.contains("inhibited by ld_aml (risk_rapid_in_out), inhibit rule 0 for 30d after it or until compliance decides it"))
        #expect(!held.1.contains("→ "), "an inhibited lead goes nowhere")
        let free = try run(sale, at: "2026-11-20T12:00:00+08:00", config: config)
        #expect(free.1.contains("an inhibit rule targets this lead") && free.1.contains("(give one with --open)"))
        #expect(free.1.contains("→ gateway"))
        let otherClient = try run(sale.replacingOccurrences(of: "C000789", with: "C1"), at: "2026-11-20T12:00:00+08:00",
                                  open: [aml], config: config)
        #expect(otherClient.1.contains("→ gateway") && !otherClient.1.contains("inhibited by"))
        let marketing = try run(#"{"plugin":"rules","kind":"large_inflow","tags":["marketing"],"client":{"id":"C000789"},"manager":{"id":"M017"}}"#,
                                at: "2026-11-20T12:00:00+08:00", open: [aml], config: config)
        #expect(marketing.1.contains("inhibit rule 1 or until compliance decides it"))

        let alert = try run(aml, at: "2026-11-20T12:00:00+08:00", config: config)
        #expect(alert.1.contains("AML kind: in full to the compliance queue (aml-team)"))
        #expect(alert.1.contains("→ aml-team: lead, at once, in full (compliance queue)"))
        #expect(alert.1.contains("aml_manager_notice neutral"))
        #expect(alert.1.contains("→ gateway: lead, at once"))
        let silent = try run(aml, at: "2026-11-20T12:00:00+08:00",
                             config: config.replacingOccurrences(of: "compliance: [aml-team]}", with: "compliance: [aml-team], aml_manager_notice: none}"))
        #expect(silent.1.contains("aml_manager_notice none: the manager's routes get nothing"))
        #expect(!silent.1.contains("→ gateway"))
    }

    @Test func urgentLeadsGoAtOnceWithFallbackAndEscalation() throws {
        let (status, output) = try run(#"{"plugin":"risk-alerts","kind":"risk_large_transaction","priority":"urgent","manager":{"id":"M017"}}"#,
                                       at: "2026-11-20T23:00:00+08:00")
        #expect(status == 0)
        #expect(output.contains("route 0 matches {priority: [urgent]}"))
        #expect(output.contains("→ gateway: lead, at once; fallback branch-queue when retries run out"))
        #expect(output.contains("→ team-lead: escalation, if nobody acknowledges it by 2026-11-20T23:30:00+08:00"))
    }

    @Test func quietHoursDigestsAndTheCapShowWhen() throws {
        let late = try run(#"{"plugin":"loan-renewal","kind":"loan_renewal","manager":{"id":"M017"}}"#, at: "2026-11-20T22:00:00+08:00")
        #expect(late.1.contains("→ gateway: lead, held by quiet hours until 2026-11-21T08:00:00+08:00"))
        let birthday = try run(#"{"plugin":"birthday-care","kind":"birthday","manager":{"id":"M017"}}"#, at: "2026-11-20T10:00:00+08:00")
        #expect(birthday.1.contains("route 1 matches {plugin: [birthday-care]}"))
        #expect(birthday.1.contains("→ wecom: lead, in the manager's digest at 2026-11-21T08:30:00+08:00"))
        let capped = try run(#"{"plugin":"loan-renewal","kind":"loan_renewal","manager":{"id":"M017"}}"#, at: "2026-11-20T10:00:00+08:00",
                             sentToday: 5)
        #expect(capped.1.contains("over max_per_manager_per_day: in the digest at 2026-11-21T08:30:00+08:00"))
    }

    @Test func noManagerGoesToTheUnassignedQueueAndBadInputIsExplained() throws {
        let orphan = try run(#"{"plugin":"rules","kind":"large_inflow"}"#, at: "2026-11-20T10:00:00+08:00")
        #expect(orphan.1.contains("no manager: goes to delivery.unassigned"))
        #expect(orphan.1.contains("→ branch-queue: lead, at once"))
        let bad = try run(#"{"plugin":"rules","kind":"x","priority":"asap"}"#, at: "2026-11-20T10:00:00+08:00")
        #expect(bad.0 == 1)
        #expect(bad.1.hasSuffix("priority must be low, normal, high or urgent, got \"asap\""))
        let notJSON = try run("{", at: "2026-11-20T10:00:00+08:00")
        #expect(notJSON.0 == 1 && notJSON.1.contains("not valid JSON"))
    }
}
