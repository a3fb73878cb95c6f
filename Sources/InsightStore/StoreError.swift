/// What went wrong with the state database, and what to do about it.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    case stateDirectoryNotWritable(path: String, reason: String)
    case notADatabase(path: String)
    case newerSchema(path: String, unknownMigrations: [String])
    case openFailed(path: String, reason: String)
    case corruptRow(table: String, key: String, reason: String)

    public var description: String {
        switch self {
        case .stateDirectoryNotWritable(let path, let reason):
            return "state directory \(path) is not writable (\(reason)); create it and give the insightd user write access, or set state_dir to a writable directory"
        case .notADatabase(let path):
            return "\(path) is not a valid insightd database (the file is corrupt or not SQLite); it was left untouched. Restore it from a backup, or move it aside to start with empty state"
        case .newerSchema(let path, let unknown):
            return "\(path) was written by a newer insightd (unknown migrations: \(unknown.joined(separator: ", "))); it was left untouched. Run that newer version, or restore a backup made by this one"
        case .openFailed(let path, let reason):
            return "cannot open database \(path): \(reason)"
        case .corruptRow(let table, let key, let reason):
            return "corrupt row in \(table) (\(key)): \(reason)"
        }
    }
}
