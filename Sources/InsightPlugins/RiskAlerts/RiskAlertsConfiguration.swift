import Foundation
import InsightCore

/// `plugins-config/risk-alerts.yaml`: one section per rule kind, each with its own `enabled` switch.
/// Every key is optional; a missing key takes the default shown in the shipped file.
public struct RiskAlertsConfiguration: PluginConfiguration, Hashable {
    public var enabled: Bool
    public var largeTransaction: LargeTransaction
    public var velocity: Velocity
    public var rapidInOut: RapidInOut
    public var dormantReactivation: DormantReactivation
    public var aumDrop: AUMDrop
    public var noPurchase: NoPurchase
    public var overdue: Overdue
    public var corporateLeverage: CorporateLeverage
    /// locale → lead kind → texts, overriding the built-in templates field by field.
    public var templates: [String: [String: LeadTextSource]]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled
        case largeTransaction = "large_transaction"
        case velocity
        case rapidInOut = "rapid_in_out"
        case dormantReactivation = "dormant_reactivation"
        case aumDrop = "aum_drop"
        case noPurchase = "no_purchase"
        case overdue
        case corporateLeverage = "corporate_leverage"
        case templates
    }

    /// Every default.
    public init() {
        enabled = true
        largeTransaction = LargeTransaction()
        velocity = Velocity()
        rapidInOut = RapidInOut()
        dormantReactivation = DormantReactivation()
        aumDrop = AUMDrop()
        noPurchase = NoPurchase()
        overdue = Overdue()
        corporateLeverage = CorporateLeverage()
        templates = nil
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = RiskAlertsConfiguration()
        enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        largeTransaction = try container.decodeIfPresent(LargeTransaction.self, forKey: .largeTransaction) ?? defaults.largeTransaction
        velocity = try container.decodeIfPresent(Velocity.self, forKey: .velocity) ?? defaults.velocity
        rapidInOut = try container.decodeIfPresent(RapidInOut.self, forKey: .rapidInOut) ?? defaults.rapidInOut
        dormantReactivation = try container.decodeIfPresent(DormantReactivation.self, forKey: .dormantReactivation)
            ?? defaults.dormantReactivation
        aumDrop = try container.decodeIfPresent(AUMDrop.self, forKey: .aumDrop) ?? defaults.aumDrop
        noPurchase = try container.decodeIfPresent(NoPurchase.self, forKey: .noPurchase) ?? defaults.noPurchase
        overdue = try container.decodeIfPresent(Overdue.self, forKey: .overdue) ?? defaults.overdue
        corporateLeverage = try container.decodeIfPresent(CorporateLeverage.self, forKey: .corporateLeverage)
            ?? defaults.corporateLeverage
        templates = try container.decodeIfPresent([String: [String: LeadTextSource]].self, forKey: .templates)
    }

    /// `large_transaction`: one transaction at or above a threshold (cash and non-cash apart).
    public struct LargeTransaction: Sendable, Hashable, Decodable {
        public var enabled = true
        /// A transaction on a cash channel at or above this amount (CNY).
        public var cashThreshold: Decimal = 50_000
        /// A transaction on any other channel at or above this amount (CNY).
        public var transferThreshold: Decimal = 2_000_000
        /// The `channel` values that count as cash.
        public var cashChannels: [String] = ["cash"]

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled
            case cashThreshold = "cash_threshold"
            case transferThreshold = "transfer_threshold"
            case cashChannels = "cash_channels"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            cashThreshold = try container.riskAmount(forKey: .cashThreshold) ?? cashThreshold
            transferThreshold = try container.riskAmount(forKey: .transferThreshold) ?? transferThreshold
            cashChannels = try container.decodeIfPresent([String].self, forKey: .cashChannels) ?? cashChannels
            if cashChannels.contains(where: { $0.isEmpty }) {
                throw DecodingError.dataCorruptedError(forKey: .cashChannels, in: container,
                    debugDescription: "channel names must not be empty, e.g. [cash, atm]")
            }
        }
    }

    /// `velocity`: many debits, or a large debit total, within a sliding window of event time.
    public struct Velocity: Sendable, Hashable, Decodable {
        public var enabled = true
        /// More debits than this within the window trigger.
        public var maxDebitCount = 10
        /// A debit total above this within the window triggers (CNY).
        public var maxDebitTotal: Decimal = 500_000 {
            didSet { maxDebitTotalUnits = RiskMemory.units(maxDebitTotal.plainText) }
        }
        /// ``maxDebitTotal`` in ``RiskMemory/Movement/units``, when exact (nil: the rule sums decimals).
        private(set) var maxDebitTotalUnits: Int64? = 500_000 * RiskMemory.unitsPerOne
        public var windowHours = 24

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled
            case maxDebitCount = "max_debit_count"
            case maxDebitTotal = "max_debit_total"
            case windowHours = "window_hours"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            maxDebitCount = try container.decodeIfPresent(Int.self, forKey: .maxDebitCount) ?? maxDebitCount
            guard (1...RiskMemory.maximumDebits - 1).contains(maxDebitCount) else {
                throw DecodingError.dataCorruptedError(forKey: .maxDebitCount, in: container,
                    debugDescription: "must be a whole number from 1 to \(RiskMemory.maximumDebits - 1), got \(maxDebitCount)")
            }
            maxDebitTotal = try container.riskAmount(forKey: .maxDebitTotal) ?? maxDebitTotal
            maxDebitTotalUnits = RiskMemory.units(maxDebitTotal.plainText)  // an initializer's write runs no didSet
            windowHours = try container.riskHours(forKey: .windowHours) ?? windowHours
        }
    }

    /// `rapid_in_out` (快进快出): a large credit, then debits taking most of it out within a window.
    public struct RapidInOut: Sendable, Hashable, Decodable {
        public var enabled = true
        /// A credit at or above this amount is watched (CNY).
        public var minCredit: Decimal = 500_000
        /// Debits totalling at least this share of the credit trigger (0 < ratio ≤ 1).
        public var outRatio = Decimal(8) / 10  // exact: a float literal would round through Double
        public var windowHours = 24

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled
            case minCredit = "min_credit"
            case outRatio = "out_ratio"
            case windowHours = "window_hours"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            minCredit = try container.riskAmount(forKey: .minCredit) ?? minCredit
            outRatio = try container.riskDecimal(forKey: .outRatio) ?? outRatio
            guard outRatio > 0, outRatio <= 1 else {
                throw DecodingError.dataCorruptedError(forKey: .outRatio, in: container,
                    debugDescription: "must be a share above 0 and at most 1 (0.8 means 80 %), got \(outRatio)")
            }
            windowHours = try container.riskHours(forKey: .windowHours) ?? windowHours
        }
    }

    /// `dormant_reactivation`: an account quiet for a long time suddenly moving a large amount.
    public struct DormantReactivation: Sendable, Hashable, Decodable {
        public var enabled = true
        /// Days without a transaction before the account counts as dormant.
        public var dormantDays = 180
        /// The smallest transaction that counts as a reactivation (CNY).
        public var minAmount: Decimal = 50_000

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled
            case dormantDays = "dormant_days"
            case minAmount = "min_amount"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            dormantDays = try container.riskDays(forKey: .dormantDays) ?? dormantDays
            minAmount = try container.riskAmount(forKey: .minAmount) ?? minAmount
        }
    }

    /// `aum_drop`: the daily AUM snapshot fell by a share of its recent peak (churn).
    public struct AUMDrop: Sendable, Hashable, Decodable {
        public var enabled = true
        /// The fall, in percent of the peak, that triggers.
        public var dropPercent: Decimal = 30
        /// How many days back the peak is looked for.
        public var lookbackDays = 30

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled
            case dropPercent = "drop_percent"
            case lookbackDays = "lookback_days"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            dropPercent = try container.riskDecimal(forKey: .dropPercent) ?? dropPercent
            guard dropPercent > 0, dropPercent <= 100 else {
                throw DecodingError.dataCorruptedError(forKey: .dropPercent, in: container,
                    debugDescription: "must be a percentage above 0 and at most 100, got \(dropPercent)")
            }
            lookbackDays = try container.riskDays(forKey: .lookbackDays) ?? lookbackDays
            guard lookbackDays <= 366 else {
                throw DecodingError.dataCorruptedError(forKey: .lookbackDays, in: container,
                    debugDescription: "must be at most 366 days, got \(lookbackDays)")
            }
        }
    }

    /// `no_purchase`: wealth clients with no wealth-product purchase for a number of days (daily tick).
    public struct NoPurchase: Sendable, Hashable, Decodable {
        public var enabled = true
        /// The local time of the daily check.
        public var schedule = LocalTime(hour: 9, minute: 0)
        /// The client segments checked.
        public var segments = ["affluent", "hnw", "private"]
        /// Days since the last purchase before a lead.
        public var days = 90
        /// How long after the lapse a client is still found (covers missed ticks); each lapse leads once.
        public var catchUpDays = 7

        static let knownSegments = ["mass", "affluent", "hnw", "private", "corporate"]

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled, schedule, segments, days
            case catchUpDays = "catch_up_days"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            schedule = try container.decodeIfPresent(LocalTime.self, forKey: .schedule) ?? schedule
            segments = try container.decodeIfPresent([String].self, forKey: .segments) ?? segments
            if let unknown = segments.first(where: { !Self.knownSegments.contains($0) }) {
                throw DecodingError.dataCorruptedError(forKey: .segments, in: container,
                    debugDescription: "unknown segment \(unknown); segments are \(Self.knownSegments.joined(separator: ", "))")
            }
            days = try container.riskDays(forKey: .days) ?? days
            catchUpDays = try container.riskDays(forKey: .catchUpDays) ?? catchUpDays
        }
    }

    /// `overdue`: a loan newly overdue, or its overdue days crossing a threshold.
    public struct Overdue: Sendable, Hashable, Decodable {
        public var enabled = true
        /// Overdue days that each lead once per loan and overdue episode, ascending.
        public var thresholds = [1, 30, 60, 90]

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled, thresholds
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            thresholds = try container.decodeIfPresent([Int].self, forKey: .thresholds) ?? thresholds
            guard thresholds.allSatisfy({ $0 >= 1 }), zip(thresholds, thresholds.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw DecodingError.dataCorruptedError(forKey: .thresholds, in: container,
                    debugDescription: "must be whole days ≥ 1 in ascending order without repeats, e.g. [1, 30, 60, 90]")
            }
        }
    }

    /// `corporate_leverage`: a corporate client's debt ratio high or rising, or operating cash flow negative.
    public struct CorporateLeverage: Sendable, Hashable, Decodable {
        public var enabled = true
        /// Liabilities / assets above this triggers (0.7 = 70 %).
        public var maxDebtRatio = Decimal(7) / 10
        /// A rise of the debt ratio by at least this many percentage points against the previous period triggers.
        public var ratioRisePoints: Decimal = 10
        /// Negative operating cash flow in this many consecutive reported periods triggers.
        public var negativeCashFlowPeriods = 2

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled
            case maxDebtRatio = "max_debt_ratio"
            case ratioRisePoints = "ratio_rise_points"
            case negativeCashFlowPeriods = "negative_cash_flow_periods"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            maxDebtRatio = try container.riskDecimal(forKey: .maxDebtRatio) ?? maxDebtRatio
            guard maxDebtRatio > 0 else {
                throw DecodingError.dataCorruptedError(forKey: .maxDebtRatio, in: container,
                    debugDescription: "must be a ratio above 0 (0.7 means liabilities above 70 % of assets), got \(maxDebtRatio)")
            }
            ratioRisePoints = try container.riskDecimal(forKey: .ratioRisePoints) ?? ratioRisePoints
            guard ratioRisePoints > 0, ratioRisePoints <= 100 else {
                throw DecodingError.dataCorruptedError(forKey: .ratioRisePoints, in: container,
                    debugDescription: "must be percentage points above 0 and at most 100, got \(ratioRisePoints)")
            }
            negativeCashFlowPeriods = try container.decodeIfPresent(Int.self, forKey: .negativeCashFlowPeriods)
                ?? negativeCashFlowPeriods
            guard (1...12).contains(negativeCashFlowPeriods) else {
                throw DecodingError.dataCorruptedError(forKey: .negativeCashFlowPeriods, in: container,
                    debugDescription: "must be a whole number from 1 to 12, got \(negativeCashFlowPeriods)")
            }
        }
    }
}

