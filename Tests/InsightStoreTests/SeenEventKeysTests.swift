import Foundation
import InsightStore
import InsightTesting
import Testing

/// A replay's idempotency check on disk: the first `(source, id)` is new, every repeat is not, in one call or
/// across calls, and the same id from another source is another event.
@Suite("Seen event keys (replay's idempotency)")
struct SeenEventKeysTests {
    @Test func repeatsAreFoundWithinACallAndAcrossCalls() throws {
        let directory = TemporaryDirectory()
        let seen = try SeenEventKeys(path: directory.file("seen.sqlite"))
        #expect(try seen.insert([("crm", "e1"), ("crm", "e2"), ("crm", "e1"), ("core", "e1"), ("crm", "")])
                == [true, true, false, true, true])
        #expect(try seen.insert([("crm", "e2"), ("crm", "e3"), ("core", "e1"), ("crm", "e3"), ("crm", "")])
                == [false, true, false, false, false])
        #expect(try seen.insert([]) == [])
        #expect(try seen.count() == 5)
    }

    @Test func keysAreComparedAsWholeUTF8Texts() throws {
        let directory = TemporaryDirectory()
        let seen = try SeenEventKeys(path: directory.file("seen.sqlite"))
        // A prefix, a longer key, text past a NUL and non-ASCII text are all distinct keys.
        let keys: [(source: String, id: String)] = [("s", "事件-1"), ("s", "事件-10"), ("s", "事件-1\u{0}x"), ("s", "e\u{301}"), ("s", "é")]
        #expect(try seen.insert(keys) == [true, true, true, true, true])
        #expect(try seen.insert(keys) == [false, false, false, false, false])
    }

    @Test func aNewFileStartsEmpty() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("seen.sqlite")
        _ = try SeenEventKeys(path: path).insert([("crm", "e1")])
        let again = try SeenEventKeys(path: path)
        #expect(try again.count() == 0)
        #expect(try again.insert([("crm", "e1")]) == [true])
    }
}
