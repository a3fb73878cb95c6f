import Foundation
import InsightCore

/// `plugins-config/product-match.yaml`. The catalog itself is `products.yaml`.
public struct ProductMatchConfiguration: PluginConfiguration {
    public var enabled: Bool
    /// The daily tick for maturing term deposits.
    public var schedule: LocalTime
    /// How many products one lead suggests.
    public var topN: Int
    /// One product-match lead per client per this many days.
    public var cooldownDays: Int
    /// A risk assessment older than this is expired: the client then gets R1 products only.
    public var assessmentValidDays: Int
    public var triggers: Triggers
    public var templates: [String: [String: LeadTextSource]]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, schedule, triggers, templates
        case topN = "top_n"
        case cooldownDays = "cooldown_days"
        case assessmentValidDays = "assessment_valid_days"
    }

    public init() {
        enabled = true
        schedule = LocalTime(hour: 8, minute: 45)
        topN = 3
        cooldownDays = 14
        assessmentValidDays = 365
        triggers = Triggers()
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        schedule = try c.decodeIfPresent(LocalTime.self, forKey: .schedule) ?? schedule
        topN = try c.decodeIfPresent(Int.self, forKey: .topN) ?? topN
        guard (1...10).contains(topN) else {
            throw DecodingError.dataCorruptedError(forKey: .topN, in: c, debugDescription: "must be between 1 and 10")
        }
        cooldownDays = try c.decodeIfPresent(Int.self, forKey: .cooldownDays) ?? cooldownDays
        guard cooldownDays >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .cooldownDays, in: c, debugDescription: "must not be negative")
        }
        assessmentValidDays = try c.decodeIfPresent(Int.self, forKey: .assessmentValidDays) ?? assessmentValidDays
        guard (1...3650).contains(assessmentValidDays) else {
            throw DecodingError.dataCorruptedError(forKey: .assessmentValidDays, in: c, debugDescription: "must be between 1 and 3650 days")
        }
        triggers = try c.decodeIfPresent(Triggers.self, forKey: .triggers) ?? triggers
        templates = try c.decodeIfPresent([String: [String: LeadTextSource]].self, forKey: .templates)
    }

    public struct Triggers: Sendable, Decodable {
        public var largeCredit: LargeCredit
        public var maturingDeposit: MaturingDeposit
        public var idleBalance: IdleBalance
        public var lifeEvents: LifeEvents

        enum CodingKeys: String, CodingKey, CaseIterable {
            case largeCredit = "large_credit"
            case maturingDeposit = "maturing_deposit"
            case idleBalance = "idle_balance"
            case lifeEvents = "life_events"
        }

        public init() {
            largeCredit = LargeCredit()
            maturingDeposit = MaturingDeposit()
            idleBalance = IdleBalance()
            lifeEvents = LifeEvents()
        }

        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            largeCredit = try c.decodeIfPresent(LargeCredit.self, forKey: .largeCredit) ?? largeCredit
            maturingDeposit = try c.decodeIfPresent(MaturingDeposit.self, forKey: .maturingDeposit) ?? maturingDeposit
            idleBalance = try c.decodeIfPresent(IdleBalance.self, forKey: .idleBalance) ?? idleBalance
            lifeEvents = try c.decodeIfPresent(LifeEvents.self, forKey: .lifeEvents) ?? lifeEvents
        }
    }

    /// A single credit of at least `min_amount`.
    public struct LargeCredit: Sendable, Decodable {
        public var enabled = true
        public var minAmount: Decimal = 200_000

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled
            case minAmount = "min_amount"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            minAmount = try c.decodeIfPresent(ConfigDecimal.self, forKey: .minAmount)?.value ?? minAmount
            guard minAmount > 0 else {
                throw DecodingError.dataCorruptedError(forKey: .minAmount, in: c, debugDescription: "must be above 0")
            }
        }
    }

    /// A term deposit maturing within `days_ahead` days.
    public struct MaturingDeposit: Sendable, Decodable {
        public var enabled = true
        public var daysAhead = 15

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled
            case daysAhead = "days_ahead"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            daysAhead = try c.decodeIfPresent(Int.self, forKey: .daysAhead) ?? daysAhead
            guard (0...90).contains(daysAhead) else {
                throw DecodingError.dataCorruptedError(forKey: .daysAhead, in: c, debugDescription: "must be between 0 and 90")
            }
        }
    }

    /// Current-account balances of at least `min_balance` for `days` days without falling below it.
    public struct IdleBalance: Sendable, Decodable {
        public var enabled = true
        public var minBalance: Decimal = 300_000
        public var days = 30

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled, days
            case minBalance = "min_balance"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            minBalance = try c.decodeIfPresent(ConfigDecimal.self, forKey: .minBalance)?.value ?? minBalance
            guard minBalance > 0 else {
                throw DecodingError.dataCorruptedError(forKey: .minBalance, in: c, debugDescription: "must be above 0")
            }
            days = try c.decodeIfPresent(Int.self, forKey: .days) ?? days
            guard days >= 1 else {
                throw DecodingError.dataCorruptedError(forKey: .days, in: c, debugDescription: "must be at least 1")
            }
        }
    }

    /// Life events and the product tags they call for: a new mortgage, or a client tag appearing.
    public struct LifeEvents: Sendable, Decodable {
        public var enabled = true
        /// Product tags suggested when a mortgage loan first appears.
        public var mortgageOpened: [String] = ["home-insurance"]
        /// Client tag → product tags (e.g. maternity → education-savings).
        public var tags: [String: [String]] = ["maternity": ["education-savings"], "retirement": ["pension"]]

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled, tags
            case mortgageOpened = "mortgage_opened"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            mortgageOpened = try c.decodeIfPresent([String].self, forKey: .mortgageOpened) ?? mortgageOpened
            tags = try c.decodeIfPresent([String: [String]].self, forKey: .tags) ?? tags
        }
    }
}
