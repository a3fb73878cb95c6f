import Foundation
import InsightCore
import InsightStore
import PostgresNIO

extension PostgresStore: OutboxStore {
    public func outboxTransaction<T: Sendable>(_ body: @escaping @Sendable (any OutboxTransaction) throws -> T) async throws -> T {
        try await transaction { session in try body(PostgresOutboxTransaction(session: session)) }
    }

    public func nextDue(receiver: String) async throws -> Date? {
        // As on SQLite (`AppDatabase.nextDueSQL`): only rows up to the first one nobody is sending can hold the least.
        try await transaction { session in
            try session.value(Int64?.self, """
                SELECT MIN(GREATEST(next_attempt_ms, COALESCE(claimed_until_ms, 0))) FROM delivery
                WHERE status = 'pending' AND receiver = \(receiver) AND next_attempt_ms <= COALESCE((
                    SELECT next_attempt_ms FROM delivery
                    WHERE status = 'pending' AND receiver = \(receiver)
                      AND (claimed_until_ms IS NULL OR claimed_until_ms <= next_attempt_ms)
                    ORDER BY next_attempt_ms LIMIT 1), 9223372036854775807)
                """).flatMap { $0 }.map(Date.init(milliseconds:))
        }
    }

    public func outboxDepth() async throws -> [(receiver: String, status: DeliveryStatus, count: Int, oldestMs: Int64?)] {
        let rows = try await transaction { session in
            try session.rows("""
                SELECT receiver, status, COUNT(*) AS n, MIN(next_attempt_ms) AS oldest FROM delivery
                GROUP BY receiver, status ORDER BY receiver, status
                """).map { try $0.decode((String, String, Int, Int64?).self) }
        }
        return rows.compactMap { row in DeliveryStatus(rawValue: row.1).map { (row.0, $0, row.2, row.3) } }
    }

    public func conversionCounts() async throws -> [ConversionCounts] {
        let rows = try await transaction { session in
            try session.rows("""
                SELECT plugin, CASE WHEN inhibited_by IS NOT NULL AND status = 'suppressed' THEN 'inhibited' ELSE status END AS status,
                       COUNT(*) AS n
                FROM lead GROUP BY 1, 2
                """).map { try $0.decode((String, String, Int).self) }
        }
        return ConversionCounts.tally(rows.map { (plugin: $0.0, status: $0.1, count: $0.2) })
    }
}

// MARK: - The ledger (what the outbox reads; the rest of the ledger's concern follows)

extension PostgresStore {
    /// Appends leads to the ledger; a lead whose key is there already is skipped. Returns the leads that were new.
    ///
    /// The ledger's advisory lock is held to the commit, so leads are numbered in commit order (see the `lead` table).
    @discardableResult
    public func appendLeads(_ leads: [Lead], journalSequence: Int64? = nil) async throws -> [Lead] {
        let bodies = try leads.map { try AppDatabase.encodeLeadBody($0) }
        return try await transaction { session in
            try session.execute("SELECT pg_advisory_xact_lock(\(Self.ledgerLockKey))")
            var inserted: [Lead] = []
            for (lead, body) in zip(leads, bodies) {
                let count = try session.execute("""
                    INSERT INTO lead (id, key, plugin, kind, priority, client_id, manager_id, status, created_ms, journal_seq, body)
                    VALUES (\(lead.id), \(lead.key), \(lead.plugin), \(lead.kind), \(lead.priority.rawValue), \(lead.client?.id),
                            \(lead.manager?.id), \(lead.status.rawValue), \(lead.createdAt.milliseconds), \(journalSequence), \(body))
                    ON CONFLICT (key) DO NOTHING
                    """)
                if count == 1 { inserted.append(lead) }
            }
            return inserted
        }
    }

    /// The ledger's advisory lock ("ledger" in ASCII).
    static let ledgerLockKey: Int64 = 0x6C_65_64_67_65_72

    /// Adds a snooze; returns its id.
    @discardableResult
    public func addSnooze(clientId: String?, plugin: String?, kind: String?, until: Date, note: String?, actor: String,
                          scope: String = "feedback", now: Date) async throws -> Int64 {
        let note = storable(note)
        return try await transaction { session in
            try session.value(Int64.self, """
                INSERT INTO snooze (client_id, plugin, kind, until_ms, created_ms, note, lead_id, actor, scope)
                VALUES (\(clientId), \(plugin), \(kind), \(until.milliseconds), \(now.milliseconds), \(note), NULL, \(actor), \(scope))
                RETURNING id
                """) ?? 0
        }
    }
}

