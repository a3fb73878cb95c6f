import Foundation
import GRDB

/// A stored value as SQLite holds it, for moving an installation to another store (`insightd migrate-store`).
public enum StoredValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

extension AppDatabase {
    /// The tables of the database, by name (SQLite's and GRDB's own left out).
    public func tableNames() throws -> [String] {
        try pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%'
                ORDER BY name
                """)
        }
    }

    /// A table's columns, in their order.
    public func tableColumns(_ table: String) throws -> [String] {
        try pool.read { db in try db.columns(in: table).map(\.name) }
    }

    /// Streams `columns` of every row of `table`, ordered by `orderBy`, `batchSize` rows at a time, all from one read
    /// transaction (one snapshot, however long the caller takes with each batch).
    public func exportRows(table: String, columns: [String], orderBy: [String], batchSize: Int = 5000,
                           _ body: ([[StoredValue]]) throws -> Void) throws {
        let list = columns.map(Self.quoted).joined(separator: ", ")
        let order = orderBy.map(Self.quoted).joined(separator: ", ")
        try pool.read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT \(list) FROM \(Self.quoted(table)) ORDER BY \(order)")
            var batch: [[StoredValue]] = []
            batch.reserveCapacity(batchSize)
            while let row = try rows.next() {
                batch.append((0..<columns.count).map { index in
                    switch row[index] as DatabaseValue? {
                    case nil: return .null
                    case let value?:
                        switch value.storage {
                        case .null: return .null
                        case .int64(let number): return .integer(number)
                        case .double(let number): return .real(number)
                        case .string(let text): return .text(text)
                        case .blob(let data): return .blob(Array(data))
                        }
                    }
                })
                if batch.count == batchSize {
                    try body(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { try body(batch) }
        }
    }

    /// The dispatcher's positions as stored, without recording anything.
    public func storedDispatcherPositions() throws -> DispatcherPositions {
        try pool.read { db in try Self.dispatcherPositions(db) }
    }

    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
