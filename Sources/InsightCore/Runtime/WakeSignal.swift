import Synchronization

/// Wakes one idle loop early (e.g. the dispatcher when events were just journaled in this process).
/// Wake-ups coalesce: many while the loop is busy count as one.
public final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var generation: UInt64 = 0
        var expired: UInt64 = 0
        var waiter: (generation: UInt64, continuation: CheckedContinuation<Void, Never>)?
    }

    private let state = Mutex(State())

    public init() {}

    public func wake() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }

    /// Returns after a wake-up or the timeout, whichever comes first. One waiter at a time.
    public func wait(timeout: Duration) async {
        let generation = state.withLock { state in
            state.generation += 1
            return state.generation
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
                self.expire(generation)
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.pending || state.expired >= generation {
                        state.pending = false
                        return true
                    }
                    state.waiter = (generation, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            group.cancelAll()
        }
    }

    private func expire(_ generation: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.expired = max(state.expired, generation)
            guard let waiter = state.waiter, waiter.generation == generation else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }
}
