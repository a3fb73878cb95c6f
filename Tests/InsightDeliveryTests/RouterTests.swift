import Foundation
import InsightCore
import InsightDelivery
import Testing


private func at(_ text: String) -> Date {
    guard let date = RFC3339.parse(text) else { preconditionFailure("bad instant \(text)") }
    return date
}

private func lead(plugin: String = "birthday-care", kind: String = "birthday", priority: LeadPriority = .normal,
                  branch: String? = "B03", segment: String? = "affluent", manager: String? = "M017") -> Lead {
    Lead(id: "ld_1", key: "\(plugin):C1:2026", plugin: plugin, kind: kind, priority: priority,
         client: ClientReference(id: "C1", name: "张*", segment: segment),
         manager: manager.map { ManagerReference(id: $0, name: "李*", branchId: branch) },
         title: "t", summary: "s", suggestedAction: "a", evidence: [], products: nil, dueAt: nil,
         createdAt: at("2026-11-20T10:00:00+08:00"), sourceEvents: [], status: .new)
}

private func window(_ start: String, _ end: String) -> Route.Window {
    Route.Window(start: LocalTime(start) ?? LocalTime(hour: 0, minute: 0), end: LocalTime(end) ?? LocalTime(hour: 0, minute: 0))
}

@Suite struct RouterTests {
    @Test func theFirstMatchingRouteWinsUnlessItContinues() {
        let routes = [
            Route(index: 0, match: .init(priorities: [.urgent]), receivers: ["gateway"]),
            Route(index: 1, match: .init(plugins: ["birthday-care"]), receivers: ["wecom"], continue: true),
            Route(index: 2, match: .init(segments: ["affluent"]), receivers: ["file"]),
            Route(index: 3, receivers: ["console"]),
        ]
        let router = Router(routes: routes, timeZone: shanghai)
        #expect(router.matchingRoutes(lead()).map(\.index) == [1, 2], "1 continues into 2; 2 stops before the catch-all")
        #expect(router.matchingRoutes(lead(priority: .urgent)).map(\.index) == [0])
        #expect(router.matchingRoutes(lead(plugin: "rules", kind: "x", segment: "mass")).map(\.index) == [3])
    }

