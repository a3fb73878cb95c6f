import Foundation

/// A fresh directory under the system temporary directory, removed when the value is deinitialized.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(_ prefix: String = "insightd-test") {
        let base = (NSTemporaryDirectory() as NSString).appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    public func file(_ name: String) -> String {
        (path as NSString).appendingPathComponent(name)
    }

    /// Writes `text` to `name` (creating folders) and returns the full path.
    @discardableResult
    public func write(_ name: String, _ text: String) -> String {
        let full = file(name)
        try? FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: full, contents: Data(text.utf8))
        return full
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
