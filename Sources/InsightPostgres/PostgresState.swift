import Foundation
import InsightCore
import InsightStore
import PostgresNIO

/// Rows for one multi-row statement, as a JSON array of objects that `json_to_recordset` turns back into rows: one
/// parameter, however many rows, nulls included (postgres-nio's arrays carry none). Strings go through ``storable(_:)``.
struct RecordSet {
    private var text = "["
    private var members = 0
    private(set) var count = 0

    mutating func row(_ fill: (inout RecordSet) -> Void) {
        if count > 0 { text += "," }
        members = 0
        fill(&self)  // the first member opens the object
        text += members == 0 ? "{}" : "}"
        count += 1
    }

    mutating func string(_ name: String, _ value: String?) {
        JSONWriter.writeMemberName(name, members: &members, into: &text)
        if let value { JSONWriter.writeString(storable(value), into: &text) } else { text += "null" }
    }

    mutating func int(_ name: String, _ value: Int64?) {
        JSONWriter.writeMemberName(name, members: &members, into: &text)
        text += value.map { String($0) } ?? "null"
    }

    /// A JSON literal written as is (a number).
    mutating func raw(_ name: String, _ literal: String) {
        JSONWriter.writeMemberName(name, members: &members, into: &text)
        text += literal
    }

    mutating func bool(_ name: String, _ value: Bool) {
        JSONWriter.writeMemberName(name, members: &members, into: &text)
        text += value ? "true" : "false"
    }

    var json: String { text + "]" }
}

/// The projected state on PostgreSQL: the same tables, columns and stored forms as SQLite's (`AppDatabase+State`).
enum PostgresState {
    // MARK: Reading

