import Foundation
import InsightCore
import InsightStore
import PostgresNIO

extension PostgresStore: LeadsStore {
    public func readLeads<T: Sendable>(_ body: @escaping @Sendable (any LeadsTransaction) throws -> T) async throws -> T {
        try await snapshot { session in try body(PostgresLeadsTransaction(session: session, locking: false)) }
    }

    /// A write locks each lead it reads (`FOR UPDATE`) until it commits: two feedbacks or two decisions on one lead
    /// run one after the other, the second seeing what the first wrote (as SQLite's single writer does), so a status
    /// never moves back and the first decision stands without a key violation.
    public func writeLeads<T: Sendable>(_ body: @escaping @Sendable (any LeadsTransaction) throws -> T) async throws -> T {
        try await transaction { session in try body(PostgresLeadsTransaction(session: session, locking: true)) }
    }
}

/// ``LeadsTransaction`` on PostgreSQL: the same records as SQLite's (`SQLiteLeadsTransaction`), row for row.
///
/// A text parameter cannot hold U+0000, and no stored id or name does (the validator refuses control characters), so a
/// lookup by such a text finds nothing rather than failing the transaction.
struct PostgresLeadsTransaction: LeadsTransaction {
    let session: PostgresSession
    /// Whether a lead read is locked for the rest of the transaction (a write's).
    let locking: Bool

    private static func storedText(_ text: String) -> Bool { !text.utf8.contains(0) }

    private func lead(row: PostgresRow) throws -> Lead {
        let (key, status, body) = try row.decode((String, String, String).self)
        return try PostgresOutboxTransaction.lead(key: key, status: status, body: body)
    }

    func leadPage(_ query: LeadPageQuery) throws -> LeadPage {
        var conditions = ["seq > $1"]
        var binds = PostgresBindings()
        binds.append(query.after ?? 0, context: .default)
        func add(_ column: String, _ value: String?) {
            guard let value else { return }
            binds.append(value, context: .default)
            conditions.append("\(column) = $\(binds.count)")
        }
        for text in [query.plugin, query.clientId, query.managerId].compactMap({ $0 }) where !Self.storedText(text) {
            return LeadPage(leads: [], next: nil)
        }
        add("plugin", query.plugin)
        add("client_id", query.clientId)
        add("manager_id", query.managerId)
        add("status", query.status?.rawValue)
        if let since = query.since {
            binds.append(since.milliseconds, context: .default)
            conditions.append("created_ms >= $\(binds.count)")
        }
        binds.append(Int64(query.limit + 1), context: .default)
        let rows = try session.rows(PostgresQuery(unsafeSQL: """
            SELECT seq, key, status, body FROM lead WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq LIMIT $\(binds.count)
            """, binds: binds))
        let page = try rows.prefix(query.limit).map { row in
            let (seq, key, status, body) = try row.decode((Int64, String, String, String).self)
            return (sequence: seq, lead: try PostgresOutboxTransaction.lead(key: key, status: status, body: body))
        }
        return LeadPage(leads: page, next: rows.count > query.limit ? page.last?.sequence : nil)
    }

    func lead(id: String) throws -> Lead? {
        guard Self.storedText(id) else { return nil }
        return try session.rows("SELECT key, status, body FROM lead WHERE id = \(id)\(unescaped: locking ? " FOR UPDATE" : "")")
            .first.map(lead(row:))
    }

    func activity(leadId: String) throws -> [LeadActivity] {
        guard Self.storedText(leadId) else { return [] }
        return try session.rows("""
            SELECT at_ms, kind, outcome, note, actor FROM lead_activity WHERE lead_id = \(leadId) ORDER BY id
            """).map { row in
            let (at, kind, outcome, note, actor) = try row.decode((Int64, String, String?, String?, String?).self)
            return LeadActivity(at: Date(milliseconds: at), kind: kind, outcome: outcome, note: note, actor: actor)
        }
    }

    func openLeads(clientId: String, limit: Int) throws -> [Lead] {
        guard Self.storedText(clientId) else { return [] }
        return try session.rows("""
            SELECT key, status, body FROM lead WHERE client_id = \(clientId) AND status IN ('new', 'notified', 'contacted')
            ORDER BY seq LIMIT \(Int64(limit))
            """).map(lead(row:))
    }

    func interactions(clientId: String, limit: Int) throws -> [ClientInteraction] {
        guard Self.storedText(clientId) else { return [] }
        return try session.rows("""
            SELECT at_ms, manager_id, channel, outcome, lead_id FROM interaction WHERE client_id = \(clientId)
            ORDER BY at_ms DESC, journal_seq DESC LIMIT \(Int64(limit))
            """).map { row in
            let (at, manager, channel, outcome, lead) = try row.decode((Int64, String?, String?, String?, String?).self)
            return ClientInteraction(at: Date(milliseconds: at), managerId: manager, channel: channel, outcome: outcome, leadId: lead)
        }
    }

