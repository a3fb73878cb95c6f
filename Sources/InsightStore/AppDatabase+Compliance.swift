import Foundation
import GRDB
import InsightCore

/// What inhibit rules read of a lead in the ledger: who it is about, what it is, when it was made and whether
/// compliance decided on it.
public struct LeadHeader: Sendable, Hashable {
    public var id: String
    public var plugin: String
    public var kind: String
    public var priority: LeadPriority
    public var clientId: String?
    public var managerId: String?
    public var tags: [String]
    public var createdAt: Date
    public var decidedAt: Date?

    public init(id: String, plugin: String, kind: String, priority: LeadPriority, clientId: String?, managerId: String?,
                tags: [String] = [], createdAt: Date, decidedAt: Date? = nil) {
        self.id = id
        self.plugin = plugin
        self.kind = kind
        self.priority = priority
        self.clientId = clientId
        self.managerId = managerId
        self.tags = tags
        self.createdAt = createdAt
        self.decidedAt = decidedAt
    }

    public init(_ lead: Lead, decidedAt: Date? = nil) {
        self.init(id: lead.id, plugin: lead.plugin, kind: lead.kind, priority: lead.priority, clientId: lead.client?.id,
                  managerId: lead.manager?.id, tags: lead.tags ?? [], createdAt: lead.createdAt, decidedAt: decidedAt)
    }
}

/// Why a lead is held back by an inhibit rule, as the ledger records it.
public struct InhibitDecision: Sendable, Hashable {
    /// The open lead that holds it back.
    public var sourceId: String
    /// For the lead's history: the rule and the source's kind.
    public var note: String

    public init(sourceId: String, note: String) {
        self.sourceId = sourceId
        self.note = note
    }
}

/// The compliance policy as the store applies it while routing and sending; the policy itself (which rules,
/// which kinds) lives in `InsightDelivery`.
public struct ComplianceHooks: Sendable {
    /// What the ledger is asked for when a lead may be held back: only leads that some rule's source could
    /// match, newest first, no older than the longest window.
    public struct Sources: Sendable, Hashable {
        /// The kinds any source names; nil when a source matches every kind.
        public var kinds: Set<String>?
        /// The plugins any source names; nil when a source matches every plugin.
        public var plugins: Set<String>?
        /// The longest a source stays open; nil: until decided.
        public var lookback: TimeInterval?
        /// Some rule pairs source and target by manager (not client).
        public var byManager: Bool

        public init(kinds: Set<String>? = nil, plugins: Set<String>? = nil, lookback: TimeInterval? = nil, byManager: Bool = false) {
            self.kinds = kinds
            self.plugins = plugins
            self.lookback = lookback
            self.byManager = byManager
        }
    }

    /// Kinds a snooze made without scope compliance never holds back (the AML kinds).
    public var protectedKinds: Set<String>
    public var sources: Sources
    /// Whether any inhibit rule names this lead as a target (only then are candidates read).
    public var mayInhibit: @Sendable (Lead) -> Bool
    /// The client's or manager's open leads → the lead holding this one back at `now`, if any.
    public var inhibition: @Sendable (Lead, [LeadHeader], Date) -> InhibitDecision?

    public init(protectedKinds: Set<String>, sources: Sources = Sources(), mayInhibit: @escaping @Sendable (Lead) -> Bool,
                inhibition: @escaping @Sendable (Lead, [LeadHeader], Date) -> InhibitDecision?) {
        self.protectedKinds = protectedKinds
        self.sources = sources
        self.mayInhibit = mayInhibit
        self.inhibition = inhibition
    }

    public static let none = ComplianceHooks(protectedKinds: [], mayInhibit: { _ in false }, inhibition: { _, _, _ in nil })
}

/// A compliance officer's decision on an AML lead.
public enum ComplianceDecision: String, Sendable, Hashable, CaseIterable {
    /// Reviewed; nothing to report.
    case cleared
    /// A suspicious-transaction report was filed (its reference is kept).
    case reported
}

public struct LeadDecisionEntry: Sendable, Hashable {
    public var leadId: String
    public var decision: ComplianceDecision
    public var reference: String?
    public var note: String?
    public var actor: String
    public var at: Date

    public init(leadId: String, decision: ComplianceDecision, reference: String?, note: String?, actor: String, at: Date) {
        self.leadId = leadId
        self.decision = decision
        self.reference = reference
        self.note = note
        self.actor = actor
        self.at = at
    }
}

public enum DecisionOutcome: Sendable {
    case recorded(LeadDecisionEntry)
    /// The lead already has a decision (decisions are final; the first one stands).
    case alreadyDecided(LeadDecisionEntry)
    case notFound
}

