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

    /// A full instant for evidence: `2026-11-20T10:00:00+08:00` in the bank's time zone.
    static func instant(_ date: Date, _ context: PluginContext) -> String {
        RFC3339.format(date, timeZone: context.timeZone)
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

    /// A transaction channel in words.
    static func channel(_ channel: String?, _ context: PluginContext) -> String {
        guard let channel, !channel.isEmpty else { return context.locale == "en" ? "an unnamed channel" : "未注明渠道" }
        guard context.locale != "en" else { return channel }
        let names = ["cash": "现金", "transfer": "转账", "card": "银行卡", "atm": "ATM", "pos": "POS", "online": "网银",
                     "mobile": "手机银行", "counter": "柜面"]
        return names[channel] ?? channel
    }

    /// A loan product in words: `business` → `经营`, `working_capital` → `working capital`.
    static func loanProduct(_ product: String, _ context: PluginContext) -> String {
        guard context.locale != "en" else { return product.replacingOccurrences(of: "_", with: " ") }
        let names = ["mortgage": "住房按揭", "consumer": "消费", "business": "经营", "working_capital": "流动资金",
                     "car": "汽车", "auto": "汽车", "credit_card": "信用卡"]
        return names[product] ?? product
    }

    /// Percentage points between two ratios, one decimal: 0.72 − 0.60 → `12`.
    static func points(_ ratio: Decimal) -> String {
        String(LeadFormat.percent(ratio).dropLast())
    }
}
