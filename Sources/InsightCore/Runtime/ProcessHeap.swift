import Foundation
import Synchronization

/// The process's heap, as glibc's allocator keeps it.
///
/// glibc does not give memory back to the system while a page of it holds one live allocation, and it keeps freed
/// chunks in each thread's arena for the next allocation there. A dispatcher whose client cache lets clients go
/// frees tens of megabytes in scattered chunks that stay resident: with a cache of a quarter of the book, 82 MB in use
/// at the end of `insightd-bench plugins` against 319 MB resident. ``trimSoon(atMostEvery:)`` hands the wholly free
/// pages back (`malloc_trim`).
public enum ProcessHeap {
    private static let lastTrim = Mutex<ContinuousClock.Instant?>(nil)
    private static let queue = DispatchQueue(label: "insightd.heap-trim", qos: .utility)

    /// Gives the free pages back to the system on a thread of its own (not one of the pool's that Swift's tasks run
    /// on), unless that was done less than `interval` ago. A trim walks every arena's free chunks, holding each
    /// arena's lock meanwhile: about 45 ms for a heap of 400 MB, during which the threads allocating from that arena
    /// wait. Returns whether a trim was started.
    @discardableResult
    public static func trimSoon(atMostEvery interval: Duration = .seconds(2)) -> Bool {
        guard isDue(interval) else { return false }
        queue.async { trimNow() }
        return true
    }

    /// Whether a trim is due, `interval` after the last one; if it is, the time is taken as the last one's.
    static func isDue(_ interval: Duration) -> Bool {
        lastTrim.withLock { last in
            let now = ContinuousClock.now
            if let previous = last, previous.duration(to: now) < interval { return false }
            last = now
            return true
        }
    }

    /// Gives the free pages back to the system now, on the calling thread.
    public static func trimNow() {
        #if canImport(Glibc)
        // Looked up at run time: the Glibc module does not export it to Swift.
        guard let trim = mallocTrim else { return }
        _ = trim(0)
        #endif
    }

    #if canImport(Glibc)
    private typealias MallocTrim = @convention(c) (Int) -> Int32
    private static let mallocTrim: MallocTrim? = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim")
        .map { unsafeBitCast($0, to: MallocTrim.self) }
    #endif
}