    func decision(leadId: String) throws -> LeadDecisionEntry? {
        guard Self.storedText(leadId),
              let row = try session.rows("""
                  SELECT decision, reference, note, actor, at_ms FROM lead_decision WHERE lead_id = \(leadId)
                  """).first else { return nil }
        let (text, reference, note, actor, at) = try row.decode((String, String?, String?, String, Int64).self)
        guard let decision = ComplianceDecision(rawValue: text) else { return nil }
        return LeadDecisionEntry(leadId: leadId, decision: decision, reference: reference, note: note, actor: actor,
                                 at: Date(milliseconds: at))
    }

    func inhibitedBy(leadId: String) throws -> String? {
        guard Self.storedText(leadId) else { return nil }
        return try session.value(String?.self, "SELECT inhibited_by FROM lead WHERE id = \(leadId)").flatMap { $0 }
    }

    func client(id: String) throws -> ClientState? {
        try PostgresState.loadClients([id], session: session)[id]
    }

    func snoozes(activeAt instant: Date) throws -> [SnoozeEntry] {
        try session.rows("""
            SELECT id, client_id, plugin, kind, until_ms, created_ms, note, lead_id, actor, scope FROM snooze
            WHERE until_ms > \(instant.milliseconds) ORDER BY id
            """).map { row in
            let (id, client, plugin, kind, until, created, note, lead, actor, scope) = try row.decode(
                (Int64, String?, String?, String?, Int64, Int64, String?, String?, String?, String).self)
            return SnoozeEntry(id: id, clientId: client, plugin: plugin, kind: kind, until: Date(milliseconds: until),
                               createdAt: Date(milliseconds: created), note: note, leadId: lead, actor: actor, scope: scope)
        }
    }

    func snoozeScope(id: Int64) throws -> String? {
        try session.value(String.self, "SELECT scope FROM snooze WHERE id = \(id)")
    }

    func deliveries(forLead leadId: String) throws -> [(delivery: OutboxDelivery, attempts: [DeliveryAttempt])] {
        guard Self.storedText(leadId) else { return [] }
        let columns = PostgresOutboxTransaction.deliveryColumns
        let deliveries = try session.rows("""
            SELECT \(unescaped: columns) FROM (
                SELECT \(unescaped: columns) FROM delivery WHERE lead_id = \(leadId)
                UNION SELECT \(unescaped: columns) FROM delivery
                      WHERE id IN (SELECT parent_id FROM delivery WHERE lead_id = \(leadId) AND parent_id IS NOT NULL)
            ) AS carrying
            ORDER BY created_ms, id COLLATE "C"
            """).map(PostgresOutboxTransaction.delivery(row:))
        guard !deliveries.isEmpty else { return [] }
        var attempts: [String: [DeliveryAttempt]] = [:]
        for row in try session.rows("""
            SELECT delivery_id, attempt, at_ms, duration_ms, http_status, outcome, error FROM delivery_attempt
            WHERE delivery_id = ANY(\(deliveries.map(\.id))) ORDER BY id
            """) {
            let (id, attempt, at, duration, status, outcome, error) = try row.decode(
                (String, Int, Int64, Int, Int?, String, String?).self)
            attempts[id, default: []].append(DeliveryAttempt(attempt: attempt, at: Date(milliseconds: at), durationMs: duration,
                                                             httpStatus: status, outcome: outcome, error: error))
        }
        return deliveries.map { ($0, attempts[$0.id] ?? []) }
    }

    func deliveries(status: DeliveryStatus?, receiver: String?, limit: Int) throws -> [OutboxDelivery] {
        if let receiver, !Self.storedText(receiver) { return [] }
        var conditions: [String] = []
        var binds = PostgresBindings()
        if let status {
            binds.append(status.rawValue, context: .default)
            conditions.append("status = $\(binds.count)")
        }
        if let receiver {
            binds.append(receiver, context: .default)
            conditions.append("receiver = $\(binds.count)")
        }
        binds.append(Int64(limit), context: .default)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try session.rows(PostgresQuery(unsafeSQL: """
            SELECT \(PostgresOutboxTransaction.deliveryColumns) FROM delivery \(filter)
            ORDER BY updated_ms DESC, id COLLATE "C" LIMIT $\(binds.count)
            """, binds: binds)).map(PostgresOutboxTransaction.delivery(row:))
    }

