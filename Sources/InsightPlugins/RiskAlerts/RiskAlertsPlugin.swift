import Foundation
import InsightCore

/// Risk alerts for relationship managers: AML patterns on transactions (large single transactions,
/// velocity, rapid in-and-out, dormant account reactivation; `urgent`), churn signals (AUM drop, no wealth
/// purchase; `normal`), overdue loans and corporate leverage (`high`).
///
/// Windows run on event time, never the wall clock, so a replay gives the same leads. What a rule needs
/// across events lives in ``RiskMemory``, stored with the client's state.
public struct RiskAlertsPlugin: Plugin {
    public typealias Memory = RiskMemory

    public static let id = "risk-alerts"
    public static let summary = "risk alerts: large transactions, velocity, rapid in-out, dormant accounts, AUM drop, "
        + "no wealth purchase, overdue loans, corporate leverage"

    public let configuration: RiskAlertsConfiguration
    public let subscriptions: [EventPattern]
    let texts: LeadTexts

    public init(configuration: RiskAlertsConfiguration) throws(PluginConfigurationError) {
        self.configuration = configuration
        texts = try LeadTexts(builtIn: RiskTexts.builtIn, overrides: configuration.templates)
        var types: [String] = []
        if configuration.watchesTransactions { types.append(EventType.accountTransaction) }
        if configuration.aumDrop.enabled { types.append(EventType.accountBalance) }
        if configuration.overdue.enabled { types.append(EventType.loanAccount) }
        if configuration.corporateLeverage.enabled { types.append(EventType.corporateFinancials) }
        subscriptions = types.compactMap(EventPattern.init)
    }

    public var schedule: LocalTime? {
        configuration.noPurchase.enabled ? configuration.noPurchase.schedule : nil
    }

    public var publishedTexts: [PublishedText] { texts.sources }

    public func handle(_ event: Event, context: PluginContext, memory: inout RiskMemory) throws -> [LeadDraft] {
        forgetSwitchedOffRules(&memory)
        return switch event.type {
        case EventType.accountTransaction: transactionAlerts(event, context: context, memory: &memory)
        case EventType.accountBalance: aumDropAlerts(event, context: context, memory: &memory)
        case EventType.loanAccount: overdueAlerts(event, context: context, memory: &memory)
        case EventType.corporateFinancials: corporateLeverageAlerts(event, context: context)
        default: []
        }
    }

    /// The memory says itself whether it changed (``RiskMemory/touched``): no copy is kept to compare. Nothing in the
    /// handling of an event throws, so no failure can leave a memory changed halfway.
    public func handle(_ event: Event, context: PluginContext, memory: inout RiskMemory, changed: inout Bool) throws
        -> [LeadDraft] {
        memory.touched.value = false
        let drafts = try handle(event, context: context, memory: &memory)
        if memory.touched.value { changed = true }
        return drafts
    }

    /// What a rule switched off since the memory was written needs no longer (a reload can switch rules off).
    private func forgetSwitchedOffRules(_ memory: inout RiskMemory) {
        if !configuration.velocity.enabled && !configuration.rapidInOut.enabled && !memory.debits.isEmpty { memory.dropDebits() }
        if !configuration.rapidInOut.enabled && !memory.credits.isEmpty { memory.dropCredits() }
        if !configuration.velocity.enabled && memory.velocityAlertAt != nil { memory.setVelocityAlert(at: nil) }
        if !configuration.aumDrop.enabled && !memory.snapshots.isEmpty { memory.dropSnapshots() }
        if !configuration.overdue.enabled && !memory.overdueLoans.isEmpty { memory.dropOverdueLoans() }
    }

