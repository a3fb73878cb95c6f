import Foundation
import InsightCore
import InsightStore
import PostgresNIO
import Synchronization

/// One instance's share of a cluster's dispatching, on PostgreSQL: the partitions it holds leases on, each with its own
/// position (`partition_offset`).
///
/// It reads the journal's events of those partitions only, each after its partition's position, so a partition that
/// came from another instance resumes exactly where that one committed. Every commit runs fenced by the leases (see
/// ``PostgresStore/fencedTransaction(holding:now:_:)``): state, leads and the partitions' positions commit together,
/// and only while each lease is still this instance's at the epoch it was taken at. A paused instance whose partitions
/// moved on gets ``LeaseLost`` and commits nothing. When the leases change, a new view is made
/// (``PostgresStore/dispatchStore(holding:partitions:now:)``) and a new dispatcher on it.
///
/// Client state is written at checkpoints (``Dispatcher/StateWrites/checkpointed(every:)``), each partition's with its
/// `state_position`; leads and the other outputs with every batch, with `position`. An instance taking a partition over
/// handles its events again from `state_position`, and leaves out the outputs of those up to `position` (they are in
/// the store already): each lead is still made once.
public final class PostgresDispatchStore: DispatchStore {
    let store: PostgresStore
    let connections: PostgresBlockingConnections
    /// The leases this view's work commits under, by partition.
    public let leases: [PartitionLease]
    /// The cluster's partition count.
    public let partitions: Int
    /// Each held partition's position when the view was made.
    public let offsets: [Int: Int64]
    /// Each held partition's state position when the view was made (at most its position).
    public let stateOffsets: [Int: Int64]
    /// Whether every live instance reads state positions (see ``stateCheckpointsAllowed``).
    public let stateCheckpointsAllowed: Bool
    /// Events read again (between a partition's state position and its position when the view was made) and not yet
    /// committed: their outputs are in the store already, and are left out of the commit.
    private let handledAgain = Mutex<Set<Int64>>([])
    private let now: @Sendable () -> Date

    init(store: PostgresStore, connections: PostgresBlockingConnections, leases: [PartitionLease], partitions: Int,
         offsets: [Int: Int64], stateOffsets: [Int: Int64], stateCheckpointsAllowed: Bool,
         now: @escaping @Sendable () -> Date) {
        self.store = store
        self.connections = connections
        self.leases = leases.sorted { $0.partition < $1.partition }
        self.partitions = partitions
        self.offsets = offsets
        self.stateOffsets = stateOffsets
        self.stateCheckpointsAllowed = stateCheckpointsAllowed
        self.now = now
    }

    /// Per partition (index + 1, as SQL arrays count), the position after which its events are read: a held one's state
    /// position, `Int64.max` for the others (none of their events).
    private var positionsArray: [Int64] {
        var array = Array(repeating: Int64.max, count: partitions)
        for lease in leases where lease.partition < partitions {
            array[lease.partition] = stateOffsets[lease.partition] ?? offsets[lease.partition] ?? 0
        }
        return array
    }

    public func readJournal(after position: Int64, limit: Int) throws -> [Event] {
        guard !leases.isEmpty else { return [] }
        let positions = positionsArray
        let count = partitions
        let rows = try connections.withSession { session in
            try session.rows("""
                SELECT seq, source, event_id, type, client_id, time_ms, received_ms, data, client_hash % \(count) FROM journal
                WHERE seq > \(position) AND seq > (\(positions)::int8[])[client_hash % \(count) + 1]
                ORDER BY seq LIMIT \(limit)
                """).map { try $0.decode((Int64, String, String, String, String?, Int64, Int64, String, Int).self) }
        }
        // Events whose outputs a previous holder committed: handled again for the state, their outputs left out.
        let again = rows.filter { $0.0 <= offsets[$0.8] ?? 0 }.map(\.0)
        if !again.isEmpty { handledAgain.withLock { $0.formUnion(again) } }
        return try ParallelMap.tryMap(count: rows.count) { index in
            let row = rows[index]
            return try AppDatabase.journalEvent(seq: row.0, source: row.1, eventId: row.2, type: row.3, clientId: row.4,
                                                timeMs: row.5, receivedMs: row.6, data: row.7)
        }
    }

