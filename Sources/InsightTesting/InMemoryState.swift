import Foundation
import InsightCore

/// A `StateReader` over plain dictionaries, for plugin unit tests that need no database. Its queries answer
/// by scanning, with the same meaning as the store's indexed ones (the store's are tested against it).
public struct InMemoryState: StateReader {
    public var clients: [String: ClientState]
    public var managers: [String: ManagerState]
    /// Balance snapshot history per client, oldest first.
    public var balances: [String: [BalanceSnapshot]]
    /// Committed leads, as (plugin, client, created).
    public var leads: [(plugin: String, client: String, createdAt: Date)]

    public init(clients: [ClientState] = [], managers: [ManagerState] = []) {
        self.clients = Dictionary(clients.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        self.managers = Dictionary(managers.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        balances = [:]
        leads = []
    }

    public func client(_ id: String) throws -> ClientState? { clients[id] }
    public func manager(_ id: String) throws -> ManagerState? { managers[id] }
    public func allClients() throws -> [ClientState] { clients.keys.sorted().compactMap { clients[$0] } }

    public func balanceHistory(client id: String, since: LocalDate) throws -> [BalanceSnapshot] {
        (balances[id] ?? []).filter { $0.asOf >= since }
    }

    public func clients(birthdayKeys keys: Set<Int>) throws -> [ClientState] {
        try allClients().filter { $0.profile.birthdayKey.map(keys.contains) ?? false }
    }

    public func clients(loansMaturingFrom from: LocalDate, through: LocalDate) throws -> [ClientState] {
        try allClients().filter { $0.loans.values.contains { $0.maturityDate.map { (from...through).contains($0) } ?? false } }
    }

    public func clients(depositsMaturingFrom from: LocalDate, through: LocalDate) throws -> [ClientState] {
        try allClients().filter { $0.deposits.values.contains { (from...through).contains($0.maturityDate) } }
    }

    public func clients(inSegments segments: [String]) throws -> [ClientState] {
        try allClients().filter { $0.profile.segment.map(segments.contains) ?? false }
    }

    public func clients(lastWealthPurchaseFrom from: Date, until: Date) throws -> [ClientState] {
        try allClients().filter { $0.lastWealthPurchaseAt.map { $0 >= from && $0 < until } ?? false }
    }

    public func lastLead(plugin: String, client id: String) throws -> Date? {
        leads.filter { $0.plugin == plugin && $0.client == id }.map(\.createdAt).max()
    }
}
