import Foundation
import InsightCore
import InsightDaemon
import InsightTesting
import Testing

/// `insightd replay` streams its files through the dispatcher; an event out of time order sends it back to
/// the start to sort everything in memory. Whichever way it went, the output is the sorted input's.
@Suite(.serialized) struct StreamingReplayTests {
    /// A deterministic permutation (Fisher–Yates over a 64-bit LCG).
    static func shuffled<T>(_ items: [T], seed: UInt64) -> [T] {
        var items = items
        var state = seed
        for index in stride(from: items.count - 1, to: 0, by: -1) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            items.swapAt(index, Int((state >> 33) % UInt64(index + 1)))
        }
        return items
    }

    static func time(of line: String) throws -> Date {
        let text = try #require(try JSONParser.parse(line)["time"]?.stringValue)
        return try #require(RFC3339.parse(text))
    }

    /// The lines in event-time order, keeping their order among equal times: the input a streaming replay takes.
    static func stableSorted(_ lines: [String]) throws -> [String] {
        let times = try lines.map(time(of:))
        return lines.indices.sorted { (times[$0], $0) < (times[$1], $1) }.map { lines[$0] }
    }

    static func write(_ directory: TemporaryDirectory, _ name: String, _ lines: [String]) -> String {
        directory.write(name, lines.map { $0 + "\n" }.joined())
    }

    /// A simulated bank's events, smaller than ``ReplayTests/bank(_:)``'s to keep these tests quick.
    static func bankLines(_ directory: TemporaryDirectory) throws -> [String] {
        var text = ""
        _ = Commands.simulate(clients: 120, days: 12, seed: 9, events: nil, start: "2026-09-01") { text += $0 }
        return text.split(separator: "\n").map(String.init)
    }

    static func replay(_ files: [String], _ configuration: LoadedConfiguration,
                       rejection: (String) -> Void = { _ in }) async throws -> Replay.Result {
        try await Replay(configuration: configuration).run(files: files, until: nil, rejection: rejection)
    }

    /// Byte-identical output: the JSON, the table and the HTML report.
    static func expectSameOutput(_ a: Replay.Result, _ b: Replay.Result, _ comment: Comment,
                                 sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (jsonA, jsonB) = (try a.json(), try b.json())
        #expect(jsonA == jsonB, comment, sourceLocation: sourceLocation)
        #expect(a.table() == b.table(), comment, sourceLocation: sourceLocation)
        #expect(a.html(title: "r") == b.html(title: "r"), comment, sourceLocation: sourceLocation)
        if jsonA != jsonB {
            // Name the first leads that differ, to make a failure readable.
            let leadsA = try JSONParser.parse(jsonA)["leads"]?.arrayValue ?? []
            let leadsB = try JSONParser.parse(jsonB)["leads"]?.arrayValue ?? []
            for (x, y) in zip(leadsA, leadsB) where x != y {
                Issue.record("first differing lead:\n  \(JSONWriter.string(x).prefix(600))\nvs\n  \(JSONWriter.string(y).prefix(600))",
                             sourceLocation: sourceLocation)
                break
            }
        }
    }

    /// Leads handed to a stream a page at a time (as `insightd replay` writes them) make the same document, table
    /// and report as leads kept in the result, whatever the page size; the streamed result holds none of them.
    @Test func streamedLeadsMakeTheSameOutputAsKeptOnes() async throws {
        let directory = TemporaryDirectory("insightd-replay-streamed")
        let file = Self.write(directory, "bank.ndjson", try Self.bankLines(directory))
        let configuration = try ReplayTests.shippedConfig(directory)
        let kept = try await Replay(configuration: configuration).run(files: [file], until: nil)
        #expect(kept.leads.count > 20, "enough leads to cross pages")
        #expect(kept.tally.total == kept.leads.count)
        #expect(kept.perPlugin.map(\.1).reduce(0, +) == kept.leads.count)
        #expect(Dictionary(uniqueKeysWithValues: kept.perKind)
                == Dictionary(grouping: kept.leads, by: { "\($0.plugin)/\($0.kind)" }).mapValues(\.count),
                "the tally counts what was kept")
        for page in [1, 7, kept.leads.count, kept.leads.count + 1] {
            var replay = Replay(configuration: configuration)
            replay.leadPage = page
            var document = ""
            var first = true
            var streamedIds: [String] = []
            let timeZone = configuration.pipelineSettings.timeZone
            let stream = Replay.LeadStream(
                begin: { events, days in document += Replay.Result.jsonHead(events: events, days: days) },
                lead: { lead, inhibitedBy in
                    document += (first ? "" : ",") + (try Replay.Result.leadJSON(lead, inhibitedBy: inhibitedBy, timeZone: timeZone))
                    first = false
                    streamedIds.append(lead.id)
                })
            let streamed = try await replay.run(files: [file], until: nil, stream: stream)
            document += streamed.jsonTail()
            #expect(streamed.leads.isEmpty, "a streamed replay keeps no leads")
            #expect(streamed.tally.total == kept.leads.count)
            #expect(streamedIds == kept.leads.map(\.id), "every lead once, in creation order, at page size \(page)")
            #expect(document == (try kept.json()), "page size \(page)")
            #expect(streamed.table() == kept.table() && streamed.html(title: "r") == kept.html(title: "r"))
        }
    }

    @Test func aShuffledFileReplaysExactlyAsItsSortedCopy() async throws {
        let directory = TemporaryDirectory("replay-shuffled")
        let configuration = try ReplayTests.shippedConfig(directory)
        let lines = Self.shuffled(try Self.bankLines(directory), seed: 13)
        let sorted = try Self.stableSorted(lines)
        #expect(lines != sorted, "the shuffled file is out of order")
        let fromShuffled = try await Self.replay([Self.write(directory, "shuffled.ndjson", lines)], configuration)
        let fromSorted = try await Self.replay([Self.write(directory, "sorted.ndjson", sorted)], configuration)
        #expect(fromShuffled.events == lines.count && fromSorted.events == lines.count)
        #expect(fromShuffled.rejected == 0)
        #expect(!fromSorted.leads.isEmpty)
        try Self.expectSameOutput(fromShuffled, fromSorted, "an out-of-order file gives its sorted copy's output")
    }

    @Test func twoWithdrawalsOnOneDayListedLateFirstGiveTheLeadOfTheEarlierOne() async throws {
        let directory = TemporaryDirectory("replay-client-day")
        let configuration = try ReplayTests.shippedConfig(directory)
        let sample = try String(contentsOfFile: repositoryRoot + "/deploy/examples/sample-events.ndjson", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        // Two cash withdrawals of the same client on the same day: `large-cash-withdrawal` is once per client per day.
        let early = #"{"id":"w1","type":"account.transaction","time":"2026-11-20T11:00:00+08:00","clientId":"C000123","source":"core-banking","data":{"accountId":"6222020200112233","amount":"60000","direction":"debit","channel":"cash"}}"#
        let late = #"{"id":"w2","type":"account.transaction","time":"2026-11-20T11:05:00+08:00","clientId":"C000123","source":"core-banking","data":{"accountId":"6222020200112233","amount":"70000","direction":"debit","channel":"cash"}}"#
        let inOrder = try await Self.replay([Self.write(directory, "in-order.ndjson", [sample[0], sample[1], early, late])], configuration)
        let outOfOrder = try await Self.replay([Self.write(directory, "out-of-order.ndjson", [sample[0], sample[1], late, early])],
                                               configuration)
        let lead = try #require(inOrder.leads.first { $0.kind == "large_cash_withdrawal" })
        #expect(lead.createdAt == RFC3339.parse("2026-11-20T11:00:00+08:00"), "the day's first withdrawal makes the lead")
        let other = try #require(outOfOrder.leads.first { $0.kind == "large_cash_withdrawal" })
        #expect(other.createdAt == lead.createdAt, "whatever order the file lists them in")
        #expect(other.evidence.map(\.value) == lead.evidence.map(\.value))
        try Self.expectSameOutput(outOfOrder, inOrder, "the same events, sorted, give the same output")
    }

    @Test func aSecondFileOlderThanTheFirstReplaysAsOneSortedFile() async throws {
        let directory = TemporaryDirectory("replay-two-files")
        let configuration = try ReplayTests.shippedConfig(directory)
        let lines = try Self.bankLines(directory)
        let half = lines.count / 2
        let later = Array(lines[half...]), earlier = Array(lines[..<half])
        let split = try await Self.replay([Self.write(directory, "later.ndjson", later), Self.write(directory, "earlier.ndjson", earlier)],
                                          configuration)
        let one = try await Self.replay([Self.write(directory, "one.ndjson", try Self.stableSorted(later + earlier))], configuration)
        #expect(split.events == lines.count)
        try Self.expectSameOutput(split, one, "two files out of order between them give the sorted whole's output")
    }

    @Test func eventsRepeatedAcrossFilesCountOnceAndChangeNothing() async throws {
        let directory = TemporaryDirectory("replay-duplicates")
        let configuration = try ReplayTests.shippedConfig(directory)
        let lines = try Self.stableSorted(try Self.bankLines(directory))
        let third = lines.count / 3
        // The files overlap by a third: the second starts before the first ends, with the same events.
        let first = Self.write(directory, "first.ndjson", Array(lines[..<(2 * third)]))
        let second = Self.write(directory, "second.ndjson", Array(lines[third...]))
        let overlapping = try await Self.replay([first, second], configuration)
        let whole = try await Self.replay([Self.write(directory, "whole.ndjson", lines)], configuration)
        #expect(overlapping.events == lines.count, "\(overlapping.events) events for \(lines.count) distinct ones")
        #expect(whole.events == lines.count)
        try Self.expectSameOutput(overlapping, whole, "repeated events are dropped as the journal drops them")
    }

    @Test func theSameIdFromAnotherSourceIsAnotherEvent() async throws {
        let directory = TemporaryDirectory("replay-sources")
        let configuration = try ReplayTests.shippedConfig(directory)
        func line(_ source: String, _ time: String) -> String {
            #"{"id":"x1","type":"test.record","time":"\#(time)","source":"\#(source)","data":{}}"#
        }
        let a = Self.write(directory, "a.ndjson", [line("a", "2026-11-20T10:00:00+08:00")])
        let b = Self.write(directory, "b.ndjson", [line("a", "2026-11-20T10:00:00+08:00"), line("b", "2026-11-20T09:00:00+08:00"),
                                                   line("a", "2026-11-20T11:00:00+08:00")])
        let result = try await Self.replay([a, b], configuration)
        #expect(result.events == 2, "(a, x1) once, whatever its time the second time, and (b, x1)")
    }

    @Test func rejectionsAreReportedOnceEvenWhenTheReplayStartsAgainSorted() async throws {
        let directory = TemporaryDirectory("replay-rejections")
        let configuration = try ReplayTests.shippedConfig(directory)
        func line(_ id: String, _ time: String) -> String {
            #"{"id":"\#(id)","type":"test.record","time":"\#(time)","source":"core","data":{}}"#
        }
        let path = Self.write(directory, "events.ndjson", [
            line("a", "2026-11-20T10:00:00+08:00"),
            "not json",
            line("c", "2026-11-20T12:00:00+08:00"),
            line("d", "2026-11-20T11:00:00+08:00"),  // out of order: the replay starts again, sorted
            #"{"id":"e","type":"test.record"}"#,
            line("f", "2026-11-20T13:00:00+08:00"),
        ])
        var reported: [String] = []
        let result = try await Self.replay([path], configuration) { reported.append($0) }
        #expect(result.events == 4)
        #expect(result.rejected == 2)
        #expect(reported.count == 2, "\(reported)")
        #expect(reported.first?.hasPrefix(path + ":2: ") == true)
        #expect(reported.last?.hasPrefix(path + ":5: ") == true)
    }
}
