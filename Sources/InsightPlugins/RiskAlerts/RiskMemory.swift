import Foundation
import InsightCore

/// What risk-alerts remembers about one client between events: the recent debits and large credits (for
/// the velocity and rapid in-out windows), recent AUM snapshots (for the drop against the peak), the overdue
/// state of each loan, and when the last velocity and AUM-drop alerts fired (one lead per episode).
///
/// Stored with the client's state as JSON, converted by hand (it runs on every event). Times are epoch
/// milliseconds, money is decimal text in a JSON number. The plugin keeps it bounded: every write expires
/// what has left the longest window, and each list is capped.
public struct RiskMemory: PluginMemory, Hashable {
    /// At most this many debits are kept (the newest).
    public static let maximumDebits = 200
    /// At most this many large credits are kept (the newest).
    public static let maximumCredits = 50
    /// At most this many daily AUM snapshots are kept (the newest).
    public static let maximumSnapshots = 400
    /// At most this many overdue loans are tracked (those overdue longest are kept).
    public static let maximumOverdueLoans = 100

    /// One debit or large credit.
    public struct Movement: Sendable, Hashable {
        /// Event time, epoch milliseconds.
        public var at: Int64
        public var amount: Decimal
        public var eventId: String
        public var source: String
        public var accountId: String
        /// For a credit: a rapid in-out lead was made for it.
        public var alerted: Bool

        public init(at: Int64, amount: Decimal, eventId: String, source: String, accountId: String, alerted: Bool = false) {
            self.at = at
            self.amount = amount
            self.eventId = eventId
            self.source = source
            self.accountId = accountId
            self.alerted = alerted
        }
    }

    public struct Snapshot: Sendable, Hashable {
        public var asOf: LocalDate
        public var aum: Decimal

        public init(asOf: LocalDate, aum: Decimal) {
            self.asOf = asOf
            self.aum = aum
        }
    }

    /// A loan in an overdue episode: the most overdue days seen, and the day the episode began.
    public struct OverdueLoan: Sendable, Hashable {
        public var days: Int
        public var since: LocalDate

        public init(days: Int, since: LocalDate) {
            self.days = days
            self.since = since
        }
    }

    /// Debits in event-time order, oldest first.
    public internal(set) var debits: [Movement] = []
    /// Credits at or above the rapid in-out minimum, oldest first.
    public internal(set) var credits: [Movement] = []
    /// Event time (epoch ms) of the debit that raised the last velocity alert.
    public internal(set) var velocityAlertAt: Int64?
    /// AUM snapshots by date, oldest first.
    public internal(set) var snapshots: [Snapshot] = []
    /// The snapshot date of the last AUM-drop alert: a new episode needs a peak on or after it.
    public internal(set) var aumAlertAsOf: LocalDate?
    /// Loans currently overdue, by loan id.
    public internal(set) var overdueLoans: [String: OverdueLoan] = [:]

    public init() {}

    public var isEmpty: Bool {
        debits.isEmpty && credits.isEmpty && velocityAlertAt == nil && snapshots.isEmpty && aumAlertAsOf == nil
            && overdueLoans.isEmpty
    }

    // MARK: - Changes

    /// Inserts a movement in event-time order (a late event goes before newer ones) and keeps the newest `cap`.
    static func insert(_ movement: Movement, into list: inout [Movement], cap: Int) {
        let index = list.lastIndex { $0.at <= movement.at }.map { $0 + 1 } ?? 0
        list.insert(movement, at: index)
        if list.count > cap { list.removeFirst(list.count - cap) }
    }

    mutating func record(debit: Movement) { Self.insert(debit, into: &debits, cap: Self.maximumDebits) }
    mutating func record(credit: Movement) { Self.insert(credit, into: &credits, cap: Self.maximumCredits) }

    mutating func markAlerted(credit: Movement) {
        if let index = credits.firstIndex(where: { $0.eventId == credit.eventId && $0.source == credit.source }) {
            credits[index].alerted = true
        }
    }

    mutating func setVelocityAlert(at time: Int64?) { velocityAlertAt = time }

    mutating func dropCredits() { credits.removeAll() }

    mutating func dropSnapshots() {
        snapshots.removeAll()
        aumAlertAsOf = nil
    }

    /// Stores a snapshot, replacing one of the same date, and keeps the newest ``maximumSnapshots``.
    mutating func record(snapshot: Snapshot) {
        snapshots.removeAll { $0.asOf == snapshot.asOf }
        let index = snapshots.lastIndex { $0.asOf < snapshot.asOf }.map { $0 + 1 } ?? 0
        snapshots.insert(snapshot, at: index)
        if snapshots.count > Self.maximumSnapshots { snapshots.removeFirst(snapshots.count - Self.maximumSnapshots) }
    }

    mutating func setAUMAlert(asOf date: LocalDate) { aumAlertAsOf = date }

    mutating func setOverdue(_ loan: OverdueLoan?, for loanId: String) {
        overdueLoans[loanId] = loan
        if overdueLoans.count > Self.maximumOverdueLoans {
            // Keep the longest-running episodes; ties by loan id, so the choice is deterministic.
            let dropped = overdueLoans.sorted { ($0.value.since, $0.key) < ($1.value.since, $1.key) }
                .dropFirst(Self.maximumOverdueLoans)
            for (id, _) in dropped { overdueLoans[id] = nil }
        }
    }

