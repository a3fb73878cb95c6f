import Synchronization

/// A flag that opens once (the HTTP listener is bound); the systemd service checks it before READY=1.
public final class ReadyGate: Sendable {
    private let state = Atomic<Bool>(false)

    public init() {}

    public func open() {
        state.store(true, ordering: .releasing)
    }

    public var isOpen: Bool { state.load(ordering: .acquiring) }

    /// Returns once open, or when the task is cancelled or shutting down.
    public func wait(polling interval: Duration = .milliseconds(20)) async {
        while !isOpen && !Task.isCancelled {
            try? await Task.sleep(for: interval)
        }
    }
}
