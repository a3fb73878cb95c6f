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
