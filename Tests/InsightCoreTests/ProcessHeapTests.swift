import Foundation
import Testing
@testable import InsightCore

struct ProcessHeapTests {
    /// Resident anonymous memory, in bytes (nil where /proc does not say).
    private static func residentAnonymous() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("RssAnon:") {
            return Int(line.filter(\.isNumber)).map { $0 * 1024 }
        }
        return nil
    }

    /// What a cache that let clients go leaves: many small chunks freed between a few that stay. They stay resident
    /// until the heap is trimmed. Tried a few times: the tests run in parallel in this process, and another's trim or
    /// allocations between the two readings can hide the drop.
    @Test func aTrimGivesBackThePagesLeftFree() throws {
        #if canImport(Glibc)
        var drops: [Int] = []
        for _ in 0..<5 {
            var blocks: [[UInt8]] = []
            blocks.reserveCapacity(96_000)
            for index in 0..<96_000 { blocks.append([UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 1_000)) }
            var kept: [[UInt8]] = []
            for index in stride(from: 0, to: blocks.count, by: 64) { kept.append(blocks[index]) }
            blocks = []
            let before = try #require(Self.residentAnonymous())
            ProcessHeap.trimNow()
            let after = try #require(Self.residentAnonymous())
            drops.append(before - after)
            #expect(kept.count == 1_500)
            if before - after > 30_000_000 { break }
        }
        #expect(drops.contains { $0 > 30_000_000 }, "of 96 MB freed in 1 kB chunks, most pages go back: drops \(drops)")
        #endif
    }

    @Test func aTrimComesAtMostOncePerInterval() {
        _ = ProcessHeap.isDue(.seconds(3600))
        #expect(!ProcessHeap.isDue(.seconds(3600)), "the second within the hour is skipped")
        #expect(ProcessHeap.isDue(.zero), "an interval of zero trims every time")
        #expect(!ProcessHeap.trimSoon(atMostEvery: .seconds(3600)), "nor is a trim started")
    }
}
