import Foundation
import InsightCore
import InsightStore
import PostgresNIO

/// One column of a table in the store's schema.
public struct PostgresColumn: Sendable, Equatable {
    public var name: String
    /// `information_schema`'s data type (`bigint`, `text`, `boolean`, `bytea`, `integer`).
    public var type: String
    /// Filled from a sequence (`BIGSERIAL`): the sequence is moved past the imported values.
    public var serial: Bool
}

/// Moving an installation into the store (`insightd migrate-store`): everything in one transaction on one connection,
/// so that a failure leaves the target as it was.
public struct PostgresImport {
    let session: PostgresSession

    /// Every table of the schema with its columns, in order.
    public func tables() throws -> [String: [PostgresColumn]] {
        var tables: [String: [PostgresColumn]] = [:]
        for row in try session.rows("""
            SELECT table_name::text, column_name::text, data_type::text, COALESCE(column_default, '') LIKE 'nextval(%'
            FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position
            """) {
            let (table, column, type, serial) = try row.decode((String, String, String, Bool).self)
            tables[table, default: []].append(PostgresColumn(name: column, type: type, serial: serial))
        }
        return tables
    }

    /// The table's primary-key columns, in key order.
    public func primaryKey(_ table: String) throws -> [String] {
        try session.rows("""
            SELECT a.attname::text FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = (quote_ident(current_schema()) || '.' || quote_ident(\(table)))::regclass AND i.indisprimary
            ORDER BY array_position(i.indkey::int2[], a.attnum)
            """).map { try $0.decode(String.self) }
    }

    public func rowCount(_ table: String) throws -> Int {
        try session.value(Int.self, PostgresQuery(unsafeSQL: "SELECT COUNT(*)::bigint FROM \(Self.quoted(table))")) ?? 0
    }

    /// Inserts rows (values in `columns`' order) in one statement.
    public func insert(table: String, columns: [PostgresColumn], rows: [[StoredValue]]) throws {
        guard !rows.isEmpty else { return }
        var records = RecordSet()
        for row in rows {
            records.row { record in
                for (column, value) in zip(columns, row) { record.value(column, value) }
            }
        }
        let names = columns.map { Self.quoted($0.name) }.joined(separator: ", ")
        let definitions = columns.map { "\(Self.quoted($0.name)) \($0.type)" }.joined(separator: ", ")
        var query = PostgresQuery(unsafeSQL: """
            INSERT INTO \(Self.quoted(table)) (\(names)) SELECT \(names) FROM json_to_recordset($1::json) AS x(\(definitions))
            """)
        query.binds.append(records.json, context: .default)
        try session.execute(query)
    }

    /// Moves each sequence-filled column's sequence past the largest value imported, and past `floor` (a number the
    /// source handed out before, for a row it has deleted since).
    public func advanceSequences(table: String, columns: [PostgresColumn], floor: Int64 = 0) throws {
        for column in columns where column.serial {
            try session.execute(PostgresQuery(unsafeSQL: """
                SELECT setval(pg_get_serial_sequence(\(Self.literal(Self.quoted(table))), \(Self.literal(column.name))),
                              GREATEST(COALESCE((SELECT MAX(\(Self.quoted(column.name))) FROM \(Self.quoted(table))), 0),
                                       \(floor)) + 1, false)
                """))
        }
    }

    /// The first column of the first row as text, if any.
    public func value(_ sql: String) throws -> String? {
        try session.rows(PostgresQuery(unsafeSQL: sql)).first.flatMap { try $0.decode(String?.self) }
    }

    /// Every row's `columns` as text (NULL as nil), ordered by `orderBy` byte for byte: booleans as `1`/`0`, bytes as
    /// lowercase hex, the rest as PostgreSQL writes them (integers as decimal). For a checksum against the source.
    public func textRows(table: String, columns: [PostgresColumn], orderBy: [String], _ body: ([String?]) -> Void) throws {
        let expressions = columns.map { column -> String in
            let name = Self.quoted(column.name)
            switch column.type {
            case "boolean": return "CASE WHEN \(name) IS NULL THEN NULL WHEN \(name) THEN '1' ELSE '0' END"
            case "bytea": return "encode(\(name), 'hex')"
            default: return "\(name)::text"
            }
        }.joined(separator: ", ")
        let order = orderBy.map { name -> String in
            let type = columns.first { $0.name == name }?.type ?? "text"
            // Qualified: a bare name would sort by the output column of that name (the text cast).
            return type == "text" ? "t.\(Self.quoted(name)) COLLATE \"C\"" : "t.\(Self.quoted(name))"
        }.joined(separator: ", ")
        // A cursor, a page at a time: a journal of millions of rows is never held whole.
        try session.execute(PostgresQuery(unsafeSQL: """
            DECLARE insightd_export NO SCROLL CURSOR FOR SELECT \(expressions) FROM \(Self.quoted(table)) AS t ORDER BY \(order)
            """))
        while true {
            let page = try session.rows(PostgresQuery(unsafeSQL: "FETCH 5000 FROM insightd_export"))
            for row in page {
                var cells: [String?] = []
                cells.reserveCapacity(columns.count)
                for cell in row { cells.append(try cell.decode(String?.self)) }
                body(cells)
            }
            if page.count < 5000 { break }
        }
        try session.execute("CLOSE insightd_export")
    }

    public func execute(_ sql: String) throws {
        try session.execute(PostgresQuery(unsafeSQL: sql))
    }

    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// How a text cell reads back once stored here (U+0000 cannot be: it becomes U+FFFD, as every write does).
    public static func storedText(_ text: String) -> String { storable(text) }
}

extension RecordSet {
    /// A SQLite value for a column of `column.type`: integers stay numbers (booleans become true/false), bytes go as
    /// `\x` hex (bytea's text form).
    mutating func value(_ column: PostgresColumn, _ value: StoredValue) {
        switch value {
        case .null: string(column.name, nil)
        case .integer(let number):
            if column.type == "boolean" { bool(column.name, number != 0) } else { int(column.name, number) }
        case .real(let number): raw(column.name, number.isFinite ? String(number) : "null")
        case .text(let text): string(column.name, text)
        case .blob(let bytes): string(column.name, "\\x" + bytes.map { String(format: "%02x", $0) }.joined())
        }
    }
}

extension PostgresStore {
    /// Runs `body` in one transaction on one synchronous connection (see ``PostgresImport``).
    public func importing<T>(_ body: (PostgresImport) throws -> T) throws -> T {
        try blocking().transaction { session in try body(PostgresImport(session: session)) }
    }
}
