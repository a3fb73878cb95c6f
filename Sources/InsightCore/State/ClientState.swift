import Foundation

/// Everything insightd knows about one client, projected from the journal in order.
///
/// Personal fields (`name`, `phone`, `idNumber`) are held here for matching and templates; they leave the
/// process only masked (see ``Masking``).
public struct ClientState: Sendable, Hashable, Codable {
    public let id: String
    public var profile: ClientProfile
    public var accounts: [String: AccountState]
    /// The latest daily balance snapshot.
    public var balance: BalanceSnapshot?
    public var deposits: [String: TermDeposit]
    public var loans: [String: LoanState]
    /// Wealth holdings by product id.
    public var holdings: [String: Holding]
    /// Corporate financial statements by period (e.g. `2026Q3`).
    public var financials: [String: Financials]
    /// The latest event time. Exact while the client is cached; stored (and so reloaded) at day resolution.
    public var lastEventAt: Date?
    public var lastInteractionAt: Date?
    /// The latest wealth-product purchase (`wealth.trade` with action `buy`).
    public var lastWealthPurchaseAt: Date?
    /// Each plugin's memory of this client, by plugin id (see ``PluginMemory``). Not projected from events:
    /// plugins write it, and it is stored with the rest of the state.
    public var memory: [String: JSONValue]
    /// The plugins' memories in decoded form, as the dispatcher keeps them between events of a cached client;
    /// `memory` is brought up to date from them once per batch. Not stored, and not part of equality.
    public var liveMemory = LiveMemories()

    public init(id: String) {
        self.id = id
        profile = ClientProfile()
        accounts = [:]
        deposits = [:]
        loans = [:]
        holdings = [:]
        financials = [:]
        memory = [:]
    }

    private enum CodingKeys: String, CodingKey {
        case id, profile, accounts, balance, deposits, loans, holdings, financials, lastEventAt, lastInteractionAt
        case lastWealthPurchaseAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        profile = try container.decode(ClientProfile.self, forKey: .profile)
        accounts = try container.decode([String: AccountState].self, forKey: .accounts)
        balance = try container.decodeIfPresent(BalanceSnapshot.self, forKey: .balance)
        deposits = try container.decode([String: TermDeposit].self, forKey: .deposits)
        loans = try container.decode([String: LoanState].self, forKey: .loans)
        holdings = try container.decode([String: Holding].self, forKey: .holdings)
        financials = try container.decode([String: Financials].self, forKey: .financials)
        lastEventAt = try container.decodeIfPresent(Date.self, forKey: .lastEventAt)
        lastInteractionAt = try container.decodeIfPresent(Date.self, forKey: .lastInteractionAt)
        lastWealthPurchaseAt = try container.decodeIfPresent(Date.self, forKey: .lastWealthPurchaseAt)
        memory = [:]
    }

    /// Total AUM from the latest snapshot, or the sum of account balances when there is none.
    public var aum: Decimal {
        if let balance { return balance.aum }
        return accounts.values.reduce(Decimal(0)) { $0 + max(0, $1.balance ?? 0) }
    }
}

public struct ClientProfile: Sendable, Hashable, Codable {
    public var name: String?
    public var birthDate: LocalDate?
    public var birthCalendar: BirthCalendar?
    public var segment: String?
    public var riskLevel: RiskLevel?
    public var riskAssessedAt: LocalDate?
    public var managerId: String?
    public var branchId: String?
    public var tags: [String]
    public var phone: String?
    public var idNumber: String?
    public var marketingConsent: Bool?
    public var status: String?

    public init() { tags = [] }

    public var isClosed: Bool { status == "closed" }
}

public enum BirthCalendar: String, Sendable, Hashable, Codable {
    case gregorian
    case chinese
}

public struct AccountState: Sendable, Hashable, Codable {
    public let id: String
    public var currency: String
    public var balance: Decimal?
    public var lastTransactionAt: Date?
    /// The transaction before the latest one: how long the account was quiet before it moved.
    public var previousTransactionAt: Date?
    public var transactionCount: Int

    public init(id: String, currency: String) {
        self.id = id
        self.currency = currency
        transactionCount = 0
    }
}

