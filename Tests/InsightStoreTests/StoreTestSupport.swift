import Foundation
import InsightCore
import InsightStore
import InsightTesting

/// A real database in a fresh temporary directory. Keep the value alive for as long as the test uses the
/// database: the directory is removed when it goes away.
struct TestStore {
    let directory: TemporaryDirectory
    let database: AppDatabase

    init() throws {
        directory = TemporaryDirectory("insightd-store-test")
        database = try AppDatabase.open(directory: directory.path)
    }

    var databasePath: String { directory.file(AppDatabase.fileName) }
}

/// Opens a database and returns the error it was refused with, or nil when it opened.
func openError(directory: String) -> StoreError? {
    do {
        let database = try AppDatabase.open(directory: directory)
        try? database.close()
        return nil
    } catch {
        return error
    }
}

/// A whole-second instant from an RFC 3339 literal (whole seconds survive the `*_ms` columns exactly).
func instant(_ text: String) -> Date {
    guard let date = RFC3339.parse(text) else { preconditionFailure("bad RFC 3339 literal \(text)") }
    return date
}

func day(_ text: String) -> LocalDate {
    guard let date = LocalDate(text) else { preconditionFailure("bad date literal \(text)") }
    return date
}

func money(_ text: String) -> Decimal {
    guard let value = Decimal(exactly: text) else { preconditionFailure("bad decimal literal \(text)") }
    return value
}