/// ``OutboxTransaction`` on PostgreSQL: the same records as SQLite's, row for row.
struct PostgresOutboxTransaction: OutboxTransaction {
    let session: PostgresSession

    func position(of consumer: String) throws -> Int64 {
        try session.value(Int64.self, "SELECT position FROM consumer WHERE name = \(consumer)") ?? 0
    }

    func setPosition(of consumer: String, to position: Int64, at: Date) throws {
        try session.execute("""
            INSERT INTO consumer (name, position, updated_ms) VALUES (\(consumer), \(position), \(at.milliseconds))
            ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_ms = EXCLUDED.updated_ms
            """)
    }

    func leads(after position: Int64, limit: Int) throws -> [LedgerLead] {
        try session.rows("SELECT seq, id, key, status, body FROM lead WHERE seq > \(position) ORDER BY seq LIMIT \(limit)").map { row in
            let (seq, id, key, status, body) = try row.decode((Int64, String?, String, String, String).self)
            let lead: Result<Lead, LedgerLead.Unreadable>
            do { lead = .success(try Self.lead(key: key, status: status, body: body)) } catch { lead = .failure(.init("\(error)")) }
            return LedgerLead(seq: seq, id: id, lead: lead)
        }
    }

    /// A lead from its stored body, with the row's status as its current one.
    static func lead(key: String, status: String, body: String) throws -> Lead {
        do {
            var lead = try LeadJSON.storedLead(try JSONParser.parse(body))
            if let status = LeadStatus(rawValue: status) { lead.status = status }
            return lead
        } catch {
            throw StoreError.corruptRow(table: "lead", key: key, reason: "\(error)")
        }
    }

    func snoozes(endingAfter instant: Date) throws -> [Snooze] {
        try session.rows("""
            SELECT id, client_id, plugin, kind, until_ms, scope FROM snooze WHERE until_ms > \(instant.milliseconds) ORDER BY id
            """).map { row in
            let (id, clientId, plugin, kind, until, scope) = try row.decode((Int64, String?, String?, String?, Int64, String).self)
            return Snooze(id: id, clientId: clientId, plugin: plugin, kind: kind, until: Date(milliseconds: until), scope: scope)
        }
    }

    func disabledTargets() throws -> Set<DeliveryTarget> {
        Set(try session.rows("SELECT receiver, manager_id FROM disabled_target").map { row in
            let (receiver, manager) = try row.decode((String, String).self)
            return DeliveryTarget(receiver: receiver, managerId: manager)
        })
    }

    func isDisabled(_ target: DeliveryTarget) throws -> Bool {
        try session.value(Int.self, """
            SELECT 1 FROM disabled_target WHERE receiver = \(target.receiver) AND manager_id = \(target.managerId)
            """) != nil
    }

    func sentAlone(managerId: String, route: Int, localDate: String) throws -> Int {
        try session.value(Int.self, """
            SELECT sent FROM route_count WHERE manager_id = \(managerId) AND route = \(route) AND local_date = \(localDate)
            """) ?? 0
    }

    func countSentAlone(managerId: String, route: Int, localDate: String) throws {
        try session.execute("""
            INSERT INTO route_count (manager_id, route, local_date, sent) VALUES (\(managerId), \(route), \(localDate), 1)
            ON CONFLICT (manager_id, route, local_date) DO UPDATE SET sent = route_count.sent + 1
            """)
    }

    func insert(_ delivery: NewDelivery) throws -> Bool {
        let dueMs = delivery.due.milliseconds
        let createdMs = delivery.createdAt.milliseconds
        return try session.execute("""
            INSERT INTO delivery (id, lead_id, receiver, manager_id, route, purpose, timing, status, fallback, attempts,
                                  not_before_ms, next_attempt_ms, created_ms, updated_ms)
            VALUES (\(delivery.id), \(delivery.leadId), \(delivery.receiver), \(delivery.managerId), \(delivery.route),
                    \(delivery.purpose.rawValue), \(delivery.timing), \(delivery.status.rawValue), \(delivery.fallback), 0,
                    \(dueMs), \(dueMs), \(createdMs), \(createdMs))
            ON CONFLICT DO NOTHING
            """) > 0
    }

