import Foundation

/// Work started on another thread now, its result waited for later: the read-ahead of a file's next chunk, the
/// decoding of the inbox's next group while the one before commits. `value` blocks until it is done.
public final class BackgroundWork<Value: Sendable>: @unchecked Sendable {
    private let done = DispatchGroup()
    /// Written once on the worker's thread before `done` is left; read only after waiting for it.
    private var result: Value?

    public init(_ work: @escaping @Sendable () -> Value) {
        done.enter()
        DispatchQueue.global().async {
            self.result = work()
            self.done.leave()
        }
    }

    /// The work's result, once it is done.
    public func value() -> Value {
        done.wait()
        guard let result else { preconditionFailure("BackgroundWork left its group without a result") }
        return result
    }
}

/// Holds a value until ``release()`` drops it, so that the thread calling it is the one that frees it: a large value
/// (a cache of clients, a chunk of decoded events) is then freed off the thread that was done with it. Handed from one
/// owner to the next, never shared, hence unchecked. The caller must hold no other reference, or the value is not
/// freed here but wherever that one goes.
public final class ReleasedLater<Value>: @unchecked Sendable {
    private var value: Value?

    public init(_ value: consuming Value) { self.value = value }

    public func release() { value = nil }

    /// Frees the value on another thread, at low priority.
    public func releaseInBackground() {
        Task.detached(priority: .utility) { self.release() }
    }
}