    public func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft] {
        try noPurchaseAlerts(context: context)
    }

    /// Evidence labels by key.
    static let labels: [String: (zh: String, en: String)] = [
        "amount": ("交易金额", "amount"), "direction": ("收支方向", "direction"), "channel": ("交易渠道", "channel"),
        "threshold": ("预警标准", "threshold"), "accountId": ("账户", "account"), "counterparty": ("交易对手", "counterparty"),
        "time": ("交易时间", "time"), "previousTransactionAt": ("上次交易时间", "previous transaction"),
        "quietDays": ("无交易天数", "quiet days"), "window": ("统计时段", "window"), "debitCount": ("支出笔数", "debits"),
        "debitTotal": ("支出合计", "debit total"), "firstDebitAt": ("首笔支出时间", "first debit"),
        "lastDebitAt": ("末笔支出时间", "last debit"), "accounts": ("涉及账户", "accounts"), "credit": ("入账", "credit"),
        "moreDebits": ("其余支出笔数", "more debits"), "peakAum": ("近期资产高点", "peak AUM"), "aum": ("当前资产", "AUM"),
        "drop": ("降幅", "drop"), "loanId": ("贷款账号", "loan"), "status": ("贷款状态", "status"),
        "overdueDays": ("逾期天数", "overdue days"), "overdueSince": ("逾期起始日", "overdue since"),
        "product": ("贷款品种", "product"), "outstanding": ("贷款余额", "outstanding"), "period": ("报告期", "period"),
        "debtRatio": ("资产负债率", "debt ratio"), "previousDebtRatio": ("上期资产负债率", "previous debt ratio"),
        "rise": ("上升幅度", "rise"), "operatingCashFlow": ("经营活动现金流", "operating cash flow"),
        "lastWealthPurchaseAt": ("最近一次购买理财", "last wealth purchase"),
        "daysSincePurchase": ("未购买天数", "days since purchase"), "segment": ("客户分层", "segment"),
        "wealthHoldings": ("理财持仓", "wealth holdings"),
    ]

    /// Evidence labelled in the context's locale.
    func evidence(_ key: String, _ value: String, _ context: PluginContext) -> Evidence {
        Evidence(key, value, labels: Self.labels, locale: context.locale)
    }

    /// Renders a kind's texts and completes the draft. Urgent (AML) alerts are due now; others today.
    func draft(_ kind: String, key: String, priority: LeadPriority, clientId: String?, values: [String: Any],
               evidence: [Evidence], sourceEvents: [String], context: PluginContext) -> LeadDraft {
        let rendered = texts.render(kind, locale: context.locale, values: values)
        return LeadDraft(key: key, kind: kind, priority: priority, clientId: clientId, title: rendered.title,
                         summary: rendered.summary, suggestedAction: rendered.suggestedAction, evidence: evidence,
                         dueAt: priority == .urgent ? context.now : context.dueAt(context.today),
                         sourceEvents: sourceEvents)
    }
}

extension RiskAlertsConfiguration {
    var watchesTransactions: Bool {
        largeTransaction.enabled || velocity.enabled || rapidInOut.enabled || dormantReactivation.enabled
    }
}

/// How risk-alerts shows times and dates in texts and evidence. Deterministic: no host locale settings.
enum RiskFormat {
    static func amount(_ value: Decimal, _ context: PluginContext) -> String {
        LeadFormat.amount(value, locale: context.locale)
    }

    /// A full instant for evidence, in the bank's time zone: `2026-11-20 10:00:00` in Chinese (as a bank's
    /// systems print it), RFC 3339 `2026-11-20T10:00:00+08:00` in English.
    static func instant(_ date: Date, _ context: PluginContext) -> String {
        let text = RFC3339.format(date, timeZone: context.timeZone)
        guard context.locale != "en" else { return text }
        // `2026-11-20T10:00:00…` → `2026-11-20 10:00:00`: RFC 3339 has its one `T` at offset 10.
        return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(8))
    }

    /// A date for texts, with the year when it is not this year: `11月20日`, `2025年5月3日`, `3 May 2025`.
    static func date(_ date: LocalDate, _ context: PluginContext) -> String {
        let short = LeadFormat.date(date, locale: context.locale)
        guard date.year != context.today.year else { return short }
        return context.locale == "en" ? "\(short) \(date.year)" : "\(date.year)年\(short)"
    }

    /// A local time for texts: `11月20日 10:05`, `20 Nov 10:05`.
    static func time(_ date: Date, _ context: PluginContext) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down)) + context.timeZone.secondsFromGMT(for: date)
        let minuteOfDay = ((seconds % 86_400) + 86_400) % 86_400 / 60
        return self.date(LocalDate(date, in: context.timeZone), context) + " "
            + LocalTime(hour: minuteOfDay / 60, minute: minuteOfDay % 60).description
    }

    /// `zh` in Chinese, `en` in English.
    static func text(_ zh: String, _ en: String, _ context: PluginContext) -> String {
        LeadFormat.text(zh, en, locale: context.locale)
    }

    /// A transaction direction in words: `收入` / `credit`.
    static func direction(_ isCredit: Bool, _ context: PluginContext) -> String {
        LeadFormat.direction(isCredit ? "credit" : "debit", locale: context.locale)
    }

    /// A transaction channel in words.
    static func channel(_ channel: String?, _ context: PluginContext) -> String {
        LeadFormat.channel(channel, locale: context.locale)
    }

    /// A loan product in words: `business` → `经营`, `working_capital` → `working-capital`.
    static func loanProduct(_ product: String, _ context: PluginContext) -> String {
        LeadFormat.loanProduct(product, locale: context.locale)
    }

    /// Percentage points between two ratios, one decimal: 0.72 − 0.60 → `12`.
    static func points(_ ratio: Decimal) -> String {
        String(LeadFormat.percent(ratio).dropLast())
    }
}
