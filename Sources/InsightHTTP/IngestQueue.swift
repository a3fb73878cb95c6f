import Foundation
import InsightCore
import InsightStore
import Logging
import ServiceLifecycle
import Synchronization

/// Group commit for webhook requests: every request waiting while one transaction commits goes into the
/// next one, so many concurrent senders share each `synchronous = FULL` fsync. A request is answered only
/// after its own events are durable. The queue is bounded; when it is full, senders are told to retry.
public final class IngestQueue: Service, Sendable {
    public enum Refusal: Error, Sendable {
        case full
        case stopping
    }

    private struct Pending {
        let submission: IngestSubmission
        let continuation: CheckedContinuation<IngestOutcome, any Error>
    }

    private struct State {
        var pending: [Pending] = []
        var waiter: CheckedContinuation<Void, Never>?
        var stopping = false
    }

    private let database: any JournalStore
    private let capacity: Int
    private let maximumBatch: Int
    private let logger: Logger
    private let onCommitted: @Sendable () -> Void
    private let state = Mutex(State())

    /// `capacity`: requests that may wait; `maximumBatch`: requests per transaction.
    public init(database: any JournalStore, capacity: Int = 10_000, maximumBatch: Int = 512, logger: Logger,
                onCommitted: @escaping @Sendable () -> Void = {}) {
        self.database = database
        self.capacity = capacity
        self.maximumBatch = maximumBatch
        self.logger = logger
        self.onCommitted = onCommitted
    }

    /// Waits until the submission is committed (or refused).
    public func submit(_ submission: IngestSubmission) async throws -> IngestOutcome {
        try await withCheckedThrowingContinuation { continuation in
            let (refusal, waiter) = state.withLock { state -> (Refusal?, CheckedContinuation<Void, Never>?) in
                if state.stopping { return (.stopping, nil) }
                if state.pending.count >= capacity { return (.full, nil) }
                state.pending.append(Pending(submission: submission, continuation: continuation))
                let waiter = state.waiter
                state.waiter = nil
                return (nil, waiter)
            }
            if let refusal { continuation.resume(throwing: refusal) }
            waiter?.resume()
        }
    }

    /// Commits until graceful shutdown (after committing what is already queued) or cancellation (after
    /// refusing what is queued, so no sender waits forever).
    public func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                while let batch = await nextBatch() {
                    await commit(batch)
                }
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
        }
        let leftovers = state.withLock { state -> [Pending] in
            defer { state.pending = [] }
            return state.pending
        }
        for pending in leftovers { pending.continuation.resume(throwing: Refusal.stopping) }
    }

    private func stop() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.stopping = true
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// The next group of waiting requests; nil once stopping and empty.
    private func nextBatch() async -> [Pending]? {
        while true {
            // Check before taking: requests taken here must be committed, never dropped.
            if Task.isCancelled { return nil }
            let taken = state.withLock { state -> [Pending]? in
                if state.pending.isEmpty { return state.stopping ? nil : [] }
                let count = min(maximumBatch, state.pending.count)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            guard let taken else { return nil }
            if !taken.isEmpty { return taken }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if !state.pending.isEmpty || state.stopping { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    private func commit(_ batch: [Pending]) async {
        do {
            let outcomes = try await database.appendSubmissions(batch.map(\.submission), receivedAt: Date())
            for (pending, outcome) in zip(batch, outcomes) { pending.continuation.resume(returning: outcome) }
            onCommitted()
        } catch {
            logger.error("ingest commit failed; senders were told to retry", metadata: ["error": "\(error)", "requests": "\(batch.count)"])
            for pending in batch { pending.continuation.resume(throwing: error) }
        }
    }
}
