import Foundation
import InsightCore

/// Loan renewal and re-lending leads.
///
/// Its daily tick finds, through the maturity-date index, active loans maturing within each configured
/// window (e.g. 30 and 7 days, in calendar or working days): one lead per loan per window, for the smallest
/// window the loan is in. Only loans in good standing qualify: not overdue now and not overdue within the
/// look-back. Overdue loans never get a renewal lead (risk-alerts reports them). A loan repaid more than
/// `early_repayment_days` before maturity yields a re-lending lead when its repayment arrives.
public struct LoanRenewalPlugin: Plugin {
    public static let id = "loan-renewal"
    public static let summary = "loans maturing within windows (good standing only); early repayment as re-lending"

    public let configuration: LoanRenewalConfiguration
    private let texts: LeadTexts
    /// Windows, smallest first.
    private let windows: [Int]

    /// Evidence labels by key.
    static let labels: [String: (zh: String, en: String)] = [
        "loan": ("贷款", "loan"), "principal": ("贷款本金", "principal"), "outstanding": ("贷款余额", "outstanding"),
        "repaidDate": ("结清日期", "repaid on"), "maturityDate": ("到期日", "maturity date"),
        "daysEarly": ("提前还款天数", "days early"), "window": ("提醒范围", "window"), "goodStanding": ("还款记录", "good standing"),
    ]

    public init(configuration: LoanRenewalConfiguration) throws(PluginConfigurationError) {
        self.configuration = configuration
        texts = try LeadTexts(builtIn: LoanRenewalTexts.builtIn, overrides: configuration.templates)
        windows = configuration.windows.sorted()
    }

    public var schedule: LocalTime? { configuration.schedule }
    public var subscriptions: [EventPattern] { [EventPattern(EventType.loanAccount)].compactMap { $0 } }
    public var publishedTexts: [PublishedText] { texts.sources }

