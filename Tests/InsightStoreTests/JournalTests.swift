import Foundation
import InsightCore
import InsightStore
import InsightTesting
import Testing

@Suite("Journal: append, idempotency, reading back, consumer positions")
struct JournalTests {
    let received = instant("2026-11-20T10:00:05+08:00")

    @Test func appendAssignsStrictlyIncreasingSequenceNumbers() throws {
        let store = try TestStore()
        let first = try store.database.append([
            EventFixtures.transaction("E1", client: "C1", amount: "1.00"),
            EventFixtures.transaction("E2", client: "C1", amount: "2.00"),
            EventFixtures.transaction("E3", client: "C2", amount: "3.00"),
        ], receivedAt: received)
        let second = try store.database.append([
            EventFixtures.transaction("E4", client: "C1", amount: "4.00"),
            EventFixtures.transaction("E5", client: "C3", amount: "5.00"),
        ], receivedAt: received)

        let all = (first.sequences + second.sequences).compactMap { $0 }
        #expect(all.count == 5)
        #expect(zip(all, all.dropFirst()).allSatisfy { $0 < $1 })
        #expect(all.first == 1)
        #expect(first.acceptedCount == 3)
        #expect(first.duplicateCount == 0)
    }

    @Test func appendingNothingReturnsNoSequences() throws {
        let store = try TestStore()
        let outcome = try store.database.append([], receivedAt: received)
        #expect(outcome.sequences.isEmpty)
        #expect(try store.database.journalHead() == 0)
    }

    @Test func aRepeatInALaterBatchIsReportedAndNotStored() throws {
        let store = try TestStore()
        _ = try store.database.append([EventFixtures.transaction("E1", client: "C1", amount: "1.00")], receivedAt: received)

        // Same id and source, even with different content: the first one wins.
        let again = try store.database.append([
            EventFixtures.transaction("E1", client: "C1", amount: "999.00"),
            EventFixtures.transaction("E2", client: "C1", amount: "2.00"),
        ], receivedAt: received)

        #expect(again.sequences.first == .some(nil))
        let newSequence = try #require(again.sequences.last ?? nil)
        #expect(newSequence > 1)
        #expect(again.acceptedCount == 1)
        #expect(again.duplicateCount == 1)
        #expect(try store.database.journalCount() == 2)
        let events = try store.database.readJournal(after: 0, limit: 10)
        #expect(events.map(\.id) == ["E1", "E2"])
        #expect(events.map(\.sequence) == [1, newSequence])
        #expect(events.first?.data["amount"] == .string("1.00"))
    }

    @Test func aRepeatWithinOneBatchIsReportedAndNotStored() throws {
        let store = try TestStore()
        let outcome = try store.database.append([
            EventFixtures.transaction("E1", client: "C1", amount: "1.00"),
            EventFixtures.transaction("E1", client: "C1", amount: "1.00"),
            EventFixtures.transaction("E2", client: "C1", amount: "2.00"),
        ], receivedAt: received)

        try #require(outcome.sequences.count == 3)
        let first = try #require(outcome.sequences[0])
        let third = try #require(outcome.sequences[2])
        #expect(outcome.sequences[1] == nil)
        #expect(first < third)
        #expect(try store.database.journalCount() == 2)
        #expect(try store.database.readJournal(after: 0, limit: 10).map(\.sequence) == [first, third])
    }

    @Test func theSameIdFromAnotherSourceIsADifferentEvent() throws {
        let store = try TestStore()
        let outcome = try store.database.append([
            EventFixtures.event("E1", EventType.crmInteraction, client: "C1", source: "crm", data: ["channel": .string("call")]),
            EventFixtures.event("E1", EventType.crmInteraction, client: "C1", source: "core-banking",
                                data: ["channel": .string("visit")]),
        ], receivedAt: received)

        #expect(outcome.sequences == [1, 2])
        let events = try store.database.readJournal(after: 0, limit: 10)
        #expect(events.map(\.source) == ["crm", "core-banking"])
    }

