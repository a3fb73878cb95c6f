import Foundation
import InsightCore

/// Next-best-product suggestions from the bank's catalog, strictly suitable.
///
/// Triggers: a large single credit, an idle current-account balance, a new mortgage or a life-event client
/// tag (events), and term deposits about to mature (daily tick). Every suggested product passes
/// ``Suitability``; the lead names, per product, the check it passed. One lead per client per cooldown.
public struct ProductMatchPlugin: Plugin {
    public static let id = "product-match"
    public static let summary = "suitable next-best products on large inflows, maturing deposits, idle balances, life events"
    /// The catalog's file in the plugins directory.
    public static let catalogFile = "products"

    public let configuration: ProductMatchConfiguration
    public let catalog: ProductCatalog
    private let texts: LeadTexts
    private let suitability: Suitability

    /// Evidence labels by key.
    static let labels: [String: (zh: String, en: String)] = [
        "credit": ("入账金额", "credit"), "account": ("账户", "account"), "lifeEvent": ("人生阶段", "life event"),
        "aum": ("金融资产", "AUM"), "idleBalance": ("闲置余额", "idle balance"), "termDeposit": ("到期定期存款", "term deposit"),
        "riskAssessment": ("风险测评", "risk assessment"),
    ]

    public init(configuration: ProductMatchConfiguration) throws(PluginConfigurationError) {
        try self.init(configuration: configuration, catalog: ProductCatalog(products: []))
    }

    public init(configuration: ProductMatchConfiguration, catalog: ProductCatalog) throws(PluginConfigurationError) {
        self.configuration = configuration
        self.catalog = catalog
        texts = try LeadTexts(builtIn: ProductMatchTexts.builtIn, overrides: configuration.templates)
        suitability = Suitability(assessmentValidDays: configuration.assessmentValidDays)
        if let problem = catalog.problems().first {
            throw PluginConfigurationError(path: [], message: "\(Self.catalogFile).yaml: products[\(problem.index)]: \(problem.message)")
        }
        let known = Set(catalog.products.flatMap(\.tags))
        let lifeEvents = configuration.triggers.lifeEvents
        for tag in lifeEvents.mortgageOpened where !known.contains(tag) && !catalog.products.isEmpty {
            throw PluginConfigurationError(path: ["triggers", "life_events", "mortgage_opened"],
                                           message: "no product in \(Self.catalogFile).yaml has the tag \(tag)")
        }
        for (clientTag, productTags) in lifeEvents.tags {
            for tag in productTags where !known.contains(tag) && !catalog.products.isEmpty {
                throw PluginConfigurationError(path: ["triggers", "life_events", "tags", clientTag],
                                               message: "no product in \(Self.catalogFile).yaml has the tag \(tag)")
            }
        }
    }

    public static func load(configuration: ProductMatchConfiguration, resources: any PluginResources) throws -> Self {
        try Self(configuration: configuration, catalog: resources.decode(ProductCatalog.self, fromFile: catalogFile))
    }

    public var schedule: LocalTime? { configuration.triggers.maturingDeposit.enabled ? configuration.schedule : nil }
    public var subscriptions: [EventPattern] {
        [EventType.accountTransaction, EventType.accountBalance, EventType.loanAccount, EventType.clientProfile]
            .compactMap(EventPattern.init)
    }
    public var publishedTexts: [PublishedText] {
        texts.sources + catalog.products.enumerated().map {
            PublishedText(path: ["products", "\($0.offset)", "name"], text: $0.element.name, file: Self.catalogFile)
        }
    }

    // MARK: - Triggers

    /// Why a suggestion is made now.
    struct Trigger {
        enum Kind: String { case largeCredit = "large_credit", maturingDeposit = "maturing_deposit", idleBalance = "idle_balance", lifeEvent = "life_event" }
        var kind: Kind
        /// The money in play: the credit, the deposit, the idle balance, or the client's AUM.
        var amount: Decimal
        /// Makes the key unique per occasion.
        var reference: String
        var evidence: [Evidence]
        /// Life events: only products with one of these tags.
        var productTags: [String] = []
        var lifeEvent: String?
        var date: LocalDate?
        var sourceEvents: [String] = []
    }

