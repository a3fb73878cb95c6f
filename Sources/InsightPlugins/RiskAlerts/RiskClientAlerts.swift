import Foundation
import InsightCore

extension RiskAlertsPlugin {
    // MARK: - AUM drop

    /// The snapshot's AUM fell at least `drop_percent` below the highest snapshot of the `lookback_days`
    /// before it. Snapshots come from the plugin memory (the committed history misses the batch in flight).
    /// One lead per drop episode: after an alert, only snapshots from the alert's day on can be a new peak.
    func aumDropAlerts(_ event: Event, context: PluginContext, memory: inout RiskMemory) -> [LeadDraft] {
        let rule = configuration.aumDrop
        guard rule.enabled, let clientId = event.clientId, let asOf = event.field("asOf")?.stringValue.flatMap(LocalDate.init),
              let aum = event.field("aum")?.decimalValue else { return [] }
        memory.record(snapshot: RiskMemory.Snapshot(asOf: asOf, aum: aum))
        if let newest = memory.snapshots.last?.asOf { memory.expireSnapshots(before: newest.adding(days: -rule.lookbackDays)) }

        let from = asOf.adding(days: -rule.lookbackDays)
        let candidates = memory.snapshots.filter { snapshot in
            snapshot.asOf >= from && snapshot.asOf < asOf && (memory.aumAlertAsOf.map { snapshot.asOf >= $0 } ?? true)
        }
        // The highest; of equal highs the latest, so a recovery to the old high starts a new episode.
        guard let peak = candidates.max(by: { ($0.aum, $0.asOf) < ($1.aum, $1.asOf) }), peak.aum > 0 else { return [] }
        let drop = (peak.aum - aum) / peak.aum
        guard drop * 100 >= rule.dropPercent else { return [] }
        memory.setAUMAlert(asOf: max(asOf, memory.aumAlertAsOf ?? asOf))

        let values: [String: Any] = [
            "peak": RiskFormat.amount(peak.aum, context), "peakDate": RiskFormat.date(peak.asOf, context),
            "current": RiskFormat.amount(aum, context), "asOf": RiskFormat.date(asOf, context),
            "drop": LeadFormat.percent(drop), "threshold": "\(rule.dropPercent)%", "lookbackDays": String(rule.lookbackDays),
        ]
        let peakText = RiskFormat.amount(peak.aum, context), aumText = RiskFormat.amount(aum, context)
        let dropText = LeadFormat.percent(drop)
        let evidence = [
            self.evidence("peakAum", RiskFormat.text("\(peakText)（\(peak.asOf)）", "\(peakText) on \(peak.asOf)", context), context),
            self.evidence("aum", RiskFormat.text("\(aumText)（\(asOf)）", "\(aumText) on \(asOf)", context), context),
            self.evidence("drop", RiskFormat.text("\(dropText)（\(rule.lookbackDays)天内下降≥\(rule.dropPercent)%预警）",
                                                  "\(dropText) (alert at ≥ \(rule.dropPercent)% within \(rule.lookbackDays) days)", context),
                          context),
        ]
        return [draft(RiskLeadKind.aumDrop, key: "aum_drop:\(clientId):\(peak.asOf)", priority: .normal, clientId: clientId,
                      values: values, evidence: evidence, sourceEvents: [event.id], context: context)]
    }

    // MARK: - Overdue loans

