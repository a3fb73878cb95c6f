import Foundation
import InsightCore
import InsightStore
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Turns the router's decisions into outbox rows (pure planning; the store writes them in one transaction
/// with the router's position).
public struct DeliveryPlanner: Sendable {
    public let router: Router
    public let compliance: CompliancePolicy
    /// `delivery.group_window` in seconds: a client's leads due for one receiver within it go as one message.
    public let groupWindow: TimeInterval

    /// The route index of deliveries to the compliance queue (`delivery.compliance`).
    public static let complianceRoute = Outbox.complianceRoute

    public init(router: Router, compliance: CompliancePolicy = CompliancePolicy(), groupWindow: TimeInterval = 0) {
        self.router = router
        self.compliance = compliance
        self.groupWindow = groupWindow
    }

    /// The compliance policy as the store applies it: inhibit rules, and the AML kinds a manager's snooze
    /// never holds back.
    public var complianceHooks: ComplianceHooks {
        let policy = compliance
        return ComplianceHooks(
            protectedKinds: policy.amlKinds, sources: policy.sources, mayInhibit: { policy.mayInhibit($0) },
            inhibition: { lead, candidates, now in
                policy.inhibition(of: lead, among: candidates, at: now).map {
                    // The note names the rule, not the AML kind: a lead's history is read outside compliance too.
                    InhibitDecision(sourceId: $0.sourceId, note: "inhibit[\($0.rule)]")
                }
            })
    }

    /// - Parameter sent: leads a route (by index) sends alone to this lead's manager on a local day.
    public func plans(for lead: Lead, at now: Date, sent: (Int, LocalDate) -> Int) -> [DeliveryPlan] {
        // An AML lead goes to the compliance queue in full, at once; the manager's routes carry a neutral task
        // (rendered at send time), or nothing with `aml_manager_notice: none`.
        let aml = compliance.isAML(lead)
        let queue = aml ? compliance.receivers.map {
            DeliveryPlan(receiver: $0, route: Self.complianceRoute, purpose: .lead, timing: "compliance", notBefore: now)
        } : []
        if aml, compliance.managerNotice == .none { return queue }
        let routed = router.route(lead, at: now, sent: sent)
        var plans = queue + routed.map { delivery in
            DeliveryPlan(receiver: delivery.receiver, route: delivery.route, purpose: .lead,
                         timing: delivery.route < 0 ? "unassigned" : delivery.timing.rawValue,
                         notBefore: delivery.notBefore, inDigest: delivery.inDigest,
                         countsAgainstCap: delivery.route >= 0 && !delivery.inDigest, fallback: delivery.fallback)
        }
        var escalations = Set<String>()
        for delivery in routed {
            guard let at = delivery.escalateAt else { continue }
            for receiver in delivery.escalation where escalations.insert("\(delivery.route)|\(receiver)").inserted {
                plans.append(DeliveryPlan(receiver: receiver, route: delivery.route, purpose: .escalation, timing: "escalation",
                                          notBefore: at))
            }
        }
        return plans
    }
}

/// The outbox worker: routes new leads from the ledger into the outbox, then runs one lane per receiver that
/// sends its due deliveries (at most `concurrency` at once), records every attempt and schedules retries.
/// A slow or dead receiver fills only its own lane. Everything it knows is in the database: after a crash it
/// picks up exactly where the rows say (a send that was in flight is sent again, with the same webhook-id).
public final class OutboxService: Service, Sendable {
    public struct Settings: Sendable {
        public var policy: RetryPolicy
        /// How often an idle lane or the router looks at the database.
        public var pollInterval: Duration
        /// Leads routed per transaction.
        public var routingBatch: Int
        /// Deliveries a lane takes per round, per unit of its concurrency.
        public var roundPerSlot: Int
        /// This instance's name in the rows it takes to send (``DeliveryClaim``): unique among the instances sharing a
        /// store, and the same across its restarts (its first round ends the claims its previous run left, so that a
        /// send cut short by a crash goes again at once, not when the claim passes).
        public var instance: String
        /// How long rows taken to send stay this instance's: past it, another instance may send them (again, with the
        /// same delivery id). At least a round's worst case: `roundPerSlot` attempts one after another, each up to the
        /// receiver's timeout.
        public var claimTimeout: Duration

