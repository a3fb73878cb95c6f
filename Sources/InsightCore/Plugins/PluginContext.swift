import Foundation
import Logging

/// Everything a plugin may read while it handles one event or one tick.
public struct PluginContext: Sendable {
    /// The plugin's notion of now: the system clock when live, event time in replay, fixed in tests. (Set by the
    /// dispatcher, which moves one context from event to event rather than making one per event.)
    public package(set) var now: Date
    /// The bank's time zone; local dates and schedules are computed in it.
    public let timeZone: TimeZone
    /// The message locale, `zh-CN` by default.
    public let locale: String
    /// The plugin's logger (its metadata names the plugin).
    public var logger: Logger
    /// Read access to every client and manager.
    public let state: any StateReader
    /// For an event: its client's state with this event already applied.
    public package(set) var client: ClientState?
    /// The bank's working days (statutory holidays and make-up days from `plugins-config/calendar.yaml`).
    public let workingCalendar: WorkingCalendar

    public init(now: Date, timeZone: TimeZone, locale: String, logger: Logger, state: any StateReader,
                client: ClientState?, workingCalendar: WorkingCalendar = .weekendsOnly) {
        self.now = now
        self.timeZone = timeZone
        self.locale = locale
        self.logger = logger
        self.state = state
        self.client = client
        self.workingCalendar = workingCalendar
    }

    /// Today's date in the bank's time zone.
    public var today: LocalDate { LocalDate(now, in: timeZone) }

    /// When a lead about `date` is due: the start of that day, moved to the previous working day when it is
    /// a weekend or holiday, but never before today.
    public func dueAt(_ date: LocalDate) -> Date {
        max(workingCalendar.workingDay(onOrBefore: date), today).instant(in: timeZone)
    }
}

/// Read-only access to projected state. Implemented by the store; plugins never see SQL.
public protocol StateReader: Sendable {
    func client(_ id: String) throws -> ClientState?
    func manager(_ id: String) throws -> ManagerState?
    /// Every client, in id order. Scheduled plugins scan with this.
    func allClients() throws -> [ClientState]
    /// Balance snapshots of one client on or after a date, oldest first.
    func balanceHistory(client id: String, since: LocalDate) throws -> [BalanceSnapshot]

    // Indexed queries for daily ticks: each returns only the clients that can match, in id order.

    /// Clients whose birthday index key (``Birthdays/key(birthDate:calendar:)``) is one of `keys`.
    func clients(birthdayKeys keys: Set<Int>) throws -> [ClientState]
    /// Clients with a loan whose maturity date is in `from...through`.
    func clients(loansMaturingFrom from: LocalDate, through: LocalDate) throws -> [ClientState]
    /// Clients with a term deposit whose maturity date is in `from...through`.
    func clients(depositsMaturingFrom from: LocalDate, through: LocalDate) throws -> [ClientState]
    /// Clients in any of `segments`.
    func clients(inSegments segments: [String]) throws -> [ClientState]
    /// Clients whose last wealth purchase was in `from..<until`.
    func clients(lastWealthPurchaseFrom from: Date, until: Date) throws -> [ClientState]
    /// When `plugin` last made a lead for this client, from the committed ledger. Leads an inhibit rule held
    /// back (never sent, while the client had an open AML lead) do not count.
    func lastLead(plugin: String, client id: String) throws -> Date?
    /// Whether `plugin`'s lead for this client made at `at` was held back by an inhibit rule: a lead nobody
    /// received does not start a cooldown.
    func leadWasInhibited(plugin: String, client id: String, at: Date) throws -> Bool
}

extension StateReader {
    public func leadWasInhibited(plugin: String, client id: String, at: Date) throws -> Bool { false }
}
