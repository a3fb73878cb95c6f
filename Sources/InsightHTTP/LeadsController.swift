import Foundation
import HTTPTypes
import Hummingbird
import InsightCore
import InsightDelivery
import InsightEngine
import InsightStore

/// The API a bank's CRM and its managers use (DESIGN §4): leads, feedback, snoozes, the client view, and
/// the outbox's dead letters and disabled receiver targets. Times are RFC 3339 in the bank's time zone;
/// personal data is masked.
struct LeadsController: Sendable {
    let authenticator: Authenticator
    /// The store the API reads, on either backend; its writes go through ``desk``, which holds the rules.
    let store: any LeadsStore
    var desk: LeadDesk { LeadDesk(store: store) }
    let timeZone: TimeZone
    let timeSource: any TimeSource
    /// Tells the outbox that rows changed (a retry or a re-enabled target).
    let outboxChanged: @Sendable () -> Void
    /// The configured receivers' names.
    let receiverNames: Set<String>
    /// The reloadable settings: the AML kinds (only scope compliance snoozes, dismisses, decides or reads
    /// them in full), `snooze.max_days` and the locale of the neutral AML notice.
    let settings: SettingsBox

    private var amlKinds: Set<String> { settings.current.amlKinds }
    private var snoozeMaxDays: Int { settings.current.snoozeMaxDays }
    private var locale: String { settings.current.locale }

    /// A lead as `token` may read it: AML leads in full to scope compliance, in their neutral form to everyone
    /// else (a manager's app or the bank's CRM must not show the suspicion or the report wording).
    private func shown(_ lead: Lead, to token: Authenticator.APIToken) -> Lead {
        amlKinds.contains(lead.kind) && !token.scopes.contains(.compliance) ? AMLNotice.neutral(lead, locale: locale) : lead
    }

    static let maximumPage = 500
    static let complianceRoute = Outbox.complianceRoute

    /// Compliance, and the operators who retry its dead letters, see the compliance queue's deliveries; a
    /// manager's app does not.
    static func seesComplianceQueue(_ token: Authenticator.APIToken) -> Bool {
        !token.scopes.isDisjoint(with: [.compliance, .admin])
    }

    func register(on router: Hummingbird.Router<BasicRequestContext>) {
        router.get("/v1/leads") { request, context in try await self.list(request, context: context) }
        router.get("/v1/leads/{id}") { request, context in try await self.show(request, context: context) }
        router.post("/v1/leads/{id}/feedback") { request, context in try await self.feedback(request, context: context) }
        router.post("/v1/leads/{id}/decision") { request, context in try await self.decide(request, context: context) }
        router.get("/v1/clients/{id}") { request, context in try await self.client(request, context: context) }
        router.get("/v1/snoozes") { request, context in try await self.snoozes(request, context: context) }
        router.post("/v1/snoozes") { request, context in try await self.addSnooze(request, context: context) }
        router.delete("/v1/snoozes/{id}") { request, context in try await self.removeSnooze(request, context: context) }
        router.get("/v1/deliveries") { request, context in try await self.deliveries(request, context: context) }
        router.post("/v1/deliveries/{id}/retry") { request, context in try await self.retry(request, context: context) }
        router.get("/v1/receivers") { request, context in try await self.receivers(request, context: context) }
        router.post("/v1/receivers/{name}/enable") { request, context in try await self.enable(request, context: context) }
        router.get("/v1/stats/conversions") { request, context in try await self.conversions(request, context: context) }
    }

    // MARK: - Leads

