import Synchronization

/// What each long-running source reports about itself, for `/readyz`.
public final class HealthBoard: Sendable {
    public enum Status: Sendable, Equatable {
        case starting
        case running
        case failed(String)
    }

    private let statuses = Mutex<[String: Status]>([:])

    public init() {}

    public func report(_ name: String, _ status: Status) {
        statuses.withLock { $0[name] = status }
    }

    /// Every reported component and its status, by name.
    public var snapshot: [String: Status] {
        statuses.withLock { $0 }
    }
}