    @Test func readJournalReturnsEventsInOrderWithTheirDataIntact() throws {
        let store = try TestStore()
        let transaction = EventFixtures.transaction("E1", client: "C1", amount: "1234.50", at: "2026-11-20T09:30:00+08:00")
        let balance = EventFixtures.event("E2", EventType.accountBalance, client: "C1", at: "2026-11-20T23:59:59+08:00", data: [
            "asOf": .string("2026-11-20"), "aum": .number("800000.10"), "deposits": .number("1e3"),
            "nested": .object(["flag": .bool(true), "none": .null, "list": .array([.number("-0.50"), .string("中文")])]),
        ])
        let unknown = EventFixtures.event("E3", "insurance.policy", client: nil, source: "insurer", data: [:])
        _ = try store.database.append([transaction, balance, unknown], receivedAt: received)

        let events = try store.database.readJournal(after: 0, limit: 10)

        try #require(events.count == 3)
        #expect(events.map(\.sequence) == [1, 2, 3])
        #expect(events[0].data["amount"] == .string("1234.50"))
        #expect(events[1].data["aum"] == .number("800000.10"))
        #expect(events[1].data["deposits"] == .number("1e3"))
        // Apart from the sequence, every field comes back exactly as appended.
        for (stored, original) in zip(events, [transaction, balance, unknown]) {
            var expected = original
            expected.sequence = stored.sequence
            #expect(stored == expected)
        }
        #expect(events[2].clientId == nil)
        #expect(events[2].time == instant("2026-11-20T10:00:00+08:00"))
    }

    /// `data` comes back as its members (up to 16) or as a dictionary (more): both read the same, by key and whole.
    @Test(arguments: [0, 1, 16, 17, 40])
    func readJournalGivesTheSameDataWhateverItsSize(members count: Int) throws {
        let store = try TestStore()
        var data: [String: JSONValue] = [:]
        for index in 0..<count { data["k\(index)"] = index.isMultiple(of: 2) ? .number("\(index).50") : .string("值\(index)") }
        let event = EventFixtures.event("E1", "insurance.policy", client: "C1", source: "insurer", data: data)
        _ = try store.database.append([event], receivedAt: received)
        let stored = try #require(try store.database.readJournal(after: 0, limit: 1).first)
        #expect(stored.data == .object(data))
        #expect(stored.dataIsObject)
        for (key, value) in data { #expect(stored.field(key) == value, "\(key)") }
        #expect(stored.field("k\(count)") == nil)
        var expected = event
        expected.sequence = stored.sequence
        #expect(stored == expected)
    }

    @Test(arguments: [(0 as Int64, 2, ["E1", "E2"]), (2, 2, ["E3", "E4"]), (3, 10, ["E4", "E5"]), (5, 10, []), (0, 0, [])])
    func readJournalPagesAfterAPosition(after position: Int64, limit: Int, expected: [String]) throws {
        let store = try TestStore()
        _ = try store.database.append((1...5).map { EventFixtures.transaction("E\($0)", client: "C1", amount: "\($0).00") },
                                      receivedAt: received)

        let page = try store.database.readJournal(after: position, limit: limit)

        #expect(page.map(\.id) == expected)
        #expect(page.allSatisfy { $0.sequence > position })
    }

    @Test func journalHeadIsTheHighestSequenceAssigned() throws {
        let store = try TestStore()
        #expect(try store.database.journalHead() == 0)

        _ = try store.database.append([
            EventFixtures.transaction("E1", client: "C1", amount: "1.00"),
            EventFixtures.transaction("E2", client: "C1", amount: "2.00"),
        ], receivedAt: received)
        #expect(try store.database.journalHead() == 2)

        // A duplicate is not journaled, so no sequence number was assigned to it: the head must stay.
        let duplicate = try store.database.append([EventFixtures.transaction("E2", client: "C1", amount: "2.00")],
                                                  receivedAt: received)
        #expect(duplicate.sequences == [nil])
        #expect(try store.database.readJournal(after: 0, limit: 10).last?.sequence == 2)
        let head = try store.database.journalHead()
        #expect(head == 2)


        let next = try store.database.append([EventFixtures.transaction("E3", client: "C1", amount: "3.00")],
                                             receivedAt: received)
        let sequence = try #require(next.sequences.first ?? nil)
        #expect(try store.database.journalHead() == sequence)
        #expect(try store.database.readJournal(after: 0, limit: 10).last?.sequence == sequence)
    }

    @Test func consumerPositionsDefaultToZeroAndCanBeMovedEitherWay() throws {
        let store = try TestStore()
        let now = instant("2026-11-20T10:00:00+08:00")
        #expect(try store.database.consumerPosition(AppDatabase.dispatcherConsumer) == 0)

        try store.database.setConsumerPosition(AppDatabase.dispatcherConsumer, to: 7, at: now)
        #expect(try store.database.consumerPosition(AppDatabase.dispatcherConsumer) == 7)
        #expect(try store.database.consumerPosition("backtest") == 0)

        // Reprocessing moves it back.
        try store.database.setConsumerPosition(AppDatabase.dispatcherConsumer, to: 3, at: now)
        #expect(try store.database.consumerPosition(AppDatabase.dispatcherConsumer) == 3)

        try store.database.setConsumerPosition("backtest", to: 11, at: now)
        #expect(try store.database.consumerPosition("backtest") == 11)
        #expect(try store.database.consumerPosition(AppDatabase.dispatcherConsumer) == 3)
    }
}