    public func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft] {
        let today = tick.localDate
        let calendar = context.workingCalendar
        let widest = windows.last ?? 0
        // In working days, the window reaches up to (not including) the working day after its last one, so
        // a loan maturing on the weekend or holiday right after it is still in.
        let through = configuration.windowUnit == .workingDays
            ? calendar.adding(workingDays: widest + 1, to: today).adding(days: -1) : today.adding(days: widest)
        var drafts: [LeadDraft] = []
        for client in try context.state.clients(loansMaturingFrom: today, through: through) {
            for loan in client.loans.values.sorted(by: { $0.id < $1.id }) {
                guard let maturity = loan.maturityDate, maturity >= today, maturity <= through,
                      isRenewable(loan, now: context.now) else { continue }
                let remaining = configuration.windowUnit == .workingDays
                    ? calendar.workingDays(from: today, to: maturity) : today.days(until: maturity)
                guard let window = windows.first(where: { remaining <= $0 }) else { continue }
                drafts.append(renewal(loan, client: client, maturity: maturity, window: window, remaining: remaining,
                                      context: context))
            }
        }
        return drafts
    }

    public func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft] {
        guard let client = context.client, let loanId = event.field("loanId")?.stringValue,
              let loan = client.loans[loanId], loan.status == "repaid", let maturity = loan.maturityDate,
              event.field("status")?.stringValue == "repaid", productQualifies(loan) else { return [] }
        let repaid = loan.repaidDate ?? LocalDate(event.time, in: context.timeZone)
        let early = repaid.days(until: maturity)
        guard early > configuration.earlyRepaymentDays, !overdueRecently(loan, now: context.now) else { return [] }
        let locale = context.locale
        let amount = loan.principal ?? loan.outstanding ?? 0
        let values: [String: Any] = [
            "clientName": client.profile.name.map(Masking.name) ?? client.id,
            "product": productName(loan.product, locale: locale),
            "amount": LeadFormat.amount(amount, currency: loan.currency, locale: locale),
            "repaidDate": LeadFormat.date(repaid, locale: locale),
            "maturityDate": LeadFormat.date(maturity, locale: locale),
            "daysEarly": early,
        ]
        let text = texts.render("relending", locale: locale, values: values)
        func evidence(_ key: String, _ value: String) -> Evidence { Evidence(key, value, labels: Self.labels, locale: locale) }
        return [LeadDraft(
            key: "relending:\(loan.id):\(repaid)", kind: "relending", priority: configuration.priority(for: amount),
            clientId: client.id, title: text.title, summary: text.summary, suggestedAction: text.suggestedAction,
            evidence: [
                evidence("loan", "\(Masking.accountNumber(loan.id)) \(LeadFormat.loan(loan.product, locale: locale))"),
                evidence("principal", LeadFormat.amount(amount, currency: loan.currency, locale: locale)),
                evidence("repaidDate", repaid.description),
                evidence("maturityDate", maturity.description),
                evidence("daysEarly", LeadFormat.text("\(early)天（标准：提前超过\(configuration.earlyRepaymentDays)天）",
                                                      "\(early) days (more than \(configuration.earlyRepaymentDays))", locale: locale)),
                evidence("goodStanding", LeadFormat.text("近\(configuration.overdueLookbackDays)天无逾期",
                                                         "no overdue in the last \(configuration.overdueLookbackDays) days", locale: locale)),
            ],
            dueAt: context.dueAt(context.today.adding(days: 7)), sourceEvents: [event.id])]
    }

    // MARK: - Good standing

    func isRenewable(_ loan: LoanState, now: Date) -> Bool {
        (loan.status ?? "active") == "active" && loan.overdueDays == 0 && !overdueRecently(loan, now: now)
            && productQualifies(loan)
    }

    private func overdueRecently(_ loan: LoanState, now: Date) -> Bool {
        guard let last = loan.lastOverdueAt else { return false }
        return now.timeIntervalSince(last) < Double(configuration.overdueLookbackDays) * 86_400
    }

    private func productQualifies(_ loan: LoanState) -> Bool {
        configuration.products.isEmpty || loan.product.map(configuration.products.contains) ?? false
    }

    private func renewal(_ loan: LoanState, client: ClientState, maturity: LocalDate, window: Int, remaining: Int,
                         context: PluginContext) -> LeadDraft {
        let locale = context.locale
        let outstanding = loan.outstanding ?? loan.principal ?? 0
        let workingDays = configuration.windowUnit == .workingDays
        let values: [String: Any] = [
            "clientName": client.profile.name.map(Masking.name) ?? client.id,
            "product": productName(loan.product, locale: locale),
            "amount": LeadFormat.amount(outstanding, currency: loan.currency, locale: locale),
            "maturityDate": LeadFormat.date(maturity, locale: locale),
            "remaining": remaining,
            "window": window,
            "workingDays": workingDays,
        ]
        let text = texts.render("loan_renewal", locale: locale, values: values)
        func evidence(_ key: String, _ value: String) -> Evidence { Evidence(key, value, labels: Self.labels, locale: locale) }
        let lookback = configuration.overdueLookbackDays
        let status = LeadFormat.status(loan.status ?? "active", locale: locale)
        return LeadDraft(
            key: "\(loan.id):\(maturity):\(window)", kind: "loan_renewal", priority: configuration.priority(for: outstanding),
            clientId: client.id, title: text.title, summary: text.summary, suggestedAction: text.suggestedAction,
            evidence: [
                evidence("loan", "\(Masking.accountNumber(loan.id)) \(LeadFormat.loan(loan.product, locale: locale))"),
                evidence("outstanding", LeadFormat.amount(outstanding, currency: loan.currency, locale: locale)),
                evidence("maturityDate", maturity.description),
                evidence("window", workingDays
                    ? LeadFormat.text("剩余\(remaining)个工作日，在\(window)个工作日提醒范围内",
                                      "\(remaining) working days left ≤ \(window) working days", locale: locale)
                    : LeadFormat.text("剩余\(remaining)天，在\(window)天提醒范围内", "\(remaining) days left ≤ \(window) days",
                                      locale: locale)),
                evidence("goodStanding", LeadFormat.text("贷款状态\(status)，当前无逾期，近\(lookback)天无逾期",
                                                         "status \(status), 0 overdue days, none in the last \(lookback) days",
                                                         locale: locale)),
            ],
            dueAt: context.dueAt(maturity))
    }

    private func productName(_ product: String?, locale: String) -> String {
        product.map { LeadFormat.loanProduct($0, locale: locale) } ?? ""
    }
}
