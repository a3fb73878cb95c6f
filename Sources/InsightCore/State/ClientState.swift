import Foundation

/// Everything insightd knows about one client, projected from the journal in order.
///
/// Personal fields (`name`, `phone`, `idNumber`) are held here for matching and templates; they leave the
/// process only masked (see ``Masking``).
public struct ClientState: Sendable, Hashable, Codable {
    /// The projected fields, in one box shared by copies until one of them writes (copy on write). A client's
    /// state is copied for every event a plugin sees (into its context) and for every batch that changes it (into
    /// the commit): a copy is then one reference count, and a dictionary of states holds one reference per
    /// client instead of every field inline in each of its buckets.
    @usableFromInline var storage: Storage

    @usableFromInline
    final class Storage: @unchecked Sendable {  // written only while not shared (see `unique`)
        @usableFromInline let id: String
        /// The profile and the balance are read far more often than written, and most clients of a large book never
        /// have one or the other: each sits behind a pointer (nil: the empty profile, no balance) instead of taking
        /// a few hundred bytes inline in every client's box.
        @usableFromInline var profileBox: Frozen<ClientProfile>?
        @usableFromInline var accounts: [String: AccountState]
        @usableFromInline var balanceBox: Frozen<BalanceSnapshot>?
        @usableFromInline var deposits: [String: TermDeposit]
        @usableFromInline var loans: [String: LoanState]
        @usableFromInline var holdings: [String: Holding]
        @usableFromInline var financials: [String: Financials]
        @usableFromInline var lastEventAt: Date?
        @usableFromInline var lastInteractionAt: Date?
        @usableFromInline var lastWealthPurchaseAt: Date?
        @usableFromInline var memory: [String: JSONValue]

        @usableFromInline
        init(id: String) {
            self.id = id
            accounts = [:]
            deposits = [:]
            loans = [:]
            holdings = [:]
            financials = [:]
            memory = [:]
        }

        @usableFromInline
        init(copying other: Storage) {
            id = other.id
            profileBox = other.profileBox  // immutable boxes: shared, and replaced on a write
            accounts = other.accounts
            balanceBox = other.balanceBox
            deposits = other.deposits
            loans = other.loans
            holdings = other.holdings
            financials = other.financials
            lastEventAt = other.lastEventAt
            lastInteractionAt = other.lastInteractionAt
            lastWealthPurchaseAt = other.lastWealthPurchaseAt
            memory = other.memory
        }
    }

    /// A value behind a pointer, immutable: a write replaces the box (so copies of the state share it safely).
    @usableFromInline
    final class Frozen<Value: Sendable>: Sendable {
        @usableFromInline let value: Value

        @usableFromInline
        init(_ value: Value) {
            self.value = value
        }
    }

    /// The box, made this copy's own before a write.
    @inlinable
    var unique: Storage {
        mutating get {
            if !isKnownUniquelyReferenced(&storage) { storage = Storage(copying: storage) }
            return storage
        }
    }

