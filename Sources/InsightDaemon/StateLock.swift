import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on the state directory, held while the daemon runs, so a second `insightd run` on the
/// same state (a manual start next to the systemd unit, say) is refused instead of dispatching twice.
/// The kernel drops the lock when the process exits, however it exits.
public final class StateLock: Sendable {
    private let descriptor: Int32

    public struct Held: Error, CustomStringConvertible {
        public let path: String
        public let owner: String
        public var description: String {
            "another insightd (\(owner)) is already running on this state directory (lock \(path)); stop it first, or give this one its own state_dir"
        }
    }

    /// Takes the lock or throws ``Held`` naming the process that has it.
    public init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent("insightd.lock")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Held(path: path, owner: "unknown: cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let owner = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw Held(path: path, owner: owner.map { $0.isEmpty ? "pid unknown" : "pid \($0)" } ?? "pid unknown")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        descriptor = fd
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