    func delivery(id: String) throws -> OutboxDelivery? {
        guard Self.storedText(id) else { return nil }
        return try PostgresOutboxTransaction(session: session).delivery(id: id)
    }

    func disabledTargetList() throws -> [DisabledTarget] {
        try session.rows("""
            SELECT receiver, manager_id, disabled_ms, reason FROM disabled_target
            ORDER BY receiver COLLATE "C", manager_id COLLATE "C"
            """)
            .map { row in
                let (receiver, manager, disabled, reason) = try row.decode((String, String, Int64, String).self)
                return DisabledTarget(receiver: receiver, managerId: manager, disabledAt: Date(milliseconds: disabled), reason: reason)
            }
    }

    func setStatus(ofLead id: String, to status: LeadStatus, at: Date) throws {
        try session.execute("UPDATE lead SET status = \(status.rawValue), status_ms = \(at.milliseconds) WHERE id = \(id)")
    }

    func addActivity(lead: String, at: Date, kind: String, outcome: String?, note: String?, actor: String) throws {
        let actor: String = storable(actor)
        try PostgresOutboxTransaction.addActivity(session, lead: lead, at: at, kind: kind, outcome: outcome, note: note, actor: actor)
    }

    func insertSnooze(_ snooze: SnoozeEntry) throws -> SnoozeEntry {
        let id = try session.value(Int64.self, """
            INSERT INTO snooze (client_id, plugin, kind, until_ms, created_ms, note, lead_id, actor, scope)
            VALUES (\(storable(snooze.clientId)), \(storable(snooze.plugin)), \(storable(snooze.kind)), \(snooze.until.milliseconds),
                    \(snooze.createdAt.milliseconds), \(storable(snooze.note)), \(storable(snooze.leadId)), \(storable(snooze.actor)),
                    \(snooze.scope))
            RETURNING id
            """) ?? 0
        // As stored (U+0000 as U+FFFD), as a later read gives it.
        var stored = snooze
        stored.id = id
        stored.clientId = storable(snooze.clientId)
        stored.plugin = storable(snooze.plugin)
        stored.kind = storable(snooze.kind)
        stored.note = storable(snooze.note)
        stored.actor = storable(snooze.actor)
        return stored
    }

    func deleteSnooze(id: Int64) throws -> Bool {
        try session.execute("DELETE FROM snooze WHERE id = \(id)") == 1
    }

    func insertDecision(_ decision: LeadDecisionEntry) throws {
        try session.execute("""
            INSERT INTO lead_decision (lead_id, decision, reference, note, actor, at_ms)
            VALUES (\(decision.leadId), \(decision.decision.rawValue), \(storable(decision.reference)), \(storable(decision.note)),
                    \(storable(decision.actor)), \(decision.at.milliseconds))
            """)
    }

    func requeue(delivery id: String, from statuses: Set<DeliveryStatus>, at: Date) throws -> Bool {
        guard Self.storedText(id), !statuses.isEmpty else { return false }
        let nowMs = at.milliseconds
        return try session.execute("""
            UPDATE delivery SET status = 'pending', attempts = 0, next_attempt_ms = GREATEST(not_before_ms, \(nowMs)),
                                updated_ms = \(nowMs), claimed_by = NULL, claimed_until_ms = NULL
            WHERE id = \(id) AND status = ANY(\(statuses.map(\.rawValue).sorted()))
            """) == 1
    }

    func enable(receiver: String, managerId: String?, at: Date) throws -> Int {
        guard Self.storedText(receiver), managerId.map(Self.storedText) ?? true else { return 0 }
        let nowMs = at.milliseconds
        if let managerId {
            try session.execute("DELETE FROM disabled_target WHERE receiver = \(receiver) AND manager_id = \(managerId)")
            return try session.execute("""
                UPDATE delivery SET status = 'pending', attempts = 0, next_attempt_ms = GREATEST(not_before_ms, \(nowMs)),
                                    updated_ms = \(nowMs), claimed_by = NULL, claimed_until_ms = NULL
                WHERE receiver = \(receiver) AND manager_id = \(managerId) AND status = 'held'
                """)
        }
        try session.execute("DELETE FROM disabled_target WHERE receiver = \(receiver)")
        return try session.execute("""
            UPDATE delivery SET status = 'pending', attempts = 0, next_attempt_ms = GREATEST(not_before_ms, \(nowMs)),
                                updated_ms = \(nowMs), claimed_by = NULL, claimed_until_ms = NULL
            WHERE receiver = \(receiver) AND status = 'held'
            """)
    }
}