    /// The lowest state position of the held partitions: from there every one of them is handled on (a partition
    /// further on skips the events its state has). The outputs this view leaves out are its own to know (per partition,
    /// ``handledAgain``), so the dispatcher is told none are committed past that point.
    public func dispatcherResumePositions(at now: Date) throws -> DispatcherPositions {
        let start = leases.map { stateOffsets[$0.partition] ?? offsets[$0.partition] ?? 0 }.min() ?? 0
        return DispatcherPositions(handled: start, state: start, handledAt: nil)
    }

    public func hasClients() throws -> Bool {
        try connections.withSession { session in
            try session.value(Bool.self, "SELECT EXISTS (SELECT 1 FROM client)") ?? false
        }
    }

    public func loadClients(_ ids: some Collection<String>) throws -> [String: ClientState] {
        guard !ids.isEmpty else { return [:] }
        let list = Array(ids)
        return try connections.snapshot { session in try PostgresState.loadClients(list, session: session) }
    }

    public func loadManagers(_ ids: some Collection<String>) throws -> [String: ManagerState] {
        guard !ids.isEmpty else { return [:] }
        let list = Array(ids)
        return try connections.withSession { session in try PostgresState.loadManagers(list, session: session) }
    }

    @discardableResult
    public func commit(_ step: DispatchCommit, at now: Date) throws -> [Lead] {
        let step = leavingOutHandled(step)
        let leases = self.leases
        let clock = self.now
        let prepared = PostgresState.clientStatementsInParallel(step)
        let inserted = try connections.transaction { session in
            try Self.write(step, at: now, leases: leases, clock: clock, prepared: prepared, session: session)
        }
        committed(step)
        return inserted
    }

    @discardableResult
    public func commitAsync(_ step: DispatchCommit, at now: Date) async throws -> [Lead] {
        let step = leavingOutHandled(step)
        let leases = self.leases
        let clock = self.now
        // Made before the transaction, on every core, so that the connection is held only for the statements.
        let prepared = PostgresState.clientStatementsInParallel(step)
        let inserted = try await store.transaction { session in
            try Self.write(step, at: now, leases: leases, clock: clock, prepared: prepared, session: session)
        }
        committed(step)
        return inserted
    }

    /// The step without the outputs of events a previous holder of their partition committed (``handledAgain``).
    private func leavingOutHandled(_ step: DispatchCommit) -> DispatchCommit {
        let again = handledAgain.withLock { $0 }
        guard !again.isEmpty else { return step }
        var step = step
        step.leads.removeAll { $0.sequence.map(again.contains) ?? false }
        step.interactions.removeAll { again.contains($0.journalSequence) }
        step.failures.removeAll { $0.journalSequence.map(again.contains) ?? false }
        return step
    }

    /// Forgets the events handled again up to the committed position (read again after a failed commit, they are
    /// the dispatcher's own to leave out).
    private func committed(_ step: DispatchCommit) {
        guard let position = step.position else { return }
        handledAgain.withLock { again in
            if !again.isEmpty { again = again.filter { $0 > position } }
        }
    }