        public init(policy: RetryPolicy = RetryPolicy(), pollInterval: Duration = .milliseconds(500), routingBatch: Int = 2000,
                    roundPerSlot: Int = 8, instance: String = OutboxService.defaultInstance,
                    claimTimeout: Duration = .seconds(300)) {
            self.policy = policy
            self.pollInterval = pollInterval
            self.routingBatch = routingBatch
            self.roundPerSlot = roundPerSlot
            self.instance = instance
            self.claimTimeout = claimTimeout
        }
    }

    /// The host's name: one instance per host (several on one host each need a name of their own).
    public static let defaultInstance = ProcessInfo.processInfo.hostName

    let database: any OutboxStore
    /// Routes and the retry policy: replaced on SIGHUP (``replaceRouting(planner:policy:)``).
    private let routing: Mutex<(planner: DeliveryPlanner, policy: RetryPolicy)>
    let receivers: [String: any Receiver]
    let settings: Settings
    let timeSource: any TimeSource
    let logger: Logger
    /// New leads in the ledger (the dispatcher or a tick made some).
    public let newLeads = WakeSignal()
    let lanes: [String: WakeSignal]
    /// Each rate-limited receiver's recent attempt times.
    let rates: [String: RateWindow]
    let heartbeat: (@Sendable () -> Void)?
    let metrics: any MetricsFactory
    /// Ending the claims this instance's previous run left (``releasePreviousClaims()``): one task, which every lane's
    /// first round waits for.
    private let previousClaims = Mutex<Task<Void, any Error>?>(nil)
    /// When this run started: each of its claims ends after `started + claimTimeout`, each of its previous run's before.
    private let started: Date
    /// How often the conversion and outbox-depth gauges are refreshed.
    static let gaugeInterval: TimeInterval = 30