public struct BalanceSnapshot: Sendable, Hashable, Codable {
    public var asOf: LocalDate
    public var aum: Decimal
    public var deposits: Decimal?
    public var wealth: Decimal?
    public var loans: Decimal?

    public init(asOf: LocalDate, aum: Decimal, deposits: Decimal? = nil, wealth: Decimal? = nil, loans: Decimal? = nil) {
        self.asOf = asOf
        self.aum = aum
        self.deposits = deposits
        self.wealth = wealth
        self.loans = loans
    }
}

public struct TermDeposit: Sendable, Hashable, Codable {
    public let id: String
    public var amount: Decimal
    public var currency: String
    public var openDate: LocalDate?
    public var maturityDate: LocalDate
    public var status: String?

    public init(id: String, amount: Decimal, currency: String, openDate: LocalDate? = nil, maturityDate: LocalDate, status: String? = nil) {
        self.id = id
        self.amount = amount
        self.currency = currency
        self.openDate = openDate
        self.maturityDate = maturityDate
        self.status = status
    }
}

public struct LoanState: Sendable, Hashable, Codable {
    public let id: String
    public var product: String?
    public var principal: Decimal?
    public var outstanding: Decimal?
    public var currency: String
    public var maturityDate: LocalDate?
    public var status: String?
    public var overdueDays: Int
    /// The last time this loan was reported overdue, for good-standing look-backs.
    public var lastOverdueAt: Date?
    public var repaidDate: LocalDate?

    public init(id: String, product: String? = nil, principal: Decimal? = nil, outstanding: Decimal? = nil, currency: String, maturityDate: LocalDate? = nil, status: String? = nil, overdueDays: Int, lastOverdueAt: Date? = nil, repaidDate: LocalDate? = nil) {
        self.id = id
        self.product = product
        self.principal = principal
        self.outstanding = outstanding
        self.currency = currency
        self.maturityDate = maturityDate
        self.status = status
        self.overdueDays = overdueDays
        self.lastOverdueAt = lastOverdueAt
        self.repaidDate = repaidDate
    }
}

public struct Holding: Sendable, Hashable, Codable {
    public let productId: String
    public var amount: Decimal
    public var lastTradeAt: Date?

    public init(productId: String, amount: Decimal, lastTradeAt: Date? = nil) {
        self.productId = productId
        self.amount = amount
        self.lastTradeAt = lastTradeAt
    }
}

public struct Financials: Sendable, Hashable, Codable {
    public let period: String
    public var totalAssets: Decimal?
    public var totalLiabilities: Decimal?
    public var operatingCashFlow: Decimal?
    public var revenue: Decimal?

    public init(period: String, totalAssets: Decimal? = nil, totalLiabilities: Decimal? = nil, operatingCashFlow: Decimal? = nil, revenue: Decimal? = nil) {
        self.period = period
        self.totalAssets = totalAssets
        self.totalLiabilities = totalLiabilities
        self.operatingCashFlow = operatingCashFlow
        self.revenue = revenue
    }
}

/// A relationship manager, from `manager.profile` events.
public struct ManagerState: Sendable, Hashable, Codable {
    public let id: String
    public var name: String?
    public var branchId: String?
    public var mobile: String?
    public var wecomUserId: String?
    public var dingtalkUserId: String?
    public var email: String?
    public var active: Bool

    public init(id: String) {
        self.id = id
        active = true
    }
}

extension ClientProfile {
    /// The birthday index key (``Birthdays/key(birthDate:calendar:)``), or nil without a birth date.
    public var birthdayKey: Int? {
        birthDate.map { Birthdays.key(birthDate: $0, calendar: birthCalendar) }
    }
}

/// Decoded plugin memories by plugin id (see ``ClientState/liveMemory``): a cache of the stored JSON, so equal
/// whatever it holds.
public struct LiveMemories: Sendable, Hashable {
    public var values: [String: LiveMemory] = [:]

    public init() {}

    public static func == (lhs: LiveMemories, rhs: LiveMemories) -> Bool { true }
    public func hash(into hasher: inout Hasher) {}
}
