import Foundation
import GRDB
import InsightCore

extension AppDatabase {
    /// Loads the projected state of the given clients. Clients never seen are absent from the result.
    /// Many clients are read in key order (neighbours share pages), in slices on several reader connections at
    /// once. Each client is read whole by one of them, so it is consistent with itself; callers do not read clients
    /// that a commit in flight is writing.
    public func loadClients(_ ids: some Collection<String>) throws -> [String: ClientState] {
        guard !ids.isEmpty else { return [:] }
        guard ids.count >= Self.parallelLoadMinimum else {
            let idList = Array(ids)
            return try pool.read { db in try Self.loadClients(idList, db: db) }
        }
        // Sorted as a concrete `[String]`: `sorted()` on the generic collection runs the standard library's unspecialized
        // sort, which allocates on every comparison.
        var ordered = Array(ids)
        ordered.sort()
        let sorted = ordered
        let slices = try ParallelMap.trySlices(count: sorted.count, minimumForParallel: Self.parallelLoadMinimum,
                                               maximumSlices: Self.maximumReaderCount) { range in
            let slice = Array(sorted[range])
            return try self.pool.read { db in try Self.loadClients(slice, db: db) }
        }
        var states = slices[0]
        states.reserveCapacity(sorted.count)
        for slice in slices.dropFirst() { states.merge(slice) { first, _ in first } }
        return states
    }

    /// Below this many clients one connection reads them all.
    static let parallelLoadMinimum = 1024

    public func loadManager(_ id: String) throws -> ManagerState? {
        try pool.read { db in try ManagerRecord.fetchOne(db, key: id).map(Self.manager(from:)) }
    }

    public func loadManagers(_ ids: some Collection<String>) throws -> [String: ManagerState] {
        guard !ids.isEmpty else { return [:] }
        let idList = Array(ids)
        return try pool.read { db in
            var managers: [String: ManagerState] = [:]
            for record in try ManagerRecord.filter(keys: idList).fetchAll(db) {
                managers[record.id] = try Self.manager(from: record)
            }
            return managers
        }
    }

    /// Every client, in id order.
    public func allClients() throws -> [ClientState] {
        try clients(where: "SELECT id FROM client", arguments: [])
    }

    public func balanceHistory(client id: String, since: LocalDate) throws -> [BalanceSnapshot] {
        try pool.read { db in
            try BalanceSnapshotRecord
                .filter(BalanceSnapshotRecord.Columns.clientId == id && BalanceSnapshotRecord.Columns.asOf >= since.description)
                .order(BalanceSnapshotRecord.Columns.asOf)
                .fetchAll(db)
                .compactMap(Self.snapshot(from:))
        }
    }

    /// Whether any client is stored: a seek to the first row, where a count (which no partial index can answer)
    /// would read the whole table.
    public func hasClients() throws -> Bool {
        try pool.read { db in try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM client)") ?? false }
    }

    public func clientCount() throws -> Int {
        try pool.read { db in try ClientRecord.fetchCount(db) }
    }

    // MARK: - Reading rows into state

    static let jsonDecoder = JSONDecoder()

