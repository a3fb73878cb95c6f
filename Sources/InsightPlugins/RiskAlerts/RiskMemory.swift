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
        /// The amount as ``Decimal/plainText`` writes it (the event's own literal when it already was that text):
        /// stored as is, so writing the memory needs no formatting. The `Decimal` is made from it when a rule needs
        /// it (a sum without exact ``units``, a lead's figures): a window can hold thousands of movements of a busy
        /// client, and the text is what they keep.
        var amountText: String
        public var eventId: String
        /// The event's source; kept for credits (their lead key), empty for debits.
        public var source: String
        public var accountId: String
        /// For a credit: a rapid in-out lead was made for it.
        public var alerted: Bool
        /// The amount in ten-thousandths, when that is exact (nil otherwise): window sums add integers, where
        /// `Decimal` arithmetic would cost more than the rest of the rule.
        let units: Int64?

        /// The amount, exact (the text is the plain text of a decimal, so it always parses).
        public var amount: Decimal { Decimal(exactly: amountText) ?? 0 }

        public init(at: Int64, amount: Decimal, eventId: String, source: String, accountId: String, alerted: Bool = false) {
            self.init(at: at, amountText: amount.plainText, eventId: eventId, source: source,
                      accountId: accountId, alerted: alerted)
        }

        /// `amountText` must be the plain text of a decimal (``Decimal/plainText``, or a literal it accepts).
        init(at: Int64, amountText: String, eventId: String, source: String, accountId: String, alerted: Bool = false) {
            self.at = at
            self.amountText = amountText
            self.units = RiskMemory.units(amountText)
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
    public internal(set) var debits: [Movement] = [] { didSet { touched.value = true } }
    /// Credits at or above the rapid in-out minimum, oldest first.
    public internal(set) var credits: [Movement] = [] { didSet { touched.value = true } }
    /// Event time (epoch ms) of the debit that raised the last velocity alert.
    public internal(set) var velocityAlertAt: Int64? { didSet { touched.value = true } }
    /// AUM snapshots by date, oldest first.
    public internal(set) var snapshots: [Snapshot] = [] { didSet { touched.value = true } }
    /// The snapshot date of the last AUM-drop alert: a new episode needs a peak on or after it.
    public internal(set) var aumAlertAsOf: LocalDate? { didSet { touched.value = true } }
    /// Loans currently overdue, by loan id.
    public internal(set) var overdueLoans: [String: OverdueLoan] = [:] { didSet { touched.value = true } }
    /// Set by every write to a field above, so the plugin can tell the host that the memory changed without
    /// keeping a copy to compare with (a copy would also make the first append copy the whole list). The
    /// changing methods below write only when something changes (a snapshot recorded and expired by the same event
    /// still marks it: one needless write; a movement already outside every window is not recorded). Not stored,
    /// and not part of equality.
    var touched = ChangeMark()

    /// A flag that takes no part in equality or hashing, so the memory's synthesized conformances stay those of its
    /// stored fields.
    struct ChangeMark: Sendable, Hashable {
        var value = false
        static func == (lhs: ChangeMark, rhs: ChangeMark) -> Bool { true }
        func hash(into hasher: inout Hasher) {}
    }

    public init() {}

    public var isEmpty: Bool {
        debits.isEmpty && credits.isEmpty && velocityAlertAt == nil && snapshots.isEmpty && aumAlertAsOf == nil
            && overdueLoans.isEmpty
    }

    /// Ten-thousandths per unit of money in ``Movement/units``.
    static let unitsPerOne: Int64 = 10_000

    /// A plain decimal text (`-12.5`, `300`, as ``Decimal/plainText`` writes it) in ten-thousandths, if it has at
    /// most 12 integer digits and 4 decimals (below 10¹⁶ units, so a sum of ``maximumDebits`` of them stays far
    /// inside 64 bits); else nil.
    static func units(_ text: String) -> Int64? {
        var value: Int64 = 0
        var negative = false, digits = 0, decimals = 0, seenPoint = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "-") where digits == 0 && !negative && !seenPoint: negative = true
            case UInt8(ascii: "."):
                guard !seenPoint, digits > 0 else { return nil }
                seenPoint = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if seenPoint { decimals += 1 } else { digits += 1 }
                guard digits <= 12, decimals <= 4 else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            default: return nil
            }
        }
        guard digits > 0 else { return nil }
        for _ in decimals..<4 { value *= 10 }
        return negative ? -value : value
    }

    // MARK: - Changes

    /// Inserts a movement in event-time order (a late event goes before newer ones) and keeps the newest `cap`.
    static func insert(_ movement: Movement, into list: inout [Movement], cap: Int) {
        let index = list.lastIndex { $0.at <= movement.at }.map { $0 + 1 } ?? 0
        // Older than every one of a full list: it would be dropped at once, and the list not change.
        if index == 0, list.count == cap { return }
        list.insert(movement, at: index)
        if list.count > cap { list.removeFirst(list.count - cap) }
    }

    mutating func record(debit: Movement) {
        var debit = debit
        debit.source = ""  // debits are named by event id only
        Self.insert(debit, into: &debits, cap: Self.maximumDebits)
    }
    mutating func record(credit: Movement) { Self.insert(credit, into: &credits, cap: Self.maximumCredits) }

    mutating func markAlerted(credit: Movement) {
        if let index = credits.firstIndex(where: { $0.eventId == credit.eventId && $0.source == credit.source }) {
            credits[index].alerted = true
        }
    }

    mutating func setVelocityAlert(at time: Int64?) { if velocityAlertAt != time { velocityAlertAt = time } }

    mutating func dropDebits() { debits.removeAll() }
    mutating func dropCredits() { credits.removeAll() }
    mutating func dropOverdueLoans() { overdueLoans.removeAll() }

    mutating func dropSnapshots() {
        snapshots.removeAll()
        aumAlertAsOf = nil
    }

    /// Stores a snapshot, replacing one of the same date, and keeps the newest ``maximumSnapshots``.
    mutating func record(snapshot: Snapshot) {
        // The same snapshot again (a feed resent): nothing changes.
        let sameDay = snapshots.indices.filter { snapshots[$0].asOf == snapshot.asOf }
        if sameDay.count == 1, snapshots[sameDay[0]] == snapshot, snapshots.count <= Self.maximumSnapshots { return }
        snapshots.removeAll { $0.asOf == snapshot.asOf }
        let index = snapshots.lastIndex { $0.asOf < snapshot.asOf }.map { $0 + 1 } ?? 0
        snapshots.insert(snapshot, at: index)
        if snapshots.count > Self.maximumSnapshots { snapshots.removeFirst(snapshots.count - Self.maximumSnapshots) }
    }

    mutating func setAUMAlert(asOf date: LocalDate) { if aumAlertAsOf != date { aumAlertAsOf = date } }

    mutating func setOverdue(_ loan: OverdueLoan?, for loanId: String) {
        guard overdueLoans[loanId] != loan || overdueLoans.count > Self.maximumOverdueLoans else { return }
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
        // Both lists are in time order: only the first element needs a look to know whether any has expired.
        if !debits.isEmpty, debits[0].at < cutoff { debits.removeAll { $0.at < cutoff } }
        if !credits.isEmpty, credits[0].at < cutoff { credits.removeAll { $0.at < cutoff } }
        if let alert = velocityAlertAt, alert < cutoff { velocityAlertAt = nil }
    }

    /// Forgets snapshots, and the AUM alert, dated before `date`.
    mutating func expireSnapshots(before date: LocalDate) {
        if !snapshots.isEmpty, snapshots[0].asOf < date { snapshots.removeAll { $0.asOf < date } }
        if let alert = aumAlertAsOf, alert < date { aumAlertAsOf = nil }
    }

    /// The newest time (epoch ms) among the remembered movements.
    var latestMovement: Int64? {
        var latest = velocityAlertAt
        if !debits.isEmpty { latest = max(latest ?? .min, debits[debits.count - 1].at) }
        if !credits.isEmpty { latest = max(latest ?? .min, credits[credits.count - 1].at) }
        return latest
    }

    // MARK: - JSON
    //
    // {"debits": [[t, amount, eventId, accountId], ...],
    //  "credits": [[t, amount, eventId, source, accountId, alerted], ...],
    //  "velocityAlertAt": t, "aum": [[date, aum], ...], "aumAlertAsOf": date,
    //  "overdueLoans": {"<loanId>": [days, since], ...}}
    // Movements are arrays rather than objects: a full memory holds hundreds, read and written per event.

    private enum Key {
        static let debits = "debits", credits = "credits", velocityAlertAt = "velocityAlertAt"
        static let snapshots = "aum", aumAlertAsOf = "aumAlertAsOf", overdueLoans = "overdueLoans"
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [:]
        if !debits.isEmpty {
            object[Key.debits] = .array(debits.map {
                .array([.number(String($0.at)), .number($0.amountText), .string($0.eventId), .string($0.accountId)])
            })
        }
        if !credits.isEmpty {
            object[Key.credits] = .array(credits.map {
                .array([.number(String($0.at)), .number($0.amountText), .string($0.eventId), .string($0.source),
                        .string($0.accountId), .bool($0.alerted)])
            })
        }
        if let velocityAlertAt { object[Key.velocityAlertAt] = .number(String(velocityAlertAt)) }
        if !snapshots.isEmpty {
            object[Key.snapshots] = .array(snapshots.map { .array([.string($0.asOf.description), .number($0.aum.plainText)]) })
        }
        if let aumAlertAsOf { object[Key.aumAlertAsOf] = .string(aumAlertAsOf.description) }
        if !overdueLoans.isEmpty {
            object[Key.overdueLoans] = .object(overdueLoans.mapValues {
                .array([.number(String($0.days)), .string($0.since.description)])
            })
        }
        return .object(object)
    }

    /// ``json`` as ``JSONWriter`` writes it (keys sorted: aum, aumAlertAsOf, credits, debits, overdueLoans,
    /// velocityAlertAt), written directly: a busy client's windows are written with every batch.
    public func writeJSON(into output: inout String) {
        var members = 0
        func key(_ name: String) { JSONWriter.writeMemberName(name, members: &members, into: &output) }
        func list<T>(_ items: [T], _ write: (T) -> Void) {
            output += "["
            for (offset, item) in items.enumerated() {
                if offset > 0 { output += "," }
                write(item)
            }
            output += "]"
        }
        if !snapshots.isEmpty {
            key(Key.snapshots)
            list(snapshots) { snapshot in
                output += "["
                JSONWriter.writeString(snapshot.asOf.description, into: &output)
                output += ","
                output += snapshot.aum.plainText
                output += "]"
            }
        }
        if let aumAlertAsOf {
            key(Key.aumAlertAsOf)
            JSONWriter.writeString(aumAlertAsOf.description, into: &output)
        }
        // [t, amount, eventId, accountId] for a debit; [t, amount, eventId, source, accountId, alerted] for a credit.
        func movement(_ movement: Movement, credit: Bool) {
            output += "["
            output += String(movement.at)
            output += ","
            output += movement.amountText
            output += ","
            JSONWriter.writeString(movement.eventId, into: &output)
            output += ","
            if credit {
                JSONWriter.writeString(movement.source, into: &output)
                output += ","
            }
            JSONWriter.writeString(movement.accountId, into: &output)
            if credit { output += movement.alerted ? ",true" : ",false" }
            output += "]"
        }
        if !credits.isEmpty {
            key(Key.credits)
            list(credits) { movement($0, credit: true) }
        }
        if !debits.isEmpty {
            key(Key.debits)
            list(debits) { movement($0, credit: false) }
        }
        if !overdueLoans.isEmpty {
            key(Key.overdueLoans)
            output += "{"
            for (offset, id) in overdueLoans.keys.sorted().enumerated() {
                if offset > 0 { output += "," }
                JSONWriter.writeString(id, into: &output)
                output += ":["
                if let loan = overdueLoans[id] {
                    output += String(loan.days)
                    output += ","
                    JSONWriter.writeString(loan.since.description, into: &output)
                }
                output += "]"
            }
            output += "}"
        }
        if let velocityAlertAt {
            key(Key.velocityAlertAt)
            output += String(velocityAlertAt)
        }
        output += members == 0 ? "{}" : "}"
    }

    public init(json: JSONValue) throws {
        guard case .object(let object) = json else { throw PluginMemoryError("risk-alerts memory is not an object") }
        func fail(_ what: String) -> PluginMemoryError { PluginMemoryError("risk-alerts memory: \(what) has the wrong shape") }
        func items(_ key: String, width: Int) throws -> [[JSONValue]] {
            guard let value = object[key] else { return [] }
            guard let list = value.arrayValue else { throw fail(key) }
            return try list.map { item in
                guard let fields = item.arrayValue, fields.count == width else { throw fail(key) }
                return fields
            }
        }
        func integer(_ value: JSONValue, _ what: String) throws -> Int64 {
            guard case .number(let text) = value, let number = Int64(text) else { throw fail(what) }
            return number
        }
        func amount(_ value: JSONValue, _ what: String) throws -> (Decimal, String) {
            guard case .number(let text) = value, let number = Decimal(exactly: text) else { throw fail(what) }
            return (number, text)
        }
        func text(_ value: JSONValue, _ what: String) throws -> String {
            guard case .string(let string) = value else { throw fail(what) }
            return string
        }
        func date(_ value: JSONValue, _ what: String) throws -> LocalDate {
            guard case .string(let string) = value, let date = LocalDate(string) else { throw fail(what) }
            return date
        }
        debits = try items(Key.debits, width: 4).map { fields in
            let (_, literal) = try amount(fields[1], Key.debits)
            return Movement(at: try integer(fields[0], Key.debits), amountText: literal,
                            eventId: try text(fields[2], Key.debits), source: "", accountId: try text(fields[3], Key.debits))
        }
        credits = try items(Key.credits, width: 6).map { fields in
            let (_, literal) = try amount(fields[1], Key.credits)
            guard let alerted = fields[5].boolValue else { throw fail(Key.credits) }
            return Movement(at: try integer(fields[0], Key.credits), amountText: literal,
                            eventId: try text(fields[2], Key.credits), source: try text(fields[3], Key.credits),
                            accountId: try text(fields[4], Key.credits), alerted: alerted)
        }
        velocityAlertAt = try object[Key.velocityAlertAt].map { try integer($0, Key.velocityAlertAt) }
        snapshots = try items(Key.snapshots, width: 2).map { fields in
            Snapshot(asOf: try date(fields[0], Key.snapshots), aum: try amount(fields[1], Key.snapshots).0)
        }
        aumAlertAsOf = try object[Key.aumAlertAsOf].map { try date($0, Key.aumAlertAsOf) }
        if let value = object[Key.overdueLoans] {
            guard let loans = value.objectValue else { throw fail(Key.overdueLoans) }
            for (id, loan) in loans {
                guard let fields = loan.arrayValue, fields.count == 2 else { throw fail(Key.overdueLoans) }
                overdueLoans[id] = OverdueLoan(days: Int(try integer(fields[0], Key.overdueLoans)),
                                               since: try date(fields[1], Key.overdueLoans))
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
