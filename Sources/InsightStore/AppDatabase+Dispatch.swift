import Foundation
import GRDB
import InsightCore

/// Everything one dispatcher step produced, committed in a single transaction: the projected state, the
/// leads, and the consumer's new journal position. A crash before the commit replays the batch; a crash
/// after it has nothing to redo. Lead keys are unique, so a replayed batch cannot duplicate a lead.
public struct DispatchCommit: Sendable {
    public struct ClientUpdate: Sendable {
        /// The client's state. Once ``encode(memory:)`` has run, the writer takes `memoryText` for the memory column
        /// (the fallback to `state.memory` is for an update that was not encoded). A state checkpoint's updates hold
        /// snapshots of the live memories in `state.liveMemory` until the write encodes them.
        public var state: ClientState
        public var changes: StateChanges
        /// With a ``StateChange/balance`` change, every daily snapshot the update covers, oldest first: the state
        /// holds only the latest, and the history keeps each day's (empty: the state's latest alone).
        public var balances: [BalanceSnapshot] = []
        /// The JSON the write needs, made by ``encode(memory:)``: by the shards for a batch's own updates, by the write
        /// itself a chunk at a time on every core for a checkpoint's (``DispatchCommit/encodeClients``).
        public internal(set) var profileText: String?
        /// Every plugin's memory of the client as one JSON object (nil: none), for the client row.
        var memoryText: String?
        /// Whether ``encode(memory:)`` wrote ``memoryText``: then nil means no memory (a NULL column), never "not made yet".
        var memoryEncoded = false

        public init(state: ClientState, changes: StateChanges) {
            self.state = state
            self.changes = changes
        }

        /// Serializes the changed profile and plugin memories now, on the caller's thread (the shards, or the
        /// checkpoint's write on every core). `writeMemory` writes the
        /// `client.memory` column: it appends the memory object (every plugin's memory, keys sorted, as
        /// ``JSONWriter`` writes them) and returns true, or appends nothing and returns false when there is none.
        public mutating func encode(memory writeMemory: (inout String) -> Bool) throws {
            if changes.contains(.profile) {
                profileText = state.profile.storedText
            }
            if changes.writesMemoryColumn {
                var text = ""
                memoryText = writeMemory(&text) ? text : nil
                memoryEncoded = true
            }
        }

        /// The `client.memory` column: every plugin's memory as one object, or nil when there is none.
        static func memoryText(_ state: ClientState) -> String? {
            state.memory.isEmpty ? nil : JSONWriter.string(.object(state.memory))
        }

        /// The `client.memory` column to write: as encoded, or (for an update that was not encoded) from `state.memory`.
        public var memoryColumn: String? {
            memoryEncoded ? memoryText : memoryText ?? Self.memoryText(state)
        }
    }

    public struct Failure: Sendable, Hashable {
        public var plugin: String
        public var journalSequence: Int64?
        public var eventId: String?
        public var error: String

        public init(plugin: String, journalSequence: Int64?, eventId: String?, error: String) {
            self.plugin = plugin
            self.journalSequence = journalSequence
            self.eventId = eventId
            self.error = error
        }
    }

    public struct ScheduleRun: Sendable, Hashable {
        public var plugin: String
        public var tick: ScheduleTick

        public init(plugin: String, tick: ScheduleTick) {
            self.plugin = plugin
            self.tick = tick
        }
    }

    public struct Interaction: Sendable, Hashable {
        public var journalSequence: Int64
        public var clientId: String?
        public var managerId: String?
        public var channel: String?
        public var outcome: String?
        public var leadId: String?
        public var at: Date

        public init(journalSequence: Int64, clientId: String?, managerId: String?, channel: String?, outcome: String?,
                    leadId: String?, at: Date) {
            self.journalSequence = journalSequence
            self.clientId = clientId
            self.managerId = managerId
            self.channel = channel
            self.outcome = outcome
            self.leadId = leadId
            self.at = at
        }
    }

