import Foundation
import InsightCore
import InsightDaemon
import InsightStore
import InsightTesting
import Testing

@Suite struct SimulateTests {
    static func simulate(seed: UInt64) -> String {
        var text = ""
        _ = Commands.simulate(clients: 200, days: 30, seed: seed, events: nil, start: "2026-09-01") { text += $0 }
        return text
    }

    @Test func theSameSeedGivesTheSameBankAndEveryEventIsValid() throws {
        let first = Self.simulate(seed: 7)
        #expect(first == Self.simulate(seed: 7), "deterministic")
        #expect(first != Self.simulate(seed: 8))
        let lines = first.split(separator: "\n")
        let types = Set(lines.compactMap { (try? JSONParser.parse(String($0)))?["type"]?.stringValue })
        for type in ["manager.profile", "client.profile", "account.transaction", "account.balance", "loan.account"] {
            #expect(types.contains(type), "the bank has \(type) events")
        }

        let fixture = ConfigFixture(main: "plugins_dir: plugins\nstate_dir: state\nlisten: 127.0.0.1:0\n")
        let file = fixture.directory.write("bank.ndjson", first)
        let result = try LifecycleTests.Run.command(["ingest", file, "--config", fixture.mainPath])
        #expect(result.status == 0, "\(result.stderr.suffix(400))")
        let database = try AppDatabase.open(directory: fixture.directory.file("state"))
        #expect(try database.journalCount() == lines.count, "every simulated event is accepted")
        #expect(try database.quarantinedItems().isEmpty)
    }
}
