import Foundation

/// Work started on another thread now, its result waited for later: the read-ahead of a file's next chunk, the
/// decoding of the inbox's next group while the one before commits, a checkpoint's next chunk of clients encoded
/// while the one before is written. `value` blocks until it is done.
///
/// The work runs on a serial queue of its own, which libdispatch gives a thread beyond the global pool's width: on
/// `DispatchQueue.global()` it would wait for a thread of the pool that Swift's tasks run on (one per core), while
/// the caller, perhaps on one of those threads, blocks in `value` for it.
public final class BackgroundWork<Value: Sendable>: @unchecked Sendable {
    private let done = DispatchGroup()
    /// Written once on the worker's thread before `done` is left; read only after waiting for it.
    private var result: Value?

    public init(_ work: @escaping @Sendable () -> Value) {
        done.enter()
        DispatchQueue(label: "insightd.background-work").async {
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

    /// The work's result, once it is done, handed over: this object keeps no reference to it, so the caller's is the
    /// only one (and can be freed elsewhere, see ``ReleasedLater``). Call it once, and not after ``value()``.
    public func take() -> Value {
        done.wait()
        guard let taken = result else { preconditionFailure("BackgroundWork's result was taken already") }
        result = nil
        return taken
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

    /// Frees the value on another thread, at low priority; then, with `trimmingHeap`, gives the pages that left free back
    /// to the system (``ProcessHeap/trimSoon(atMostEvery:)``).
    public func releaseInBackground(trimmingHeap: Bool = false) {
        Task.detached(priority: .utility) {
            self.release()
            if trimmingHeap { ProcessHeap.trimSoon() }
        }
    }
}

/// Blocking work (a database read, a file read, a ``ParallelMap`` that waits for its slices) awaited from async code
/// without holding a thread of Swift's cooperative pool meanwhile. That pool has one thread per core, and on Linux it
/// is libdispatch's default global queue, the one `DispatchQueue.global()` runs on too: on two cores a read-ahead
/// blocking one of its threads left a batch's two shard workers taking turns on the other.
public enum BlockingWork {
    /// Runs `work` on a serial queue of its own (such a queue gets a thread beyond the pool's width) and resumes with
    /// its result. It runs to its end even if the calling task is cancelled.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "insightd.blocking-work").async { continuation.resume(with: Result { try work() }) }
        }
    }
}