    static func loadClients(_ ids: [String], session: PostgresSession) throws -> [String: ClientState] {
        // No stored id holds U+0000 (the validator refuses control characters in `clientId`), and a text parameter cannot.
        let ids = ids.filter { !$0.utf8.contains(0) }
        var states: [String: ClientState] = Dictionary(minimumCapacity: ids.count)
        guard !ids.isEmpty else { return states }
        for row in try session.rows("""
            SELECT id, profile, last_event_ms, last_interaction_ms, last_wealth_buy_ms, memory FROM client
            WHERE id = ANY(\(ids)::text[])
            """) {
            let (id, profile, lastEvent, lastInteraction, lastWealthBuy, memory) = try row.decode(
                (String, String?, Int64?, Int64?, Int64?, String?).self)
            var state = ClientState(id: id)
            if let profile { state.profile = try AppDatabase.decodeProfile(profile, client: id) }
            state.lastEventAt = lastEvent.map(Date.init(milliseconds:))
            state.lastInteractionAt = lastInteraction.map(Date.init(milliseconds:))
            state.lastWealthPurchaseAt = lastWealthBuy.map(Date.init(milliseconds:))
            // A memory that does not parse is dropped: the plugins start afresh for that client (as on SQLite).
            if let memory, case .object(let memories)? = try? JSONParser.parse(Array(memory.utf8)) {
                state.memory = memories
            }
            states[id] = state
        }
        guard !states.isEmpty else { return states }
        for row in try session.rows("""
            SELECT id, client_id, currency, balance, last_transaction_ms, previous_transaction_ms, transaction_count
            FROM account WHERE client_id = ANY(\(ids)::text[])
            """) {
            let (id, clientId, currency, balance, last, previous, count) = try row.decode(
                (String, String, String, String?, Int64?, Int64?, Int64).self)
            var account = AccountState(id: id, currency: currency)
            account.balance = Decimal(stored: balance)
            account.lastTransactionAt = last.map(Date.init(milliseconds:))
            account.previousTransactionAt = previous.map(Date.init(milliseconds:))
            account.transactionCount = Int(count)
            states[clientId]?.accounts[id] = account
        }
        // The latest snapshot of each client.
        for row in try session.rows("""
            SELECT DISTINCT ON (client_id) client_id, as_of, aum, deposits, wealth, loans FROM balance_snapshot
            WHERE client_id = ANY(\(ids)::text[]) ORDER BY client_id, as_of DESC
            """) {
            let (clientId, asOfText, aumText, deposits, wealth, loans) = try row.decode(
                (String, String, String, String?, String?, String?).self)
            guard let asOf = LocalDate(asOfText), let aum = Decimal(stored: aumText) else { continue }
            states[clientId]?.balance = BalanceSnapshot(asOf: asOf, aum: aum, deposits: Decimal(stored: deposits),
                                                        wealth: Decimal(stored: wealth), loans: Decimal(stored: loans))
        }
        for row in try session.rows("""
            SELECT id, client_id, amount, currency, open_date, maturity_date, status
            FROM term_deposit WHERE client_id = ANY(\(ids)::text[])
            """) {
            let (id, clientId, amountText, currency, openDate, maturityText, status) = try row.decode(
                (String, String, String, String, String?, String, String?).self)
            guard let amount = Decimal(stored: amountText), let maturity = LocalDate(maturityText) else { continue }
            states[clientId]?.deposits[id] = TermDeposit(id: id, amount: amount, currency: currency,
                                                         openDate: openDate.flatMap(LocalDate.init), maturityDate: maturity,
                                                         status: status)
        }
        for row in try session.rows("""
            SELECT id, client_id, product, principal, outstanding, currency, maturity_date, status, overdue_days,
                   last_overdue_ms, repaid_date
            FROM loan WHERE client_id = ANY(\(ids)::text[])
            """) {
            let (id, clientId, product, principal, outstanding, currency, maturity, status, overdue, lastOverdue, repaid)
                = try row.decode((String, String, String?, String?, String?, String, String?, String?, Int64, Int64?, String?).self)
            states[clientId]?.loans[id] = LoanState(
                id: id, product: product, principal: Decimal(stored: principal), outstanding: Decimal(stored: outstanding),
                currency: currency, maturityDate: maturity.flatMap(LocalDate.init), status: status,
                overdueDays: Int(overdue), lastOverdueAt: lastOverdue.map(Date.init(milliseconds:)),
                repaidDate: repaid.flatMap(LocalDate.init))
        }
        for row in try session.rows("""
            SELECT client_id, product_id, amount, last_trade_ms FROM holding WHERE client_id = ANY(\(ids)::text[])
            """) {
            let (clientId, product, amount, lastTrade) = try row.decode((String, String, String, Int64?).self)
            states[clientId]?.holdings[product] = Holding(productId: product, amount: Decimal(stored: amount) ?? 0,
                                                          lastTradeAt: lastTrade.map(Date.init(milliseconds:)))
        }
        for row in try session.rows("""
            SELECT client_id, period, total_assets, total_liabilities, operating_cash_flow, revenue
            FROM financials WHERE client_id = ANY(\(ids)::text[])
            """) {
            let (clientId, period, assets, liabilities, cashFlow, revenue) = try row.decode(
                (String, String, String?, String?, String?, String?).self)
            states[clientId]?.financials[period] = Financials(
                period: period, totalAssets: Decimal(stored: assets), totalLiabilities: Decimal(stored: liabilities),
                operatingCashFlow: Decimal(stored: cashFlow), revenue: Decimal(stored: revenue))
        }
        return states
    }

    static func loadManagers(_ ids: [String], session: PostgresSession) throws -> [String: ManagerState] {
        let ids = ids.filter { !$0.utf8.contains(0) }
        guard !ids.isEmpty else { return [:] }
        var managers: [String: ManagerState] = [:]
        for row in try session.rows("SELECT id, profile FROM manager WHERE id = ANY(\(ids)::text[])") {
            let (id, profile) = try row.decode((String, String).self)
            managers[id] = try AppDatabase.decodeManager(profile, id: id)
        }
        return managers
    }