    public func handle(_ event: Event, context: PluginContext, memory: inout ProductMatchMemory) throws -> [LeadDraft] {
        guard let client = context.client else { return [] }
        let triggers = configuration.triggers
        var trigger: Trigger?
        let locale = context.locale
        func evidence(_ key: String, _ value: String) -> Evidence { Evidence(key, value, labels: Self.labels, locale: locale) }
        switch event.type {
        case EventType.accountTransaction:
            if triggers.largeCredit.enabled, event.field("direction")?.stringValue == "credit",
               let amount = event.field("amount")?.decimalValue, amount >= triggers.largeCredit.minAmount {
                trigger = Trigger(kind: .largeCredit, amount: amount, reference: "\(event.source):\(event.id)", evidence: [
                    evidence("credit", LeadFormat.text("\(LeadFormat.amount(amount, locale: locale))（标准：≥\(LeadFormat.amount(triggers.largeCredit.minAmount, locale: locale))）",
                                                       "\(LeadFormat.amount(amount, locale: locale)) ≥ \(LeadFormat.amount(triggers.largeCredit.minAmount, locale: locale))",
                                                       locale: locale)),
                    evidence("account", event.field("accountId")?.stringValue.map(Masking.accountNumber) ?? "-"),
                ], sourceEvents: [event.id])
            }
            trigger = trigger ?? idle(client, event: event, memory: &memory, context: context)
        case EventType.accountBalance:
            trigger = idle(client, event: event, memory: &memory, context: context)
        case EventType.loanAccount:
            guard triggers.lifeEvents.enabled, let loanId = event.field("loanId")?.stringValue,
                  let loan = client.loans[loanId], loan.product == "mortgage", !memory.mortgages.contains(loanId) else { break }
            memory.mortgages.append(loanId)
            guard loan.status != "repaid", !triggers.lifeEvents.mortgageOpened.isEmpty else { break }
            trigger = Trigger(kind: .lifeEvent, amount: client.aum, reference: "mortgage:\(loanId)", evidence: [
                evidence("lifeEvent", LeadFormat.text("新办住房按揭贷款（\(Masking.accountNumber(loanId))）",
                                                      "mortgage opened (\(Masking.accountNumber(loanId)))", locale: locale)),
                evidence("aum", LeadFormat.amount(client.aum, locale: locale)),
            ], productTags: triggers.lifeEvents.mortgageOpened, lifeEvent: "mortgage", sourceEvents: [event.id])
        case EventType.clientProfile:
            guard triggers.lifeEvents.enabled else { break }
            let mapped = client.profile.tags.filter { triggers.lifeEvents.tags[$0] != nil }
            let new = mapped.filter { !memory.lifeTags.contains($0) }
            // Remember the mapped tags the client has now: a tag removed and added again is a new life event.
            memory.lifeTags = Array(Set(mapped)).sorted()
            guard let tag = new.sorted().first, let productTags = triggers.lifeEvents.tags[tag] else { break }
            trigger = Trigger(kind: .lifeEvent, amount: client.aum, reference: "tag:\(tag)", evidence: [
                evidence("lifeEvent", LeadFormat.text("客户标签：\(LeadFormat.lifeEvent(tag, locale: locale))",
                                                      "client tag \(LeadFormat.lifeEvent(tag, locale: locale))", locale: locale)),
                evidence("aum", LeadFormat.amount(client.aum, locale: locale)),
            ], productTags: productTags, lifeEvent: tag, sourceEvents: [event.id])
        default:
            break
        }
        guard let trigger else { return [] }
        // A lead an inhibit rule held back (the client's money was under AML review) reached nobody: it starts no cooldown.
        if let last = memory.lastLeadAt, context.now.timeIntervalSince(last) < cooldown,
           try !context.state.leadWasInhibited(plugin: Self.id, client: client.id, at: last) { return [] }
        guard let draft = try propose(trigger, for: client, context: context) else { return [] }
        memory.lastLeadAt = context.now
        return [draft]
    }

    /// Tracks how long the client's current-account balances have stayed at or above the threshold.
    private func idle(_ client: ClientState, event: Event, memory: inout ProductMatchMemory, context: PluginContext) -> Trigger? {
        let settings = configuration.triggers.idleBalance
        guard settings.enabled else { return nil }
        let balances = client.accounts.values.compactMap(\.balance)
        let total = balances.isEmpty ? (client.balance?.deposits ?? 0) : balances.reduce(0, +)
        guard total >= settings.minBalance else {
            memory.idleSince = nil
            memory.idleOffered = false
            return nil
        }
        let since = memory.idleSince ?? event.time
        memory.idleSince = since
        let days = Int(event.time.timeIntervalSince(since) / 86_400)
        // One offer per idle episode, whatever its outcome: the balance must dip below the threshold again.
        guard days >= settings.days, !memory.idleOffered else { return nil }
        memory.idleOffered = true
        let sinceDate = LocalDate(since, in: context.timeZone)
        let locale = context.locale
        let balance = LeadFormat.amount(total, locale: locale), minimum = LeadFormat.amount(settings.minBalance, locale: locale)
        return Trigger(kind: .idleBalance, amount: total, reference: "idle:\(sinceDate)", evidence: [
            Evidence("idleBalance", LeadFormat.text(
                "\(balance)（标准：≥\(minimum)），自\(sinceDate)起闲置\(days)天（标准：≥\(settings.days)天）",
                "\(balance) ≥ \(minimum) since \(sinceDate) (\(days) days ≥ \(settings.days))", locale: locale),
                     labels: Self.labels, locale: locale),
        ], date: sinceDate, sourceEvents: [event.id])
    }