    /// The fence first: the leases' rows stay locked against a change of hands until the commit ends, so a takeover
    /// waits for it, or this commit sees the new epoch and throws ``LeaseLost``.
    private static func write(_ step: DispatchCommit, at now: Date, leases: [PartitionLease], clock: @Sendable () -> Date,
                              prepared: [PostgresQuery]?, session: PostgresSession) throws -> [Lead] {
        if let lost = try PostgresStore.checkHeld(leases, now: clock(), session: session) {
            throw LeaseLost(partition: lost.partition, epoch: lost.epoch)
        }
        let nowMs = now.milliseconds
        let inserted = try PostgresState.write(step, nowMs: nowMs, session: session, prepared: prepared)
        if step.position != nil || step.statePosition != nil, !leases.isEmpty {
            // A row's NULL state position is its position (see migration v7): it is made explicit before the position
            // moves past it, and NULL again once the state catches up (so that an instance of an older release, which
            // reads only `position`, never meets a state position it would leave behind). A new row's state is at 0
            // until a checkpoint.
            let position = step.position ?? 0, state = step.statePosition ?? 0
            try session.execute("""
                INSERT INTO partition_offset AS o (part, position, state_position, updated_ms)
                SELECT p, \(position), CASE WHEN \(state) >= \(position) THEN NULL ELSE \(state) END, \(nowMs)
                FROM unnest(\(leases.map { Int32($0.partition) })::int4[]) AS p
                ON CONFLICT (part) DO UPDATE SET
                    state_position = NULLIF(LEAST(GREATEST(COALESCE(o.state_position, o.position), \(state)),
                                                  GREATEST(o.position, \(position))),
                                            GREATEST(o.position, \(position))),
                    position = GREATEST(o.position, \(position)),
                    updated_ms = EXCLUDED.updated_ms
                """)
        }
        return inserted
    }

    public func stateReader() -> any StateReader { PostgresStateReader(connections: connections) }

    public var managersChangeElsewhere: Bool { true }
}

extension PostgresStore: ClusterStore {
    public func partitionView(holding leases: [PartitionLease], partitions: Int,
                              now: @escaping @Sendable () -> Date) async throws -> any DispatchStore {
        try await dispatchStore(holding: leases, partitions: partitions, now: now)
    }

    /// A dispatching view of the partitions `leases` hold (see ``PostgresDispatchStore``), with their positions as
    /// committed now. `now` is the clock the fence checks the leases' expiry against.
    public func dispatchStore(holding leases: [PartitionLease], partitions: Int,
                              now: @escaping @Sendable () -> Date) async throws -> PostgresDispatchStore {
        let parts = leases.map { Int32($0.partition) }
        let at = now()
        let (rows, olderAlive) = try await transaction { session in
            let rows = try session.rows("""
                SELECT part, position, COALESCE(state_position, position) FROM partition_offset WHERE part = ANY(\(parts)::int4[])
                """).map { try $0.decode((Int, Int64, Int64).self) }
            return (rows, try Self.olderRunsAlive(session, now: at))
        }
        return PostgresDispatchStore(store: self, connections: try blocking(), leases: leases, partitions: partitions,
                                     offsets: Dictionary(rows.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first }),
                                     stateOffsets: Dictionary(rows.map { ($0.0, min($0.2, $0.1)) }, uniquingKeysWith: { first, _ in first }),
                                     stateCheckpointsAllowed: !olderAlive, now: now)
    }

    /// Records the cluster's partition count, or checks it against the one recorded: every instance must split the
    /// clients the same way, and a count changed under a running cluster would hand a client to two partitions.
    public func agreePartitions(_ count: Int) async throws {
        let recorded = try await transaction { session -> String? in
            try session.execute("""
                INSERT INTO cluster_setting (name, value) VALUES ('partitions', \(String(count))) ON CONFLICT DO NOTHING
                """)
            return try session.value(String.self, "SELECT value FROM cluster_setting WHERE name = 'partitions'")
        }
        guard recorded == String(count) else {
            throw PostgresStoreError(sqlState: nil, message: "cluster.partitions is \(count) here but \(recorded ?? "?") in the store "
                                     + "(fixed by the first instance); every instance must use the same count")
        }
    }

    /// Each partition's position and when it was committed (partitions never handled are absent).
    public func partitionOffsets() async throws -> [Int: (position: Int64, updated: Date)] {
        try await transaction { session in
            var offsets: [Int: (position: Int64, updated: Date)] = [:]
            for row in try session.rows("SELECT part, position, updated_ms FROM partition_offset") {
                let (part, position, updated) = try row.decode((Int, Int64, Int64).self)
                offsets[part] = (position, Date(milliseconds: updated))
            }
            return offsets
        }
    }
}

