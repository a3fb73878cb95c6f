import Foundation

extension ClientState {
    /// Applies one validated event to this client's state and returns what changed.
    ///
    /// Pure and deterministic: the same events in the same order always give the same state.
    @discardableResult
    public mutating func apply(_ event: Event) -> StateChanges {
        guard event.dataIsObject else { return [] }
        var changes = StateChanges()
        // `lastEventAt` is kept exactly in memory but stored at day resolution: it is written when it
        // reaches a new (UTC) day, not on every event, which would double the writes of a busy client.
        if lastEventAt.map({ event.time > $0 }) ?? true {
            let previousDay = lastEventAt.map { Int(($0.timeIntervalSince1970 / 86_400).rounded(.down)) }
            lastEventAt = event.time
            if previousDay != Int((event.time.timeIntervalSince1970 / 86_400).rounded(.down)) { changes.insert(.activity) }
        }
        func decimal(_ key: String) -> Decimal? { event.field(key)?.decimalValue }
        func string(_ key: String) -> String? { event.field(key)?.stringValue }
        func date(_ key: String) -> LocalDate? { event.field(key)?.stringValue.flatMap(LocalDate.init) }
        // A transaction's fields are looked up once per event (``Event/transaction``); other types look theirs up here.
        if let transaction = event.transaction {
            guard let accountId = transaction.accountId else { return changes }
            var account = accounts[accountId] ?? AccountState(id: accountId, currency: transaction.currency ?? "CNY")
            if let balanceAfter = transaction.balanceAfter {
                account.balance = balanceAfter
            } else if let amount = transaction.amount, let balance = account.balance {
                account.balance = transaction.direction == "debit" ? balance - amount : balance + amount
            }
            // A late transaction (older than the latest) does not move the latest one.
            if account.lastTransactionAt.map({ event.time >= $0 }) ?? true {
                account.previousTransactionAt = account.lastTransactionAt
                account.lastTransactionAt = event.time
            }
            account.transactionCount += 1
            accounts[accountId] = account
            changes.insert(.account(accountId))
            return changes
        }
        let currency = string("currency") ?? "CNY"

        switch event.type {
        case EventType.clientProfile:
            profile.merge(event.data.objectValue ?? [:])
            changes.insert(.profile)

        case EventType.accountBalance:
            guard let asOf = date("asOf"), let aum = decimal("aum") else { break }
            // A late snapshot for an earlier day does not replace a newer one.
            if let current = balance, current.asOf > asOf { break }
            balance = BalanceSnapshot(asOf: asOf, aum: aum, deposits: decimal("deposits"), wealth: decimal("wealth"),
                                      loans: decimal("loans"))
            changes.insert(.balance)

        case EventType.depositTerm:
            guard let depositId = string("depositId"), let amount = decimal("amount"),
                  let maturity = date("maturityDate") else { break }
            deposits[depositId] = TermDeposit(id: depositId, amount: amount, currency: currency, openDate: date("openDate"),
                                              maturityDate: maturity, status: string("status"))
            changes.insert(.deposit(depositId))

        case EventType.loanAccount:
            guard let loanId = string("loanId") else { break }
            var loan = loans[loanId] ?? LoanState(id: loanId, currency: currency, overdueDays: 0)
            if let product = string("product") { loan.product = product }
            if let principal = decimal("principal") { loan.principal = principal }
            if let outstanding = decimal("outstanding") { loan.outstanding = outstanding }
            if let maturity = date("maturityDate") { loan.maturityDate = maturity }
            if let repaid = date("repaidDate") { loan.repaidDate = repaid }
            if let status = string("status") { loan.status = status }
            if let days = decimal("overdueDays") { loan.overdueDays = NSDecimalNumber(decimal: days).intValue }
            // Only an event that itself reports the loan overdue moves the last-overdue time.
            let reportsOverdue = string("status") == "overdue" || (decimal("overdueDays").map { $0 > 0 } ?? false)
            if reportsOverdue { loan.lastOverdueAt = event.time }
            loans[loanId] = loan
            changes.insert(.loan(loanId))

        case EventType.wealthTrade:
            guard let productId = string("productId"), let amount = decimal("amount") else { break }
            var holding = holdings[productId] ?? Holding(productId: productId, amount: 0)
            holding.amount = string("action") == "redeem" ? max(0, holding.amount - amount) : holding.amount + amount
            holding.lastTradeAt = event.time
            holdings[productId] = holding
            changes.insert(.holding(productId))
            if string("action") != "redeem", lastWealthPurchaseAt.map({ event.time > $0 }) ?? true {
                lastWealthPurchaseAt = event.time
                changes.insert(.wealthPurchase)
            }

        case EventType.corporateFinancials:
            guard let period = string("period") else { break }
            financials[period] = Financials(period: period, totalAssets: decimal("totalAssets"),
                                            totalLiabilities: decimal("totalLiabilities"),
                                            operatingCashFlow: decimal("operatingCashFlow"), revenue: decimal("revenue"))
            changes.insert(.financials(period))

        case EventType.crmInteraction:
            if lastInteractionAt.map({ event.time > $0 }) ?? true {
                lastInteractionAt = event.time
                changes.insert(.activity)
            }

        default:
            break  // Unknown types are journaled and offered to the rules plugin; they change no state.
        }
        return changes
    }
}

extension ClientProfile {
    /// Partial update: fields present in `data` replace the old value, `null` clears it, absent fields stay.
    mutating func merge(_ data: [String: JSONValue]) {
        func text(_ key: String) -> String?? {
            guard let value = data[key] else { return .none }
            if case .null = value { return .some(nil) }
            return .some(value.stringValue)
        }
        if let value = text("name") { name = value }
        if let value = text("birthDate") { birthDate = value.flatMap(LocalDate.init) }
        if let value = text("birthCalendar") { birthCalendar = value.flatMap(BirthCalendar.init(rawValue:)) }
        if let value = text("segment") { segment = value }
        if let value = data["riskLevel"] {
            let level = RiskLevel(value)
            // A new level without its assessment date is not a valid assessment: suitability then fails
            // closed (R1 only) until the date arrives.
            if level != riskLevel, data["riskAssessedAt"] == nil { riskAssessedAt = nil }
            riskLevel = level
        }
        if let value = text("riskAssessedAt") {
            riskAssessedAt = value.flatMap { LocalDate($0) ?? LocalDate(String($0.prefix(10))) }
        }
        if let value = text("managerId") { managerId = value }
        if let value = text("branchId") { branchId = value }
        if let value = data["tags"] { tags = value.arrayValue?.compactMap(\.stringValue) ?? [] }
        if let value = text("phone") { phone = value }
        if let value = text("idNumber") { idNumber = value }
        if let value = data["marketingConsent"] { marketingConsent = value.boolValue }
        if let value = text("status") { status = value }
    }
}

extension ManagerState {
    /// Applies a `manager.profile` event (partial update, like client profiles).
    public mutating func apply(_ data: JSONValue) {
        guard case .object(let fields) = data else { return }
        if let value = fields["name"] { name = value.stringValue }
        if let value = fields["branchId"] { branchId = value.stringValue }
        if let value = fields["mobile"] { mobile = value.stringValue }
        if let value = fields["wecomUserId"] { wecomUserId = value.stringValue }
        if let value = fields["dingtalkUserId"] { dingtalkUserId = value.stringValue }
        if let value = fields["email"] { email = value.stringValue }
        if let value = fields["active"]?.boolValue { active = value }
    }
}
