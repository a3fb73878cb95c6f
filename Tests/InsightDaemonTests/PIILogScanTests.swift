import Foundation
import InsightCore
import InsightTesting
import Testing

/// Runs the real binary through a full scenario (events with names, phones, ID and card numbers; a
/// rejected item; a daily tick; feedback with a phone number in its note; the client view) and scans every
/// line it wrote (logs, the console receiver, the file receiver) for personal data that escaped masking.
@Suite(.serialized) struct PIILogScanTests {
    /// Mainland mobiles, 18-digit ID numbers, and 13–19 digit numbers that pass Luhn (card and account
    /// numbers), each standing alone (not part of a longer digit run).
    /// A run touching an ASCII letter is part of an identifier (a temporary directory's UUID in a logged path,
    /// such as `…-18605854862F`), not a number written out.
    static func leaks(in text: String) -> [String] {
        var found: [String] = []
        var run = ""
        var afterLetter = false
        func check(next: Character?) {
            defer { run = "" }
            if afterLetter || (next.map { $0.isASCII && $0.isLetter } ?? false) { return }
            let digits = run.filter(\.isNumber)
            if run.count == 11, run.hasPrefix("1"), digits.count == 11, let second = run.dropFirst().first, "3456789".contains(second) {
                found.append("phone \(run)")
            } else if run.count == 18, run.dropLast().allSatisfy(\.isNumber), run.last?.isNumber == true || run.last == "X" {
                found.append("ID number \(run)")
            } else if (13...19).contains(run.count), digits.count == run.count, luhn(run) {
                found.append("card/account number \(run)")
            }
        }
        for character in text {
            if character.isASCII && (character.isNumber || (character == "X" && run.count == 17)) {
                run.append(character)
            } else {
                if !run.isEmpty { check(next: character) }
                afterLetter = character.isASCII && character.isLetter
            }
        }
        check(next: nil)
        return found
    }

    static func luhn(_ digits: String) -> Bool {
        var sum = 0
        for (offset, character) in digits.reversed().enumerated() {
            guard var value = character.wholeNumberValue else { return false }
            if offset % 2 == 1 {
                value *= 2
                if value > 9 { value -= 9 }
            }
            sum += value
        }
        return sum % 10 == 0
    }

    @Test func theScannerFindsWhatItLooksFor() {
        #expect(Self.leaks(in: "call 13812345678 now") == ["phone 13812345678"])
        #expect(Self.leaks(in: "id 11010119661125123X,") == ["ID number 11010119661125123X"])
        #expect(Self.leaks(in: "card 4111111111111111.") == ["card/account number 4111111111111111"])
        #expect(Self.leaks(in: "138****5678 110***********1234 ************1111 at 1732000000000 ms, amount 800000.00").isEmpty)
        #expect(Self.leaks(in: "电话13812345678，") == ["phone 13812345678"], "a number after Chinese text is still found")
        #expect(Self.leaks(in: "/tmp/insightd-config-E5D47111-330C-4853-B851-18605854862F/insightd.yaml").isEmpty,
                "a UUID's digits are not a phone number")
    }

    @Test func noPersonalDataReachesTheLogsOrTheReceivers() throws {
        let port = try #require(LifecycleTests.freePort())
        let fixture = ConfigFixture.daemon(port: port, """
            logging: {level: debug}
            api_tokens:
              - {name: ops, token: "test-ops-token", scopes: [read, feedback, admin]}
            receivers:
              - {name: console, kind: console}
              - {name: audit, kind: file, path: state/deliveries.jsonl}
            routes:
              - {match: {}, receivers: [console, audit]}
            delivery: {poll_interval: 50ms}
            """)
        let daemon = try LifecycleTests.Run(["run", "--config", fixture.mainPath], captureOutput: true)
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        let events = try #require(Bundle.module.path(forResource: "sample-events", ofType: "ndjson", inDirectory: "Fixtures"))
        let answer = try postEvents(base: base, file: events, token: "test-crm-token")
        #expect(answer.contains("\"accepted\":6"))
        // A rejected event full of personal data: it is quarantined, and its error names fields, not values.
        let bad = #"{"id":"evt-bad","type":"client.profile","time":"2026-11-20T09:00:00+08:00","clientId":"C000999","data":{"name":"欧阳娜娜","phone":"13712345678","idNumber":"110101199001011234","riskLevel":"C9"}}"#
        _ = try curl(["-X", "POST", base + "/v1/events", "-H", "Authorization: Bearer test-crm-token",
                           "-H", "Content-Type: application/json", "--data-binary", bad])
        _ = try curl(["-X", "POST", base + "/v1/admin/tick", "-H", "Authorization: Bearer test-ops-token",
                           "-H", "Content-Type: application/json", "-d", #"{"at":"2026-11-20T09:30:00+08:00"}"#])
        var leads: [JSONValue] = []
        for _ in 0..<100 where leads.isEmpty {
            usleep(50_000)
            leads = (try? JSONParser.parse(curl([base + "/v1/leads", "-H", "Authorization: Bearer test-ops-token"])))?["leads"]?.arrayValue ?? []
        }
        let lead = try #require(leads.first?["id"]?.stringValue)
        let feedback = try curl(["-X", "POST", base + "/v1/leads/\(lead)/feedback", "-H", "Authorization: Bearer test-ops-token",
                                      "-H", "Content-Type: application/json", "-d", #"{"outcome":"contacted","note":"new mobile 13698765432"}"#])
        let client = try curl([base + "/v1/clients/C000123", "-H", "Authorization: Bearer test-ops-token"])
        let shown = try curl([base + "/v1/leads/\(lead)", "-H", "Authorization: Bearer test-ops-token"])
        usleep(500_000)  // let the outbox deliver what the tick made
        kill(daemon.process.processIdentifier, SIGTERM)
        let stdout = String(decoding: daemon.stdout?.fileHandleForReading.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        let result = daemon.finish()
        #expect(result.status == 0)
        let delivered = (try? String(contentsOfFile: fixture.directory.file("state/deliveries.jsonl"), encoding: .utf8)) ?? ""

        #expect(stdout.contains("张*") && !delivered.isEmpty && result.stderr.contains("lead created"), "the scenario ran")
        for (name, text) in [("log", result.stderr), ("console receiver", stdout), ("file receiver", delivered),
                             ("API feedback", feedback), ("API client view", client), ("API lead", shown)] {
            #expect(Self.leaks(in: text).isEmpty, "\(name) leaks \(Self.leaks(in: text))")
            #expect(!text.contains("张三") && !text.contains("欧阳娜娜") && !text.contains("李娜"), "\(name) shows a full name")
        }
    }
}