/// Committed state as plugins read it, on PostgreSQL (the same queries as SQLite's, through the same indexes).
struct PostgresStateReader: StateReader {
    let connections: PostgresBlockingConnections

    func client(_ id: String) throws -> ClientState? {
        try connections.snapshot { try PostgresState.loadClients([id], session: $0)[id] }
    }

    func manager(_ id: String) throws -> ManagerState? {
        try connections.withSession { try PostgresState.loadManagers([id], session: $0)[id] }
    }

    func allClients() throws -> [ClientState] {
        try clients("SELECT id FROM client")
    }

    func balanceHistory(client id: String, since: LocalDate) throws -> [BalanceSnapshot] {
        try connections.withSession { session in
            try session.rows("""
                SELECT as_of, aum, deposits, wealth, loans FROM balance_snapshot
                WHERE client_id = \(id) AND as_of >= \(since.description) ORDER BY as_of
                """).compactMap { row in
                let (asOf, aum, deposits, wealth, loans) = try row.decode((String, String, String?, String?, String?).self)
                guard let date = LocalDate(asOf), let amount = Decimal(stored: aum) else { return nil }
                return BalanceSnapshot(asOf: date, aum: amount, deposits: Decimal(stored: deposits),
                                       wealth: Decimal(stored: wealth), loans: Decimal(stored: loans))
            }
        }
    }

    func clients(birthdayKeys keys: Set<Int>) throws -> [ClientState] {
        guard !keys.isEmpty else { return [] }
        return try clients("SELECT id FROM client WHERE birthday_key = ANY(\(keys.sorted().map { Int32(truncatingIfNeeded: $0) })::int4[])")
    }

    func clients(loansMaturingFrom from: LocalDate, through: LocalDate) throws -> [ClientState] {
        try clients("SELECT client_id FROM loan WHERE maturity_date BETWEEN \(from.description) AND \(through.description)")
    }

    func clients(depositsMaturingFrom from: LocalDate, through: LocalDate) throws -> [ClientState] {
        try clients("SELECT client_id FROM term_deposit WHERE maturity_date BETWEEN \(from.description) AND \(through.description)")
    }

    func clients(inSegments segments: [String]) throws -> [ClientState] {
        guard !segments.isEmpty else { return [] }
        return try clients("SELECT id FROM client WHERE segment = ANY(\(segments.map { storable($0) })::text[])")
    }

    func clients(lastWealthPurchaseFrom from: Date, until: Date) throws -> [ClientState] {
        try clients("""
            SELECT id FROM client WHERE last_wealth_buy_ms >= \(from.milliseconds) AND last_wealth_buy_ms < \(until.milliseconds)
            """)
    }

    func lastLead(plugin: String, client id: String) throws -> Date? {
        try connections.withSession { session in
            try session.value(Int64?.self, """
                SELECT MAX(created_ms) FROM lead WHERE client_id = \(id) AND plugin = \(plugin) AND inhibited_by IS NULL
                """)?.map(Date.init(milliseconds:))
        }
    }

    func leadWasInhibited(plugin: String, client id: String, at: Date) throws -> Bool {
        try connections.withSession { session in
            try session.value(Int.self, """
                SELECT 1 FROM lead WHERE client_id = \(id) AND plugin = \(plugin) AND created_ms = \(at.milliseconds)
                    AND inhibited_by IS NOT NULL LIMIT 1
                """) != nil
        }
    }

    private func clients(_ query: PostgresQuery) throws -> [ClientState] {
        try connections.snapshot { try PostgresState.clients(where: query, session: $0) }
    }
}