    @Test func everyMatchFieldIsAnyOfItsValues() {
        let match = Route.Match(plugins: ["risk-alerts"], kinds: ["risk_velocity", "risk_rapid_in_out"],
                                priorities: [.high, .urgent], branches: ["B03"], segments: ["hnw", "private"])
        #expect(match.matches(lead(plugin: "risk-alerts", kind: "risk_velocity", priority: .urgent, segment: "hnw")))
        #expect(!match.matches(lead(plugin: "risk-alerts", kind: "risk_aum_drop", priority: .urgent, segment: "hnw")))
        #expect(!match.matches(lead(plugin: "risk-alerts", kind: "risk_velocity", priority: .normal, segment: "hnw")))
        #expect(!match.matches(lead(plugin: "risk-alerts", kind: "risk_velocity", priority: .urgent, branch: "B04", segment: "hnw")))
        #expect(!match.matches(lead(plugin: "risk-alerts", kind: "risk_velocity", priority: .urgent, segment: nil)),
                "a lead without the field does not match a condition on it")
        #expect(Route.Match().matches(lead(segment: nil, manager: nil)), "an empty match takes everything")
    }

    @Test func quietHoursHoldNonUrgentLeadsUntilTheyEnd() {
        let router = Router(routes: [Route(index: 0, receivers: ["wecom"], quietHours: window("21:00", "08:00"))], timeZone: shanghai)
        let late = router.route(lead(), at: at("2026-11-20T22:15:00+08:00"))
        #expect(late.map(\.timing) == [.afterQuietHours])
        #expect(late.map(\.notBefore) == [at("2026-11-21T08:00:00+08:00")])
        let early = router.route(lead(), at: at("2026-11-21T06:00:00+08:00"))
        #expect(early.map(\.notBefore) == [at("2026-11-21T08:00:00+08:00")], "after midnight the window ends the same morning")
        let day = router.route(lead(), at: at("2026-11-21T08:00:00+08:00"))
        #expect(day.map(\.timing) == [.immediate], "the window's end is outside it")
        let urgent = router.route(lead(priority: .urgent), at: at("2026-11-20T23:59:00+08:00"))
        #expect(urgent.map(\.timing) == [.immediate] && urgent.map(\.notBefore) == [at("2026-11-20T23:59:00+08:00")])
    }

    @Test func digestRoutesWaitForTheNextDigestTime() {
        let route = Route(index: 0, receivers: ["wecom"], mode: .digest, digestAt: LocalTime("17:30"))
        let router = Router(routes: [route], timeZone: shanghai)
        #expect(router.route(lead(), at: at("2026-11-20T10:00:00+08:00")).map(\.notBefore) == [at("2026-11-20T17:30:00+08:00")])
        #expect(router.route(lead(), at: at("2026-11-20T17:30:00+08:00")).map(\.notBefore) == [at("2026-11-21T17:30:00+08:00")])
        #expect(router.route(lead(), at: at("2026-11-20T10:00:00+08:00")).map(\.inDigest) == [true])
        #expect(router.route(lead(priority: .urgent), at: at("2026-11-20T10:00:00+08:00")).map(\.timing) == [.immediate])
    }

    @Test func leadsOverTheDailyCapMoveToTheNextDigestAndAreNeverDropped() {
        let capped = Route(index: 0, receivers: ["wecom"], maxPerManagerPerDay: 2)
        let router = Router(routes: [capped], timeZone: shanghai)
        let now = at("2026-11-20T10:00:00+08:00")
        #expect(router.route(lead(), at: now, sentToday: [0: 1]).map(\.timing) == [.immediate])
        let over = router.route(lead(), at: now, sentToday: [0: 2])
        #expect(over.map(\.timing) == [.overCap])
        #expect(over.map(\.notBefore) == [at("2026-11-21T08:30:00+08:00")], "no digest_at: the next morning's digest")
        let withDigest = Router(routes: [Route(index: 0, receivers: ["wecom"], digestAt: LocalTime("17:30"), maxPerManagerPerDay: 2)],
                                timeZone: shanghai)
        #expect(withDigest.route(lead(), at: now, sentToday: [0: 5]).map(\.notBefore) == [at("2026-11-20T17:30:00+08:00")])
        #expect(router.route(lead(priority: .urgent), at: now, sentToday: [0: 9]).map(\.timing) == [.immediate],
                "urgent leads are never capped")
    }

    @Test func escalationAppliesToHighAndUrgentLeadsOnly() {
        let route = Route(index: 0, receivers: ["wecom"], fallback: "console", escalateAfter: 3600, escalation: ["team-lead"])
        let router = Router(routes: [route], timeZone: shanghai)
        let now = at("2026-11-20T10:00:00+08:00")
        let high = router.route(lead(priority: .high), at: now)
        #expect(high.map(\.escalateAt) == [at("2026-11-20T11:00:00+08:00")])
        #expect(high.map(\.escalation) == [["team-lead"]])
        #expect(high.map(\.fallback) == ["console"])
        #expect(router.route(lead(priority: .normal), at: now).map(\.escalateAt) == [nil])
    }

    @Test func aLeadWithoutAManagerGoesToTheUnassignedQueue() {
        let router = Router(routes: [Route(index: 0, receivers: ["wecom"])], timeZone: shanghai, unassigned: ["branch-queue"])
        let deliveries = router.route(lead(manager: nil), at: at("2026-11-20T10:00:00+08:00"))
        #expect(deliveries.map(\.receiver) == ["branch-queue"])
        #expect(router.route(lead(), at: at("2026-11-20T10:00:00+08:00")).map(\.receiver) == ["wecom"])
    }

    @Test func eachReceiverOfARouteGetsADelivery() {
        let router = Router(routes: [Route(index: 0, receivers: ["gateway", "wecom"])], timeZone: shanghai)
        #expect(router.route(lead(), at: at("2026-11-20T10:00:00+08:00")).map(\.receiver) == ["gateway", "wecom"])
    }

    @Test func theCapCountsTheDayALeadGoesOutNotTheDayItWasRouted() {
        let route = Route(index: 0, receivers: ["wecom"], quietHours: window("21:00", "08:00"), maxPerManagerPerDay: 1)
        let router = Router(routes: [route], timeZone: shanghai)
        let evening = at("2026-11-20T22:30:00+08:00")
        // The evening's quota is used up, but the lead goes tomorrow morning, whose quota is free.
        let held = router.route(lead(), at: evening, sent: { _, day in day.description == "2026-11-20" ? 1 : 0 })
        #expect(held.map(\.timing) == [.afterQuietHours])
        #expect(held.map(\.notBefore) == [at("2026-11-21T08:00:00+08:00")])
        // Tomorrow's quota is used up: the lead waits for the digest after it.
        let over = router.route(lead(), at: evening, sent: { _, day in day.description == "2026-11-21" ? 1 : 0 })
        #expect(over.map(\.timing) == [.overCap])
        #expect(over.map(\.notBefore) == [at("2026-11-22T08:30:00+08:00")])
    }
}