    func suppress(lead id: String, at: Date) throws -> Bool {
        try session.execute("""
            UPDATE lead SET status = 'suppressed', status_ms = \(at.milliseconds) WHERE id = \(id) AND status = 'new'
            """) == 1
    }

    func addActivity(lead: String, at: Date, kind: String, outcome: String?, note: String?, actor: String) throws {
        try Self.addActivity(session, lead: lead, at: at, kind: kind, outcome: outcome, note: note, actor: actor)
    }

    static func addActivity(_ session: PostgresSession, lead: String, at: Date, kind: String, outcome: String?, note: String?,
                            actor: String?) throws {
        let note = storable(note.map { String($0.prefix(2000)) }), outcome = storable(outcome)
        try session.execute("""
            INSERT INTO lead_activity (lead_id, at_ms, kind, outcome, note, actor)
            VALUES (\(lead), \(at.milliseconds), \(kind), \(outcome), \(note), \(actor))
            """)
    }

    func messages(aboutClient clientId: String, receiver: String, managerId: String, complianceQueue: Bool,
                  sentSince: Date) throws -> [ClientMessage] {
        // As on SQLite: from the client's leads (few) to their deliveries; a lead that went inside a group message is
        // `batched`, and its group (the parent) says when it went. Rows waiting for a retry are not listed.
        try session.rows("""
            SELECT d.id, d.status, d.timing, d.attempts, d.next_attempt_ms, COALESCE(d.sent_ms, p.sent_ms) AS sent_ms
            FROM lead l JOIN delivery d ON d.lead_id = l.id LEFT JOIN delivery p ON p.id = d.parent_id
            WHERE l.client_id = \(clientId) AND d.receiver = \(receiver) AND d.manager_id = \(managerId) AND d.purpose = 'lead'
              AND d.timing NOT LIKE 'digest:%' AND (d.route = \(Outbox.complianceRoute)) = \(complianceQueue)
              AND ((d.status = 'pending' AND d.attempts = 0)
                   OR (d.status IN ('sent', 'batched') AND COALESCE(d.sent_ms, p.sent_ms) >= \(sentSince.milliseconds)))
            """).map { row in
            let (id, statusText, timing, attempts, next, sent) = try row.decode((String, String, String, Int, Int64, Int64?).self)
            guard let status = DeliveryStatus(rawValue: statusText) else {
                throw StoreError.corruptRow(table: "delivery", key: id, reason: "unknown status")
            }
            return ClientMessage(id: id, status: status, timing: timing, attempts: attempts, nextAttempt: Date(milliseconds: next),
                                 sentAt: sent.map(Date.init(milliseconds:)))
        }
    }

    func reschedule(delivery id: String, to instant: Date) throws {
        try session.execute("""
            UPDATE delivery SET next_attempt_ms = \(instant.milliseconds), not_before_ms = \(instant.milliseconds) WHERE id = \(id)
            """)
    }

    func applyInhibition(lead: Lead, hooks: ComplianceHooks, now: Date, actor: String) throws -> Bool {
        guard let decision = try inhibition(of: lead, hooks: hooks, now: now) else { return false }
        try session.execute("""
            UPDATE lead SET status = 'suppressed', status_ms = \(now.milliseconds), inhibited_by = \(decision.sourceId)
            WHERE id = \(lead.id)
            """)
        try Self.addActivity(session, lead: lead.id, at: now, kind: "inhibited", outcome: nil,
                             note: "inhibitedBy: \(decision.sourceId) (\(decision.note))", actor: actor)
        return true
    }

    func inhibition(of lead: Lead, hooks: ComplianceHooks, now: Date) throws -> InhibitDecision? {
        guard hooks.mayInhibit(lead) else { return nil }
        return hooks.inhibition(lead, try inhibitCandidates(for: lead, sources: hooks.sources, now: now), now)
    }

