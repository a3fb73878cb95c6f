import Foundation
import GRDB
import InsightCore

/// The schema, as an append-only list of migrations. A shipped migration is never edited: add a new one.
enum AppMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-journal-state-ledger") { db in
            try db.execute(sql: """
                CREATE TABLE journal (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    source TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    client_id TEXT,
                    time_ms INTEGER NOT NULL,
                    received_ms INTEGER NOT NULL,
                    data TEXT NOT NULL,
                    UNIQUE (source, event_id)
                );
                CREATE TABLE quarantine (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    received_ms INTEGER NOT NULL,
                    source TEXT NOT NULL,
                    origin TEXT NOT NULL,
                    event_id TEXT,
                    reason TEXT NOT NULL,
                    payload BLOB NOT NULL
                );
                CREATE INDEX quarantine_received ON quarantine (received_ms);
                CREATE TABLE consumer (
                    name TEXT PRIMARY KEY,
                    position INTEGER NOT NULL,
                    updated_ms INTEGER NOT NULL
                );
                CREATE TABLE client (
                    id TEXT PRIMARY KEY,
                    profile TEXT,
                    manager_id TEXT,
                    branch_id TEXT,
                    segment TEXT,
                    last_event_ms INTEGER,
                    last_interaction_ms INTEGER
                );
                CREATE INDEX client_manager ON client (manager_id);
                CREATE TABLE manager (
                    id TEXT PRIMARY KEY,
                    profile TEXT NOT NULL
                );
                CREATE TABLE account (
                    id TEXT PRIMARY KEY,
                    client_id TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    balance TEXT,
                    last_transaction_ms INTEGER,
                    transaction_count INTEGER NOT NULL
                );
                CREATE INDEX account_client ON account (client_id);
                CREATE TABLE balance_snapshot (
                    client_id TEXT NOT NULL,
                    as_of TEXT NOT NULL,
                    aum TEXT NOT NULL,
                    deposits TEXT,
                    wealth TEXT,
                    loans TEXT,
                    PRIMARY KEY (client_id, as_of)
                );
                CREATE TABLE term_deposit (
                    id TEXT PRIMARY KEY,
                    client_id TEXT NOT NULL,
                    amount TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    open_date TEXT,
                    maturity_date TEXT NOT NULL,
                    status TEXT
                );
                CREATE INDEX term_deposit_client ON term_deposit (client_id);
                CREATE TABLE loan (
                    id TEXT PRIMARY KEY,
                    client_id TEXT NOT NULL,
                    product TEXT,
                    principal TEXT,
                    outstanding TEXT,
                    currency TEXT NOT NULL,
                    maturity_date TEXT,
                    status TEXT,
                    overdue_days INTEGER NOT NULL,
                    last_overdue_ms INTEGER,
                    repaid_date TEXT
                );
                CREATE INDEX loan_client ON loan (client_id);
                CREATE TABLE holding (
                    client_id TEXT NOT NULL,
                    product_id TEXT NOT NULL,
                    amount TEXT NOT NULL,
                    last_trade_ms INTEGER,
                    PRIMARY KEY (client_id, product_id)
                );
                CREATE TABLE financials (
                    client_id TEXT NOT NULL,
                    period TEXT NOT NULL,
                    total_assets TEXT,
                    total_liabilities TEXT,
                    operating_cash_flow TEXT,
                    revenue TEXT,
                    PRIMARY KEY (client_id, period)
                );
                CREATE TABLE lead (
                    id TEXT PRIMARY KEY,
                    key TEXT NOT NULL UNIQUE,
                    plugin TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    priority TEXT NOT NULL,
                    client_id TEXT,
                    manager_id TEXT,
                    status TEXT NOT NULL,
                    created_ms INTEGER NOT NULL,
                    journal_seq INTEGER,
                    body TEXT NOT NULL
                );
                CREATE INDEX lead_client ON lead (client_id);
                CREATE INDEX lead_manager ON lead (manager_id, created_ms);
                CREATE INDEX lead_created ON lead (created_ms);
                CREATE TABLE plugin_failure (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    plugin TEXT NOT NULL,
                    journal_seq INTEGER,
                    event_id TEXT,
                    error TEXT NOT NULL,
                    at_ms INTEGER NOT NULL
                );
                CREATE TABLE schedule_run (
                    plugin TEXT NOT NULL,
                    local_date TEXT NOT NULL,
                    scheduled_ms INTEGER NOT NULL,
                    ran_ms INTEGER NOT NULL,
                    lead_count INTEGER NOT NULL,
                    PRIMARY KEY (plugin, local_date)
                );
                """)
        }
        migrator.registerMigration("v2-ingest") { db in
            try db.execute(sql: """
                CREATE TABLE inbox_file (
                    source TEXT NOT NULL,
                    file_key TEXT NOT NULL,
                    file_name TEXT NOT NULL,
                    byte_offset INTEGER NOT NULL,
                    line INTEGER NOT NULL,
                    finished INTEGER NOT NULL,
                    updated_ms INTEGER NOT NULL,
                    PRIMARY KEY (source, file_key)
                );
                CREATE TABLE webhook_seen (
                    source TEXT NOT NULL,
                    webhook_id TEXT NOT NULL,
                    received_ms INTEGER NOT NULL,
                    PRIMARY KEY (source, webhook_id)
                );
                CREATE INDEX webhook_seen_received ON webhook_seen (received_ms);
                """)
        }
        migrator.registerMigration("v3-plugin-queries-memory") { db in
            try db.execute(sql: """
                ALTER TABLE client ADD COLUMN birthday_key INTEGER;
                ALTER TABLE client ADD COLUMN last_wealth_buy_ms INTEGER;
                ALTER TABLE account ADD COLUMN previous_transaction_ms INTEGER;
                CREATE INDEX client_birthday ON client (birthday_key);
                CREATE INDEX client_segment ON client (segment);
                CREATE INDEX client_wealth_buy ON client (last_wealth_buy_ms);
                CREATE INDEX loan_maturity ON loan (maturity_date);
                CREATE INDEX term_deposit_maturity ON term_deposit (maturity_date);
                CREATE INDEX lead_client_plugin ON lead (client_id, plugin, created_ms);
                CREATE TABLE plugin_memory (
                    client_id TEXT NOT NULL,
                    plugin TEXT NOT NULL,
                    data TEXT NOT NULL,
                    PRIMARY KEY (client_id, plugin)
                );
                """)
            // Index the birthdays of clients projected before this migration.
            let rows = try Row.fetchAll(db, sql: "SELECT id, profile FROM client WHERE profile IS NOT NULL")
            let decoder = JSONDecoder()
            for row in rows {
                let id: String = row["id"]
                let text: String = row["profile"]
                guard let profile = try? decoder.decode(ClientProfile.self, from: Data(text.utf8)),
                      let key = profile.birthdayKey else { continue }
                try db.execute(sql: "UPDATE client SET birthday_key = ? WHERE id = ?", arguments: [key, id])
            }
            // And their last wealth purchase: from the journal's buys, else the latest trade on a holding.
            try db.execute(sql: """
                UPDATE client SET last_wealth_buy_ms = (
                    SELECT MAX(time_ms) FROM journal
                    WHERE journal.client_id = client.id AND type = 'wealth.trade'
                      AND COALESCE(json_extract(data, '$.action'), 'buy') != 'redeem')
                WHERE last_wealth_buy_ms IS NULL;
                UPDATE client SET last_wealth_buy_ms = (
                    SELECT MAX(last_trade_ms) FROM holding WHERE holding.client_id = client.id)
                WHERE last_wealth_buy_ms IS NULL;
                """)
        }
        migrator.registerMigration("v4-state-without-rowid-memory-in-client") { db in
            // The projected state is written on every batch, one row per client touched, at random keys.
            // WITHOUT ROWID keeps each table one b-tree (no rowid table beside the primary-key index), which
            // halves the pages a commit dirties.
            try rebuildWithoutRowid(db, table: "client", columns: """
                id TEXT PRIMARY KEY, profile TEXT, manager_id TEXT, branch_id TEXT, segment TEXT, last_event_ms INTEGER,
                last_interaction_ms INTEGER, birthday_key INTEGER, last_wealth_buy_ms INTEGER, memory TEXT
                """, indexes: [
                "CREATE INDEX client_manager ON client (manager_id)",
                "CREATE INDEX client_birthday ON client (birthday_key)",
                "CREATE INDEX client_segment ON client (segment)",
                "CREATE INDEX client_wealth_buy ON client (last_wealth_buy_ms)",
            ])
            try rebuildWithoutRowid(db, table: "account", columns: """
                id TEXT PRIMARY KEY, client_id TEXT NOT NULL, currency TEXT NOT NULL, balance TEXT,
                last_transaction_ms INTEGER, transaction_count INTEGER NOT NULL, previous_transaction_ms INTEGER
                """, indexes: ["CREATE INDEX account_client ON account (client_id)"])
            try rebuildWithoutRowid(db, table: "balance_snapshot", columns: """
                client_id TEXT NOT NULL, as_of TEXT NOT NULL, aum TEXT NOT NULL, deposits TEXT, wealth TEXT, loans TEXT,
                PRIMARY KEY (client_id, as_of)
                """, indexes: [])
            try rebuildWithoutRowid(db, table: "term_deposit", columns: """
                id TEXT PRIMARY KEY, client_id TEXT NOT NULL, amount TEXT NOT NULL, currency TEXT NOT NULL, open_date TEXT,
                maturity_date TEXT NOT NULL, status TEXT
                """, indexes: [
                "CREATE INDEX term_deposit_client ON term_deposit (client_id)",
                "CREATE INDEX term_deposit_maturity ON term_deposit (maturity_date)",
            ])
            try rebuildWithoutRowid(db, table: "loan", columns: """
                id TEXT PRIMARY KEY, client_id TEXT NOT NULL, product TEXT, principal TEXT, outstanding TEXT,
                currency TEXT NOT NULL, maturity_date TEXT, status TEXT, overdue_days INTEGER NOT NULL,
                last_overdue_ms INTEGER, repaid_date TEXT
                """, indexes: [
                "CREATE INDEX loan_client ON loan (client_id)",
                "CREATE INDEX loan_maturity ON loan (maturity_date)",
            ])
            try rebuildWithoutRowid(db, table: "holding", columns: """
                client_id TEXT NOT NULL, product_id TEXT NOT NULL, amount TEXT NOT NULL, last_trade_ms INTEGER,
                PRIMARY KEY (client_id, product_id)
                """, indexes: [])
            try rebuildWithoutRowid(db, table: "financials", columns: """
                client_id TEXT NOT NULL, period TEXT NOT NULL, total_assets TEXT, total_liabilities TEXT,
                operating_cash_flow TEXT, revenue TEXT, PRIMARY KEY (client_id, period)
                """, indexes: [])
            // Plugin memory moves into the client row, which a client's events write anyway: one row per
            // client per batch instead of one more per plugin.
            try db.execute(sql: """
                UPDATE client SET memory = (
                    SELECT json_group_object(plugin, json(data)) FROM plugin_memory WHERE plugin_memory.client_id = client.id)
                WHERE id IN (SELECT client_id FROM plugin_memory);
                DROP TABLE plugin_memory;
                """)
        }
        migrator.registerMigration("v5-delivery") { db in
            // Leads get an explicit sequence: the router's position and the API's cursors need an order that
            // VACUUM cannot renumber (it may renumber implicit rowids).
            try db.execute(sql: """
                CREATE TABLE lead_rebuilt (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    key TEXT NOT NULL UNIQUE,
                    plugin TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    priority TEXT NOT NULL,
                    client_id TEXT,
                    manager_id TEXT,
                    status TEXT NOT NULL,
                    created_ms INTEGER NOT NULL,
                    journal_seq INTEGER,
                    body TEXT NOT NULL,
                    status_ms INTEGER
                );
                INSERT INTO lead_rebuilt (id, key, plugin, kind, priority, client_id, manager_id, status, created_ms, journal_seq, body)
                    SELECT id, key, plugin, kind, priority, client_id, manager_id, status, created_ms, journal_seq, body
                    FROM lead ORDER BY rowid;
                DROP TABLE lead;
                ALTER TABLE lead_rebuilt RENAME TO lead;
                CREATE INDEX lead_client ON lead (client_id);
                CREATE INDEX lead_manager ON lead (manager_id, created_ms);
                CREATE INDEX lead_created ON lead (created_ms);
                CREATE INDEX lead_client_plugin ON lead (client_id, plugin, created_ms);
                CREATE INDEX lead_status ON lead (status);
                CREATE INDEX lead_plugin_status ON lead (plugin, status);

                -- Leads made before delivery existed are not sent now.
                INSERT OR REPLACE INTO consumer (name, position, updated_ms)
                    SELECT 'router', COALESCE(MAX(seq), 0), CAST(strftime('%s','now') AS INTEGER) * 1000 FROM lead;

                -- The outbox: one row per message to one receiver. `id` is the delivery id (the webhook-id),
                -- stable across retries.
                CREATE TABLE delivery (
                    id TEXT PRIMARY KEY,
                    lead_id TEXT,
                    receiver TEXT NOT NULL,
                    manager_id TEXT NOT NULL,
                    route INTEGER NOT NULL,
                    purpose TEXT NOT NULL,
                    timing TEXT NOT NULL,
                    status TEXT NOT NULL,
                    parent_id TEXT,
                    members TEXT,
                    fallback TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    not_before_ms INTEGER NOT NULL,
                    next_attempt_ms INTEGER NOT NULL,
                    created_ms INTEGER NOT NULL,
                    updated_ms INTEGER NOT NULL,
                    sent_ms INTEGER,
                    last_error TEXT
                );
                CREATE INDEX delivery_due ON delivery (status, receiver, next_attempt_ms);
                CREATE INDEX delivery_lead ON delivery (lead_id);
                CREATE INDEX delivery_parent ON delivery (parent_id);
                CREATE TABLE delivery_attempt (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    delivery_id TEXT NOT NULL,
                    attempt INTEGER NOT NULL,
                    at_ms INTEGER NOT NULL,
                    duration_ms INTEGER NOT NULL,
                    http_status INTEGER,
                    outcome TEXT NOT NULL,
                    error TEXT
                );
                CREATE INDEX delivery_attempt_delivery ON delivery_attempt (delivery_id, id);
                -- A receiver target that answered 410 Gone: nothing more goes to it until an operator re-enables it.
                CREATE TABLE disabled_target (
                    receiver TEXT NOT NULL,
                    manager_id TEXT NOT NULL,
                    disabled_ms INTEGER NOT NULL,
                    reason TEXT NOT NULL,
                    PRIMARY KEY (receiver, manager_id)
                ) WITHOUT ROWID;
                -- Leads a route sent alone per manager and local day, for max_per_manager_per_day.
                CREATE TABLE route_count (
                    manager_id TEXT NOT NULL,
                    route INTEGER NOT NULL,
                    local_date TEXT NOT NULL,
                    sent INTEGER NOT NULL,
                    PRIMARY KEY (manager_id, route, local_date)
                ) WITHOUT ROWID;
                -- A lead's history: feedback, CRM interactions, suppression, routing notes. Compliance reads it.
                CREATE TABLE lead_activity (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    lead_id TEXT NOT NULL,
                    at_ms INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    outcome TEXT,
                    note TEXT,
                    actor TEXT
                );
                CREATE INDEX lead_activity_lead ON lead_activity (lead_id, id);
                CREATE TABLE snooze (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    client_id TEXT,
                    plugin TEXT,
                    kind TEXT,
                    until_ms INTEGER NOT NULL,
                    created_ms INTEGER NOT NULL,
                    note TEXT,
                    lead_id TEXT,
                    actor TEXT
                );
                CREATE INDEX snooze_until ON snooze (until_ms);
                -- CRM interactions (crm.interaction events), for the client view.
                CREATE TABLE interaction (
                    journal_seq INTEGER PRIMARY KEY,
                    client_id TEXT,
                    manager_id TEXT,
                    channel TEXT,
                    outcome TEXT,
                    lead_id TEXT,
                    at_ms INTEGER NOT NULL
                );
                CREATE INDEX interaction_client ON interaction (client_id, at_ms);
                """)
        }
        migrator.registerMigration("v6-compliance") { db in
            try db.execute(sql: """
                -- The lead whose open AML review held this lead back (an inhibit rule), or NULL.
                ALTER TABLE lead ADD COLUMN inhibited_by TEXT;
                -- A compliance officer's decision on an AML lead: cleared or reported. It ends the inhibitions the
                -- lead caused. One per lead; the history (lead_activity) keeps who and when as well.
                CREATE TABLE lead_decision (
                    lead_id TEXT PRIMARY KEY,
                    decision TEXT NOT NULL,
                    reference TEXT,
                    note TEXT,
                    actor TEXT NOT NULL,
                    at_ms INTEGER NOT NULL
                ) WITHOUT ROWID;
                -- The scope a snooze was created with: deleting it needs the same scope.
                ALTER TABLE snooze ADD COLUMN scope TEXT NOT NULL DEFAULT 'feedback';
                UPDATE snooze SET scope = 'admin' WHERE client_id IS NULL;
                """)
        }
        migrator.registerMigration("v7-snooze-limit-inhibit-index") { db in
            try db.execute(sql: """
                -- Snoozes reach at most 90 days (snooze.max_days' default) from when they were made: one made
                -- "until 9999" before this limit existed no longer silences a client for ever.
                UPDATE snooze SET until_ms = MIN(until_ms, created_ms + 90 * 86400000);
                -- Inhibit rules look up a client's open leads by kind, newest first.
                CREATE INDEX lead_client_kind ON lead (client_id, kind, created_ms);
                """)
        }
        migrator.registerMigration("v8-client-partial-indexes") { db in
            try db.execute(sql: """
                -- A client is looked up by these columns only for a value (birthdays, segments, a purchase window;
                -- the manager index is for a manager's book), never for NULL, and many clients have none (no profile
                -- yet, never bought a wealth product): indexing their NULLs cost every new client's row four index
                -- writes for nothing. A query with `column = ?`, `IN`, `>=` or `<` on the column still uses these
                -- (not a count of the table: `hasClients()` seeks the first row instead).
                DROP INDEX client_manager;
                DROP INDEX client_birthday;
                DROP INDEX client_segment;
                DROP INDEX client_wealth_buy;
                CREATE INDEX client_manager ON client (manager_id) WHERE manager_id IS NOT NULL;
                CREATE INDEX client_birthday ON client (birthday_key) WHERE birthday_key IS NOT NULL;
                CREATE INDEX client_segment ON client (segment) WHERE segment IS NOT NULL;
                CREATE INDEX client_wealth_buy ON client (last_wealth_buy_ms) WHERE last_wealth_buy_ms IS NOT NULL;
                """)
        }
        migrator.registerMigration("v9-delivery-claims") { db in
            try db.execute(sql: """
                -- Rows taken to be sent: by which instance, and until when nobody else may take them (an instance that
                -- dies holding them leaves them to another once the claim has passed).
                ALTER TABLE delivery ADD COLUMN claimed_by TEXT;
                ALTER TABLE delivery ADD COLUMN claimed_until_ms INTEGER;
                """)
        }
        migrator.registerMigration("v10-leases") { db in
            try db.execute(sql: """
                -- Instances sharing the store, each alive until its last heartbeat's end.
                CREATE TABLE cluster_instance (
                    name TEXT PRIMARY KEY,
                    alive_until_ms INTEGER NOT NULL
                );
                -- Which instance processes which partition of the clients, until when; epoch grows with each change of
                -- hands (commits are fenced by it).
                CREATE TABLE partition_lease (
                    part INTEGER PRIMARY KEY,
                    owner TEXT,
                    epoch INTEGER NOT NULL,
                    expires_ms INTEGER NOT NULL
                );
                -- Who runs a plugin's daily tick for a local date: one instance, once.
                CREATE TABLE tick_claim (
                    plugin TEXT NOT NULL,
                    local_date TEXT NOT NULL,
                    owner TEXT NOT NULL,
                    until_ms INTEGER NOT NULL,
                    done INTEGER NOT NULL,
                    PRIMARY KEY (plugin, local_date)
                );
                """)
        }
        return migrator
    }

    /// Rebuilds a table with the same columns as WITHOUT ROWID, keeping its rows, then recreates its indexes.
    private static func rebuildWithoutRowid(_ db: Database, table: String, columns: String, indexes: [String]) throws {
        let names = try db.columns(in: table).map(\.name)
        let list = names.map { "\"\($0)\"" }.joined(separator: ", ")
        try db.execute(sql: "CREATE TABLE \(table)_rebuilt (\(columns)) WITHOUT ROWID")
        try db.execute(sql: "INSERT INTO \(table)_rebuilt (\(list)) SELECT \(list) FROM \(table)")
        try db.execute(sql: "DROP TABLE \(table)")
        try db.execute(sql: "ALTER TABLE \(table)_rebuilt RENAME TO \(table)")
        for index in indexes { try db.execute(sql: index) }
    }
}
