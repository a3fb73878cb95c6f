import Foundation
import InsightCore

/// `plugins-config/loan-renewal.yaml`.
public struct LoanRenewalConfiguration: PluginConfiguration {
    public enum WindowUnit: String, Sendable, Decodable, CaseIterable {
        case calendarDays = "calendar_days"
        case workingDays = "working_days"

        public init(from decoder: any Decoder) throws {
            try self.init(decodingOneOf: decoder)
        }
    }

    /// An outstanding-amount tier: loans of at least `from` get `priority`.
    public struct PriorityTier: Sendable, Decodable {
        public var from: Decimal
        public var priority: LeadPriority

        enum CodingKeys: String, CodingKey, CaseIterable {
            case from, priority
        }

        public init(from: Decimal, priority: LeadPriority) {
            self.from = from
            self.priority = priority
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            from = try c.decode(ConfigDecimal.self, forKey: .from).value
            priority = try c.decode(LeadPriority.self, forKey: .priority)
        }
    }

    public var enabled: Bool
    public var schedule: LocalTime
    /// Days before maturity at which a renewal lead is raised, e.g. 30 and 7: one lead per loan per window.
    public var windows: [Int]
    public var windowUnit: WindowUnit
    /// Loan products that get renewal leads; empty means all.
    public var products: [String]
    /// A loan overdue at any time within this many days is not in good standing.
    public var overdueLookbackDays: Int
    /// A loan repaid more than this many days before maturity yields a re-lending lead.
    public var earlyRepaymentDays: Int
    /// Priority by outstanding amount: the highest tier the amount reaches; below every tier, `low`.
    public var priorities: [PriorityTier]
    public var templates: [String: [String: LeadTextSource]]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, schedule, windows, products, priorities, templates
        case windowUnit = "window_unit"
        case overdueLookbackDays = "overdue_lookback_days"
        case earlyRepaymentDays = "early_repayment_days"
    }

    public init() {
        enabled = true
        schedule = LocalTime(hour: 8, minute: 0)
        windows = [30, 7]
        windowUnit = .calendarDays
        products = []
        overdueLookbackDays = 180
        earlyRepaymentDays = 30
        priorities = [PriorityTier(from: 5_000_000, priority: .high), PriorityTier(from: 500_000, priority: .normal)]
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        schedule = try c.decodeIfPresent(LocalTime.self, forKey: .schedule) ?? schedule
        windows = try c.decodeIfPresent([Int].self, forKey: .windows) ?? windows
        guard !windows.isEmpty, windows.allSatisfy({ (1...366).contains($0) }), Set(windows).count == windows.count else {
            throw DecodingError.dataCorruptedError(forKey: .windows, in: c,
                                                   debugDescription: "list one or more distinct windows of 1 to 366 days, e.g. [30, 7]")
        }
        windowUnit = try c.decodeIfPresent(WindowUnit.self, forKey: .windowUnit) ?? windowUnit
        products = try c.decodeIfPresent([String].self, forKey: .products) ?? products
        overdueLookbackDays = try c.decodeIfPresent(Int.self, forKey: .overdueLookbackDays) ?? overdueLookbackDays
        earlyRepaymentDays = try c.decodeIfPresent(Int.self, forKey: .earlyRepaymentDays) ?? earlyRepaymentDays
        guard overdueLookbackDays >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .overdueLookbackDays, in: c, debugDescription: "must not be negative")
        }
        guard earlyRepaymentDays >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .earlyRepaymentDays, in: c, debugDescription: "must not be negative")
        }
        priorities = try c.decodeIfPresent([PriorityTier].self, forKey: .priorities) ?? priorities
        templates = try c.decodeIfPresent([String: [String: LeadTextSource]].self, forKey: .templates)
    }

    /// The priority for an outstanding amount.
    func priority(for amount: Decimal) -> LeadPriority {
        priorities.filter { amount >= $0.from }.map(\.priority).max() ?? .low
    }
}
