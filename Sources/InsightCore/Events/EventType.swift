/// The event types of the v1 contract (DESIGN §3) and the rules their `data` must follow.
public enum EventType {
    public static let clientProfile = "client.profile"
    public static let managerProfile = "manager.profile"
    public static let accountTransaction = "account.transaction"
    public static let accountBalance = "account.balance"
    public static let depositTerm = "deposit.term"
    public static let loanAccount = "loan.account"
    public static let wealthTrade = "wealth.trade"
    public static let corporateFinancials = "corporate.financials"
    public static let crmInteraction = "crm.interaction"

    /// Every known type, in contract order.
    public static let known: [String] = [
        clientProfile, managerProfile, accountTransaction, accountBalance, depositTerm, loanAccount, wealthTrade,
        corporateFinancials, crmInteraction,
    ]

    /// The shared copy of a known type's name, or `type` itself: every event of a known type then holds the same
    /// string (no heap copy of its own, for the names too long to be stored inline), and comparing it with the
    /// constants above is an identity check.
    public static func interned(_ type: String) -> String {
        byName[type] ?? type
    }

    private static let byName = Dictionary(known.map { ($0, $0) }, uniquingKeysWith: { first, _ in first })

    /// Known types that describe one client and so need a `clientId`.
    public static func isClientScoped(_ type: String) -> Bool {
        known.contains(type) && type != managerProfile
    }

    /// The field rules of a known type; nil for an unknown type.
    public static func schema(for type: String) -> [FieldRule]? {
        schemas[type]
    }

    static let segments = ["mass", "affluent", "hnw", "private", "corporate"]

    private static let schemas: [String: [FieldRule]] = [
        clientProfile: [
            .init("name", .string), .init("birthDate", .date), .init("birthCalendar", .oneOf(["gregorian", "chinese"])),
            .init("segment", .oneOf(segments)), .init("riskLevel", .riskLevel), .init("riskAssessedAt", .dateOrTime),
            .init("managerId", .string), .init("branchId", .string), .init("tags", .stringList),
            .init("phone", .string), .init("idNumber", .string), .init("marketingConsent", .bool),
            .init("status", .oneOf(["active", "closed"])),
        ],
        managerProfile: [
            .init("managerId", .string, required: true), .init("name", .string), .init("branchId", .string),
            .init("mobile", .string), .init("wecomUserId", .string), .init("dingtalkUserId", .string),
            .init("email", .string), .init("active", .bool),
        ],
        accountTransaction: [
            .init("accountId", .string, required: true), .init("amount", .decimal, required: true),
            .init("currency", .currency), .init("direction", .oneOf(["credit", "debit"]), required: true),
            .init("channel", .string), .init("counterparty", .string), .init("balanceAfter", .decimal),
        ],
        accountBalance: [
            .init("asOf", .date, required: true), .init("aum", .decimal, required: true), .init("deposits", .decimal),
            .init("wealth", .decimal), .init("loans", .decimal), .init("currency", .currency),
        ],
        depositTerm: [
            .init("depositId", .string, required: true), .init("amount", .decimal, required: true),
            .init("currency", .currency), .init("openDate", .date), .init("maturityDate", .date, required: true),
            .init("status", .string),
        ],
        loanAccount: [
            .init("loanId", .string, required: true), .init("product", .string), .init("principal", .decimal),
            .init("outstanding", .decimal), .init("currency", .currency), .init("maturityDate", .date),
            .init("status", .oneOf(["active", "repaid", "overdue"])), .init("overdueDays", .nonNegativeInteger),
            .init("repaidDate", .date),
        ],
        wealthTrade: [
            .init("productId", .string, required: true), .init("action", .oneOf(["buy", "redeem"]), required: true),
            .init("amount", .decimal, required: true), .init("currency", .currency),
        ],
        corporateFinancials: [
            .init("period", .string, required: true), .init("totalAssets", .decimal),
            .init("totalLiabilities", .decimal), .init("operatingCashFlow", .decimal), .init("revenue", .decimal),
        ],
        crmInteraction: [
            .init("managerId", .string), .init("channel", .oneOf(["call", "visit", "wechat", "branch"])),
            .init("leadId", .string), .init("outcome", .string),
        ],
    ]
}

/// One field of a known event type's `data`.
public struct FieldRule: Sendable {
    public enum Kind: Sendable {
        case string
        case decimal
        case date
        case dateOrTime
        case bool
        case nonNegativeInteger
        case currency
        case riskLevel
        case stringList
        case oneOf([String])
    }

    public let name: String
    public let kind: Kind
    public let required: Bool

    init(_ name: String, _ kind: Kind, required: Bool = false) {
        self.name = name
        self.kind = kind
        self.required = required
    }

    /// Checks one value; returns a message saying what is wrong and what is expected, or nil when it is fine.
    func problem(with value: JSONValue) -> String? {
        if case .null = value { return required ? "is required and must not be null" : nil }
        switch kind {
        case .string:
            guard case .string(let text) = value, !text.isEmpty else { return "must be a non-empty string, got \(value.typeName)" }
        case .decimal:
            guard value.decimalValue != nil else {
                return "must be a decimal number or decimal string such as \"1234.50\", got \(describe(value))"
            }
        case .date:
            guard let text = value.stringValue, LocalDate(text) != nil else {
                return "must be a date as YYYY-MM-DD, got \(describe(value))"
            }
        case .dateOrTime:
            guard let text = value.stringValue, LocalDate(text) != nil || RFC3339.parse(text) != nil else {
                return "must be a date (YYYY-MM-DD) or an RFC 3339 time, got \(describe(value))"
            }
        case .bool:
            guard value.boolValue != nil else { return "must be true or false, got \(describe(value))" }
        case .nonNegativeInteger:
            guard let number = value.decimalValue, number >= 0, number == number.rounded() else {
                return "must be a whole number ≥ 0, got \(describe(value))"
            }
        case .currency:
            guard let code = value.stringValue, code.utf8.count == 3, code.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else {
                return "must be an ISO 4217 code such as \"CNY\", got \(describe(value))"
            }
        case .riskLevel:
            guard RiskLevel(value) != nil else { return "must be 1–5 or C1–C5, got \(describe(value))" }
        case .stringList:
            guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
                return "must be a list of strings, got \(describe(value))"
            }
        case .oneOf(let allowed):
            guard let text = value.stringValue, allowed.contains(text) else {
                return "must be one of \(allowed.joined(separator: ", ")), got \(describe(value))"
            }
        }
        return nil
    }

    private func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return EventRejection.excerpt(text)
        case .number(let literal): return EventRejection.excerpt(literal, quoted: false)
        case .bool(let flag): return String(flag)
        default: return value.typeName
        }
    }
}

extension Decimal {
    fileprivate func rounded() -> Decimal {
        var copy = self
        var result = Decimal()
        NSDecimalRound(&result, &copy, 0, .down)
        return result
    }
}

import Foundation
