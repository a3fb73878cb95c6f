import Foundation

/// Maps a large index range across the cores in contiguous slices and returns the results in order.
/// Used where decoding dominates (journal reads, inbox files); small inputs run on the calling thread.
public enum ParallelMap {
    public static func map<T: Sendable>(count: Int, minimumForParallel: Int = 512,
                                        _ transform: @Sendable (Int) -> T) -> [T] {
        slices(count: count, minimum: minimumForParallel) { $0.map(transform) }.flatMap { $0 }
    }

    public static func tryMap<T: Sendable>(count: Int, minimumForParallel: Int = 512,
                                           _ transform: @Sendable (Int) throws -> T) throws -> [T] {
        try slices(count: count, minimum: minimumForParallel) { range in Result { try range.map(transform) } }
            .flatMap { try $0.get() }
    }

    /// Runs `body` once per contiguous slice of `0..<count` (one slice per core, at most `maximumSlices`, or one
    /// slice below `minimumForParallel`), concurrently, and returns the per-slice results in order.
    public static func trySlices<R: Sendable>(count: Int, minimumForParallel: Int = 512, maximumSlices: Int = 8,
                                              _ body: @Sendable (Range<Int>) throws -> R) throws -> [R] {
        try slices(count: count, minimum: minimumForParallel, maximum: maximumSlices) { range in Result { try body(range) } }
            .map { try $0.get() }
    }

    /// Runs `body` once per slice of `0..<count`, concurrently, and returns the per-slice results in order.
    private static func slices<R: Sendable>(count: Int, minimum: Int, maximum: Int = 8,
                                            _ body: @Sendable (Range<Int>) -> R) -> [R] {
        let slices = count >= minimum ? max(1, min(ProcessInfo.processInfo.activeProcessorCount, maximum)) : 1
        if slices == 1 { return [body(0..<count)] }
        let size = (count + slices - 1) / slices
        let results = Slots<R>(count: slices)
        DispatchQueue.concurrentPerform(iterations: slices) { slice in
            results.store(slice, body(min(count, slice * size)..<min(count, (slice + 1) * size)))
        }
        return results.values
    }

    /// One write-once slot per slice; every slot is written before `values` is read.
    private final class Slots<Value>: @unchecked Sendable {
        private var slots: [Value?]
        private let lock = NSLock()

        init(count: Int) {
            slots = Array(repeating: nil, count: count)
        }

        func store(_ index: Int, _ value: Value) {
            lock.withLock { slots[index] = value }
        }

        var values: [Value] { lock.withLock { slots.compactMap { $0 } } }
    }
}