    /// The leads that could hold `lead` back: the same client's (and, when a rule pairs by manager, the same manager's)
    /// leads of the sources' kinds and plugins, made within the longest window, newest first, with their decisions.
    func inhibitCandidates(for lead: Lead, sources: ComplianceHooks.Sources, now: Date) throws -> [LeadHeader] {
        let since = sources.lookback.map { now.milliseconds - Int64($0 * 1000) } ?? 0
        // nil arrays match every kind or plugin.
        let kinds = sources.kinds.map { $0.sorted() }
        let plugins = sources.plugins.map { $0.sorted() }
        var headers: [String: LeadHeader] = [:]
        func add(_ rows: [PostgresRow]) throws {
            for row in rows {
                let (id, plugin, kind, priority, clientId, managerId, created, tagsText, decided) = try row.decode(
                    (String, String, String, String, String?, String?, Int64, String?, Int64?).self)
                let tags = tagsText.flatMap { try? JSONParser.parse(Array($0.utf8)) }?.arrayValue?.compactMap(\.stringValue) ?? []
                headers[id] = LeadHeader(id: id, plugin: plugin, kind: kind, priority: LeadPriority(rawValue: priority) ?? .normal,
                                         clientId: clientId, managerId: managerId, tags: tags,
                                         createdAt: Date(milliseconds: created), decidedAt: decided.map(Date.init(milliseconds:)))
            }
        }
        var pairs: [(column: String, value: String)] = []
        if let client = lead.client?.id { pairs.append(("l.client_id", client)) }
        if sources.byManager, let manager = lead.manager?.id { pairs.append(("l.manager_id", manager)) }
        for pair in pairs {
            // The column is one of the two fixed names above; every value is a bind.
            try add(session.rows("""
                SELECT l.id, l.plugin, l.kind, l.priority, l.client_id, l.manager_id, l.created_ms,
                       (l.body::json -> 'tags')::text AS tags, d.at_ms AS decided_ms
                FROM lead l LEFT JOIN lead_decision d ON d.lead_id = l.id
                WHERE \(unescaped: pair.column) = \(pair.value) AND l.created_ms >= \(since) AND l.id <> \(lead.id)
                  AND (\(kinds)::text[] IS NULL OR l.kind = ANY(\(kinds)::text[]))
                  AND (\(plugins)::text[] IS NULL OR l.plugin = ANY(\(plugins)::text[]))
                ORDER BY l.created_ms DESC LIMIT 200
                """))
        }
        return headers.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    func claimDueDeliveries(receiver: String, now: Date, limit: Int, claim: DeliveryClaim) throws -> [OutboxDelivery] {
        // Rows another instance is taking right now are locked by it: skipped, not waited for. Each row comes back with
        // whether it carried a claim already (one that ended without a result: taken over).
        let rows = try session.rows("""
            WITH picked AS (
                SELECT id, claimed_until_ms AS previous FROM delivery
                WHERE status = 'pending' AND receiver = \(receiver) AND next_attempt_ms <= \(now.milliseconds)
                  AND timing NOT LIKE 'digest:%'
                  AND (claimed_until_ms IS NULL OR claimed_until_ms <= \(now.milliseconds))
                ORDER BY next_attempt_ms, id LIMIT \(limit)
                FOR UPDATE SKIP LOCKED)
            UPDATE delivery d SET claimed_by = \(claim.claimant), claimed_until_ms = \(claim.until.milliseconds)
            FROM picked WHERE d.id = picked.id
            RETURNING \(unescaped: Self.deliveryColumns(prefix: "d.")), picked.previous
            """).map { row in
            var delivery = try Self.delivery(row: row)
            delivery.takenOver = try row.makeRandomAccess()[18].decode(Int64?.self) != nil
            return delivery
        }
        // RETURNING keeps no order.
        return rows.sorted { ($0.nextAttempt, $0.id) < ($1.nextAttempt, $1.id) }
    }

    func releaseClaims(of claimant: String, endingBy: Date) throws -> Int {
        try session.execute("""
            UPDATE delivery SET claimed_by = NULL, claimed_until_ms = 0
            WHERE claimed_by = \(claimant) AND claimed_until_ms < \(endingBy.milliseconds) AND status = 'pending'
            """)
    }

    func serialize(_ name: String) throws {
        try session.serialize(name)
    }

    func dueDigestMembers(receiver: String, now: Date) throws -> [DigestMember] {
        try session.rows("""
            SELECT id, lead_id, manager_id, route, fallback FROM delivery
            WHERE status = 'pending' AND receiver = \(receiver) AND next_attempt_ms <= \(now.milliseconds) AND timing LIKE 'digest:%'
            ORDER BY manager_id, route, created_ms, id
            """).map { row in
            let (id, leadId, managerId, route, fallback) = try row.decode((String, String?, String, Int, String?).self)
            return DigestMember(id: id, leadId: leadId, managerId: managerId, route: route, fallback: fallback)
        }
    }

    func insertMessage(id: String, purpose: DeliveryPurpose, receiver: String, managerId: String, route: Int, timing: String,
                       leadIds: [String], fallback: String?, memberIds: [String], at: Date, claim: DeliveryClaim?) throws {
        let atMs = at.milliseconds
        let members = JSONWriter.string(.array(leadIds.map(JSONValue.string)))
        try session.execute("""
            INSERT INTO delivery (id, lead_id, receiver, manager_id, route, purpose, timing, status, members, fallback,
                                  attempts, not_before_ms, next_attempt_ms, created_ms, updated_ms, claimed_by, claimed_until_ms)
            VALUES (\(id), NULL, \(receiver), \(managerId), \(route), \(purpose.rawValue), \(timing), 'pending', \(members),
                    \(fallback), 0, \(atMs), \(atMs), \(atMs), \(atMs), \(claim?.claimant), \(claim?.until.milliseconds))
            ON CONFLICT DO NOTHING
            """)
        guard !memberIds.isEmpty else { return }
        try session.execute("""
            UPDATE delivery SET status = 'batched', parent_id = \(id), updated_ms = \(atMs), claimed_by = NULL, claimed_until_ms = NULL
            WHERE id = ANY(\(memberIds))
            """)
    }

    func delivery(id: String) throws -> OutboxDelivery? {
        try session.rows("SELECT \(unescaped: Self.deliveryColumns) FROM delivery WHERE id = \(id)").first.map(Self.delivery(row:))
    }

    static let deliveryColumns = deliveryColumns(prefix: "")

    static func deliveryColumns(prefix: String) -> String {
        ["id", "lead_id", "receiver", "manager_id", "route", "purpose", "timing", "status", "parent_id", "members", "fallback",
         "attempts", "not_before_ms", "next_attempt_ms", "created_ms", "updated_ms", "sent_ms", "last_error"]
            .map { prefix + $0 }.joined(separator: ", ")
    }

    /// A row of ``deliveryColumns``.
    static func delivery(row: PostgresRow) throws -> OutboxDelivery {
        let cells = row.makeRandomAccess()
        let id = try cells[0].decode(String.self)
        guard let status = DeliveryStatus(rawValue: try cells[7].decode(String.self)),
              let purpose = DeliveryPurpose(rawValue: try cells[5].decode(String.self)) else {
            throw StoreError.corruptRow(table: "delivery", key: id, reason: "unknown status or purpose")
        }
        let members = try cells[9].decode(String?.self)
            .flatMap { try? JSONParser.parse(Array($0.utf8)) }?.arrayValue?.compactMap(\.stringValue) ?? []
        return OutboxDelivery(
            id: id, leadId: try cells[1].decode(String?.self), receiver: try cells[2].decode(String.self),
            managerId: try cells[3].decode(String.self), route: try cells[4].decode(Int.self), purpose: purpose,
            timing: try cells[6].decode(String.self), status: status, parentId: try cells[8].decode(String?.self),
            members: members, fallback: try cells[10].decode(String?.self), attempts: try cells[11].decode(Int.self),
            notBefore: Date(milliseconds: try cells[12].decode(Int64.self)),
            nextAttempt: Date(milliseconds: try cells[13].decode(Int64.self)),
            createdAt: Date(milliseconds: try cells[14].decode(Int64.self)),
            updatedAt: Date(milliseconds: try cells[15].decode(Int64.self)),
            sentAt: try cells[16].decode(Int64?.self).map(Date.init(milliseconds:)), lastError: try cells[17].decode(String?.self))
    }

    func clients(ofLeads ids: [String]) throws -> [String: String] {
        guard !ids.isEmpty else { return [:] }
        var clients: [String: String] = [:]
        for row in try session.rows("SELECT id, client_id FROM lead WHERE id = ANY(\(ids))") {
            let (id, client) = try row.decode((String, String?).self)
            if let client { clients[id] = client }
        }
        return clients
    }

    func lead(id: String) throws -> Lead? {
        guard let row = try session.rows("SELECT key, status, body FROM lead WHERE id = \(id)").first else { return nil }
        let (key, status, body) = try row.decode((String, String, String).self)
        return try? Self.lead(key: key, status: status, body: body)
    }

    func hasActivity(lead: String, ofKinds kinds: [String]) throws -> Bool {
        guard !kinds.isEmpty else { return false }
        return try session.value(Int.self, "SELECT 1 FROM lead_activity WHERE lead_id = \(lead) AND kind = ANY(\(kinds)) LIMIT 1") != nil
    }

    func manager(id: String) throws -> ManagerState? {
        guard let text = try session.value(String.self, "SELECT profile FROM manager WHERE id = \(id)") else { return nil }
        return try? JSONDecoder().decode(ManagerState.self, from: Data(text.utf8))
    }

    func addAttempt(delivery id: String, attempt: Int, at: Date, durationMs: Int, httpStatus: Int?, outcome: String,
                    error: String?) throws {
        let error = storable(error)
        try session.execute("""
            INSERT INTO delivery_attempt (delivery_id, attempt, at_ms, duration_ms, http_status, outcome, error)
            VALUES (\(id), \(attempt), \(at.milliseconds), \(durationMs), \(httpStatus), \(outcome), \(error))
            """)
    }

    func markSent(delivery id: String, attempts: Int, at: Date) throws {
        try session.execute("""
            UPDATE delivery SET status = 'sent', attempts = \(attempts), sent_ms = \(at.milliseconds), updated_ms = \(at.milliseconds),
                                last_error = NULL, claimed_by = NULL, claimed_until_ms = NULL
            WHERE id = \(id)
            """)
    }

    func markNotified(lead id: String, at: Date) throws {
        try session.execute("UPDATE lead SET status = 'notified', status_ms = \(at.milliseconds) WHERE id = \(id) AND status = 'new'")
    }

    func scheduleRetry(delivery id: String, attempts: Int, next: Date, at: Date, error: String?) throws {
        let error = storable(error)
        try session.execute("""
            UPDATE delivery SET attempts = \(attempts), next_attempt_ms = \(next.milliseconds), updated_ms = \(at.milliseconds),
                                last_error = \(error), claimed_by = NULL, claimed_until_ms = NULL
            WHERE id = \(id)
            """)
    }

    func setStatus(ofDelivery id: String, to status: DeliveryStatus, attempts: Int, at: Date?, error: String?) throws {
        let error = storable(error)
        if let at {
            try session.execute("""
                UPDATE delivery SET status = \(status.rawValue), attempts = \(attempts), updated_ms = \(at.milliseconds),
                                    last_error = \(error), claimed_by = NULL, claimed_until_ms = NULL
                WHERE id = \(id)
                """)
        } else {
            try session.execute("""
                UPDATE delivery SET status = \(status.rawValue), attempts = \(attempts), claimed_by = NULL, claimed_until_ms = NULL
                WHERE id = \(id)
                """)
        }
    }

    func insertFallback(id: String, of delivery: OutboxDelivery, receiver: String, status: DeliveryStatus, at: Date) throws {
        let atMs = at.milliseconds
        let members = delivery.members.isEmpty ? nil : JSONWriter.string(.array(delivery.members.map(JSONValue.string)))
        try session.execute("""
            INSERT INTO delivery (id, lead_id, receiver, manager_id, route, purpose, timing, status, members,
                                  attempts, not_before_ms, next_attempt_ms, created_ms, updated_ms)
            VALUES (\(id), \(delivery.leadId), \(receiver), \(delivery.managerId), \(delivery.route), 'fallback', 'fallback',
                    \(status.rawValue), \(members), 0, \(atMs), \(atMs), \(atMs), \(atMs))
            ON CONFLICT DO NOTHING
            """)
    }

    func disable(_ target: DeliveryTarget, at: Date, reason: String, error: String?) throws {
        let reason = storable(reason), error = storable(error)
        try session.execute("""
            INSERT INTO disabled_target (receiver, manager_id, disabled_ms, reason)
            VALUES (\(target.receiver), \(target.managerId), \(at.milliseconds), \(reason))
            ON CONFLICT DO NOTHING
            """)
        try session.execute("""
            UPDATE delivery SET status = 'held', updated_ms = \(at.milliseconds), last_error = \(error)
            WHERE receiver = \(target.receiver) AND manager_id = \(target.managerId) AND status = 'pending'
            """)
    }
}