    func list(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try authenticator.require(.read, headers: request.headers)
        let query = request.uri.queryParameters
        var page = LeadPageQuery()
        page.plugin = query["plugin"].map(String.init)
        page.clientId = query["client"].map(String.init)
        page.managerId = query["manager"].map(String.init)
        if let status = query["status"] {
            guard let value = LeadStatus(rawValue: String(status)) else {
                throw Self.invalid("status must be one of \(LeadStatus.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(status)\"")
            }
            page.status = value
        }
        if let since = query["since"] {
            guard let date = RFC3339.parse(String(since)) ?? LocalDate(String(since))?.instant(in: timeZone) else {
                throw Self.invalid("since must be an RFC 3339 time or a date (YYYY-MM-DD), got \"\(since)\"")
            }
            page.since = date
        }
        if let limit = query["limit"] {
            guard let value = Int(String(limit)), (1...Self.maximumPage).contains(value) else {
                throw Self.invalid("limit must be 1 to \(Self.maximumPage), got \"\(limit)\"")
            }
            page.limit = value
        }
        if let cursor = query["cursor"] {
            guard let value = Self.decodeCursor(String(cursor)) else {
                throw Self.invalid("cursor is not one this API gave out; start again without it")
            }
            page.after = value
        }
        let wanted = page
        let result = try await store.readLeads { try $0.leadPage(wanted) }
        var body: [String: JSONValue] = ["leads": .array(try result.leads.map { try LeadJSON.value(shown($0.lead, to: token), timeZone: timeZone) })]
        body["nextCursor"] = result.next.map { .string(Self.encodeCursor($0)) } ?? .null
        return EventsController.json(.object(body), status: .ok)
    }

    func show(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try authenticator.require(.read, headers: request.headers)
        let id = try context.parameters.require("id")
        guard let view = try await store.readLeads({ ledger in try LeadView(ledger, id: id) }) else {
            throw Problem.notFound("no lead has id \(id)")
        }
        let lead = view.lead
        guard case .object(var body) = try LeadJSON.value(shown(lead, to: token), timeZone: timeZone) else { throw Problem.notFound(id) }
        // That an AML lead went to the compliance queue is compliance's to see.
        let deliveries = view.deliveries.filter {
            Self.seesComplianceQueue(token) || $0.delivery.route != Self.complianceRoute
        }
        body["deliveries"] = .array(deliveries.map { entry in
            guard case .object(var delivery) = deliveryJSON(entry.delivery) else { return .null }
            delivery["attempts"] = .array(entry.attempts.map(attemptJSON))
            return .object(delivery)
        })
        // Whether a report was filed (and its reference) is compliance's alone: no tipping-off through the API.
        let seesDecisions = token.scopes.contains(.compliance)
        body["activity"] = .array(view.activity.filter {
            seesDecisions || ($0.kind != "decision" && (Self.seesComplianceQueue(token) || !$0.kind.hasPrefix("compliance_")))
        }.map { activity in
            var entry: [String: JSONValue] = ["at": time(activity.at), "kind": .string(activity.kind)]
            entry["outcome"] = activity.outcome.map(JSONValue.string)
            entry["note"] = activity.note.map(JSONValue.string)
            entry["actor"] = activity.actor.map(JSONValue.string)
            return .object(entry)
        })
        if let source = view.inhibitedBy { body["inhibitedBy"] = .string(source) }
        if seesDecisions, let decision = view.decision { body["decision"] = decisionJSON(decision) }
        return EventsController.json(.object(body), status: .ok)
    }

    /// `POST /v1/leads/{id}/decision` (scope compliance): `{"decision": "cleared" | "reported", "reference": "…",
    /// "note": "…"}` on an AML lead, recorded with who decided and when. It ends the inhibitions the lead caused.
    func decide(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try authenticator.require(.compliance, headers: request.headers)
        let id = try context.parameters.require("id")
        let document = try await Self.body(request)
        let choices = ComplianceDecision.allCases.map(\.rawValue).joined(separator: ", ")
        guard let text = document["decision"]?.stringValue else { throw Self.invalid("decision is required: one of \(choices)") }
        guard let decision = ComplianceDecision(rawValue: text) else {
            throw Self.invalid("decision must be one of \(choices), got \"\(text.prefix(40))\"")
        }
        let reference = try Self.optionalString(document, "reference", maximum: 128).map(Masking.scrub)
        if decision == .reported, reference == nil {
            throw Self.invalid("decision reported needs reference: the suspicious-transaction report's number")
        }
        let note = try Self.optionalString(document, "note", maximum: 2000).map(Masking.scrub)
        guard let lead = try await store.readLeads({ try $0.lead(id: id) }) else { throw Problem.notFound("no lead has id \(id)") }
        guard amlKinds.contains(lead.kind) else {
            throw Self.invalid("lead \(id) is a \(lead.kind) lead; decisions are for AML leads (\(amlKinds.sorted().joined(separator: ", ")))")
        }
        switch try await desk.recordDecision(leadId: id, decision: decision, reference: reference, note: note,
                                           actor: "api:\(token.name)", now: timeSource.now()) {
        case .notFound:
            throw Problem.notFound("no lead has id \(id)")
        case .alreadyDecided(let existing):
            throw Problem(.conflict, "Conflict", detail: "lead \(id) was already decided \(existing.decision.rawValue) by \(existing.actor) at "
                            + RFC3339.format(existing.at, timeZone: timeZone) + "; a decision is final")
        case .recorded(let entry):
            outboxChanged()
            return EventsController.json(decisionJSON(entry), status: .ok)
        }
    }