extension KeyedDecodingContainer {
    /// A decimal given as a number or a decimal string (`500000`, `"1234.50"`), without binary floating point.
    /// The YAML decoder hands every scalar over as text; JSON numbers come through `Decimal`.
    fileprivate func riskDecimal(forKey key: Key) throws -> Decimal? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        let value: Decimal?
        if let text = try? decode(String.self, forKey: key) {
            value = Decimal(exactly: text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: ""))
        } else {
            value = try? decode(Decimal.self, forKey: key)
        }
        guard let value else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self,
                debugDescription: "expected a number such as 500000 or 0.8")
        }
        return value
    }

    /// An amount in CNY: a decimal above zero.
    fileprivate func riskAmount(forKey key: Key) throws -> Decimal? {
        guard let value = try riskDecimal(forKey: key) else { return nil }
        guard value > 0 else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self,
                debugDescription: "must be an amount in CNY above 0, got \(value)")
        }
        return value
    }

    /// A window in whole hours, 1 to 720 (30 days).
    fileprivate func riskHours(forKey key: Key) throws -> Int? {
        guard let value = try decodeIfPresent(Int.self, forKey: key) else { return nil }
        guard (1...720).contains(value) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self,
                debugDescription: "must be whole hours from 1 to 720, got \(value)")
        }
        return value
    }

    /// A number of days, 1 to 3660.
    fileprivate func riskDays(forKey key: Key) throws -> Int? {
        guard let value = try decodeIfPresent(Int.self, forKey: key) else { return nil }
        guard (1...3660).contains(value) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self,
                debugDescription: "must be whole days from 1 to 3660, got \(value)")
        }
        return value
    }
}