    public var clients: [ClientUpdate] = []
    /// When set, `clients` are not encoded yet (a state checkpoint: every client changed since the last one): the
    /// write encodes them a chunk at a time, on every core, the next chunk while the one before is written. The
    /// memory then holds two chunks' JSON at most, however many clients the checkpoint writes.
    public var encodeClients: (@Sendable (inout ClientUpdate) throws -> Void)?
    public var managers: [ManagerState] = []
    /// Leads with the journal sequence of the event that produced them (nil for ticks).
    public var leads: [(lead: Lead, sequence: Int64?)] = []
    /// Lead bodies already encoded, by ``leadBodyKey(id:sequence:)`` (see ``AppDatabase/encodeLeadBody(_:)``);
    /// the rest are encoded in the write. Keyed by event too: two events may make leads with the same key, and
    /// the body stored must be the one of the lead inserted (the first).
    public var leadBodies: [String: String] = [:]

    public static func leadBodyKey(id: String, sequence: Int64?) -> String {
        "\(id)@\(sequence ?? -1)"
    }
    public var failures: [Failure] = []
    /// `crm.interaction` events of the batch; one that names a `leadId` marks that lead contacted.
    public var interactions: [Interaction] = []
    public var scheduleRuns: [ScheduleRun] = []
    /// The consumer's new position; nil leaves it unchanged (a tick-only commit).
    public var position: Int64?
    /// The journal position the client state in the database is at after this commit (``AppDatabase/stateConsumer``);
    /// nil leaves it unchanged. Never ahead of the consumer's position: a restart resumes from it, and leaves out the
    /// leads of the events up to the consumer's.
    public var statePosition: Int64?

    public init() {}
}

extension AppDatabase {
    public static let dispatcherConsumer = "dispatcher"
    /// The journal position the dispatcher's client state in the database has reached. Behind
    /// ``dispatcherConsumer`` while a dispatcher that checkpoints its state holds changes in memory only.
    public static let stateConsumer = "dispatcher.state"

    /// Commits one dispatcher step. Returns the leads that are new (a lead whose key exists is skipped).
    @discardableResult
    public func commit(_ step: DispatchCommit, consumer: String = AppDatabase.dispatcherConsumer, at now: Date) throws -> [Lead] {
        try pool.write { db in try Self.write(step, consumer: consumer, nowMs: now.milliseconds, db: db) }
    }

    /// The same commit, suspending instead of blocking while it waits for the writer (which runs it on its
    /// own thread), so the dispatcher can prepare the next batch meanwhile.
    @discardableResult
    public func commitAsync(_ step: DispatchCommit, consumer: String = AppDatabase.dispatcherConsumer,
                            at now: Date) async throws -> [Lead] {
        let nowMs = now.milliseconds
        return try await pool.write { db in try Self.write(step, consumer: consumer, nowMs: nowMs, db: db) }
    }

    /// Clients encoded at once by a commit that encodes them (``DispatchCommit/encodeClients``).
    static let clientChunk = 4096

    private static func write(_ step: DispatchCommit, consumer: String, nowMs: Int64, db: Database) throws -> [Lead] {
        if !step.clients.isEmpty {
            let statements = try StateStatements(db)
            if let encode = step.encodeClients {
                let clients = step.clients
                // Each chunk is encoded on the other cores while the one before it is written: at most two chunks' text
                // are held, and the writer does not wait for the encoding between chunks.
                let encodeChunk = { @Sendable (start: Int) -> Result<[DispatchCommit.ClientUpdate], any Error> in
                    let end = min(start + clientChunk, clients.count)
                    return Result {
                        try ParallelMap.tryMap(count: end - start) { index in
                            var update = clients[start + index]
                            try encode(&update)
                            return update
                        }
                    }
                }
                var next: BackgroundWork<Result<[DispatchCommit.ClientUpdate], any Error>>? = BackgroundWork { encodeChunk(0) }
                var start = 0
                while let work = next {
                    let encoded = try work.take().get()
                    let following = start + clientChunk
                    next = following < clients.count ? BackgroundWork { encodeChunk(following) } : nil
                    // The chunk is freed by a low-priority task rather than here: the writer is the checkpoint's
                    // one serial part.
                    for index in encoded.indices { try write(encoded[index], statements: statements, db: db) }
                    ReleasedLater(consume encoded).releaseInBackground()
                    start = following
                }
            } else {
                for index in step.clients.indices { try write(step.clients[index], statements: statements, db: db) }
            }
        }
        for manager in step.managers {
            try write(manager, db: db)
        }
        var inserted: [Lead] = []
        let insertLead = try db.cachedStatement(sql: """
            INSERT INTO lead (id, key, plugin, kind, priority, client_id, manager_id, status, created_ms, journal_seq, body)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING
            """)
        for (lead, sequence) in step.leads {
            let body = try step.leadBodies[DispatchCommit.leadBodyKey(id: lead.id, sequence: sequence)] ?? encodeLeadBody(lead)
            try insertLead.execute(arguments: [
                lead.id, lead.key, lead.plugin, lead.kind, lead.priority.rawValue, lead.client?.id, lead.manager?.id,
                lead.status.rawValue, lead.createdAt.milliseconds, sequence, body,
            ])
            if db.changesCount == 1 { inserted.append(lead) }
        }
        for failure in step.failures {
            var record = PluginFailureRecord(id: nil, plugin: failure.plugin, journalSeq: failure.journalSequence,
                                             eventId: failure.eventId, error: String(failure.error.prefix(2000)),
                                             atMs: nowMs)
            try record.insert(db)
        }
        for interaction in step.interactions {
            try write(interaction, nowMs: nowMs, db: db)
        }
        for run in step.scheduleRuns {
            let count = step.leads.count { $0.lead.plugin == run.plugin && $0.sequence == nil }
            try ScheduleRunRecord(plugin: run.plugin, localDate: run.tick.localDate.description,
                                  scheduledMs: run.tick.scheduledAt.milliseconds, ranMs: nowMs, leadCount: count).upsert(db)
        }
        if let position = step.position {
            try ConsumerRecord(name: consumer, position: position, updatedMs: nowMs).upsert(db)
        }
        if let position = step.statePosition {
            try ConsumerRecord(name: Self.stateConsumer, position: position, updatedMs: nowMs).upsert(db)
        }
        return inserted
    }