    public func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft] {
        let settings = configuration.triggers.maturingDeposit
        guard settings.enabled else { return [] }
        let today = tick.localDate
        let last = today.adding(days: settings.daysAhead)
        var drafts: [LeadDraft] = []
        for client in try context.state.clients(depositsMaturingFrom: today, through: last) {
            let maturing = client.deposits.values
                .filter { $0.maturityDate >= today && $0.maturityDate <= last && !["closed", "withdrawn"].contains($0.status ?? "") }
                .sorted { ($0.maturityDate, $0.id) < ($1.maturityDate, $1.id) }
            guard let deposit = maturing.first else { continue }
            let locale = context.locale
            let masked = Masking.accountNumber(deposit.id)
            let amount = LeadFormat.amount(deposit.amount, currency: deposit.currency, locale: locale)
            let trigger = Trigger(kind: .maturingDeposit, amount: deposit.amount,
                                  reference: "deposit:\(Masking.reference(deposit.id)):\(deposit.maturityDate)", evidence: [
                Evidence("termDeposit", LeadFormat.text(
                    "\(masked) \(amount)，\(deposit.maturityDate)到期（\(settings.daysAhead)天内）",
                    "\(masked) \(amount) matures \(deposit.maturityDate) (within \(settings.daysAhead) days)", locale: locale),
                         labels: Self.labels, locale: locale),
            ], date: deposit.maturityDate)
            if let draft = try propose(trigger, for: client, context: context) { drafts.append(draft) }
        }
        return drafts
    }

    private var cooldown: TimeInterval { Double(configuration.cooldownDays) * 86_400 }

    // MARK: - Proposal

    /// The lead for a trigger, or nil when the client is not to be approached or nothing suitable is left.
    func propose(_ trigger: Trigger, for client: ClientState, context: PluginContext) throws -> LeadDraft? {
        let profile = client.profile
        guard !profile.isClosed, profile.marketingConsent != false else { return nil }
        let today = context.today
        let locale = context.locale
        var passed = suitability.suitable(catalog.products, for: client, amount: trigger.amount, today: today, locale: locale)
        if !trigger.productTags.isEmpty {
            passed = passed.filter { !Set($0.product.tags).isDisjoint(with: trigger.productTags) }
        }
        let chosen = rank(passed, for: trigger).prefix(configuration.topN)
        guard !chosen.isEmpty else { return nil }
        // The ledger holds leads made by the daily tick too (the plugin's memory sees only its events).
        if let last = try context.state.lastLead(plugin: Self.id, client: client.id),
           context.now.timeIntervalSince(last) < cooldown { return nil }
        let assessment = suitability.assessment(of: profile, today: today)
        let flags: [String: Any] = [
            "isLargeCredit": trigger.kind == .largeCredit, "isMaturingDeposit": trigger.kind == .maturingDeposit,
            "isIdleBalance": trigger.kind == .idleBalance, "isLifeEvent": trigger.kind == .lifeEvent,
            "lifeEvent": trigger.lifeEvent.map { LeadFormat.lifeEvent($0, locale: locale) } ?? "", "amount": LeadFormat.amount(trigger.amount, locale: locale),
            "date": trigger.date.map { LeadFormat.date($0, locale: locale) } ?? "",
        ]
        let products = chosen.map { item in
            var values = flags
            values["productName"] = item.product.name
            values["riskLevel"] = item.product.riskLevel.description
            values["kind"] = LeadFormat.productKind(item.product.kind.rawValue, locale: locale)
            values["clientLevel"] = assessment.clientLevel?.description ?? ""
            values["assessed"] = assessment.isValid
            return ProductSuggestion(id: item.product.id, name: item.product.name, riskLevel: item.product.riskLevel.description,
                                     reason: texts.render("product_reason", locale: locale, values: values).title)
        }
        var values = flags
        values["clientName"] = profile.name.map(Masking.name) ?? client.id
        values["productList"] = LeadFormat.list(chosen.map {
            LeadFormat.text("\($0.product.name)（\($0.product.riskLevel)）", "\($0.product.name) (\($0.product.riskLevel))", locale: locale)
        }, locale: locale)
        values["count"] = chosen.count
        values["needsAssessment"] = !assessment.isValid
        values["clientLevel"] = assessment.clientLevel?.description ?? ""
        let text = texts.render("product_match", locale: locale, values: values)
        var evidence = trigger.evidence
        let level = assessment.clientLevel?.description ?? "-"
        let assessed = assessment.assessedAt?.description ?? "-", until = assessment.validUntil?.description ?? "-"
        evidence.append(Evidence("riskAssessment", assessment.isValid
            ? LeadFormat.text("\(level)，\(assessed)测评，有效期至\(until)", "\(level) assessed \(assessed), valid until \(until)",
                              locale: locale)
            : LeadFormat.text("无有效测评（\(assessment.assessedAt.map { "上次测评\($0)，已过期" } ?? "从未测评")），仅可推荐R1级产品",
                              "none valid (\(assessment.assessedAt.map { "last \($0)" } ?? "never assessed")): R1 products only",
                              locale: locale),
                                 labels: Self.labels, locale: locale))
        for item in chosen {
            evidence.append(Evidence(key: "suitability \(item.product.id)",
                                     label: LeadFormat.text("适当性 ", "suitability ", locale: locale) + item.product.id, value: item.check))
        }
        return LeadDraft(key: "\(client.id):\(trigger.kind.rawValue):\(trigger.reference)", kind: "product_match",
                         priority: profile.segment.map { ["hnw", "private"].contains($0) } == true ? .high : .normal,
                         clientId: client.id, title: text.title, summary: text.summary, suggestedAction: text.suggestedAction,
                         evidence: evidence, products: products, dueAt: context.dueAt(trigger.date.map { min($0, today.adding(days: 3)) } ?? today.adding(days: 3)),
                         sourceEvents: trigger.sourceEvents)
    }

    /// Ranks suitable products for a trigger: products matching the life event's tags first, then the kinds
    /// that suit the occasion, then the higher minimum amount (the more premium product the money covers),
    /// then id, so the order is total and deterministic.
    func rank(_ passed: [Suitability.Passed], for trigger: Trigger) -> [Suitability.Passed] {
        let kinds: [Product.Kind]
        switch trigger.kind {
        case .largeCredit, .idleBalance: kinds = [.wealth, .fund, .deposit, .insurance, .loan]
        case .maturingDeposit: kinds = [.deposit, .wealth, .fund, .insurance, .loan]
        case .lifeEvent: kinds = [.insurance, .wealth, .deposit, .fund, .loan]
        }
        func key(_ item: Suitability.Passed) -> (Int, Int, Decimal, String) {
            let tagMatch = trigger.productTags.isEmpty || !Set(item.product.tags).isDisjoint(with: trigger.productTags) ? 0 : 1
            return (tagMatch, kinds.firstIndex(of: item.product.kind) ?? kinds.count, -item.product.minAmount, item.product.id)
        }
        return passed.sorted { key($0) < key($1) }
    }
}