    func feedback(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try authenticator.require(.feedback, headers: request.headers)
        let id = try context.parameters.require("id")
        let document = try await Self.body(request)
        guard let text = document["outcome"]?.stringValue else {
            throw Self.invalid("outcome is required: one of \(FeedbackOutcome.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let outcome = FeedbackOutcome(rawValue: text) else {
            throw Self.invalid("outcome must be one of \(FeedbackOutcome.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
        }
        // Notes are free text from a phone: personal numbers in them are masked before they are kept.
        let note = try Self.optionalString(document, "note", maximum: 2000).map(Masking.scrub)
        var until: Date?
        if let value = document["until"] {
            guard let text = value.stringValue, let date = RFC3339.parse(text) else {
                throw Self.invalid("until must be an RFC 3339 time such as \"2026-12-01T09:00:00+08:00\"")
            }
            until = date
        }
        let current = try await store.readLeads { try $0.lead(id: id) }
        if [.dismissed, .snoozed].contains(outcome), !token.scopes.contains(.compliance), let current, amlKinds.contains(current.kind) {
            // The answer names no monitoring rule: a manager's app reads it.
            throw Problem.forbidden("lead \(id) is an AML verification task: it cannot be \(outcome.rawValue) with feedback; "
                                    + "report what you did (contacted) and compliance decides it")
        }
        if outcome == .snoozed {
            guard let until else {
                throw Self.invalid("outcome snoozed needs until: the RFC 3339 time until which this client's leads from the plugin wait")
            }
            try checkUntil(until)
            guard let current else { throw Problem.notFound("no lead has id \(id)") }
            guard current.client != nil else {
                throw Self.invalid("lead \(id) has no client to snooze; use POST /v1/snoozes for a plugin or kind")
            }
        }
        guard let lead = try await desk.recordFeedback(leadId: id, outcome: outcome, note: note, until: until,
                                                     actor: "api:\(token.name)",
                                                     snoozeScope: token.scopes.contains(.compliance) ? "compliance" : "feedback",
                                                     now: timeSource.now())
        else { throw Problem.notFound("no lead has id \(id)") }
        return EventsController.json(try LeadJSON.value(shown(lead, to: token), timeZone: timeZone), status: .ok)
    }

    // MARK: - Clients

    func client(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try authenticator.require(.read, headers: request.headers)
        let id = try context.parameters.require("id")
        let view = try await store.readLeads { ledger -> ClientView? in
            guard let state = try ledger.client(id: id) else { return nil }
            return ClientView(state: state, interactions: try ledger.interactions(clientId: id, limit: 20),
                              openLeads: try ledger.openLeads(clientId: id, limit: 50))
        }
        guard let view else { throw Problem.notFound("no client has id \(id)") }
        let state = view.state
        let profile = state.profile
        var client: [String: JSONValue] = ["id": .string(state.id), "tags": .array(profile.tags.map(JSONValue.string))]
        client["name"] = profile.name.map { .string(Masking.name($0)) }
        client["phone"] = profile.phone.map { .string(Masking.phone($0)) }
        client["idNumber"] = profile.idNumber.map { .string(Masking.idNumber($0)) }
        // The birthday a manager needs, without the year that completes an identity.
        client["birthday"] = profile.birthDate.map { .string(String(format: "%02d-%02d", $0.month, $0.day)) }
        client["birthCalendar"] = profile.birthCalendar.map { .string($0.rawValue) }
        client["segment"] = profile.segment.map(JSONValue.string)
        client["riskLevel"] = profile.riskLevel.map { .string($0.description) }
        client["riskAssessedAt"] = profile.riskAssessedAt.map { .string($0.description) }
        client["managerId"] = profile.managerId.map(JSONValue.string)
        client["branchId"] = profile.branchId.map(JSONValue.string)
        client["marketingConsent"] = profile.marketingConsent.map(JSONValue.bool)
        client["status"] = profile.status.map(JSONValue.string)
        client["lastEventAt"] = state.lastEventAt.map(time)
        client["lastInteractionAt"] = state.lastInteractionAt.map(time)
        if let balance = state.balance {
            var entry: [String: JSONValue] = ["asOf": .string(balance.asOf.description), "aum": .string(balance.aum.plainText)]
            entry["deposits"] = balance.deposits.map { .string($0.plainText) }
            entry["wealth"] = balance.wealth.map { .string($0.plainText) }
            entry["loans"] = balance.loans.map { .string($0.plainText) }
            client["balance"] = .object(entry)
        }
        client["accounts"] = .array(state.accounts.values.sorted { $0.id < $1.id }.map { account in
            var entry: [String: JSONValue] = ["id": .string(Masking.accountNumber(account.id)), "currency": .string(account.currency)]
            entry["balance"] = account.balance.map { .string($0.plainText) }
            entry["lastTransactionAt"] = account.lastTransactionAt.map(time)
            return .object(entry)
        })
        client["deposits"] = .array(state.deposits.values.sorted { $0.id < $1.id }.map { deposit in
            .object(["amount": .string(deposit.amount.plainText), "currency": .string(deposit.currency),
                     "maturityDate": .string(deposit.maturityDate.description), "status": deposit.status.map(JSONValue.string) ?? .null])
        })
        client["loans"] = .array(state.loans.values.sorted { $0.id < $1.id }.map { loan in
            .object(["id": .string(Masking.reference(loan.id)), "product": loan.product.map(JSONValue.string) ?? .null,
                     "outstanding": loan.outstanding.map { .string($0.plainText) } ?? .null,
                     "maturityDate": loan.maturityDate.map { .string($0.description) } ?? .null,
                     "status": loan.status.map(JSONValue.string) ?? .null, "overdueDays": .number("\(loan.overdueDays)")])
        })
        client["holdings"] = .array(state.holdings.values.sorted { $0.productId < $1.productId }.map { holding in
            .object(["productId": .string(holding.productId), "amount": .string(holding.amount.plainText)])
        })
        let interactions = view.interactions.map { interaction -> JSONValue in
            var entry: [String: JSONValue] = ["at": time(interaction.at)]
            entry["managerId"] = interaction.managerId.map(JSONValue.string)
            entry["channel"] = interaction.channel.map(JSONValue.string)
            entry["outcome"] = interaction.outcome.map(JSONValue.string)
            entry["leadId"] = interaction.leadId.map(JSONValue.string)
            return .object(entry)
        }
        return EventsController.json(.object([
            "client": .object(client),
            "openLeads": .array(try view.openLeads.map { try LeadJSON.value(shown($0, to: token), timeZone: timeZone) }),
            "recentInteractions": .array(interactions),
        ]), status: .ok)
    }

    // MARK: - Snoozes

    func snoozes(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try authenticator.require(.read, headers: request.headers)
        // A compliance snooze (say, while a report is being prepared) is compliance's to see.
        let now = timeSource.now()
        let snoozes = try await store.readLeads { try $0.snoozes(activeAt: now) }.filter {
            token.scopes.contains(.compliance) || $0.scope != Authenticator.Scope.compliance.rawValue
        }
        return EventsController.json(.object(["snoozes": .array(snoozes.map(snoozeJSON))]), status: .ok)
    }

    /// Who may make and end snoozes: managers (one client's leads), operators (every client's), compliance
    /// (AML leads too).
    static let snoozeScopes: Set<Authenticator.Scope> = [.feedback, .admin, .compliance]

    func addSnooze(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try authenticator.requireAny(Self.snoozeScopes, headers: request.headers)
        let document = try await Self.body(request)
        let clientId = try Self.optionalString(document, "clientId", maximum: 128)
        let plugin = try Self.optionalString(document, "plugin", maximum: 128)
        let kind = try Self.optionalString(document, "kind", maximum: 128)
        guard clientId != nil || plugin != nil || kind != nil else {
            throw Self.invalid("name what to snooze: clientId, plugin or kind (any combination)")
        }
        // One client's leads are a manager's call; a plugin or kind for every client is an operator's; AML leads
        // are compliance's alone.
        if clientId == nil, !token.scopes.contains(.admin) {
            throw Problem.forbidden("a snooze without clientId holds back leads for every client; it needs scope admin")
        }
        if let kind, amlKinds.contains(kind), !token.scopes.contains(.compliance) {
            throw Problem.forbidden("\(kind) is an AML kind: only scope compliance may snooze it")
        }
        guard let text = document["until"]?.stringValue, let until = RFC3339.parse(text) else {
            throw Self.invalid("until is required, as an RFC 3339 time such as \"2026-12-01T09:00:00+08:00\"")
        }
        try checkUntil(until)
        // The scope it is made with: removing it needs the same; only a compliance snooze covers AML kinds.
        let scope: Authenticator.Scope = token.scopes.contains(.compliance) ? .compliance : clientId == nil ? .admin : .feedback
        let snooze = try await desk.addSnooze(clientId: clientId, plugin: plugin, kind: kind, until: until,
                                            note: try Self.optionalString(document, "note", maximum: 2000).map(Masking.scrub),
                                            actor: "api:\(token.name)", scope: scope.rawValue, now: timeSource.now())
        return EventsController.json(snoozeJSON(snooze), status: .created)
    }

    func removeSnooze(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try authenticator.requireAny(Self.snoozeScopes, headers: request.headers)
        let text = try context.parameters.require("id")
        guard let id = Int64(text) else { throw Problem.notFound("no snooze has id \(text.prefix(40))") }
        switch try await desk.removeSnooze(id: id, callerScopes: Set(token.scopes.map(\.rawValue))) {
        case .removed: return Response(status: .noContent)
        case .notFound: throw Problem.notFound("no snooze has id \(id)")
        case .needsScope(let scope):
            throw Problem.forbidden("snooze \(id) was made with scope \(scope); removing it needs the same scope")
        }
    }

    /// A snooze ends in the future and at most `snooze.max_days` ahead: nobody silences a client for years.
    private func checkUntil(_ until: Date) throws {
        let now = timeSource.now()
        guard until > now else { throw Self.invalid("until must be in the future") }
        let limit = now.addingTimeInterval(Double(snoozeMaxDays) * 86_400)
        guard until <= limit else {
            throw Self.invalid("until may be at most \(snoozeMaxDays) days ahead (snooze.max_days), that is "
                               + RFC3339.format(limit, timeZone: timeZone))
        }
    }

    // MARK: - Outbox

    func deliveries(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let token = try authenticator.require(.read, headers: request.headers)
        let query = request.uri.queryParameters
        var status: DeliveryStatus?
        if let text = query["status"] {
            guard let value = DeliveryStatus(rawValue: String(text)) else {
                throw Self.invalid("status must be one of \(DeliveryStatus.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            }
            status = value
        }
        var limit = 100
        if let text = query["limit"] {
            guard let value = Int(String(text)), (1...Self.maximumPage).contains(value) else {
                throw Self.invalid("limit must be 1 to \(Self.maximumPage), got \"\(text)\"")
            }
            limit = value
        }
        let receiver = query["receiver"].map(String.init)
        let filter = (status: status, limit: limit)
        let rows = try await store.readLeads { try $0.deliveries(status: filter.status, receiver: receiver, limit: filter.limit) }
            .filter { Self.seesComplianceQueue(token) || $0.route != Self.complianceRoute }
        return EventsController.json(.object(["deliveries": .array(rows.map(deliveryJSON))]), status: .ok)
    }

    func retry(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try authenticator.require(.admin, headers: request.headers)
        let id = try context.parameters.require("id")
        guard let (delivery, retried) = try await desk.retryDelivery(id: id, now: timeSource.now()) else {
            throw Problem.notFound("no delivery has id \(id)")
        }
        guard retried else {
            throw Problem(.conflict, "Conflict", detail: "delivery \(id) is \(delivery.status.rawValue); only dead, held or cancelled deliveries are retried")
        }
        outboxChanged()
        return EventsController.json(deliveryJSON(delivery), status: .accepted)
    }

    func receivers(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try authenticator.require(.read, headers: request.headers)
        var byReceiver: [String: [String: JSONValue]] = [:]
        for row in try await store.outboxDepth() {
            byReceiver[row.receiver, default: [:]][row.status.rawValue] = .number("\(row.count)")
        }
        let disabled = try await store.readLeads { try $0.disabledTargetList() }.map { target -> JSONValue in
            .object(["receiver": .string(target.receiver), "managerId": .string(target.managerId),
                     "disabledAt": time(target.disabledAt), "reason": .string(target.reason)])
        }
        return EventsController.json(.object([
            "deliveries": .object(byReceiver.mapValues { .object($0) }),
            "disabledTargets": .array(disabled),
        ]), status: .ok)
    }

    func enable(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try authenticator.require(.admin, headers: request.headers)
        let name = try context.parameters.require("name")
        let document = try await Self.body(request, allowEmpty: true)
        let managerId = try Self.optionalString(document, "managerId", maximum: 128)
        let disabled = try await store.readLeads { try $0.disabledTargetList() }
        guard receiverNames.contains(name) || disabled.contains(where: { $0.receiver == name }) else {
            throw Problem.notFound("no receiver is named \(name)")
        }
        let released = try await desk.enableTarget(receiver: name, managerId: managerId, now: timeSource.now())
        outboxChanged()
        return EventsController.json(.object(["receiver": .string(name), "released": .number("\(released)")]), status: .ok)
    }

    func conversions(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try authenticator.require(.read, headers: request.headers)
        let rows = try await store.conversionCounts().map { counts -> JSONValue in
            .object(["plugin": .string(counts.plugin), "leads": .number("\(counts.leads)"), "notified": .number("\(counts.notified)"),
                     "contacted": .number("\(counts.contacted)"), "converted": .number("\(counts.converted)"),
                     "dismissed": .number("\(counts.dismissed)"), "suppressed": .number("\(counts.suppressed)"),
                     "inhibited": .number("\(counts.inhibited)")])
        }
        return EventsController.json(.object(["plugins": .array(rows)]), status: .ok)
    }

    // MARK: - JSON

    private func time(_ date: Date) -> JSONValue { .string(RFC3339.format(date, timeZone: timeZone)) }

    private func deliveryJSON(_ delivery: OutboxDelivery) -> JSONValue {
        var entry: [String: JSONValue] = [
            "id": .string(delivery.id), "receiver": .string(delivery.receiver), "purpose": .string(delivery.purpose.rawValue),
            "timing": .string(delivery.timing), "status": .string(delivery.status.rawValue),
            "attempts": .number("\(delivery.attempts)"), "notBefore": time(delivery.notBefore),
            "nextAttemptAt": time(delivery.nextAttempt), "createdAt": time(delivery.createdAt), "updatedAt": time(delivery.updatedAt),
        ]
        entry["leadId"] = delivery.leadId.map(JSONValue.string)
        entry["managerId"] = delivery.managerId.isEmpty ? nil : .string(delivery.managerId)
        entry["digestId"] = delivery.parentId.map(JSONValue.string)
        entry["leads"] = delivery.purpose == .digest ? .array(delivery.members.map(JSONValue.string)) : nil
        entry["sentAt"] = delivery.sentAt.map(time)
        entry["lastError"] = delivery.lastError.map(JSONValue.string)
        return .object(entry)
    }

    private func attemptJSON(_ attempt: DeliveryAttempt) -> JSONValue {
        var entry: [String: JSONValue] = ["attempt": .number("\(attempt.attempt)"), "at": time(attempt.at),
                                          "durationMs": .number("\(attempt.durationMs)"), "outcome": .string(attempt.outcome)]
        entry["httpStatus"] = attempt.httpStatus.map { .number("\($0)") }
        entry["error"] = attempt.error.map(JSONValue.string)
        return .object(entry)
    }

    private func decisionJSON(_ decision: LeadDecisionEntry) -> JSONValue {
        var entry: [String: JSONValue] = ["leadId": .string(decision.leadId), "decision": .string(decision.decision.rawValue),
                                          "actor": .string(decision.actor), "at": time(decision.at)]
        entry["reference"] = decision.reference.map(JSONValue.string)
        entry["note"] = decision.note.map(JSONValue.string)
        return .object(entry)
    }

    private func snoozeJSON(_ snooze: SnoozeEntry) -> JSONValue {
        var entry: [String: JSONValue] = ["id": .number("\(snooze.id)"), "until": time(snooze.until), "createdAt": time(snooze.createdAt)]
        entry["clientId"] = snooze.clientId.map(JSONValue.string)
        entry["plugin"] = snooze.plugin.map(JSONValue.string)
        entry["kind"] = snooze.kind.map(JSONValue.string)
        entry["note"] = snooze.note.map(JSONValue.string)
        entry["leadId"] = snooze.leadId.map(JSONValue.string)
        entry["actor"] = snooze.actor.map(JSONValue.string)
        entry["scope"] = .string(snooze.scope)
        return .object(entry)
    }

    // MARK: - Requests

    static func invalid(_ detail: String) -> Problem { Problem(.unprocessableContent, "Unprocessable Content", detail: detail) }

    static func body(_ request: Request, allowEmpty: Bool = false) async throws -> JSONValue {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        if allowEmpty && buffer.readableBytes == 0 { return .object([:]) }
        let document: JSONValue
        do {
            document = try JSONParser.parse(Array(buffer.readableBytesView))
        } catch {
            throw Problem.badRequest("the body must be a JSON object: \(error)")
        }
        guard case .object = document else { throw Problem.badRequest("the body must be a JSON object, got \(document.typeName)") }
        return document
    }

    static func optionalString(_ document: JSONValue, _ key: String, maximum: Int) throws -> String? {
        guard let value = document[key], value != .null else { return nil }
        guard let text = value.stringValue else { throw invalid("\(key) must be a string, got \(value.typeName)") }
        guard text.count <= maximum else { throw invalid("\(key) is longer than \(maximum) characters") }
        return text
    }

    /// Cursors are opaque: `c` and the last lead's sequence in base 36.
    static func encodeCursor(_ sequence: Int64) -> String { "c" + String(sequence, radix: 36) }

    static func decodeCursor(_ text: String) -> Int64? {
        guard text.hasPrefix("c") else { return nil }
        return Int64(text.dropFirst(), radix: 36)
    }
}

/// A lead with everything `GET /v1/leads/{id}` shows of it, read together.
private struct LeadView: Sendable {
    var lead: Lead
    var deliveries: [(delivery: OutboxDelivery, attempts: [DeliveryAttempt])]
    var activity: [LeadActivity]
    var inhibitedBy: String?
    var decision: LeadDecisionEntry?

    init?(_ ledger: any LeadsTransaction, id: String) throws {
        guard let lead = try ledger.lead(id: id) else { return nil }
        self.lead = lead
        deliveries = try ledger.deliveries(forLead: id)
        activity = try ledger.activity(leadId: id)
        inhibitedBy = try ledger.inhibitedBy(leadId: id)
        decision = try ledger.decision(leadId: id)
    }
}

/// A client with the parts of `GET /v1/clients/{id}` that are not its state, read together.
private struct ClientView: Sendable {
    var state: ClientState
    var interactions: [ClientInteraction]
    var openLeads: [Lead]
}