    /// The clients whose ids `query` selects, in id order (byte order, as SQLite's), loaded a slice at a time.
    static func clients(where query: PostgresQuery, session: PostgresSession) throws -> [ClientState] {
        var ids = try session.rows(query).map { try $0.decode(String.self) }
        ids = Array(Set(ids))
        ids.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var result: [ClientState] = []
        result.reserveCapacity(ids.count)
        for start in stride(from: 0, to: ids.count, by: 2000) {
            let slice = Array(ids[start..<min(start + 2000, ids.count)])
            let loaded = try loadClients(slice, session: session)
            result.append(contentsOf: slice.compactMap { loaded[$0] })
        }
        return result
    }

    // MARK: Writing

    /// Writes one dispatcher step's state, managers, plugin failures, interactions and schedule runs, and its leads (in
    /// order, a lead whose key exists skipped) under the ledger's lock, inside the caller's transaction. Returns the
    /// leads that were new. Positions are the caller's: they differ between a single instance and a cluster's partitions.
    static func write(_ step: DispatchCommit, nowMs: Int64, session: PostgresSession,
                      prepared: [PostgresQuery]? = nil) throws -> [Lead] {
        if let prepared {
            for statement in prepared { try session.execute(statement) }
        } else if !step.clients.isEmpty {
            if let encode = step.encodeClients {
                // A checkpoint's updates, encoded a chunk at a time so that its JSON is never held whole.
                for start in stride(from: 0, to: step.clients.count, by: 4096) {
                    let end = min(start + 4096, step.clients.count)
                    let encoded = try ParallelMap.tryMap(count: end - start) { index in
                        var update = step.clients[start + index]
                        try encode(&update)
                        return update
                    }
                    try writeClients(encoded, session: session)
                }
            } else {
                try writeClients(step.clients, session: session)
            }
        }
        for manager in step.managers {
            try session.execute("""
                INSERT INTO manager (id, profile) VALUES (\(manager.id), \(try AppDatabase.managerText(manager)))
                ON CONFLICT (id) DO UPDATE SET profile = EXCLUDED.profile
                """)
        }
        for failure in step.failures {
            try session.execute("""
                INSERT INTO plugin_failure (plugin, journal_seq, event_id, error, at_ms)
                VALUES (\(failure.plugin), \(failure.journalSequence), \(storable(failure.eventId)),
                        \(storable(String(failure.error.prefix(2000)))), \(nowMs))
                """)
        }
        var inserted: [Lead] = []
        if !step.leads.isEmpty {
            var rows = RecordSet()
            for (index, (lead, sequence)) in step.leads.enumerated() {
                let body = try step.leadBodies[DispatchCommit.leadBodyKey(id: lead.id, sequence: sequence)]
                    ?? AppDatabase.encodeLeadBody(lead)
                rows.row {
                    $0.int("n", Int64(index)); $0.string("id", lead.id); $0.string("key", lead.key); $0.string("plugin", lead.plugin)
                    $0.string("kind", lead.kind); $0.string("priority", lead.priority.rawValue)
                    $0.string("client_id", lead.client?.id); $0.string("manager_id", lead.manager?.id)
                    $0.string("status", lead.status.rawValue); $0.int("created_ms", lead.createdAt.milliseconds)
                    $0.int("journal_seq", sequence); $0.string("body", body)
                }
            }
            // Numbered in commit order: the ledger's lock is held from here to the commit (see `appendLeads`).
            try session.execute("SELECT pg_advisory_xact_lock(\(PostgresStore.ledgerLockKey))")
            let ids = Set(try session.rows("""
                INSERT INTO lead (id, key, plugin, kind, priority, client_id, manager_id, status, created_ms, journal_seq, body)
                SELECT id, key, plugin, kind, priority, client_id, manager_id, status, created_ms, journal_seq, body
                FROM json_to_recordset(\(rows.json)::json) AS x(
                    n bigint, id text, key text, plugin text, kind text, priority text, client_id text, manager_id text,
                    status text, created_ms bigint, journal_seq bigint, body text)
                ORDER BY n
                ON CONFLICT (key) DO NOTHING
                RETURNING id
                """).map { try $0.decode(String.self) })
            var reported = Set<String>()
            for (lead, _) in step.leads where ids.contains(lead.id) && reported.insert(lead.id).inserted {
                inserted.append(lead)
            }
        }
        for interaction in step.interactions {
            try write(interaction, session: session)
        }
        for run in step.scheduleRuns {
            let count = step.leads.count { $0.lead.plugin == run.plugin && $0.sequence == nil }
            try session.execute("""
                INSERT INTO schedule_run (plugin, local_date, scheduled_ms, ran_ms, lead_count)
                VALUES (\(run.plugin), \(run.tick.localDate.description), \(run.tick.scheduledAt.milliseconds), \(nowMs), \(count))
                ON CONFLICT (plugin, local_date) DO UPDATE SET scheduled_ms = EXCLUDED.scheduled_ms,
                    ran_ms = EXCLUDED.ran_ms, lead_count = EXCLUDED.lead_count
                """)
        }
        return inserted
    }

