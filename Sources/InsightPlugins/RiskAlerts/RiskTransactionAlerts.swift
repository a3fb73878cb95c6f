import Foundation
import InsightCore

/// One `account.transaction`, as the AML rules read it.
struct RiskTransaction {
    let accountId: String
    let amount: Decimal
    /// The amount as ``Decimal/plainText`` writes it: the event's own literal when it already is that text.
    let amountText: String
    let isCredit: Bool
    let channel: String?
    let counterparty: String?
    let currency: String

    init?(_ event: Event) {
        guard let fields = event.transaction, let accountId = fields.accountId, let amount = fields.amount,
              let direction = fields.direction, direction == "credit" || direction == "debit"
        else { return nil }
        self.accountId = accountId
        self.amount = amount
        // The literal as written, when it is already the amount's plain text (most are); else that text.
        if let literal = fields.amountLiteral, Decimal.isPlainText(literal) {
            amountText = literal
        } else {
            amountText = amount.plainText
        }
        isCredit = direction == "credit"
        channel = fields.channel
        counterparty = fields.counterparty.flatMap { $0.isEmpty ? nil : $0 }
        currency = fields.currency ?? "CNY"
    }

    var maskedAccount: String { Masking.field("accountId", value: accountId) }
    var maskedCounterparty: String? { counterparty.map { Masking.field("counterparty", value: $0) } }
}

extension RiskAlertsPlugin {
    private static let hour: Int64 = 3_600_000

    /// Large transaction, dormant reactivation, velocity and rapid in-out, in that order. Thresholds are in
    /// CNY, so only CNY transactions are measured.
    func transactionAlerts(_ event: Event, context: PluginContext, memory: inout RiskMemory) -> [LeadDraft] {
        guard let transaction = RiskTransaction(event), transaction.currency == "CNY", let clientId = event.clientId
        else { return [] }
        var drafts: [LeadDraft] = []
        if let draft = largeTransaction(event, transaction, clientId: clientId, context: context) { drafts.append(draft) }
        if let draft = dormantReactivation(event, transaction, clientId: clientId, context: context) { drafts.append(draft) }

        // Remember what the windows need, then forget what has left the longest one.
        let at = RiskMemory.milliseconds(event.time)
        let movement = RiskMemory.Movement(at: at, amountText: transaction.amountText,
                                           eventId: event.id, source: event.source, accountId: transaction.accountId)
        let velocity = configuration.velocity, rapid = configuration.rapidInOut
        let longest = Int64(max(velocity.enabled ? velocity.windowHours : 0, rapid.enabled ? rapid.windowHours : 0)) * Self.hour
        // Recording the movement cannot move the latest one back, so the cutoff is known before it is recorded: a
        // late movement already outside the longest window would be expired at once, and is not recorded (the
        // memory is then unchanged, and not written again).
        let cutoff = max(at, memory.latestMovement ?? at) - longest
        if at >= cutoff {
            if transaction.isCredit {
                if rapid.enabled, transaction.amount >= rapid.minCredit { memory.record(credit: movement) }
            } else if velocity.enabled || rapid.enabled {
                memory.record(debit: movement)
            }
        }
        memory.expireMovements(before: cutoff)

        guard !transaction.isCredit else { return drafts }
        if velocity.enabled, let draft = velocityAlert(event, at: at, clientId: clientId, context: context, memory: &memory) {
            drafts.append(draft)
        }
        if rapid.enabled { drafts += rapidInOut(event, at: at, clientId: clientId, context: context, memory: &memory) }
        return drafts
    }

    // MARK: - Large transaction