/// What product-match remembers per client: its last lead (cooldown), since when balances are idle, and
/// the life events it has already acted on.
public struct ProductMatchMemory: PluginMemory {
    var lastLeadAt: Date?
    var idleSince: Date?
    /// The current idle episode has been offered already.
    var idleOffered = false
    /// Mapped client tags present at the last profile update.
    var lifeTags: [String] = []
    /// Mortgage loans already seen (a mortgage appearing is a life event once).
    var mortgages: [String] = []

    public init() {}

    public init(json: JSONValue) throws {
        guard case .object(let fields) = json else { throw PluginMemoryError("product-match memory is not an object") }
        func date(_ key: String) -> Date? {
            fields[key]?.decimalValue.map { Date(timeIntervalSince1970: NSDecimalNumber(decimal: $0).doubleValue / 1000) }
        }
        lastLeadAt = date("lastLeadMs")
        idleSince = date("idleSinceMs")
        idleOffered = fields["idleOffered"]?.boolValue ?? false
        lifeTags = fields["lifeTags"]?.arrayValue?.compactMap(\.stringValue) ?? []
        mortgages = fields["mortgages"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    public var json: JSONValue {
        var fields: [String: JSONValue] = [:]
        func ms(_ date: Date) -> JSONValue { .number(String(Int64((date.timeIntervalSince1970 * 1000).rounded()))) }
        if let lastLeadAt { fields["lastLeadMs"] = ms(lastLeadAt) }
        if let idleSince { fields["idleSinceMs"] = ms(idleSince) }
        if idleOffered { fields["idleOffered"] = .bool(true) }
        if !lifeTags.isEmpty { fields["lifeTags"] = .array(lifeTags.map(JSONValue.string)) }
        if !mortgages.isEmpty { fields["mortgages"] = .array(mortgages.map(JSONValue.string)) }
        return .object(fields)
    }

    public var isEmpty: Bool { lastLeadAt == nil && idleSince == nil && !idleOffered && lifeTags.isEmpty && mortgages.isEmpty }
}
