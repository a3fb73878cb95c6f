import Foundation
import InsightCore

/// The store's read side as plugins see it: committed state, no SQL.
public struct StoreStateReader: StateReader {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    public func client(_ id: String) throws -> ClientState? { try database.loadClients([id])[id] }
    public func manager(_ id: String) throws -> ManagerState? { try database.loadManager(id) }
    public func allClients() throws -> [ClientState] { try database.allClients() }
    public func balanceHistory(client id: String, since: LocalDate) throws -> [BalanceSnapshot] {
        try database.balanceHistory(client: id, since: since)
    }
    public func clients(birthdayKeys keys: Set<Int>) throws -> [ClientState] { try database.clients(birthdayKeys: keys) }
    public func clients(loansMaturingFrom from: LocalDate, through: LocalDate) throws -> [ClientState] {
        try database.clients(loansMaturingFrom: from, through: through)
    }
    public func clients(depositsMaturingFrom from: LocalDate, through: LocalDate) throws -> [ClientState] {
        try database.clients(depositsMaturingFrom: from, through: through)
    }
    public func clients(inSegments segments: [String]) throws -> [ClientState] {
        try database.clients(inSegments: segments)
    }
    public func clients(lastWealthPurchaseFrom from: Date, until: Date) throws -> [ClientState] {
        try database.clients(lastWealthPurchaseFrom: from, until: until)
    }
    public func lastLead(plugin: String, client id: String) throws -> Date? {
        try database.lastLead(plugin: plugin, client: id)
    }

    public func leadWasInhibited(plugin: String, client id: String, at: Date) throws -> Bool {
        try database.leadWasInhibited(plugin: plugin, client: id, at: at)
    }
}