    /// Forgets debits, credits and the velocity alert older than `cutoff` (epoch ms).
    mutating func expireMovements(before cutoff: Int64) {
        debits.removeAll { $0.at < cutoff }
        credits.removeAll { $0.at < cutoff }
        if let alert = velocityAlertAt, alert < cutoff { velocityAlertAt = nil }
    }

    /// Forgets snapshots, and the AUM alert, dated before `date`.
    mutating func expireSnapshots(before date: LocalDate) {
        snapshots.removeAll { $0.asOf < date }
        if let alert = aumAlertAsOf, alert < date { aumAlertAsOf = nil }
    }

    /// The newest time (epoch ms) among the remembered movements.
    var latestMovement: Int64? {
        [debits.last?.at, credits.last?.at, velocityAlertAt].compactMap { $0 }.max()
    }

    // MARK: - JSON

    private enum Key {
        static let debits = "debits", credits = "credits", velocityAlertAt = "velocityAlertAt"
        static let snapshots = "aum", aumAlertAsOf = "aumAlertAsOf", overdueLoans = "overdueLoans"
        static let at = "t", amount = "a", eventId = "id", source = "src", account = "acct", alerted = "alerted"
        static let asOf = "d", days = "days", since = "since"
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [:]
        func movements(_ list: [Movement]) -> JSONValue {
            .array(list.map { movement in
                var fields: [String: JSONValue] = [
                    Key.at: .number(String(movement.at)), Key.amount: .number(movement.amount.description),
                    Key.eventId: .string(movement.eventId), Key.source: .string(movement.source),
                    Key.account: .string(movement.accountId),
                ]
                if movement.alerted { fields[Key.alerted] = .bool(true) }
                return .object(fields)
            })
        }
        if !debits.isEmpty { object[Key.debits] = movements(debits) }
        if !credits.isEmpty { object[Key.credits] = movements(credits) }
        if let velocityAlertAt { object[Key.velocityAlertAt] = .number(String(velocityAlertAt)) }
        if !snapshots.isEmpty {
            object[Key.snapshots] = .array(snapshots.map {
                .object([Key.asOf: .string($0.asOf.description), Key.amount: .number($0.aum.description)])
            })
        }
        if let aumAlertAsOf { object[Key.aumAlertAsOf] = .string(aumAlertAsOf.description) }
        if !overdueLoans.isEmpty {
            object[Key.overdueLoans] = .object(overdueLoans.mapValues {
                .object([Key.days: .number(String($0.days)), Key.since: .string($0.since.description)])
            })
        }
        return .object(object)
    }

    public init(json: JSONValue) throws {
        guard case .object(let object) = json else { throw PluginMemoryError("risk-alerts memory is not an object") }
        func integer(_ value: JSONValue?, _ what: String) throws -> Int64 {
            guard case .number(let text) = value, let number = Int64(text) else {
                throw PluginMemoryError("risk-alerts memory: \(what) is not a whole number")
            }
            return number
        }
        func decimal(_ value: JSONValue?, _ what: String) throws -> Decimal {
            guard let number = value?.decimalValue else { throw PluginMemoryError("risk-alerts memory: \(what) is not a number") }
            return number
        }
        func text(_ value: JSONValue?, _ what: String) throws -> String {
            guard let string = value?.stringValue else { throw PluginMemoryError("risk-alerts memory: \(what) is not a string") }
            return string
        }
        func date(_ value: JSONValue?, _ what: String) throws -> LocalDate {
            guard let date = value?.stringValue.flatMap(LocalDate.init) else {
                throw PluginMemoryError("risk-alerts memory: \(what) is not a date")
            }
            return date
        }
        func movements(_ key: String) throws -> [Movement] {
            guard let value = object[key] else { return [] }
            guard let items = value.arrayValue else { throw PluginMemoryError("risk-alerts memory: \(key) is not a list") }
            return try items.map { item in
                Movement(at: try integer(item[Key.at], "\(key).t"), amount: try decimal(item[Key.amount], "\(key).a"),
                         eventId: try text(item[Key.eventId], "\(key).id"), source: try text(item[Key.source], "\(key).src"),
                         accountId: try text(item[Key.account], "\(key).acct"), alerted: item[Key.alerted]?.boolValue ?? false)
            }
        }
        debits = try movements(Key.debits)
        credits = try movements(Key.credits)
        velocityAlertAt = try object[Key.velocityAlertAt].map { try integer($0, Key.velocityAlertAt) }
        if let value = object[Key.snapshots] {
            guard let items = value.arrayValue else { throw PluginMemoryError("risk-alerts memory: aum is not a list") }
            snapshots = try items.map { Snapshot(asOf: try date($0[Key.asOf], "aum.d"), aum: try decimal($0[Key.amount], "aum.a")) }
        }
        aumAlertAsOf = try object[Key.aumAlertAsOf].map { try date($0, Key.aumAlertAsOf) }
        if let value = object[Key.overdueLoans] {
            guard let loans = value.objectValue else { throw PluginMemoryError("risk-alerts memory: overdueLoans is not an object") }
            for (id, loan) in loans {
                overdueLoans[id] = OverdueLoan(days: Int(try integer(loan[Key.days], "overdueLoans.days")),
                                               since: try date(loan[Key.since], "overdueLoans.since"))
            }
        }
    }
}

extension RiskMemory {
    /// Epoch milliseconds of an instant (rounded to the millisecond, so windows compare exactly).
    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}
