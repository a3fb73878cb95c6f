/// Which part of a client's state an event changed, so the store writes only that part.
public enum StateChange: Sendable, Hashable {
    case profile
    case activity
    /// A wealth purchase moved `lastWealthPurchaseAt`.
    case wealthPurchase
    case account(String)
    case balance
    case deposit(String)
    case loan(String)
    case holding(String)
    case financials(String)
    /// A plugin's per-client memory (by plugin id).
    case memory(String)
}

/// A set of ``StateChange``s: what one event, or one batch, changed in a client's state. A client changes in a few
/// ways per batch, so the four plain changes are flags and the others a short list: adding one (once per event on
/// the data path) hashes nothing and, for the usual one or two, allocates once. Iterates the flags in declaration
/// order, then the others in the order they were added; equal sets are equal whatever the order.
public struct StateChanges: Sendable, Hashable, Sequence, ExpressibleByArrayLiteral, CustomStringConvertible {
    private var flags: UInt8 = 0
    private var others: [StateChange] = []
    /// The others as a set, once there are more than ``linearLimit`` of them (a client with many accounts moving in
    /// one batch), so that adding stays linear.
    private var index: Set<StateChange>?
    private static let linearLimit = 16
    private static let plain: [StateChange] = [.profile, .activity, .wealthPurchase, .balance]

    public init() {}

    public init(arrayLiteral elements: StateChange...) {
        formUnion(elements)
    }

    public init(_ elements: some Sequence<StateChange>) {
        formUnion(elements)
    }

    private static func flag(_ change: StateChange) -> UInt8? {
        switch change {
        case .profile: 1
        case .activity: 2
        case .wealthPurchase: 4
        case .balance: 8
        case .account, .deposit, .loan, .holding, .financials, .memory: nil
        }
    }

    public var isEmpty: Bool { flags == 0 && others.isEmpty }

    public var count: Int { flags.nonzeroBitCount + others.count }

    public func contains(_ change: StateChange) -> Bool {
        if let flag = Self.flag(change) { return flags & flag != 0 }
        if let index { return index.contains(change) }
        return others.contains(change)
    }

    /// Adds `change`; false when it was already there.
    @discardableResult
    public mutating func insert(_ change: StateChange) -> Bool {
        if let flag = Self.flag(change) {
            defer { flags |= flag }
            return flags & flag == 0
        }
        if index != nil {
            guard index?.insert(change).inserted == true else { return false }
        } else {
            guard !others.contains(change) else { return false }
            if others.count == Self.linearLimit { index = Set(others + [change]) }
        }
        others.append(change)
        return true
    }

    /// True when a write of these changes writes the client's memory column: a plugin's memory changed, or the
    /// profile (whose upsert writes the whole client row).
    public var writesMemoryColumn: Bool {
        if contains(.profile) { return true }
        return others.contains { if case .memory = $0 { true } else { false } }
    }

    public mutating func formUnion(_ changes: some Sequence<StateChange>) {
        for change in changes { insert(change) }
    }

    public mutating func formUnion(_ changes: StateChanges) {
        flags |= changes.flags
        if others.isEmpty && index == nil {
            others = changes.others
            index = changes.index
        } else {
            for change in changes.others { insert(change) }
        }
    }

    public func makeIterator() -> some IteratorProtocol<StateChange> {
        let flags = flags
        return (Self.plain.lazy.filter { Self.flag($0).map { flags & $0 != 0 } ?? false } + others).makeIterator()
    }

    public static func == (lhs: StateChanges, rhs: StateChanges) -> Bool {
        lhs.flags == rhs.flags && lhs.others.count == rhs.others.count && (lhs.others == rhs.others || Set(lhs.others) == Set(rhs.others))
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(flags)
        hasher.combine(Set(others))
    }

    public var description: String { "[" + map { "\($0)" }.joined(separator: ", ") + "]" }
}