    /// As SQLite's interaction write: recorded once; one naming a lead marks it contacted (unless further along) and
    /// goes in its history.
    private static func write(_ interaction: DispatchCommit.Interaction, session: PostgresSession) throws {
        let at = interaction.at.milliseconds
        let recorded = try session.execute("""
            INSERT INTO interaction (journal_seq, client_id, manager_id, channel, outcome, lead_id, at_ms)
            VALUES (\(interaction.journalSequence), \(storable(interaction.clientId)), \(storable(interaction.managerId)),
                    \(storable(interaction.channel)), \(storable(interaction.outcome)), \(storable(interaction.leadId)), \(at))
            ON CONFLICT DO NOTHING
            """)
        guard recorded == 1, let leadId = interaction.leadId.map({ storable($0) }) else { return }
        try session.execute("""
            UPDATE lead SET status = 'contacted', status_ms = \(at) WHERE id = \(leadId) AND status IN ('new', 'notified')
            """)
        guard try session.value(Int.self, "SELECT 1 FROM lead WHERE id = \(leadId)") != nil else { return }
        let note = [interaction.channel.map { "channel \($0)" }, interaction.outcome.map { "outcome \($0)" }]
            .compactMap { $0 }.joined(separator: ", ")
        let actor = interaction.managerId.map { "manager:\($0)" } ?? "crm"
        try session.execute("""
            INSERT INTO lead_activity (lead_id, at_ms, kind, outcome, note, actor)
            VALUES (\(leadId), \(at), 'interaction', 'contacted', \(note.isEmpty ? nil : Optional(storable(note))), \(storable(actor)))
            """)
    }

    /// The changed parts of each client, one multi-row upsert per table. Within a statement a row may be upserted only
    /// once: for each key the last update counts, as it would writing one after another.
    private static func writeClients(_ updates: [DispatchCommit.ClientUpdate], session: PostgresSession) throws {
        for statement in clientStatements(updates[...]) { try session.execute(statement) }
    }

    /// The statements of a batch's updates (not a checkpoint's, which are encoded as they are written), made in slices on
    /// every core: the commit is the pipeline's serial stage, and making its JSON took a fifth of it. Slices keep their
    /// order, so a key two slices both write ends as the later one says.
    static func clientStatementsInParallel(_ step: DispatchCommit) -> [PostgresQuery]? {
        guard step.encodeClients == nil else { return nil }
        let updates = step.clients
        let slices = try? ParallelMap.trySlices(count: updates.count, minimumForParallel: 2048, maximumSlices: 4) { range in
            clientStatements(updates[range])
        }
        return slices?.flatMap { $0 }
    }