    @inlinable public var id: String { storage.id }
    @inlinable public var profile: ClientProfile {
        get { storage.profileBox?.value ?? ClientProfile() }
        set { unique.profileBox = Frozen(newValue) }
        _modify {
            var value = profile
            defer { unique.profileBox = Frozen(value) }
            yield &value
        }
    }
    @inlinable public var accounts: [String: AccountState] {
        get { storage.accounts }
        set { unique.accounts = newValue }
        _modify { yield &unique.accounts }
    }
    /// The latest daily balance snapshot.
    @inlinable public var balance: BalanceSnapshot? {
        get { storage.balanceBox?.value }
        set { unique.balanceBox = newValue.map(Frozen.init) }
        _modify {
            var value = balance
            defer { unique.balanceBox = value.map(Frozen.init) }
            yield &value
        }
    }
    @inlinable public var deposits: [String: TermDeposit] {
        get { storage.deposits }
        set { unique.deposits = newValue }
        _modify { yield &unique.deposits }
    }
    @inlinable public var loans: [String: LoanState] {
        get { storage.loans }
        set { unique.loans = newValue }
        _modify { yield &unique.loans }
    }
    /// Wealth holdings by product id.
    @inlinable public var holdings: [String: Holding] {
        get { storage.holdings }
        set { unique.holdings = newValue }
        _modify { yield &unique.holdings }
    }
    /// Corporate financial statements by period (e.g. `2026Q3`).
    @inlinable public var financials: [String: Financials] {
        get { storage.financials }
        set { unique.financials = newValue }
        _modify { yield &unique.financials }
    }
    /// The latest event time. Exact while the client is cached; stored (and so reloaded) at day resolution.
    @inlinable public var lastEventAt: Date? {
        get { storage.lastEventAt }
        set { unique.lastEventAt = newValue }
        _modify { yield &unique.lastEventAt }
    }
    @inlinable public var lastInteractionAt: Date? {
        get { storage.lastInteractionAt }
        set { unique.lastInteractionAt = newValue }
        _modify { yield &unique.lastInteractionAt }
    }
    /// The latest wealth-product purchase (`wealth.trade` with action `buy`).
    @inlinable public var lastWealthPurchaseAt: Date? {
        get { storage.lastWealthPurchaseAt }
        set { unique.lastWealthPurchaseAt = newValue }
        _modify { yield &unique.lastWealthPurchaseAt }
    }
    /// Each plugin's memory of this client, by plugin id (see ``PluginMemory``). Not projected from events:
    /// plugins write it, and it is stored with the rest of the state.
    @inlinable public var memory: [String: JSONValue] {
        get { storage.memory }
        set { unique.memory = newValue }
        _modify { yield &unique.memory }
    }
    /// The plugins' memories in decoded form, as the dispatcher keeps them between events of a cached client;
    /// `memory` is brought up to date from them once per batch. Not stored, and not part of equality. Outside the
    /// box: a plugin's context gets a copy without them, which must not copy the box.
    public var liveMemory = LiveMemories()

    public init(id: String) {
        storage = Storage(id: id)
    }

    private enum CodingKeys: String, CodingKey {
        case id, profile, accounts, balance, deposits, loans, holdings, financials, lastEventAt, lastInteractionAt
        case lastWealthPurchaseAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        storage = Storage(id: try container.decode(String.self, forKey: .id))
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
    }

    /// As the synthesized encoding wrote it: the coded fields in declaration order, absent optionals omitted.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(profile, forKey: .profile)
        try container.encode(accounts, forKey: .accounts)
        try container.encodeIfPresent(balance, forKey: .balance)
        try container.encode(deposits, forKey: .deposits)
        try container.encode(loans, forKey: .loans)
        try container.encode(holdings, forKey: .holdings)
        try container.encode(financials, forKey: .financials)
        try container.encodeIfPresent(lastEventAt, forKey: .lastEventAt)
        try container.encodeIfPresent(lastInteractionAt, forKey: .lastInteractionAt)
        try container.encodeIfPresent(lastWealthPurchaseAt, forKey: .lastWealthPurchaseAt)
    }

    /// Every stored field, as the synthesized conformance compared them (`liveMemory` takes no part).
    public static func == (lhs: ClientState, rhs: ClientState) -> Bool {
        if lhs.storage === rhs.storage { return true }
        let a = lhs.storage, b = rhs.storage
        return a.id == b.id && lhs.profile == rhs.profile && a.accounts == b.accounts && lhs.balance == rhs.balance
            && a.deposits == b.deposits && a.loans == b.loans && a.holdings == b.holdings && a.financials == b.financials
            && a.lastEventAt == b.lastEventAt && a.lastInteractionAt == b.lastInteractionAt
            && a.lastWealthPurchaseAt == b.lastWealthPurchaseAt && a.memory == b.memory
    }

    public func hash(into hasher: inout Hasher) {
        let a = storage
        hasher.combine(a.id)
        hasher.combine(profile)
        hasher.combine(a.accounts)
        hasher.combine(balance)
        hasher.combine(a.deposits)
        hasher.combine(a.loans)
        hasher.combine(a.holdings)
        hasher.combine(a.financials)
        hasher.combine(a.lastEventAt)
        hasher.combine(a.lastInteractionAt)
        hasher.combine(a.lastWealthPurchaseAt)
        hasher.combine(a.memory)
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