    /// A loan newly overdue, or its overdue days crossing a configured threshold. The memory holds each
    /// overdue loan's highest days so far, so every threshold leads once per overdue episode; when the loan
    /// is back in good standing the episode ends. When one event crosses several thresholds (a missed file),
    /// one lead names the highest.
    func overdueAlerts(_ event: Event, context: PluginContext, memory: inout RiskMemory) -> [LeadDraft] {
        let rule = configuration.overdue
        guard rule.enabled, let clientId = event.clientId, let loanId = event.field("loanId")?.stringValue,
              let loan = context.client?.loans[loanId] else { return [] }
        let overdue = loan.status == "overdue" || (loan.status != "repaid" && loan.overdueDays > 0)
        guard overdue else {
            if memory.overdueLoans[loanId] != nil { memory.setOverdue(nil, for: loanId) }
            return []
        }
        let days = max(loan.overdueDays, 1)
        let previous = memory.overdueLoans[loanId]
        let previousDays = previous?.days ?? 0
        // The episode's first overdue day: remembered, or read back from the reported days (so the same
        // data gives the same key even if the memory was lost).
        let since = previous?.since ?? LocalDate(event.time, in: context.timeZone).adding(days: -loan.overdueDays)
        memory.setOverdue(RiskMemory.OverdueLoan(days: max(previousDays, days), since: since), for: loanId)
        let crossed = rule.thresholds.filter { previousDays < $0 && $0 <= days }
        guard !crossed.isEmpty || previous == nil else { return [] }
        let threshold = crossed.max() ?? 0

        let maskedLoan = Masking.accountNumber(loanId)
        var values: [String: Any] = [
            "loan": maskedLoan, "since": RiskFormat.date(since, context),
        ]
        values["days"] = loan.overdueDays > 0 ? String(loan.overdueDays) : nil
        values["threshold"] = threshold > 0 ? String(threshold) : nil
        values["product"] = loan.product.map { RiskFormat.loanProduct($0, context) }
        values["outstanding"] = loan.outstanding.map { LeadFormat.amount($0, currency: loan.currency, locale: context.locale) }
        let thresholds = rule.thresholds.map(String.init)
        var evidence = [
            self.evidence("loanId", maskedLoan, context),
            self.evidence("status", loan.status.map { LeadFormat.status($0, locale: context.locale) }
                            ?? RiskFormat.text("未注明", "(absent)", context), context),
            self.evidence("overdueDays", RiskFormat.text("\(loan.overdueDays)天（此前\(previousDays)天）",
                                                         "\(loan.overdueDays) (previously \(previousDays))", context), context),
            self.evidence("threshold", threshold > 0
                            ? RiskFormat.text("\(threshold)天（提示节点：\(thresholds.joined(separator: "、"))天）",
                                              "\(threshold) days (thresholds \(thresholds.joined(separator: ", ")))", context)
                            : RiskFormat.text("新转逾期", "newly overdue", context), context),
            self.evidence("overdueSince", since.description, context),
        ]
        if let product = loan.product {
            evidence.append(self.evidence("product", LeadFormat.loan(product, locale: context.locale), context))
        }
        if let outstanding = loan.outstanding {
            evidence.append(self.evidence("outstanding", LeadFormat.amount(outstanding, currency: loan.currency,
                                                                           locale: context.locale), context))
        }
        return [draft(RiskLeadKind.overdue, key: "overdue:\(clientId):\(loanId):\(since):\(threshold)", priority: .high,
                      clientId: clientId, values: values, evidence: evidence, sourceEvents: [event.id], context: context)]
    }

    // MARK: - Corporate leverage

    /// On a period's financials: the debt ratio (liabilities / assets) above `max_debt_ratio`; up by at least
    /// `ratio_rise_points` against the previous period; operating cash flow negative in the last
    /// `negative_cash_flow_periods` periods. "Previous" means the latest earlier period of the same form
    /// (`2026Q2` before `2026Q3`, `2025` before `2026`), so quarters are not compared with half-years.
    func corporateLeverageAlerts(_ event: Event, context: PluginContext) -> [LeadDraft] {
        let rule = configuration.corporateLeverage
        guard rule.enabled, let clientId = event.clientId, let period = event.field("period")?.stringValue,
              let client = context.client, let current = client.financials[period] else { return [] }
        let form = Self.periodForm(period)
        let history = client.financials.keys.filter { Self.periodForm($0) == form && $0 <= period }.sorted()
        let previousPeriod = history.dropLast().last
        let previous = previousPeriod.flatMap { client.financials[$0] }
        let ratio = Self.debtRatio(current), previousRatio = previous.flatMap(Self.debtRatio)

        var drafts: [LeadDraft] = []
        func lead(_ reason: String, values extra: [String: Any], evidence extraEvidence: [Evidence]) {
            var values: [String: Any] = ["period": period, "maxRatio": LeadFormat.percent(rule.maxDebtRatio),
                                         "minRise": RiskFormat.points(rule.ratioRisePoints / 100)]
            values["ratio"] = ratio.map(LeadFormat.percent)
            values["previousRatio"] = previousRatio.map(LeadFormat.percent)
            values["previousPeriod"] = previousPeriod
            values.merge(extra) { $1 }
            var evidence = [self.evidence("period", period, context)]
            if let ratio {
                let parts = Self.amountText(current.totalLiabilities, context) + " / " + Self.amountText(current.totalAssets, context)
                evidence.append(self.evidence("debtRatio", LeadFormat.percent(ratio)
                                                + RiskFormat.text("（负债\(parts.replacingOccurrences(of: " / ", with: "，资产"))）", " (\(parts))", context),
                                              context))
            }
            evidence += extraEvidence
            drafts.append(draft(RiskLeadKind.corporateLeverage, key: "corporate_leverage:\(clientId):\(period):\(reason)",
                                priority: .high, clientId: clientId, values: values, evidence: evidence,
                                sourceEvents: [event.id], context: context))
        }

        if let ratio, ratio > rule.maxDebtRatio {
            lead("debt_ratio", values: ["ratioHigh": true],
                 evidence: [self.evidence("threshold", RiskFormat.text("资产负债率高于\(LeadFormat.percent(rule.maxDebtRatio))",
                                                                       "debt ratio above \(LeadFormat.percent(rule.maxDebtRatio))", context),
                                          context)])
        }
        if let ratio, let previousRatio, let previousPeriod, (ratio - previousRatio) * 100 >= rule.ratioRisePoints {
            let points = RiskFormat.points(ratio - previousRatio)
            lead("debt_ratio_rise", values: ["ratioRise": true, "risePoints": points], evidence: [
                self.evidence("previousDebtRatio", LeadFormat.percent(previousRatio)
                                + RiskFormat.text("（\(previousPeriod)）", " (\(previousPeriod))", context), context),
                self.evidence("rise", RiskFormat.text(
                    "\(points)个百分点（≥\(RiskFormat.points(rule.ratioRisePoints / 100))个百分点预警）",
                    "\(points) percentage points (alert at ≥ \(RiskFormat.points(rule.ratioRisePoints / 100)))", context), context),
            ])
        }
        let recent = history.suffix(rule.negativeCashFlowPeriods)
        let flows = recent.compactMap { client.financials[$0]?.operatingCashFlow }
        if recent.count == rule.negativeCashFlowPeriods, flows.count == recent.count, flows.allSatisfy({ $0 < 0 }) {
            let listed = zip(recent, flows).map { "\($0) \(RiskFormat.amount($1, context))" }
            lead("negative_cash_flow", values: ["cashFlow": true, "periods": String(recent.count),
                                                "cashFlows": listed.joined(separator: context.locale == "en" ? ", " : "；")],
                 evidence: [self.evidence("operatingCashFlow", LeadFormat.list(listed, locale: context.locale), context),
                            self.evidence("threshold", RiskFormat.text("连续\(rule.negativeCashFlowPeriods)期为负",
                                                                       "negative for \(rule.negativeCashFlowPeriods) consecutive periods",
                                                                       context), context)])
        }
        return drafts
    }