    static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return encoder
    }()

    /// Reads the clients' rows, one statement per table for all of them (the ids travel as one JSON array, so each
    /// statement is prepared once whatever the count), columns by position, the profile through
    /// ``ClientProfile/init(stored:)``. A cache miss of the dispatcher comes here: on a book larger than its cache
    /// nearly every event's client does.
    static func loadClients(_ ids: [String], db: Database) throws -> [String: ClientState] {
        // An id holding U+0000 cannot be a stored client's (the event validator refuses control characters in
        // `clientId`, and SQLite's JSON functions and text reads both end a string there): asking for one must not
        // bring back the client named by its part before the NUL.
        let ids = ids.filter { !$0.utf8.contains(0) }
        var states: [String: ClientState] = Dictionary(minimumCapacity: ids.count)
        guard !ids.isEmpty else { return states }
        let arguments: StatementArguments = [JSONWriter.string(.array(ids.map(JSONValue.string)))]
        let clients = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT id, profile, last_event_ms, last_interaction_ms, last_wealth_buy_ms, memory FROM client
            WHERE id IN (SELECT value FROM json_each(?))
            """), arguments: arguments)
        while let row = try clients.next() {
            let id: String = row[0]
            var state = ClientState(id: id)
            if let profile: String = row[1] { state.profile = try decodeProfile(profile, client: id) }
            state.lastEventAt = (row[2] as Int64?).map(Date.init(milliseconds:))
            state.lastInteractionAt = (row[3] as Int64?).map(Date.init(milliseconds:))
            state.lastWealthPurchaseAt = (row[4] as Int64?).map(Date.init(milliseconds:))
            // A memory that does not parse is dropped: the plugins start afresh for that client.
            if let text: String = row[5], case .object(let memories)? = try? JSONParser.parse(Array(text.utf8)) {
                state.memory = memories
            }
            states[id] = state
        }
        guard !states.isEmpty else { return states }
        let accounts = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT id, client_id, currency, balance, last_transaction_ms, previous_transaction_ms, transaction_count
            FROM account WHERE client_id IN (SELECT value FROM json_each(?))
            """), arguments: arguments)
        while let row = try accounts.next() {
            let id: String = row[0]
            var account = AccountState(id: id, currency: row[2])
            account.balance = Decimal(stored: row[3] as String?)
            account.lastTransactionAt = (row[4] as Int64?).map(Date.init(milliseconds:))
            account.previousTransactionAt = (row[5] as Int64?).map(Date.init(milliseconds:))
            account.transactionCount = row[6]
            states[row[1] as String]?.accounts[id] = account
        }
        // The latest snapshot of each: a seek to the greatest `as_of` of the client's primary-key range.
        let balances = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT b.client_id, b.as_of, b.aum, b.deposits, b.wealth, b.loans
            FROM json_each(?) ids JOIN balance_snapshot b ON b.client_id = ids.value
            WHERE b.as_of = (SELECT MAX(as_of) FROM balance_snapshot WHERE client_id = ids.value)
            """), arguments: arguments)
        while let row = try balances.next() {
            guard let asOf = LocalDate(row[1] as String), let aum = Decimal(stored: row[2] as String?) else { continue }
            states[row[0] as String]?.balance = BalanceSnapshot(
                asOf: asOf, aum: aum, deposits: Decimal(stored: row[3] as String?),
                wealth: Decimal(stored: row[4] as String?), loans: Decimal(stored: row[5] as String?))
        }
        let deposits = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT id, client_id, amount, currency, open_date, maturity_date, status
            FROM term_deposit WHERE client_id IN (SELECT value FROM json_each(?))
            """), arguments: arguments)
        while let row = try deposits.next() {
            guard let amount = Decimal(stored: row[2] as String?), let maturity = LocalDate(row[5] as String) else { continue }
            let id: String = row[0]
            states[row[1] as String]?.deposits[id] = TermDeposit(
                id: id, amount: amount, currency: row[3], openDate: (row[4] as String?).flatMap(LocalDate.init),
                maturityDate: maturity, status: row[6])
        }
        let loans = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT id, client_id, product, principal, outstanding, currency, maturity_date, status, overdue_days,
                   last_overdue_ms, repaid_date
            FROM loan WHERE client_id IN (SELECT value FROM json_each(?))
            """), arguments: arguments)
        while let row = try loans.next() {
            let id: String = row[0]
            states[row[1] as String]?.loans[id] = LoanState(
                id: id, product: row[2], principal: Decimal(stored: row[3] as String?),
                outstanding: Decimal(stored: row[4] as String?), currency: row[5],
                maturityDate: (row[6] as String?).flatMap(LocalDate.init), status: row[7], overdueDays: row[8],
                lastOverdueAt: (row[9] as Int64?).map(Date.init(milliseconds:)),
                repaidDate: (row[10] as String?).flatMap(LocalDate.init))
        }
        let holdings = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT client_id, product_id, amount, last_trade_ms
            FROM holding WHERE client_id IN (SELECT value FROM json_each(?))
            """), arguments: arguments)
        while let row = try holdings.next() {
            let product: String = row[1]
            states[row[0] as String]?.holdings[product] = Holding(
                productId: product, amount: Decimal(stored: row[2] as String?) ?? 0,
                lastTradeAt: (row[3] as Int64?).map(Date.init(milliseconds:)))
        }
        let financials = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT client_id, period, total_assets, total_liabilities, operating_cash_flow, revenue
            FROM financials WHERE client_id IN (SELECT value FROM json_each(?))
            """), arguments: arguments)
        while let row = try financials.next() {
            let period: String = row[1]
            states[row[0] as String]?.financials[period] = Financials(
                period: period, totalAssets: Decimal(stored: row[2] as String?),
                totalLiabilities: Decimal(stored: row[3] as String?),
                operatingCashFlow: Decimal(stored: row[4] as String?), revenue: Decimal(stored: row[5] as String?))
        }
        return states
    }

    /// A stored profile: the form ``ClientProfile/storedText`` writes is read by hand; anything else goes through
    /// `JSONDecoder`, which reads what it can and says what is wrong.
    public static func decodeProfile(_ text: String, client id: String) throws -> ClientProfile {
        if let json = try? JSONParser.parse(Array(text.utf8)), let profile = ClientProfile(stored: json) { return profile }
        do {
            return try jsonDecoder.decode(ClientProfile.self, from: Data(text.utf8))
        } catch {
            throw StoreError.corruptRow(table: "client", key: id, reason: "profile: \(error)")
        }
    }

    static func snapshot(from record: BalanceSnapshotRecord) -> BalanceSnapshot? {
        guard let asOf = LocalDate(record.asOf), let aum = Decimal(stored: record.aum) else { return nil }
        return BalanceSnapshot(asOf: asOf, aum: aum, deposits: Decimal(stored: record.deposits),
                               wealth: Decimal(stored: record.wealth), loans: Decimal(stored: record.loans))
    }

    static func manager(from record: ManagerRecord) throws -> ManagerState {
        try decodeManager(record.profile, id: record.id)
    }

    // MARK: - Writing state

    /// The hot upserts of the projection, prepared once per transaction (looking a cached statement up by
    /// its SQL text costs a hash of that text, per call).
    struct StateStatements {
        let profile: Statement
        let activity: Statement
        let wealthPurchase: Statement
        let account: Statement
        let activityAndMemory: Statement
        let balance: Statement
        let deposit: Statement
        let loan: Statement
        let holding: Statement
        let financials: Statement

        init(_ db: Database) throws {
            balance = try db.cachedStatement(sql: """
                INSERT INTO balance_snapshot (client_id, as_of, aum, deposits, wealth, loans) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (client_id, as_of) DO UPDATE SET aum = excluded.aum, deposits = excluded.deposits,
                  wealth = excluded.wealth, loans = excluded.loans
                """)
            deposit = try db.cachedStatement(sql: """
                INSERT INTO term_deposit (id, client_id, amount, currency, open_date, maturity_date, status)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, amount = excluded.amount,
                  currency = excluded.currency, open_date = excluded.open_date, maturity_date = excluded.maturity_date,
                  status = excluded.status
                """)
            loan = try db.cachedStatement(sql: """
                INSERT INTO loan (id, client_id, product, principal, outstanding, currency, maturity_date, status,
                                  overdue_days, last_overdue_ms, repaid_date)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, product = excluded.product,
                  principal = excluded.principal, outstanding = excluded.outstanding, currency = excluded.currency,
                  maturity_date = excluded.maturity_date, status = excluded.status, overdue_days = excluded.overdue_days,
                  last_overdue_ms = excluded.last_overdue_ms, repaid_date = excluded.repaid_date
                """)
            holding = try db.cachedStatement(sql: """
                INSERT INTO holding (client_id, product_id, amount, last_trade_ms) VALUES (?, ?, ?, ?)
                ON CONFLICT (client_id, product_id) DO UPDATE SET amount = excluded.amount,
                  last_trade_ms = excluded.last_trade_ms
                """)
            financials = try db.cachedStatement(sql: """
                INSERT INTO financials (client_id, period, total_assets, total_liabilities, operating_cash_flow, revenue)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (client_id, period) DO UPDATE SET total_assets = excluded.total_assets,
                  total_liabilities = excluded.total_liabilities, operating_cash_flow = excluded.operating_cash_flow,
                  revenue = excluded.revenue
                """)
            profile = try db.cachedStatement(sql: """
                INSERT INTO client (id, profile, manager_id, branch_id, segment, last_event_ms, last_interaction_ms,
                                    birthday_key, last_wealth_buy_ms, memory)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET profile = excluded.profile, manager_id = excluded.manager_id,
                  branch_id = excluded.branch_id, segment = excluded.segment, last_event_ms = excluded.last_event_ms,
                  last_interaction_ms = excluded.last_interaction_ms, birthday_key = excluded.birthday_key,
                  last_wealth_buy_ms = excluded.last_wealth_buy_ms, memory = excluded.memory
                """)
            // Hot upserts set only the columns that change: setting an indexed column, even to its old value,
            // rewrites its index entry.
            activity = try db.cachedStatement(sql: """
                INSERT INTO client (id, last_event_ms, last_interaction_ms) VALUES (?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET last_event_ms = excluded.last_event_ms,
                  last_interaction_ms = excluded.last_interaction_ms
                """)
            wealthPurchase = try db.cachedStatement(sql: """
                INSERT INTO client (id, last_wealth_buy_ms) VALUES (?, ?)
                ON CONFLICT (id) DO UPDATE SET last_wealth_buy_ms = excluded.last_wealth_buy_ms
                """)
            account = try db.cachedStatement(sql: """
                INSERT INTO account (id, client_id, currency, balance, last_transaction_ms, transaction_count,
                                     previous_transaction_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET currency = excluded.currency,
                  balance = excluded.balance, last_transaction_ms = excluded.last_transaction_ms,
                  transaction_count = excluded.transaction_count,
                  previous_transaction_ms = excluded.previous_transaction_ms
                """)
            // Plugin memory lives in the client row: the row a busy client's event writes anyway (activity).
            activityAndMemory = try db.cachedStatement(sql: """
                INSERT INTO client (id, last_event_ms, last_interaction_ms, memory) VALUES (?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET last_event_ms = excluded.last_event_ms,
                  last_interaction_ms = excluded.last_interaction_ms, memory = excluded.memory
                """)
        }
    }

    /// Writes the parts of a client's state that the update's changes name. Runs inside the dispatch transaction.
    static func write(_ update: DispatchCommit.ClientUpdate, statements: StateStatements, db: Database) throws {
        let state = update.state
        let changes = update.changes
        let memoryChanged = changes.contains { if case .memory = $0 { true } else { false } }
        // Each statement's values are bound in its column order (``BoundExecution``).
        func run(_ statement: Statement, _ bind: (inout BoundExecution) -> Void) throws {
            var execution = BoundExecution(statement, db)
            bind(&execution)
            try execution.execute()
        }
        if changes.contains(.profile) {
            let profile = try update.profileText ?? String(decoding: jsonEncoder.encode(state.profile), as: UTF8.self)
            try run(statements.profile) {
                $0.bind(state.id); $0.bind(profile); $0.bind(state.profile.managerId); $0.bind(state.profile.branchId)
                $0.bind(state.profile.segment); $0.bind(state.lastEventAt?.milliseconds)
                $0.bind(state.lastInteractionAt?.milliseconds); $0.bind(state.profile.birthdayKey)
                $0.bind(state.lastWealthPurchaseAt?.milliseconds)
                $0.bind(update.memoryColumn)
            }
        } else if memoryChanged {
            try run(statements.activityAndMemory) {
                $0.bind(state.id); $0.bind(state.lastEventAt?.milliseconds); $0.bind(state.lastInteractionAt?.milliseconds)
                $0.bind(update.memoryColumn)
            }
        } else if changes.contains(.activity) {
            try run(statements.activity) {
                $0.bind(state.id); $0.bind(state.lastEventAt?.milliseconds); $0.bind(state.lastInteractionAt?.milliseconds)
            }
        }
        if changes.contains(.wealthPurchase), !changes.contains(.profile) {
            try run(statements.wealthPurchase) { $0.bind(state.id); $0.bind(state.lastWealthPurchaseAt?.milliseconds) }
        }
        for change in changes {
            switch change {
            case .profile, .activity, .wealthPurchase:
                break
            case .account(let id):
                guard let account = state.accounts[id] else { continue }
                try run(statements.account) {
                    $0.bind(id); $0.bind(state.id); $0.bind(account.currency); $0.bind(account.balance?.storedText)
                    $0.bind(account.lastTransactionAt?.milliseconds); $0.bind(account.transactionCount)
                    $0.bind(account.previousTransactionAt?.milliseconds)
                }
            case .balance:
                for balance in update.balances.isEmpty ? (state.balance.map { [$0] } ?? []) : update.balances {
                    try run(statements.balance) {
                        $0.bind(state.id); $0.bind(balance.asOf.description); $0.bind(balance.aum.storedText)
                        $0.bind(balance.deposits?.storedText); $0.bind(balance.wealth?.storedText); $0.bind(balance.loans?.storedText)
                    }
                }
            case .deposit(let id):
                guard let deposit = state.deposits[id] else { continue }
                try run(statements.deposit) {
                    $0.bind(id); $0.bind(state.id); $0.bind(deposit.amount.storedText); $0.bind(deposit.currency)
                    $0.bind(deposit.openDate?.description); $0.bind(deposit.maturityDate.description); $0.bind(deposit.status)
                }
            case .loan(let id):
                guard let loan = state.loans[id] else { continue }
                try run(statements.loan) {
                    $0.bind(id); $0.bind(state.id); $0.bind(loan.product); $0.bind(loan.principal?.storedText)
                    $0.bind(loan.outstanding?.storedText); $0.bind(loan.currency); $0.bind(loan.maturityDate?.description)
                    $0.bind(loan.status); $0.bind(loan.overdueDays); $0.bind(loan.lastOverdueAt?.milliseconds)
                    $0.bind(loan.repaidDate?.description)
                }
            case .holding(let productId):
                guard let holding = state.holdings[productId] else { continue }
                try run(statements.holding) {
                    $0.bind(state.id); $0.bind(productId); $0.bind(holding.amount.storedText); $0.bind(holding.lastTradeAt?.milliseconds)
                }
            case .financials(let period):
                guard let financials = state.financials[period] else { continue }
                try run(statements.financials) {
                    $0.bind(state.id); $0.bind(period); $0.bind(financials.totalAssets?.storedText)
                    $0.bind(financials.totalLiabilities?.storedText); $0.bind(financials.operatingCashFlow?.storedText)
                    $0.bind(financials.revenue?.storedText)
                }
            case .memory:
                break  // written with the client row above
            }
        }
    }

    /// A manager's stored form (the `manager.profile` column).
    public static func managerText(_ manager: ManagerState) throws -> String {
        String(decoding: try jsonEncoder.encode(manager), as: UTF8.self)
    }

    /// Reads a `manager.profile` column.
    public static func decodeManager(_ text: String, id: String) throws -> ManagerState {
        do {
            return try jsonDecoder.decode(ManagerState.self, from: Data(text.utf8))
        } catch {
            throw StoreError.corruptRow(table: "manager", key: id, reason: "\(error)")
        }
    }

    static func write(_ manager: ManagerState, db: Database) throws {
        let profile = try managerText(manager)
        try ManagerRecord(id: manager.id, profile: profile).upsert(db)
    }
}