    private func largeTransaction(_ event: Event, _ transaction: RiskTransaction, clientId: String,
                                  context: PluginContext) -> LeadDraft? {
        let rule = configuration.largeTransaction
        guard rule.enabled else { return nil }
        let cash = transaction.channel.map(rule.cashChannels.contains) ?? false
        let threshold = cash ? rule.cashThreshold : rule.transferThreshold
        guard transaction.amount >= threshold else { return nil }
        var values: [String: Any] = [
            "amount": RiskFormat.amount(transaction.amount, context), "threshold": RiskFormat.amount(threshold, context),
            "cash": cash, "credit": transaction.isCredit, "account": transaction.maskedAccount,
            "channel": RiskFormat.channel(transaction.channel, context), "time": RiskFormat.time(event.time, context),
        ]
        values["counterparty"] = transaction.maskedCounterparty
        let thresholdText = RiskFormat.amount(threshold, context)
        var evidence = [
            self.evidence("amount", RiskFormat.amount(transaction.amount, context), context),
            self.evidence("direction", RiskFormat.direction(transaction.isCredit, context), context),
            self.evidence("channel", RiskFormat.channel(transaction.channel, context), context),
            self.evidence("threshold", cash ? RiskFormat.text("≥\(thresholdText)（现金）", "≥ \(thresholdText) (cash)", context)
                                            : RiskFormat.text("≥\(thresholdText)（非现金）", "≥ \(thresholdText) (non-cash)", context),
                          context),
            self.evidence("accountId", transaction.maskedAccount, context),
        ]
        if let counterparty = transaction.maskedCounterparty { evidence.append(self.evidence("counterparty", counterparty, context)) }
        evidence.append(self.evidence("time", RiskFormat.instant(event.time, context), context))
        return draft(RiskLeadKind.largeTransaction, key: "large_transaction:\(event.source):\(event.id)", priority: .urgent,
                     clientId: clientId, values: values, evidence: evidence, sourceEvents: [event.id], context: context)
    }

    // MARK: - Dormant reactivation

    private func dormantReactivation(_ event: Event, _ transaction: RiskTransaction, clientId: String,
                                     context: PluginContext) -> LeadDraft? {
        let rule = configuration.dormantReactivation
        // The projection already holds this event: it is the account's latest transaction (not a late one),
        // and `previousTransactionAt` is when the account last moved before it.
        guard rule.enabled, transaction.amount >= rule.minAmount,
              let account = context.client?.accounts[transaction.accountId], let latest = account.lastTransactionAt,
              RiskMemory.milliseconds(latest) == RiskMemory.milliseconds(event.time),
              let previous = account.previousTransactionAt else { return nil }
        let quietDays = Int((event.time.timeIntervalSince(previous) / 86_400).rounded(.down))
        guard quietDays >= rule.dormantDays else { return nil }
        let values: [String: Any] = [
            "amount": RiskFormat.amount(transaction.amount, context), "credit": transaction.isCredit,
            "account": transaction.maskedAccount, "dormantDays": String(quietDays), "minDays": String(rule.dormantDays),
            "lastBefore": RiskFormat.date(LocalDate(previous, in: context.timeZone), context),
            "time": RiskFormat.time(event.time, context),
        ]
        let amount = RiskFormat.amount(transaction.amount, context), minimum = RiskFormat.amount(rule.minAmount, context)
        var evidence = [
            self.evidence("accountId", transaction.maskedAccount, context),
            self.evidence("previousTransactionAt", RiskFormat.instant(previous, context), context),
            self.evidence("quietDays", RiskFormat.text("\(quietDays)天（休眠标准\(rule.dormantDays)天）",
                                                       "\(quietDays) (dormant after \(rule.dormantDays))", context), context),
            self.evidence("amount", RiskFormat.text("\(amount)（标准：≥\(minimum)）", "\(amount) (threshold ≥ \(minimum))", context),
                          context),
            self.evidence("direction", RiskFormat.direction(transaction.isCredit, context), context),
        ]
        if let counterparty = transaction.maskedCounterparty { evidence.append(self.evidence("counterparty", counterparty, context)) }
        evidence.append(self.evidence("time", RiskFormat.instant(event.time, context), context))
        return draft(RiskLeadKind.dormantReactivation, key: "dormant_reactivation:\(event.source):\(event.id)",
                     priority: .urgent, clientId: clientId, values: values, evidence: evidence, sourceEvents: [event.id],
                     context: context)
    }

    // MARK: - Velocity

