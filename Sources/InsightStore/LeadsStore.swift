import Foundation
import InsightCore

/// What the leads API reads and writes of the ledger, the snoozes, the compliance decisions and the outbox: records,
/// no policy. The rules (a status only moves forward, the first decision stands, a snooze is ended only with the scope
/// it was made with, which deliveries an operator may send again) live in `InsightDelivery`'s `LeadDesk` and run on
/// either backend. One transaction's view: everything a body reads and writes commits together.
public protocol LeadsTransaction {
    // MARK: Reading
    func leadPage(_ query: LeadPageQuery) throws -> LeadPage
    func lead(id: String) throws -> Lead?
    /// The lead's history, oldest first.
    func activity(leadId: String) throws -> [LeadActivity]
    /// The client's leads still open (new, notified or contacted), oldest first.
    func openLeads(clientId: String, limit: Int) throws -> [Lead]
    /// The client's most recent CRM interactions, newest first.
    func interactions(clientId: String, limit: Int) throws -> [ClientInteraction]
    func decision(leadId: String) throws -> LeadDecisionEntry?
    /// The lead that held this one back, if an inhibit rule did.
    func inhibitedBy(leadId: String) throws -> String?
    /// The client's projected state, nil when no event named it.
    func client(id: String) throws -> ClientState?
    /// Snoozes still in force at `instant`, oldest first.
    func snoozes(activeAt instant: Date) throws -> [SnoozeEntry]
    /// The scope a snooze was made with; nil when there is no snooze with that id.
    func snoozeScope(id: Int64) throws -> String?
    /// Every delivery that carries the lead (alone, in a digest, as an escalation or fallback), oldest first.
    func deliveries(forLead leadId: String) throws -> [(delivery: OutboxDelivery, attempts: [DeliveryAttempt])]
    /// Outbox rows, most recently changed first, filtered by status and receiver.
    func deliveries(status: DeliveryStatus?, receiver: String?, limit: Int) throws -> [OutboxDelivery]
    func delivery(id: String) throws -> OutboxDelivery?
    /// Receiver targets that answered 410, by receiver and manager.
    func disabledTargetList() throws -> [DisabledTarget]

    // MARK: Writing
    func setStatus(ofLead id: String, to status: LeadStatus, at: Date) throws
    func addActivity(lead: String, at: Date, kind: String, outcome: String?, note: String?, actor: String) throws
    /// Stores a snooze (its `id` is ignored) and returns it with the id it was given.
    func insertSnooze(_ snooze: SnoozeEntry) throws -> SnoozeEntry
    /// Returns whether there was one to delete.
    func deleteSnooze(id: Int64) throws -> Bool
    func insertDecision(_ decision: LeadDecisionEntry) throws
    /// Queues a delivery in one of `statuses` again from the start of its retry schedule, at `at` or its
    /// `not_before`, whichever is later; any claim on it ends. Returns whether it was.
    func requeue(delivery id: String, from statuses: Set<DeliveryStatus>, at: Date) throws -> Bool
    /// Forgets that a target answered 410 (every manager's when `managerId` is nil) and queues its held deliveries
    /// again. Returns how many were.
    func enable(receiver: String, managerId: String?, at: Date) throws -> Int
}

/// A store the leads API runs on: SQLite (``AppDatabase``) or PostgreSQL.
public protocol LeadsStore: OutboxStore {
    /// Runs `body` over a consistent read (one snapshot).
    func readLeads<T: Sendable>(_ body: @escaping @Sendable (any LeadsTransaction) throws -> T) async throws -> T
    /// Runs `body` in one write transaction.
    func writeLeads<T: Sendable>(_ body: @escaping @Sendable (any LeadsTransaction) throws -> T) async throws -> T
}
