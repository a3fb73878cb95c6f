import Testing
@testable import InsightCore

@Suite("StateChanges: a set of state changes without hashing")
struct StateChangesTests {
    @Test func behavesAsASet() {
        var changes = StateChanges()
        #expect(changes.isEmpty)
        let inserted = [changes.insert(.account("A1")), changes.insert(.activity), changes.insert(.account("A1")),
                        changes.insert(.activity), changes.insert(.memory("risk-alerts"))]
        #expect(inserted == [true, true, false, false, true], "a second insert of the same change is not new")
        #expect(changes.count == 3)
        #expect(changes.contains(.account("A1")))
        #expect(!changes.contains(.account("A2")))
        #expect(!changes.contains(.profile))
        // Plain changes first, in declaration order, then the others as added.
        #expect(Array(changes) == [.activity, .account("A1"), .memory("risk-alerts")])
        #expect(changes == [.memory("risk-alerts"), .account("A1"), .activity], "equality ignores order")
        #expect(changes != [.account("A1"), .activity])
        #expect(Set([changes, [.activity, .memory("risk-alerts"), .account("A1")]]).count == 1, "equal sets hash alike")
    }

    @Test func unionKeepsEachChangeOnce() {
        var changes: StateChanges = [.balance, .deposit("D1")]
        changes.formUnion([.deposit("D1"), .loan("L1"), .profile] as StateChanges)
        changes.formUnion([StateChange.loan("L1"), .holding("P1")])
        #expect(changes == [.profile, .balance, .deposit("D1"), .loan("L1"), .holding("P1")])
        var empty = StateChanges()
        empty.formUnion(changes)
        #expect(empty == changes)
    }

    @Test("past sixteen others, membership goes through a set and stays exact")
    func manyChanges() {
        var changes = StateChanges()
        for round in 0..<2 {
            for index in 0..<100 {
                let inserted = changes.insert(.account("A\(index)"))
                #expect(inserted == (round == 0))
            }
        }
        #expect(changes.count == 100)
        #expect(changes.contains(.account("A99")))
        #expect(!changes.contains(.account("A100")))
        #expect(Set(changes).count == 100)
        var other = StateChanges((0..<100).reversed().map { StateChange.account("A\($0)") })
        #expect(other == changes)
        other.insert(.financials("2025"))
        #expect(other != changes)
    }
}