    /// More than `max_debit_count` debits, or a total above `max_debit_total`, with event times in
    /// `[t − window, t]`. While an earlier alert lies within one window of this debit, the burst has already
    /// been reported and nothing new is made.
    private func velocityAlert(_ event: Event, at: Int64, clientId: String, context: PluginContext,
                               memory: inout RiskMemory) -> LeadDraft? {
        let rule = configuration.velocity
        let window = Int64(rule.windowHours) * Self.hour
        // Counted in place first, in exact integer units where every amount has them: on most debits nothing
        // fires, and that path neither allocates nor does decimal arithmetic.
        var count = 0
        var units: Int64? = 0
        // By index, reading two fields: iterating the elements would copy each debit (and retain its strings).
        for index in memory.debits.indices where memory.debits[index].at >= at - window && memory.debits[index].at <= at {
            count += 1
            units = Self.adding(memory.debits[index].units, to: units)
        }
        let byTotal: Bool
        if let units, let limit = rule.maxDebitTotalUnits {
            byTotal = units > limit
        } else {
            byTotal = memory.debits.reduce(Decimal(0)) { $1.at >= at - window && $1.at <= at ? $0 + $1.amount : $0 }
                > rule.maxDebitTotal
        }
        let byCount = count > rule.maxDebitCount
        guard byCount || byTotal else { return nil }
        if let previous = memory.velocityAlertAt, abs(at - previous) <= window { return nil }
        let debits = memory.debits.filter { $0.at >= at - window && $0.at <= at }
        guard let first = debits.first, let last = debits.last else { return nil }
        let total = debits.reduce(Decimal(0)) { $0 + $1.amount }
        memory.setVelocityAlert(at: at)

        let from = RiskMemory.date(first.at), to = RiskMemory.date(last.at)
        var values: [String: Any] = [
            "count": String(debits.count), "total": RiskFormat.amount(total, context), "windowHours": String(rule.windowHours),
            "from": RiskFormat.time(from, context),
            "maxCount": String(rule.maxDebitCount), "maxTotal": RiskFormat.amount(rule.maxDebitTotal, context),
            "byCount": byCount, "byTotal": byTotal, "both": byCount && byTotal,
        ]
        if RiskFormat.time(to, context) != RiskFormat.time(from, context) { values["to"] = RiskFormat.time(to, context) }
        let accounts = Set(debits.map(\.accountId)).sorted().map { Masking.field("accountId", value: $0) }
        let totalText = RiskFormat.amount(total, context), maxTotal = RiskFormat.amount(rule.maxDebitTotal, context)
        let evidence = [
            self.evidence("window", RiskFormat.text("按交易时间滑动统计\(rule.windowHours)小时",
                                                    "\(rule.windowHours)h sliding, on event time", context), context),
            self.evidence("debitCount", RiskFormat.text("\(debits.count)笔（超过\(rule.maxDebitCount)笔预警）",
                                                        "\(debits.count) (alert above \(rule.maxDebitCount))", context), context),
            self.evidence("debitTotal", RiskFormat.text("\(totalText)（超过\(maxTotal)预警）", "\(totalText) (alert above \(maxTotal))",
                                                        context), context),
            self.evidence("firstDebitAt", RiskFormat.instant(from, context), context),
            self.evidence("lastDebitAt", RiskFormat.instant(to, context), context),
            self.evidence("accounts", LeadFormat.list(accounts, locale: context.locale), context),
        ]
        return draft(RiskLeadKind.velocity, key: "velocity:\(event.source):\(event.id)", priority: .urgent,
                     clientId: clientId, values: values, evidence: evidence, sourceEvents: debits.map(\.eventId),
                     context: context)
    }

    /// A running sum of exact ten-thousandths: nil once an amount has none; the caller then adds `Decimal`s. A window
    /// holds at most ``RiskMemory/maximumDebits`` amounts below 10¹⁶ units each, far from overflowing; should that bound
    /// ever grow, an overflow gives nil too rather than stop the daemon.
    static func adding(_ amount: Int64?, to sum: Int64?) -> Int64? {
        guard let sum, let amount else { return nil }
        let (total, overflow) = sum.addingReportingOverflow(amount)
        return overflow ? nil : total
    }

    // MARK: - Rapid in-out