    public init(database: any OutboxStore, planner: DeliveryPlanner, receivers: [any Receiver], settings: Settings = Settings(),
                timeSource: any TimeSource = SystemTimeSource(), logger: Logger, heartbeat: (@Sendable () -> Void)? = nil,
                metrics: any MetricsFactory = MetricsSystem.factory) {
        self.database = database
        started = timeSource.now()
        routing = Mutex((planner, settings.policy))
        self.receivers = Dictionary(receivers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.settings = settings
        self.timeSource = timeSource
        self.logger = logger
        self.heartbeat = heartbeat
        self.metrics = metrics
        lanes = Dictionary(receivers.map { ($0.name, WakeSignal()) }, uniquingKeysWith: { first, _ in first })
        rates = Dictionary(receivers.compactMap { receiver in receiver.maxPerMinute.map { (receiver.name, RateWindow(perMinute: $0)) } },
                           uniquingKeysWith: { first, _ in first })
    }

    /// The routes and retry policy new decisions use; a reload swaps them (rows already in the outbox keep the
    /// decision they were made with).
    public var planner: DeliveryPlanner { routing.withLock { $0.planner } }
    public var policy: RetryPolicy { routing.withLock { $0.policy } }

    public func replaceRouting(planner: DeliveryPlanner, policy: RetryPolicy) {
        routing.withLock { $0 = (planner, policy) }
        newLeads.wake()
    }

    /// Makes the lanes look at the outbox now (after an operator retried or re-enabled something).
    public func wakeLanes() {
        for lane in lanes.values { lane.wake() }
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.routeLoop() }
            for receiver in self.receivers.values {
                group.addTask { await self.lane(receiver) }
            }
        }
        logger.info("outbox stopped")
    }

    // MARK: - Routing

    /// Routes new leads until there are none, then waits for more.
    func routeLoop() async {
        var failures = 0
        var gaugesAt = Date.distantPast
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let pass = try await routeOnce()
                failures = 0
                heartbeat?()
                if Date().timeIntervalSince(gaugesAt) >= Self.gaugeInterval {
                    gaugesAt = Date()
                    try await publishGauges()
                }
                if pass.leads < settings.routingBatch {
                    await cancelWhenGracefulShutdown { await self.newLeads.wait(timeout: self.settings.pollInterval) }
                }
            } catch {
                failures += 1
                logger.error("routing leads failed; retrying", metadata: ["error": "\(error)", "failures": "\(failures)"])
                let backoff = Duration.milliseconds(min(30_000, 250 << min(failures, 7)))
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: backoff) }
            }
        }
    }

    /// One routing transaction; wakes the lanes that got rows.
    @discardableResult
    public func routeOnce() async throws -> RoutingPass {
        let planner = self.planner
        let timeZone = planner.router.timeZone
        let now = timeSource.now()
        let pass = try await LeadRouting.routeNewLeads(
            in: database, limit: settings.routingBatch, now: now, localDate: { LocalDate($0, in: timeZone).description },
            compliance: planner.complianceHooks, groupWindowMs: Int64(planner.groupWindow * 1000), decide: { lead, sent in planner.plans(for: lead, at: now, sent: { route, day in sent(route, day.description) }) })
        if pass.leads > 0 {
            logger.debug("leads routed", metadata: [
                "leads": "\(pass.leads)", "deliveries": "\(pass.deliveries)", "suppressed": "\(pass.suppressed)",
                "inhibited": "\(pass.inhibited)",
            ])
            Counter(label: "insightd_leads_routed_total", factory: metrics).increment(by: pass.leads)
            Counter(label: "insightd_leads_suppressed_total", factory: metrics).increment(by: pass.suppressed)
            Counter(label: "insightd_leads_inhibited_total", factory: metrics).increment(by: pass.inhibited)
        }
        for receiver in pass.receivers { lanes[receiver]?.wake() }
        return pass
    }

    /// Per-plugin conversion counts (`insightd_plugin_leads{plugin, stage}`: leads, notified, contacted,
    /// converted, dismissed, suppressed), and the outbox's depth per receiver and status with the oldest
    /// pending delivery's age.
    public func publishGauges() async throws {
        for counts in try await database.conversionCounts() {
            let stages = [("leads", counts.leads), ("notified", counts.notified), ("contacted", counts.contacted),
                          ("converted", counts.converted), ("dismissed", counts.dismissed), ("suppressed", counts.suppressed),
                          ("inhibited", counts.inhibited)]
            for (stage, value) in stages {
                Gauge(label: "insightd_plugin_leads", dimensions: [("plugin", counts.plugin), ("stage", stage)], factory: metrics)
                    .record(value)
            }
        }
        let now = timeSource.now()
        var oldest: [String: Int64] = [:]
        var depth: [String: [DeliveryStatus: Int]] = [:]
        for row in try await database.outboxDepth() {
            depth[row.receiver, default: [:]][row.status] = row.count
            if row.status == .pending, let due = row.oldestMs { oldest[row.receiver] = due }
        }
        // Every status of every receiver, zeros included: a queue that drained must read 0, not its last depth.
        for receiver in Set(receivers.keys).union(depth.keys) {
            for status in DeliveryStatus.allCases {
                Gauge(label: "insightd_outbox_deliveries", dimensions: [("receiver", receiver), ("status", status.rawValue)],
                      factory: metrics).record(depth[receiver]?[status] ?? 0)
            }
        }
        for receiver in receivers.keys {
            let age = oldest[receiver].map { max(0, now.timeIntervalSince(Date(timeIntervalSince1970: Double($0) / 1000))) } ?? 0
            Gauge(label: "insightd_outbox_oldest_pending_seconds", dimensions: [("receiver", receiver)], factory: metrics).record(age)
        }
    }

    // MARK: - Lanes

    func lane(_ receiver: any Receiver) async {
        var failures = 0
        let wake = lanes[receiver.name] ?? WakeSignal()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let sent = try await sendDue(receiver)
                failures = 0
                if sent == 0 {
                    let now = timeSource.now()
                    var timeout = settings.pollInterval
                    if let next = try await database.nextDue(receiver: receiver.name) {
                        // Not due yet, or due but over the receiver's rate: wait until it may go.
                        let wake = next > now ? next : rates[receiver.name]?.nextFree(at: now)
                        if let wake {
                            timeout = min(timeout, .milliseconds(Int64(wake.timeIntervalSince(now) * 1000) + 1))
                        }
                    }
                    let wait = timeout
                    await cancelWhenGracefulShutdown { await wake.wait(timeout: wait) }
                }
            } catch {
                failures += 1
                logger.error("outbox lane failed; retrying", metadata: [
                    "receiver": "\(receiver.name)", "error": "\(error)", "failures": "\(failures)",
                ])
                let backoff = Duration.milliseconds(min(30_000, 250 << min(failures, 7)))
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: backoff) }
            }
        }
    }

    /// Sends one round of the receiver's due deliveries and records the attempts. Returns how many it tried.
    @discardableResult
    public func sendDue(_ receiver: any Receiver) async throws -> Int {
        try await releasePreviousClaims()
        let now = timeSource.now()
        // A read first: an idle lane must not take the writer away from the dispatcher.
        guard let next = try await database.nextDue(receiver: receiver.name), next <= now else { return 0 }
        var limit = receiver.concurrency * settings.roundPerSlot
        if let rate = rates[receiver.name] {
            limit = min(limit, rate.available(at: now))
            guard limit > 0 else { return 0 }
        }
        let claim = DeliveryClaim(claimant: settings.instance, until: now.addingTimeInterval(settings.claimTimeout.timeInterval))
        let due = try await OutboxRules.claimDue(in: database, receiver: receiver.name, now: now, limit: limit,
                                                 compliance: planner.complianceHooks, group: planner.groupWindow > 0,
                                                 claim: claim)
        rates[receiver.name]?.record(due.deliveries.count, at: now)
        guard !due.deliveries.isEmpty else { return 0 }
        let results = await withTaskGroup(of: DeliveryResult.self, returning: [DeliveryResult].self) { group in
            var results: [DeliveryResult] = []
            var pending = due.deliveries[...]
            for _ in 0..<min(receiver.concurrency, pending.count) {
                guard let delivery = pending.popFirst() else { break }
                group.addTask { await self.attempt(delivery, due: due, receiver: receiver) }
            }
            while let result = await group.next() {
                results.append(result)
                if let delivery = pending.popFirst() {
                    group.addTask { await self.attempt(delivery, due: due, receiver: receiver) }
                }
            }
            return results
        }
        let woken = try await OutboxRules.recordResults(results, in: database)
        for name in woken { lanes[name]?.wake() }
        return results.count
    }

    /// Ends the claims this instance's previous run left (it crashed or was killed while sending), once per run, before
    /// any lane's first round: those rows go again now, alone, with their own delivery ids. Only claims ending before
    /// `started + claimTimeout` are its previous run's: this run's end later, so a lane's round is never released under
    /// it.
    func releasePreviousClaims() async throws {
        let task = previousClaims.withLock { task in
            if let task { return task }
            let instance = settings.instance, database = self.database, logger = self.logger
            // Strictly before: this run's first claim, made at `started` at the earliest, ends at `started + claimTimeout`.
            let endingBy = started.addingTimeInterval(settings.claimTimeout.timeInterval)
            let created = Task<Void, any Error> {
                let released = try await database.outboxTransaction { try $0.releaseClaims(of: instance, endingBy: endingBy) }
                if released > 0 {
                    logger.notice("outbox: sending again what this instance was sending when it stopped", metadata: [
                        "deliveries": "\(released)", "instance": "\(instance)",
                    ])
                }
            }
            task = created
            return created
        }
        do {
            try await task.value
        } catch {
            // Tried again at the next round.
            previousClaims.withLock { if $0 == task { $0 = nil } }
            throw error
        }
    }

    /// Statuses that make a waiting message pointless.
    static let settledStatuses: Set<LeadStatus> = [.contacted, .converted, .dismissed, .expired, .suppressed]

    private func attempt(_ delivery: OutboxDelivery, due: DueDeliveries, receiver: any Receiver) async -> DeliveryResult {
        let now = timeSource.now()
        var leads = delivery.leadIds.compactMap { due.leads[$0] }
        guard !leads.isEmpty else {
            return DeliveryResult(delivery: delivery, at: now, durationMs: 0, httpStatus: nil, outcome: .cancelled,
                                  error: "its lead is no longer in the ledger")
        }
        if delivery.purpose == .escalation, leads.allSatisfy({ due.acknowledged.contains($0.id) }) {
            return DeliveryResult(delivery: delivery, at: now, durationMs: 0, httpStatus: nil, outcome: .cancelled,
                                  error: "acknowledged before the escalation was due")
        }
        // A lead the manager already acted on while its message waited (quiet hours, a digest, retries) is not
        // sent any more; a digest goes with the rest. The compliance queue gets an AML lead whatever the manager
        // did with the neutral task; only a compliance snooze holds it back there.
        let toCompliance = delivery.route == DeliveryPlanner.complianceRoute
        func settled(_ lead: Lead) -> Bool {
            toCompliance ? lead.status == .suppressed : Self.settledStatuses.contains(lead.status)
        }
        let dropped = leads.filter(settled)
        let withheld = leads.filter { due.withheld[$0.id] != nil }
        if !dropped.isEmpty || !withheld.isEmpty {
            leads.removeAll { settled($0) || due.withheld[$0.id] != nil }
            if leads.isEmpty {
                let reasons = dropped.map(\.status.rawValue) + withheld.compactMap { due.withheld[$0.id].map { "inhibitedBy \($0)" } }
                return DeliveryResult(delivery: delivery, at: now, durationMs: 0, httpStatus: nil, outcome: .cancelled,
                                      error: "already \(reasons.joined(separator: ", ")) before it went out")
            }
        }
        let sentLeadIds = dropped.isEmpty && withheld.isEmpty ? nil : leads.map(\.id)
        // AML leads in full to the compliance queue only; every other receiver shows the neutral task.
        leads = planner.compliance.shown(leads, to: receiver.name)
        let started = ContinuousClock.now
        let outcome = await receiver.send(OutboundMessage(delivery: delivery, leads: leads, manager: due.managers[delivery.managerId]),
                                          at: now)
        let elapsed = ContinuousClock.now - started
        let durationMs = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        let finished = timeSource.now()
        let dimensions = [("receiver", receiver.name)]
        Timer(label: "insightd_delivery_duration_seconds", dimensions: dimensions, factory: metrics).recordNanoseconds(Int64(durationMs) * 1_000_000)
        let attempt = delivery.attempts + 1
        var metadata: Logger.Metadata = [
            "receiver": "\(receiver.name)", "delivery.id": "\(delivery.id)", "delivery.attempt": "\(attempt)",
            "delivery.purpose": "\(delivery.purpose.rawValue)",
        ]
        switch outcome {
        case .delivered(let status):
            Counter(label: "insightd_deliveries_total", dimensions: dimensions + [("outcome", "sent")], factory: metrics).increment()
            return DeliveryResult(delivery: delivery, at: finished, durationMs: durationMs, httpStatus: status, outcome: .sent, error: nil,
                                  sentLeadIds: sentLeadIds)
        case .failed(let status, let error, let retryAfter):
            let next = policy.nextAttempt(afterFailedAttempts: attempt, at: finished, retryAfter: retryAfter)
            metadata["error"] = "\(error)"
            if let next {
                Counter(label: "insightd_deliveries_total", dimensions: dimensions + [("outcome", "failed")], factory: metrics).increment()
                metadata["retry.at"] = "\(RFC3339.format(next, timeZone: planner.router.timeZone))"
                logger.warning("delivery failed; will retry", metadata: metadata)
            } else {
                Counter(label: "insightd_deliveries_total", dimensions: dimensions + [("outcome", "dead")], factory: metrics).increment()
                metadata["fallback"] = "\(delivery.fallback ?? "none")"
                logger.error("delivery dead: retries exhausted; see GET /v1/deliveries?status=dead", metadata: metadata)
            }
            return DeliveryResult(delivery: delivery, at: finished, durationMs: durationMs, httpStatus: status,
                                  outcome: .failed(next: next), error: error)
        case .gone(let error):
            Counter(label: "insightd_deliveries_total", dimensions: dimensions + [("outcome", "gone")], factory: metrics).increment()
            metadata["manager.id"] = "\(delivery.managerId)"
            metadata["error"] = "\(error)"
            logger.error("receiver target answered 410 Gone: disabled until re-enabled (POST /v1/receivers/{name}/enable)",
                         metadata: metadata)
            return DeliveryResult(delivery: delivery, at: finished, durationMs: durationMs, httpStatus: 410, outcome: .gone,
                                  error: error)
        }
    }
}

/// A sliding one-minute window of attempt times, for a receiver's `max_per_minute`: a chat robot that allows
/// 20 messages a minute gets 20, and the rest wait their turn (no attempt is spent on a refusal).
final class RateWindow: Sendable {
    let perMinute: Int
    private let sent = Mutex<[Date]>([])

    init(perMinute: Int) {
        self.perMinute = max(1, perMinute)
    }

    func available(at now: Date) -> Int {
        sent.withLock { times in
            times.removeAll { now.timeIntervalSince($0) >= 60 }
            return max(0, perMinute - times.count)
        }
    }

    func record(_ count: Int, at now: Date) {
        guard count > 0 else { return }
        sent.withLock { $0.append(contentsOf: repeatElement(now, count: count)) }
    }

    /// When the next attempt may go; nil when one may go now.
    func nextFree(at now: Date) -> Date? {
        sent.withLock { times in
            times.removeAll { now.timeIntervalSince($0) >= 60 }
            guard times.count >= perMinute, let oldest = times.min() else { return nil }
            return oldest.addingTimeInterval(60)
        }
    }
}