    /// The shape of a period string, digits replaced: `2026Q3` → `####Q#`, `2025` → `####`.
    static func periodForm(_ period: String) -> String {
        String(period.map { $0.isASCII && $0.isNumber ? "#" : $0 })
    }

    static func debtRatio(_ financials: Financials) -> Decimal? {
        guard let assets = financials.totalAssets, assets > 0, let liabilities = financials.totalLiabilities else { return nil }
        return liabilities / assets
    }

    private static func amountText(_ value: Decimal?, _ context: PluginContext) -> String {
        value.map { RiskFormat.amount($0, context) } ?? "?"
    }

    // MARK: - No wealth purchase

    /// Wealth-segment clients whose last wealth purchase lies between `days + catch_up_days` and `days` ago.
    /// The band keeps the indexed query small; the key (the purchase date) makes each lapse lead once.
    func noPurchaseAlerts(context: PluginContext) throws -> [LeadDraft] {
        let rule = configuration.noPurchase
        guard rule.enabled else { return [] }
        let day: TimeInterval = 86_400
        let until = context.now.addingTimeInterval(-Double(rule.days) * day)
        let from = context.now.addingTimeInterval(-Double(rule.days + rule.catchUpDays) * day)
        let clients = try context.state.clients(lastWealthPurchaseFrom: from, until: until).sorted { $0.id < $1.id }
        var drafts: [LeadDraft] = []
        for client in clients where !client.profile.isClosed {
            guard let segment = client.profile.segment, rule.segments.contains(segment),
                  let last = client.lastWealthPurchaseAt else { continue }
            let lastDate = LocalDate(last, in: context.timeZone)
            let days = lastDate.days(until: context.today)
            let holdings = client.holdings.values.reduce(Decimal(0)) { $0 + $1.amount }
            let values: [String: Any] = [
                "days": String(days), "lastPurchase": RiskFormat.date(lastDate, context),
                "thresholdDays": String(rule.days), "segment": LeadFormat.segment(segment, locale: context.locale),
            ]
            let evidence = [
                self.evidence("lastWealthPurchaseAt", RiskFormat.instant(last, context), context),
                self.evidence("daysSincePurchase", RiskFormat.text("\(days)天（超过\(rule.days)天提醒）",
                                                                   "\(days) (reminder after \(rule.days))", context), context),
                self.evidence("segment", LeadFormat.segment(segment, locale: context.locale), context),
                self.evidence("wealthHoldings", RiskFormat.amount(holdings, context), context),
            ]
            drafts.append(draft(RiskLeadKind.noPurchase, key: "no_purchase:\(client.id):\(lastDate)", priority: .normal,
                                clientId: client.id, values: values, evidence: evidence, sourceEvents: [], context: context))
        }
        return drafts
    }
}