    /// For each large credit not yet reported whose window still holds this debit: the debits since the
    /// credit (within the window) add up to at least `out_ratio` of it.
    private func rapidInOut(_ event: Event, at: Int64, clientId: String, context: PluginContext,
                            memory: inout RiskMemory) -> [LeadDraft] {
        let rule = configuration.rapidInOut
        let window = Int64(rule.windowHours) * Self.hour
        var drafts: [LeadDraft] = []
        for credit in memory.credits where !credit.alerted && credit.at <= at && at - credit.at <= window {
            let creditAmount = credit.amount
            guard creditAmount > 0 else { continue }
            let threshold = creditAmount * rule.outRatio
            // The check first, in exact integer units where every debit has them: on most debits nothing fires, and a
            // movement keeps its amount as text (parsing each again for every debit would cost more than the rule).
            var units: Int64? = 0
            for index in memory.debits.indices
            where memory.debits[index].at >= credit.at && memory.debits[index].at <= credit.at + window {
                units = Self.adding(memory.debits[index].units, to: units)
            }
            if let units, Decimal(units) / 10_000 < threshold { continue }
            let debits = memory.debits.filter { $0.at >= credit.at && $0.at <= credit.at + window }
            let total = debits.reduce(Decimal(0)) { $0 + $1.amount }
            guard total >= threshold else { continue }
            memory.markAlerted(credit: credit)

            let share = total / creditAmount
            let hours = max(1, (at - credit.at + Self.hour - 1) / Self.hour)
            let creditTime = RiskMemory.date(credit.at)
            let account = Masking.field("accountId", value: credit.accountId)
            let values: [String: Any] = [
                "creditAmount": RiskFormat.amount(creditAmount, context), "creditTime": RiskFormat.time(creditTime, context),
                "account": account, "debitCount": String(debits.count), "debitTotal": RiskFormat.amount(total, context),
                "ratio": LeadFormat.percent(share), "minRatio": LeadFormat.percent(rule.outRatio),
                "windowHours": String(rule.windowHours), "hours": String(hours),
            ]
            let creditText = RiskFormat.amount(creditAmount, context), creditAt = RiskFormat.instant(creditTime, context)
            let totalText = RiskFormat.amount(total, context), shareText = LeadFormat.percent(share)
            let minShare = LeadFormat.percent(rule.outRatio)
            var evidence = [
                self.evidence("credit", RiskFormat.text(
                    "\(creditText)于\(creditAt)转入\(account)（事件\(credit.eventId)）",
                    "\(creditText) into \(account) at \(creditAt) (event \(credit.eventId))", context), context),
                self.evidence("debitTotal", RiskFormat.text(
                    "\(totalText)，共\(debits.count)笔支出，占入账金额\(shareText)（≥\(minShare)预警）",
                    "\(totalText) in \(debits.count) debits, \(shareText) of the credit (alert at ≥ \(minShare))", context), context),
                self.evidence("window", RiskFormat.text(
                    "入账后\(rule.windowHours)小时内；最后一笔支出在入账后第\(hours)小时",
                    "\(rule.windowHours)h from the credit; last debit after \(hours)h", context), context),
            ]
            for (index, debit) in debits.prefix(20).enumerated() {
                let amount = RiskFormat.amount(debit.amount, context), from = Masking.field("accountId", value: debit.accountId)
                let at = RiskFormat.instant(RiskMemory.date(debit.at), context)
                evidence.append(Evidence(key: "debit\(index + 1)", label: RiskFormat.text("第\(index + 1)笔支出", "debit \(index + 1)", context),
                                         value: RiskFormat.text("\(amount)于\(at)从\(from)转出（事件\(debit.eventId)）",
                                                                "\(amount) from \(from) at \(at) (event \(debit.eventId))", context)))
            }
            if debits.count > 20 { evidence.append(self.evidence("moreDebits", "\(debits.count - 20)", context)) }
            drafts.append(draft(RiskLeadKind.rapidInOut, key: "rapid_in_out:\(credit.source):\(credit.eventId)",
                                priority: .urgent, clientId: clientId, values: values, evidence: evidence,
                                sourceEvents: [credit.eventId] + debits.map(\.eventId), context: context))
        }
        return drafts
    }
}