    /// Records a CRM interaction once (a replayed batch adds nothing). One that names a lead marks it
    /// contacted, unless it is already further along, and goes in the lead's history.
    private static func write(_ interaction: DispatchCommit.Interaction, nowMs: Int64, db: Database) throws {
        try db.execute(sql: """
            INSERT INTO interaction (journal_seq, client_id, manager_id, channel, outcome, lead_id, at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """, arguments: [interaction.journalSequence, interaction.clientId, interaction.managerId, interaction.channel,
                             interaction.outcome, interaction.leadId, interaction.at.milliseconds])
        guard db.changesCount == 1, let leadId = interaction.leadId else { return }
        try db.execute(sql: """
            UPDATE lead SET status = 'contacted', status_ms = ? WHERE id = ? AND status IN ('new', 'notified')
            """, arguments: [interaction.at.milliseconds, leadId])
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM lead WHERE id = ?", arguments: [leadId]) == true else { return }
        let note = [interaction.channel.map { "channel \($0)" }, interaction.outcome.map { "outcome \($0)" }]
            .compactMap { $0 }.joined(separator: ", ")
        try db.execute(sql: """
            INSERT INTO lead_activity (lead_id, at_ms, kind, outcome, note, actor) VALUES (?, ?, 'interaction', 'contacted', ?, ?)
            """, arguments: [leadId, interaction.at.milliseconds, note.isEmpty ? nil : note,
                             interaction.managerId.map { "manager:\($0)" } ?? "crm"])
    }

    /// The local dates on which a plugin's daily tick already ran, on or after `since`.
    public func scheduleRuns(plugin: String, since: LocalDate) throws -> Set<LocalDate> {
        try pool.read { db in
            let dates = try String.fetchAll(db, sql: "SELECT local_date FROM schedule_run WHERE plugin = ? AND local_date >= ?",
                                            arguments: [plugin, since.description])
            return Set(dates.compactMap(LocalDate.init))
        }
    }

    public func pluginFailures(limit: Int = 100) throws -> [DispatchCommit.Failure] {
        try pool.read { db in
            try PluginFailureRecord.order(PluginFailureRecord.Columns.id.desc).limit(limit).fetchAll(db).map {
                DispatchCommit.Failure(plugin: $0.plugin, journalSequence: $0.journalSeq, eventId: $0.eventId, error: $0.error)
            }
        }
    }
}

