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
}
