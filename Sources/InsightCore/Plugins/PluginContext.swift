import Foundation
import Logging

/// Everything a plugin may read while it handles one event or one tick.
public struct PluginContext: Sendable {
    /// The plugin's notion of now: the system clock when live, event time in replay, fixed in tests.
    public let now: Date
    /// The bank's time zone; local dates and schedules are computed in it.
    public let timeZone: TimeZone
    /// The message locale, `zh-CN` by default.
    public let locale: String
    public let logger: Logger
    /// Read access to every client and manager.
    public let state: any StateReader
    /// For an event: its client's state with this event already applied.
    public let client: ClientState?

    public init(now: Date, timeZone: TimeZone, locale: String, logger: Logger, state: any StateReader,
                client: ClientState?) {
        self.now = now
        self.timeZone = timeZone
        self.locale = locale
        self.logger = logger
        self.state = state
        self.client = client
    }

    /// Today's date in the bank's time zone.
    public var today: LocalDate { LocalDate(now, in: timeZone) }
}

/// Read-only access to projected state. Implemented by the store; plugins never see SQL.
public protocol StateReader: Sendable {
    func client(_ id: String) throws -> ClientState?
    func manager(_ id: String) throws -> ManagerState?
    /// Every client, in id order. Scheduled plugins scan with this.
    func allClients() throws -> [ClientState]
    /// Balance snapshots of one client on or after a date, oldest first.
    func balanceHistory(client id: String, since: LocalDate) throws -> [BalanceSnapshot]
}
