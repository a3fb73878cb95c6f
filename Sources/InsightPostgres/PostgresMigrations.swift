import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL schema, in numbered versions applied once each and recorded in `insightd_migration`.
///
/// The tables mirror SQLite's (same names, columns and meaning; times in epoch milliseconds), so that an installation
/// moves between the two row for row. A version is never edited once released: a change is a new version.
enum PostgresMigrations {
    /// The advisory lock instances take while migrating (any fixed number; this one is "insightd" in ASCII).
    static let lockKey: Int64 = 0x69_6E_73_69_67_68_74_64

    struct Migration {
        let version: Int
        let name: String
        let sql: [String]
    }

    static let all: [Migration] = [
        Migration(version: 1, name: "v1-ledger-outbox", sql: [
            """
            CREATE TABLE consumer (
                name TEXT PRIMARY KEY,
                position BIGINT NOT NULL,
                updated_ms BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE manager (
                id TEXT PRIMARY KEY,
                profile TEXT NOT NULL
            )
            """,
            // The ledger. Leads are numbered in commit order: whoever appends takes the ledger's advisory lock first
            // (see `PostgresStore.appendLeads`), so a reader that goes on from the last `seq` it saw never skips a
            // lead that committed later with a smaller number.
            """
            CREATE TABLE lead (
                seq BIGSERIAL PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                key TEXT NOT NULL UNIQUE,
                plugin TEXT NOT NULL,
                kind TEXT NOT NULL,
                priority TEXT NOT NULL,
                client_id TEXT,
                manager_id TEXT,
                status TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                journal_seq BIGINT,
                body TEXT NOT NULL,
                status_ms BIGINT,
                inhibited_by TEXT
            )
            """,
            "CREATE INDEX lead_client ON lead (client_id)",
            "CREATE INDEX lead_manager ON lead (manager_id, created_ms)",
            "CREATE INDEX lead_created ON lead (created_ms)",
            "CREATE INDEX lead_client_plugin ON lead (client_id, plugin, created_ms)",
            "CREATE INDEX lead_client_kind ON lead (client_id, kind, created_ms)",
            "CREATE INDEX lead_status ON lead (status)",
            "CREATE INDEX lead_plugin_status ON lead (plugin, status)",
            """
            CREATE TABLE lead_decision (
                lead_id TEXT PRIMARY KEY,
                decision TEXT NOT NULL,
                reference TEXT,
                note TEXT,
                actor TEXT NOT NULL,
                at_ms BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE lead_activity (
                id BIGSERIAL PRIMARY KEY,
                lead_id TEXT NOT NULL,
                at_ms BIGINT NOT NULL,
                kind TEXT NOT NULL,
                outcome TEXT,
                note TEXT,
                actor TEXT
            )
            """,
            "CREATE INDEX lead_activity_lead ON lead_activity (lead_id, id)",
            """
            CREATE TABLE snooze (
                id BIGSERIAL PRIMARY KEY,
                client_id TEXT,
                plugin TEXT,
                kind TEXT,
                until_ms BIGINT NOT NULL,
                created_ms BIGINT NOT NULL,
                note TEXT,
                lead_id TEXT,
                actor TEXT,
                scope TEXT NOT NULL DEFAULT 'feedback'
            )
            """,
            "CREATE INDEX snooze_until ON snooze (until_ms)",
            // The outbox: one row per message to one receiver; `id` is the delivery id (the webhook-id).
            """
            CREATE TABLE delivery (
                id TEXT PRIMARY KEY,
                lead_id TEXT,
                receiver TEXT NOT NULL,
                manager_id TEXT NOT NULL,
                route BIGINT NOT NULL,
                purpose TEXT NOT NULL,
                timing TEXT NOT NULL,
                status TEXT NOT NULL,
                parent_id TEXT,
                members TEXT,
                fallback TEXT,
                attempts BIGINT NOT NULL DEFAULT 0,
                not_before_ms BIGINT NOT NULL,
                next_attempt_ms BIGINT NOT NULL,
                created_ms BIGINT NOT NULL,
                updated_ms BIGINT NOT NULL,
                sent_ms BIGINT,
                last_error TEXT
            )
            """,
            "CREATE INDEX delivery_due ON delivery (status, receiver, next_attempt_ms)",
            "CREATE INDEX delivery_lead ON delivery (lead_id)",
            "CREATE INDEX delivery_parent ON delivery (parent_id)",
            """
            CREATE TABLE delivery_attempt (
                id BIGSERIAL PRIMARY KEY,
                delivery_id TEXT NOT NULL,
                attempt BIGINT NOT NULL,
                at_ms BIGINT NOT NULL,
                duration_ms BIGINT NOT NULL,
                http_status BIGINT,
                outcome TEXT NOT NULL,
                error TEXT
            )
            """,
            "CREATE INDEX delivery_attempt_delivery ON delivery_attempt (delivery_id, id)",
            """
            CREATE TABLE disabled_target (
                receiver TEXT NOT NULL,
                manager_id TEXT NOT NULL,
                disabled_ms BIGINT NOT NULL,
                reason TEXT NOT NULL,
                PRIMARY KEY (receiver, manager_id)
            )
            """,
            """
            CREATE TABLE route_count (
                manager_id TEXT NOT NULL,
                route BIGINT NOT NULL,
                local_date TEXT NOT NULL,
                sent BIGINT NOT NULL,
                PRIMARY KEY (manager_id, route, local_date)
            )
            """,
        ]),
        Migration(version: 2, name: "v2-delivery-claims", sql: [
            // Rows taken to be sent: by which instance, and until when nobody else may take them.
            "ALTER TABLE delivery ADD COLUMN claimed_by TEXT",
            "ALTER TABLE delivery ADD COLUMN claimed_until_ms BIGINT",
        ]),
        Migration(version: 3, name: "v3-journal", sql: [
            // Numbered in commit order: appenders hold the journal's advisory lock to their commit (see
            // `PostgresStore.appendSubmissions`). Ids compare byte for byte (COLLATE "C"): the unique index on
            // (source, event_id) is checked on every append, and a locale's collation costs several times more there.
            """
            CREATE TABLE journal (
                seq BIGSERIAL PRIMARY KEY,
                source TEXT COLLATE "C" NOT NULL,
                event_id TEXT COLLATE "C" NOT NULL,
                type TEXT NOT NULL,
                client_id TEXT,
                time_ms BIGINT NOT NULL,
                received_ms BIGINT NOT NULL,
                data TEXT NOT NULL,
                UNIQUE (source, event_id)
            )
            """,
            """
            CREATE TABLE quarantine (
                id BIGSERIAL PRIMARY KEY,
                received_ms BIGINT NOT NULL,
                source TEXT NOT NULL,
                origin TEXT NOT NULL,
                event_id TEXT,
                reason TEXT NOT NULL,
                payload BYTEA NOT NULL
            )
            """,
            "CREATE INDEX quarantine_received ON quarantine (received_ms)",
            """
            CREATE TABLE inbox_file (
                source TEXT NOT NULL,
                file_key TEXT NOT NULL,
                file_name TEXT NOT NULL,
                byte_offset BIGINT NOT NULL,
                line BIGINT NOT NULL,
                finished BOOLEAN NOT NULL,
                updated_ms BIGINT NOT NULL,
                PRIMARY KEY (source, file_key)
            )
            """,
            """
            CREATE TABLE webhook_seen (
                source TEXT NOT NULL,
                webhook_id TEXT NOT NULL,
                received_ms BIGINT NOT NULL,
                PRIMARY KEY (source, webhook_id)
            )
            """,
            "CREATE INDEX webhook_seen_received ON webhook_seen (received_ms)",
        ]),
        Migration(version: 4, name: "v4-leases", sql: [
            "CREATE TABLE cluster_instance (name TEXT PRIMARY KEY, alive_until_ms BIGINT NOT NULL)",
            """
            CREATE TABLE partition_lease (
                part INTEGER PRIMARY KEY,
                owner TEXT,
                epoch BIGINT NOT NULL,
                expires_ms BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE tick_claim (
                plugin TEXT NOT NULL,
                local_date TEXT NOT NULL,
                owner TEXT NOT NULL,
                until_ms BIGINT NOT NULL,
                done BOOLEAN NOT NULL,
                PRIMARY KEY (plugin, local_date)
            )
            """,
        ]),
        Migration(version: 5, name: "v5-state-partitions", sql: [
            // The projected client state, as SQLite's (ids compared byte for byte, as there).
            """
            CREATE TABLE client (
                id TEXT COLLATE "C" PRIMARY KEY,
                profile TEXT,
                manager_id TEXT,
                branch_id TEXT,
                segment TEXT,
                last_event_ms BIGINT,
                last_interaction_ms BIGINT,
                birthday_key INTEGER,
                last_wealth_buy_ms BIGINT,
                memory TEXT
            )
            """,
            "CREATE INDEX client_manager ON client (manager_id) WHERE manager_id IS NOT NULL",
            "CREATE INDEX client_birthday ON client (birthday_key) WHERE birthday_key IS NOT NULL",
            "CREATE INDEX client_segment ON client (segment) WHERE segment IS NOT NULL",
            "CREATE INDEX client_wealth_buy ON client (last_wealth_buy_ms) WHERE last_wealth_buy_ms IS NOT NULL",
            """
            CREATE TABLE account (
                id TEXT COLLATE "C" PRIMARY KEY,
                client_id TEXT COLLATE "C" NOT NULL,
                currency TEXT NOT NULL,
                balance TEXT,
                last_transaction_ms BIGINT,
                transaction_count BIGINT NOT NULL,
                previous_transaction_ms BIGINT
            )
            """,
            "CREATE INDEX account_client ON account (client_id)",
            """
            CREATE TABLE balance_snapshot (
                client_id TEXT COLLATE "C" NOT NULL,
                as_of TEXT COLLATE "C" NOT NULL,
                aum TEXT NOT NULL,
                deposits TEXT,
                wealth TEXT,
                loans TEXT,
                PRIMARY KEY (client_id, as_of)
            )
            """,
            """
            CREATE TABLE term_deposit (
                id TEXT COLLATE "C" PRIMARY KEY,
                client_id TEXT COLLATE "C" NOT NULL,
                amount TEXT NOT NULL,
                currency TEXT NOT NULL,
                open_date TEXT,
                maturity_date TEXT COLLATE "C" NOT NULL,
                status TEXT
            )
            """,
            "CREATE INDEX term_deposit_client ON term_deposit (client_id)",
            "CREATE INDEX term_deposit_maturity ON term_deposit (maturity_date)",
            """
            CREATE TABLE loan (
                id TEXT COLLATE "C" PRIMARY KEY,
                client_id TEXT COLLATE "C" NOT NULL,
                product TEXT,
                principal TEXT,
                outstanding TEXT,
                currency TEXT NOT NULL,
                maturity_date TEXT COLLATE "C",
                status TEXT,
                overdue_days BIGINT NOT NULL,
                last_overdue_ms BIGINT,
                repaid_date TEXT
            )
            """,
            "CREATE INDEX loan_client ON loan (client_id)",
            "CREATE INDEX loan_maturity ON loan (maturity_date)",
            """
            CREATE TABLE holding (
                client_id TEXT COLLATE "C" NOT NULL,
                product_id TEXT COLLATE "C" NOT NULL,
                amount TEXT NOT NULL,
                last_trade_ms BIGINT,
                PRIMARY KEY (client_id, product_id)
            )
            """,
            """
            CREATE TABLE financials (
                client_id TEXT COLLATE "C" NOT NULL,
                period TEXT COLLATE "C" NOT NULL,
                total_assets TEXT,
                total_liabilities TEXT,
                operating_cash_flow TEXT,
                revenue TEXT,
                PRIMARY KEY (client_id, period)
            )
            """,
            """
            CREATE TABLE interaction (
                journal_seq BIGINT PRIMARY KEY,
                client_id TEXT,
                manager_id TEXT,
                channel TEXT,
                outcome TEXT,
                lead_id TEXT,
                at_ms BIGINT NOT NULL
            )
            """,
            "CREATE INDEX interaction_client ON interaction (client_id, at_ms)",
            """
            CREATE TABLE plugin_failure (
                id BIGSERIAL PRIMARY KEY,
                plugin TEXT NOT NULL,
                journal_seq BIGINT,
                event_id TEXT,
                error TEXT NOT NULL,
                at_ms BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE schedule_run (
                plugin TEXT NOT NULL,
                local_date TEXT NOT NULL,
                scheduled_ms BIGINT NOT NULL,
                ran_ms BIGINT NOT NULL,
                lead_count BIGINT NOT NULL,
                PRIMARY KEY (plugin, local_date)
            )
            """,
            // Each event's client hash (`ClientPartitions.hash`), from which its partition follows; 0 without a client.
            "ALTER TABLE journal ADD COLUMN client_hash INTEGER NOT NULL DEFAULT 0",
            // How far each partition's events are handled: its state, leads and this position commit together.
            """
            CREATE TABLE partition_offset (
                part INTEGER PRIMARY KEY,
                position BIGINT NOT NULL,
                updated_ms BIGINT NOT NULL
            )
            """,
            // Settings every instance must agree on (the partition count), fixed by the first instance to start.
            "CREATE TABLE cluster_setting (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ]),
        Migration(version: 6, name: "v6-state-fillfactor", sql: [
            // Every batch updates its clients' rows in place. With room left on each page, an update that changes no
            // indexed column stays on its page (a HOT update) and touches no index: one instance's dispatch went from
            // 12.1–12.2 s to 10.5–11.5 s on `deploy/bench/cluster.sh`'s journal. New pages only; existing ones as
            // they are rewritten.
            "ALTER TABLE client SET (fillfactor = 70)",
            "ALTER TABLE account SET (fillfactor = 70)",
            "ALTER TABLE term_deposit SET (fillfactor = 70)",
            "ALTER TABLE loan SET (fillfactor = 70)",
            "ALTER TABLE holding SET (fillfactor = 70)",
            "ALTER TABLE financials SET (fillfactor = 70)",
        ]),
        Migration(version: 7, name: "v7-partition-state-position", sql: [
            // How far each partition's client state is written, at most its `position` (leads and outputs): a cluster's
            // dispatchers write state at checkpoints. NULL: at `position` (rows of v5 and v6, and `migrate-store`'s).
            "ALTER TABLE partition_offset ADD COLUMN state_position BIGINT",
            // What each run can do: a run of this release heartbeats `state-checkpoints`; an older one leaves it NULL,
            // and while one is alive the others write their state with every batch (it reads state as at `position`).
            "ALTER TABLE cluster_instance ADD COLUMN features TEXT",
        ]),
    ]

    /// Applies the versions not applied yet, in order, inside the caller's transaction (which holds the lock).
    static func apply(_ session: PostgresSession, logger: Logger) throws {
        try session.execute("""
            CREATE TABLE IF NOT EXISTS insightd_migration (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """)
        let applied = Set(try session.rows("SELECT version FROM insightd_migration").map { try $0.decode(Int.self) })
        if let newest = applied.max(), newest > (all.last?.version ?? 0) {
            throw NewerSchema(version: newest)
        }
        for migration in all where !applied.contains(migration.version) {
            for statement in migration.sql { try session.execute(PostgresQuery(unsafeSQL: statement)) }
            try session.execute("INSERT INTO insightd_migration (version, name) VALUES (\(migration.version), \(migration.name))")
            logger.info("store migrated", metadata: ["store.migration": "\(migration.name)"])
        }
    }

    /// The database was migrated by a newer insightd: this one does not know its tables.
    struct NewerSchema: Error, CustomStringConvertible {
        let version: Int
        var description: String {
            "the PostgreSQL store is at schema version \(version), newer than this insightd knows "
                + "(\(PostgresMigrations.all.last?.version ?? 0)): run the newer insightd, or restore a backup"
        }
    }
}