    /// The statements that write these updates, made (JSON and all) without a connection: a batch's are made on every
    /// core before its transaction starts (``clientStatementsInParallel(_:)``).
    static func clientStatements(_ updates: ArraySlice<DispatchCommit.ClientUpdate>) -> [PostgresQuery] {
        var statements: [PostgresQuery] = []
        var clients: [String: Int] = [:]
        var accounts: [String: (client: String, account: AccountState)] = [:]
        var balances: [String: (client: String, snapshot: BalanceSnapshot)] = [:]
        var deposits: [String: (client: String, deposit: TermDeposit)] = [:]
        var loans: [String: (client: String, loan: LoanState)] = [:]
        var holdings: [String: (client: String, holding: Holding)] = [:]
        var financials: [String: (client: String, financials: Financials)] = [:]
        for index in updates.indices {
            let update = updates[index]
            let state = update.state
            let changes = update.changes
            if changes.contains(.profile) || changes.contains(.activity) || changes.contains(.wealthPurchase)
                || changes.writesMemoryColumn {
                clients[state.id] = index
            }
            for change in changes {
                switch change {
                case .account(let id):
                    if let account = state.accounts[id] { accounts[id] = (state.id, account) }
                case .balance:
                    for snapshot in update.balances.isEmpty ? (state.balance.map { [$0] } ?? []) : update.balances {
                        balances[state.id + "\u{0}" + snapshot.asOf.description] = (state.id, snapshot)
                    }
                case .deposit(let id):
                    if let deposit = state.deposits[id] { deposits[id] = (state.id, deposit) }
                case .loan(let id):
                    if let loan = state.loans[id] { loans[id] = (state.id, loan) }
                case .holding(let product):
                    if let holding = state.holdings[product] { holdings[state.id + "\u{0}" + product] = (state.id, holding) }
                case .financials(let period):
                    if let value = state.financials[period] { financials[state.id + "\u{0}" + period] = (state.id, value) }
                case .profile, .activity, .wealthPurchase, .memory:
                    break
                }
            }
        }
        if !clients.isEmpty {
            // Columns the update does not carry keep their stored values: the profile's unless it changed, the memory
            // unless it was encoded for this write. One statement per kind, each setting its columns only.
            var groups: [Int: RecordSet] = [:]
            for index in clients.values.sorted() {
                let update = updates[index]
                let state = update.state
                let profileChanged = update.changes.contains(.profile)
                let memoryWritten = update.changes.writesMemoryColumn
                let profile = profileChanged ? update.profileText ?? state.profile.storedText : nil
                groups[(profileChanged ? 1 : 0) + (memoryWritten ? 2 : 0), default: RecordSet()].row {
                    $0.string("id", state.id)
                    $0.string("profile", profile)
                    $0.string("manager_id", state.profile.managerId); $0.string("branch_id", state.profile.branchId)
                    $0.string("segment", state.profile.segment); $0.int("birthday_key", state.profile.birthdayKey.map(Int64.init))
                    $0.int("last_event_ms", state.lastEventAt?.milliseconds)
                    $0.int("last_interaction_ms", state.lastInteractionAt?.milliseconds)
                    $0.int("last_wealth_buy_ms", state.lastWealthPurchaseAt?.milliseconds)
                    $0.string("memory", memoryWritten ? update.memoryColumn : nil)
                }
            }
            for (kind, rows) in groups.sorted(by: { $0.key < $1.key }) {
                let profileChanged = kind & 1 != 0, memoryWritten = kind & 2 != 0
                var set = ["last_event_ms = EXCLUDED.last_event_ms", "last_interaction_ms = EXCLUDED.last_interaction_ms",
                           "last_wealth_buy_ms = EXCLUDED.last_wealth_buy_ms"]
                if profileChanged {
                    set += ["profile = EXCLUDED.profile", "manager_id = EXCLUDED.manager_id", "branch_id = EXCLUDED.branch_id",
                            "segment = EXCLUDED.segment", "birthday_key = EXCLUDED.birthday_key"]
                }
                if memoryWritten { set.append("memory = EXCLUDED.memory") }
                let profileColumns = profileChanged ? "profile, manager_id, branch_id, segment, birthday_key" : "NULL, NULL, NULL, NULL, NULL"
                var query = PostgresQuery(unsafeSQL: """
                    INSERT INTO client (id, profile, manager_id, branch_id, segment, birthday_key, last_event_ms,
                                        last_interaction_ms, last_wealth_buy_ms, memory)
                    SELECT id, \(profileColumns), last_event_ms, last_interaction_ms, last_wealth_buy_ms,
                           \(memoryWritten ? "memory" : "NULL")
                    FROM json_to_recordset($1::json) AS x(
                        id text, profile text, manager_id text, branch_id text, segment text, birthday_key integer,
                        last_event_ms bigint, last_interaction_ms bigint, last_wealth_buy_ms bigint, memory text)
                    ON CONFLICT (id) DO UPDATE SET \(set.joined(separator: ", "))
                    """)
                query.binds.append(rows.json, context: .default)
                statements.append(query)
            }
        }
        if !accounts.isEmpty {
            var rows = RecordSet()
            for (id, entry) in accounts {
                rows.row {
                    $0.string("id", id); $0.string("client_id", entry.client); $0.string("currency", entry.account.currency)
                    $0.string("balance", entry.account.balance?.storedText)
                    $0.int("last_transaction_ms", entry.account.lastTransactionAt?.milliseconds)
                    $0.int("transaction_count", Int64(entry.account.transactionCount))
                    $0.int("previous_transaction_ms", entry.account.previousTransactionAt?.milliseconds)
                }
            }
            statements.append("""
                INSERT INTO account (id, client_id, currency, balance, last_transaction_ms, transaction_count,
                                     previous_transaction_ms)
                SELECT * FROM json_to_recordset(\(rows.json)::json) AS x(
                    id text, client_id text, currency text, balance text, last_transaction_ms bigint,
                    transaction_count bigint, previous_transaction_ms bigint)
                ON CONFLICT (id) DO UPDATE SET currency = EXCLUDED.currency, balance = EXCLUDED.balance,
                    last_transaction_ms = EXCLUDED.last_transaction_ms, transaction_count = EXCLUDED.transaction_count,
                    previous_transaction_ms = EXCLUDED.previous_transaction_ms
                """)
        }
        if !balances.isEmpty {
            var rows = RecordSet()
            for entry in balances.values {
                rows.row {
                    $0.string("client_id", entry.client); $0.string("as_of", entry.snapshot.asOf.description)
                    $0.string("aum", entry.snapshot.aum.storedText); $0.string("deposits", entry.snapshot.deposits?.storedText)
                    $0.string("wealth", entry.snapshot.wealth?.storedText); $0.string("loans", entry.snapshot.loans?.storedText)
                }
            }
            statements.append("""
                INSERT INTO balance_snapshot (client_id, as_of, aum, deposits, wealth, loans)
                SELECT * FROM json_to_recordset(\(rows.json)::json) AS x(
                    client_id text, as_of text, aum text, deposits text, wealth text, loans text)
                ON CONFLICT (client_id, as_of) DO UPDATE SET aum = EXCLUDED.aum, deposits = EXCLUDED.deposits,
                    wealth = EXCLUDED.wealth, loans = EXCLUDED.loans
                """)
        }
        if !deposits.isEmpty {
            var rows = RecordSet()
            for (id, entry) in deposits {
                rows.row {
                    $0.string("id", id); $0.string("client_id", entry.client); $0.string("amount", entry.deposit.amount.storedText)
                    $0.string("currency", entry.deposit.currency); $0.string("open_date", entry.deposit.openDate?.description)
                    $0.string("maturity_date", entry.deposit.maturityDate.description); $0.string("status", entry.deposit.status)
                }
            }
            statements.append("""
                INSERT INTO term_deposit (id, client_id, amount, currency, open_date, maturity_date, status)
                SELECT * FROM json_to_recordset(\(rows.json)::json) AS x(
                    id text, client_id text, amount text, currency text, open_date text, maturity_date text, status text)
                ON CONFLICT (id) DO UPDATE SET client_id = EXCLUDED.client_id, amount = EXCLUDED.amount,
                    currency = EXCLUDED.currency, open_date = EXCLUDED.open_date, maturity_date = EXCLUDED.maturity_date,
                    status = EXCLUDED.status
                """)
        }
        if !loans.isEmpty {
            var rows = RecordSet()
            for (id, entry) in loans {
                let loan = entry.loan
                rows.row {
                    $0.string("id", id); $0.string("client_id", entry.client); $0.string("product", loan.product)
                    $0.string("principal", loan.principal?.storedText); $0.string("outstanding", loan.outstanding?.storedText)
                    $0.string("currency", loan.currency); $0.string("maturity_date", loan.maturityDate?.description)
                    $0.string("status", loan.status); $0.int("overdue_days", Int64(loan.overdueDays))
                    $0.int("last_overdue_ms", loan.lastOverdueAt?.milliseconds); $0.string("repaid_date", loan.repaidDate?.description)
                }
            }
            statements.append("""
                INSERT INTO loan (id, client_id, product, principal, outstanding, currency, maturity_date, status,
                                  overdue_days, last_overdue_ms, repaid_date)
                SELECT * FROM json_to_recordset(\(rows.json)::json) AS x(
                    id text, client_id text, product text, principal text, outstanding text, currency text,
                    maturity_date text, status text, overdue_days bigint, last_overdue_ms bigint, repaid_date text)
                ON CONFLICT (id) DO UPDATE SET client_id = EXCLUDED.client_id, product = EXCLUDED.product,
                    principal = EXCLUDED.principal, outstanding = EXCLUDED.outstanding, currency = EXCLUDED.currency,
                    maturity_date = EXCLUDED.maturity_date, status = EXCLUDED.status, overdue_days = EXCLUDED.overdue_days,
                    last_overdue_ms = EXCLUDED.last_overdue_ms, repaid_date = EXCLUDED.repaid_date
                """)
        }
        if !holdings.isEmpty {
            var rows = RecordSet()
            for entry in holdings.values {
                rows.row {
                    $0.string("client_id", entry.client); $0.string("product_id", entry.holding.productId)
                    $0.string("amount", entry.holding.amount.storedText)
                    $0.int("last_trade_ms", entry.holding.lastTradeAt?.milliseconds)
                }
            }
            statements.append("""
                INSERT INTO holding (client_id, product_id, amount, last_trade_ms)
                SELECT * FROM json_to_recordset(\(rows.json)::json) AS x(
                    client_id text, product_id text, amount text, last_trade_ms bigint)
                ON CONFLICT (client_id, product_id) DO UPDATE SET amount = EXCLUDED.amount,
                    last_trade_ms = EXCLUDED.last_trade_ms
                """)
        }
        if !financials.isEmpty {
            var rows = RecordSet()
            for entry in financials.values {
                let value = entry.financials
                rows.row {
                    $0.string("client_id", entry.client); $0.string("period", value.period)
                    $0.string("total_assets", value.totalAssets?.storedText)
                    $0.string("total_liabilities", value.totalLiabilities?.storedText)
                    $0.string("operating_cash_flow", value.operatingCashFlow?.storedText)
                    $0.string("revenue", value.revenue?.storedText)
                }
            }
            statements.append("""
                INSERT INTO financials (client_id, period, total_assets, total_liabilities, operating_cash_flow, revenue)
                SELECT * FROM json_to_recordset(\(rows.json)::json) AS x(
                    client_id text, period text, total_assets text, total_liabilities text, operating_cash_flow text,
                    revenue text)
                ON CONFLICT (client_id, period) DO UPDATE SET total_assets = EXCLUDED.total_assets,
                    total_liabilities = EXCLUDED.total_liabilities, operating_cash_flow = EXCLUDED.operating_cash_flow,
                    revenue = EXCLUDED.revenue
                """)
        }
        return statements
    }
}
