import Foundation
import InsightCore

/// A plugin's reads during a daily tick, remembered: the clients a tick's query returned are the clients its
/// leads name, so the dispatcher completes those leads without loading the same clients again.
final class RecordingStateReader: StateReader, @unchecked Sendable {
    private let base: any StateReader
    private let lock = NSLock()
    private var seen: [String: ClientState] = [:]

    init(_ base: any StateReader) {
        self.base = base
    }

    /// The clients read so far, by id.
    var clients: [String: ClientState] { lock.withLock { seen } }

    private func record(_ states: [ClientState]) -> [ClientState] {
        lock.withLock { for state in states { seen[state.id] = state } }
        return states
    }

    func client(_ id: String) throws -> ClientState? {
        let state = try base.client(id)
        if let state { _ = record([state]) }
        return state
    }

    func manager(_ id: String) throws -> ManagerState? { try base.manager(id) }
    func allClients() throws -> [ClientState] { record(try base.allClients()) }
    func balanceHistory(client id: String, since: LocalDate) throws -> [BalanceSnapshot] {
        try base.balanceHistory(client: id, since: since)
    }
    func clients(birthdayKeys keys: Set<Int>) throws -> [ClientState] { record(try base.clients(birthdayKeys: keys)) }
    func clients(loansMaturingFrom from: LocalDate, through: LocalDate) throws -> [ClientState] {
        record(try base.clients(loansMaturingFrom: from, through: through))
    }
    func clients(depositsMaturingFrom from: LocalDate, through: LocalDate) throws -> [ClientState] {
        record(try base.clients(depositsMaturingFrom: from, through: through))
    }
    func clients(inSegments segments: [String]) throws -> [ClientState] { record(try base.clients(inSegments: segments)) }
    func clients(lastWealthPurchaseFrom from: Date, until: Date) throws -> [ClientState] {
        record(try base.clients(lastWealthPurchaseFrom: from, until: until))
    }
    func lastLead(plugin: String, client id: String) throws -> Date? { try base.lastLead(plugin: plugin, client: id) }
    func leadWasInhibited(plugin: String, client id: String, at: Date) throws -> Bool {
        try base.leadWasInhibited(plugin: plugin, client: id, at: at)
    }
}