extension AppDatabase {
    /// A lead's stored JSON body. The dispatcher's shards call this in parallel, so the single writer thread
    /// only binds text.
    public static func encodeLeadBody(_ lead: Lead) throws -> String {
        // Built directly rather than through `JSONEncoder` (a replay writes one per lead, and the encoder cost
        // more than making the lead); ``referenceLeadBody(_:)`` is the form it must decode the same as.
        // A date that is not finite has no milliseconds JSON can hold (JSONEncoder refused it too).
        guard lead.createdAt.timeIntervalSince1970.isFinite, lead.dueAt?.timeIntervalSince1970.isFinite ?? true else {
            throw EncodingError.invalidValue(lead.dueAt as Any, .init(codingPath: [],
                debugDescription: "lead \(lead.key) has a date that is not finite"))
        }
        return JSONWriter.string(LeadJSON.storedValue(lead))
    }

    /// The stored form through `JSONEncoder` (sorted keys, dates in milliseconds): the reference for
    /// ``encodeLeadBody(_:)``, compared in tests.
    static func referenceLeadBody(_ lead: Lead) throws -> String {
        String(decoding: try jsonEncoder.encode(lead), as: UTF8.self)
    }
}

extension ClientProfile {
    /// The stored form of a profile, as `JSONEncoder` writes it for the `client.profile` column (keys sorted, absent
    /// fields omitted, `riskLevel` as `{"value": n}`), written by hand: profiles are written on the hot path.
    public var storedText: String {
        var output = ""
        output.reserveCapacity(320)
        var members = 0
        func key(_ name: String) { JSONWriter.writeMemberName(name, members: &members, into: &output) }
        func string(_ name: String, _ value: String?) {
            guard let value else { return }
            key(name)
            JSONWriter.writeString(value, into: &output)
        }
        string("birthCalendar", birthCalendar?.rawValue)
        string("birthDate", birthDate?.description)
        string("branchId", branchId)
        string("idNumber", idNumber)
        string("managerId", managerId)
        if let marketingConsent {
            key("marketingConsent")
            output += marketingConsent ? "true" : "false"
        }
        string("name", name)
        string("phone", phone)
        string("riskAssessedAt", riskAssessedAt?.description)
        if let riskLevel {
            key("riskLevel")
            output += "{\"value\":\(riskLevel.value)}"
        }
        string("segment", segment)
        string("status", status)
        key("tags")
        output += "["
        for (index, tag) in tags.enumerated() {
            if index > 0 { output += "," }
            JSONWriter.writeString(tag, into: &output)
        }
        output += "]}"
        return output
    }

    /// Reads the form ``storedText`` writes, as `JSONDecoder` would (unknown keys ignored, `null` as absent); nil
    /// for anything else (a wrong type, a risk level out of range, no `tags`), which the caller then hands to
    /// `JSONDecoder` for its verdict. Clients are read back on every miss of the dispatcher's cache.
    init?(stored json: JSONValue) {
        guard case .object(let fields) = json else { return nil }
        self.init()
        var sawTags = false
        for (key, value) in fields {
            if case .null = value, key != "tags" { continue }
            switch key {
            case "name": guard case .string(let text) = value else { return nil }; name = text
            case "birthDate": guard case .string(let text) = value, let date = LocalDate(text) else { return nil }; birthDate = date
            case "birthCalendar":
                guard case .string(let text) = value, let calendar = BirthCalendar(rawValue: text) else { return nil }
                birthCalendar = calendar
            case "segment": guard case .string(let text) = value else { return nil }; segment = text
            case "riskLevel":
                guard case .object(let level) = value, case .number(let literal)? = level["value"],
                      let number = Int(literal), let risk = RiskLevel(number) else { return nil }
                riskLevel = risk
            case "riskAssessedAt":
                guard case .string(let text) = value, let date = LocalDate(text) else { return nil }
                riskAssessedAt = date
            case "managerId": guard case .string(let text) = value else { return nil }; managerId = text
            case "branchId": guard case .string(let text) = value else { return nil }; branchId = text
            case "tags":
                guard case .array(let items) = value else { return nil }
                var strings: [String] = []
                strings.reserveCapacity(items.count)
                for item in items {
                    guard case .string(let text) = item else { return nil }
                    strings.append(text)
                }
                tags = strings
                sawTags = true
            case "phone": guard case .string(let text) = value else { return nil }; phone = text
            case "idNumber": guard case .string(let text) = value else { return nil }; idNumber = text
            case "marketingConsent": guard case .bool(let flag) = value else { return nil }; marketingConsent = flag
            case "status": guard case .string(let text) = value else { return nil }; status = text
            default: continue
            }
        }
        guard sawTags else { return nil }
    }
}