extension AppDatabase {
    /// The leads that could hold `lead` back: the same client's (and, when a rule pairs by manager, the same
    /// manager's) leads of the sources' kinds and plugins, made within the longest window, newest first, with
    /// their decisions.
    static func inhibitCandidates(_ db: Database, for lead: Lead, sources: ComplianceHooks.Sources, now: Date) throws -> [LeadHeader] {
        var filters = ["l.created_ms >= ?", "l.id != ?"]
        var arguments: StatementArguments = [sources.lookback.map { now.milliseconds - Int64($0 * 1000) } ?? 0, lead.id]
        if let kinds = sources.kinds {
            filters.append("l.kind IN (\(databaseQuestionMarks(count: kinds.count)))")
            _ = arguments.append(contentsOf: StatementArguments(kinds.sorted()))
        }
        if let plugins = sources.plugins {
            filters.append("l.plugin IN (\(databaseQuestionMarks(count: plugins.count)))")
            _ = arguments.append(contentsOf: StatementArguments(plugins.sorted()))
        }
        var pairs: [(column: String, value: String)] = []
        if let client = lead.client?.id { pairs.append(("l.client_id", client)) }
        if sources.byManager, let manager = lead.manager?.id { pairs.append(("l.manager_id", manager)) }
        var headers: [String: LeadHeader] = [:]
        for pair in pairs {
            // The text depends only on the policy, so the prepared statement is reused lead after lead.
            let statement = try db.cachedStatement(sql: """
                SELECT l.id, l.plugin, l.kind, l.priority, l.client_id, l.manager_id, l.created_ms,
                       json_extract(l.body, '$.tags') AS tags, d.at_ms AS decided_ms
                FROM lead l LEFT JOIN lead_decision d ON d.lead_id = l.id
                WHERE \(pair.column) = ? AND \(filters.joined(separator: " AND "))
                ORDER BY l.created_ms DESC LIMIT 200
                """)
            let rows = try Row.fetchAll(statement, arguments: [pair.value] + arguments)
            for row in rows {
                var tags: [String] = []
                if let text = row["tags"] as String? {
                    tags = (try? JSONParser.parse(Array(text.utf8)))?.arrayValue?.compactMap(\.stringValue) ?? []
                }
                let header = LeadHeader(id: row["id"], plugin: row["plugin"], kind: row["kind"],
                                        priority: LeadPriority(rawValue: row["priority"]) ?? .normal, clientId: row["client_id"],
                                        managerId: row["manager_id"], tags: tags, createdAt: Date(milliseconds: row["created_ms"]),
                                        decidedAt: (row["decided_ms"] as Int64?).map(Date.init(milliseconds:)))
                headers[header.id] = header
            }
        }
        return headers.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    /// Holds `lead` back when an inhibit rule says so: status suppressed, `inhibited_by` set, and the
    /// history says by which lead. Returns whether it did.
    static func applyInhibition(_ db: Database, lead: Lead, hooks: ComplianceHooks, now: Date, actor: String) throws -> Bool {
        guard let decision = try inhibition(db, of: lead, hooks: hooks, now: now) else { return false }
        let nowMs = now.milliseconds
        try db.execute(sql: "UPDATE lead SET status = 'suppressed', status_ms = ?, inhibited_by = ? WHERE id = ?",
                       arguments: [nowMs, decision.sourceId, lead.id])
        try addActivity(db, lead: lead.id, atMs: nowMs, kind: "inhibited", outcome: nil,
                        note: "inhibitedBy: \(decision.sourceId) (\(decision.note))", actor: actor)
        return true
    }

    /// The open lead that holds `lead` back at `now`, if an inhibit rule says one does.
    static func inhibition(_ db: Database, of lead: Lead, hooks: ComplianceHooks, now: Date) throws -> InhibitDecision? {
        guard hooks.mayInhibit(lead) else { return nil }
        return hooks.inhibition(lead, try inhibitCandidates(db, for: lead, sources: hooks.sources, now: now), now)
    }

    static func decision(_ db: Database, leadId: String) throws -> LeadDecisionEntry? {
        try Row.fetchOne(db, sql: "SELECT * FROM lead_decision WHERE lead_id = ?", arguments: [leadId]).flatMap { row in
            guard let decision = ComplianceDecision(rawValue: row["decision"]) else { return nil }
            return LeadDecisionEntry(leadId: row["lead_id"], decision: decision, reference: row["reference"], note: row["note"],
                                     actor: row["actor"], at: Date(milliseconds: row["at_ms"]))
        }
    }
}
