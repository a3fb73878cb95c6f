import Foundation
import InsightCore
import InsightDaemon
import InsightTesting
import Testing

/// `insightd replay`: the shipped plugins over a simulated bank, on event time, with daily ticks.
@Suite(.serialized) struct ReplayTests {
    static func bank(_ directory: TemporaryDirectory) -> String {
        var text = ""
        _ = Commands.simulate(clients: 300, days: 20, seed: 9, events: nil, start: "2026-09-01") { text += $0 }
        return directory.write("bank.ndjson", text)
    }

    static func shippedConfig(_ directory: TemporaryDirectory) throws -> LoadedConfiguration {
        let main = try String(contentsOfFile: repositoryRoot + "/deploy/insightd.yaml", encoding: .utf8)
            .replacingOccurrences(of: "plugins_dir: ../plugins-config", with: "plugins_dir: \(repositoryRoot)/plugins-config")
        return try ConfigLoader().load(path: directory.write("insightd.yaml", main), environment: [:])
    }

    @Test func replayIsDeterministicFiresTicksAndExtendsToUntil() async throws {
        let directory = TemporaryDirectory("insightd-replay")
        let file = Self.bank(directory)
        let configuration = try Self.shippedConfig(directory)
        let first = try await Replay(configuration: configuration).run(files: [file], until: LocalDate("2026-10-10"))
        let again = try await Replay(configuration: configuration).run(files: [file], until: LocalDate("2026-10-10"))
        #expect(try first.json() == again.json(), "the same input gives identical output")
        #expect(first.table() == again.table())
        #expect(first.rejected == 0)
        #expect(first.days.first?.description == "2026-09-01" && first.days.last?.description == "2026-10-10",
                "--until extends the simulated clock past the last event")
        let plugins = Set(first.leads.map(\.plugin))
        #expect(plugins.isSuperset(of: ["birthday-care", "risk-alerts", "rules"]), "event and tick plugins both fire: \(plugins)")
        // Ticks run on simulated days after the last event: leads are created on those days too.
        let lastEventDay = try #require(LocalDate("2026-09-21"))
        #expect(first.leads.contains { LocalDate($0.createdAt, in: first.timeZone) > lastEventDay })
        // context.now is event time: nothing is stamped with the wall clock.
        #expect(first.leads.allSatisfy { $0.createdAt < Date(timeIntervalSince1970: 1_800_000_000) })
        #expect(first.locale == "zh-CN", "the shipped configuration's locale")
        #expect(first.table().contains("按天") && first.table().contains("按规则（自定义规则插件）"))
        #expect(first.table().contains("生日关怀（birthday-care）"))
        var english = first
        english.locale = "en"
        #expect(english.table().contains("per day") && english.table().contains("per rule (rules plugin)"))
    }

    /// Replay writes its scratch state late (when the cache lets a client go, or before a daily tick): the leads are
    /// those of writing every batch, with every plugin and tick on, whether the cache holds the whole bank or evicts.
    @Test func deferredStateWritesGiveTheLeadsOfWritingEveryBatch() async throws {
        let directory = TemporaryDirectory("insightd-replay")
        let file = Self.bank(directory)
        var configuration = try Self.shippedConfig(directory)
        var everyBatch = Replay(configuration: configuration)
        everyBatch.stateWrites = .everyBatch
        let expected = try await everyBatch.run(files: [file], until: LocalDate("2026-09-25"))
        #expect(expected.tally.total > 20, "the bank makes leads of several plugins")
        #expect(Set(expected.leads.map(\.plugin)).count >= 3)
        for (batch, cache) in [(nil, 100_000), (512, 40)] {  // 40 of 300 clients: evictions all along
            configuration.config.dispatcher.clientCache = cache
            if let batch {
                configuration.config.dispatcher.batchSize = batch
                configuration.config.dispatcher.batchSizeIsSet = true
            }
            let deferred = try await Replay(configuration: configuration).run(files: [file], until: LocalDate("2026-09-25"))
            #expect(try deferred.json() == expected.json(), "batch \(batch ?? 0), cache \(cache)")
        }
    }

    @Test func replayBatchesAreSmallUnlessTheConfigSetsThem() throws {
        let unset = try JSONDecoder().decode(DispatcherConfig.self, from: Data("{}".utf8))
        #expect(!unset.batchSizeIsSet && unset.batchSize == 16_384)
        let set = try JSONDecoder().decode(DispatcherConfig.self, from: Data(#"{"batch_size": 500}"#.utf8))
        #expect(set.batchSizeIsSet && set.batchSize == 500)
        #expect(Replay.defaultBatchSize == 8_192)
    }

    @Test func inhibitedLeadsAreCountedApartAsTheOutboxWouldHoldThemBack() async throws {
        let directory = TemporaryDirectory("insightd-replay-inhibit")
        let sample = try String(contentsOfFile: repositoryRoot + "/deploy/examples/sample-events.ndjson", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        // The manager and 张三's profile, then a ¥60,000 cash withdrawal (an AML lead) an hour before a ¥800,000 inflow.
        let events = [sample[0], sample[1],
                      #"{"id":"x1","type":"account.transaction","time":"2026-11-20T09:00:00+08:00","clientId":"C000123","source":"core-banking","data":{"accountId":"6222020200112233","amount":"60000","direction":"debit","channel":"cash"}}"#,
                      sample[2]]
        let file = directory.write("aml-first.ndjson", events.joined(separator: "\n") + "\n")
        let result = try await Replay(configuration: try Self.shippedConfig(directory)).run(files: [file], until: nil)
        let held = result.leads.filter { result.inhibited[$0.id] != nil }
        #expect(Set(held.map(\.plugin)) == ["product-match", "rules"], "the sale and the marketing rule, not the AML lead")
        #expect(held.allSatisfy { $0.status == .suppressed })
        let source = try #require(result.leads.first { $0.kind == "risk_large_transaction" })
        #expect(Set(result.inhibited.values) == [source.id])
        #expect(result.table().contains("其中2条因客户有未结反洗钱线索被抑制"), "the table speaks the configured locale")
        #expect(result.html(title: "t").contains("其中2条因客户有未结反洗钱线索被抑制"), "and so does the HTML report")
        #expect(result.table().contains("product-match/product_match"))
        let json = try JSONParser.parse(try result.json())
        #expect(json["summary"]?["inhibited"]?.decimalValue == 2)
        let inhibitedBy = json["leads"]?.arrayValue?.compactMap { $0["inhibitedBy"]?.stringValue } ?? []
        #expect(inhibitedBy == [source.id, source.id])
        #expect(JSONWriter.string(json) == (try result.json()), "canonical JSON")

        // Streamed a lead at a time (as the command does), with pages of one lead: the same document and counts.
        var replay = Replay(configuration: try Self.shippedConfig(directory))
        replay.leadPage = 1
        var document = "", first = true, streamedHeld: [String: String] = [:]
        let zone = result.timeZone
        let streamed = try await replay.run(files: [file], until: nil, stream: Replay.LeadStream(
            begin: { events, days in document += Replay.Result.jsonHead(events: events, days: days) },
            lead: { lead, by in
                document += (first ? "" : ",") + (try Replay.Result.leadJSON(lead, inhibitedBy: by, timeZone: zone))
                first = false
                if let by { streamedHeld[lead.id] = by }
            }))
        document += streamed.jsonTail()
        #expect(document == (try result.json()))
        #expect(streamedHeld == result.inhibited && streamed.inhibited.isEmpty && streamed.tally.inhibited == 2)
        #expect(streamed.table() == result.table() && streamed.html(title: "t") == result.html(title: "t"))

        // The same inflow before the withdrawal: the sale went out before anyone knew; nothing is held back.
        let before = directory.write("sale-first.ndjson", [sample[0], sample[1], sample[2],
            #"{"id":"x1","type":"account.transaction","time":"2026-11-20T11:00:00+08:00","clientId":"C000123","source":"core-banking","data":{"accountId":"6222020200112233","amount":"60000","direction":"debit","channel":"cash"}}"#,
        ].joined(separator: "\n") + "\n")
        let earlier = try await Replay(configuration: try Self.shippedConfig(directory)).run(files: [before], until: nil)
        #expect(earlier.inhibited.isEmpty)
    }

    @Test func theCommandWritesJSONAndAReportAndDeliversNothing() async throws {
        let directory = TemporaryDirectory("insightd-replay-cli")
        let file = Self.bank(directory)
        let main = try String(contentsOfFile: repositoryRoot + "/deploy/insightd.yaml", encoding: .utf8)
            .replacingOccurrences(of: "plugins_dir: ../plugins-config", with: "plugins_dir: \(repositoryRoot)/plugins-config")
            .replacingOccurrences(of: "state_dir: ./var", with: "state_dir: ./state")
        let config = directory.write("insightd.yaml", main)
        let report = directory.file("report.html")
        let result = try LifecycleTests.Run.command(["replay", file, "--config", config, "--format", "json", "--report", report])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONParser.parse(result.stdout)
        #expect((json["leads"]?.arrayValue?.count ?? 0) > 0)
        // The command streams its leads out of the ledger, a piece at a time: the document is still canonical JSON
        // (what the writer makes of the parsed document, byte for byte) and the one the library gives.
        #expect(result.stdout == JSONWriter.string(json) + "\n")
        let whole = try await Replay(configuration: try ConfigLoader().load(path: config, environment: [:])).run(files: [file], until: nil)
        #expect(result.stdout == (try whole.json()) + "\n")
        #expect(json["leads"]?.arrayValue?.first?["createdAt"]?.stringValue?.hasSuffix("+08:00") == true)
        let html = try String(contentsOfFile: report, encoding: .utf8)
        #expect(html.contains("<svg id=\"leads-per-day\"") && html.contains("class=\"bar\""))
        #expect(html.contains("<h2>每日各插件线索数</h2>") && html.contains("<th>线索数</th>") && !html.contains("Per plugin"),
                "the report speaks the configured locale")
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("<link"), "self-contained: no scripts, no external files")
        #expect(!FileManager.default.fileExists(atPath: directory.file("state")), "a replay touches no daemon state")
        #expect(!FileManager.default.fileExists(atPath: directory.file("state/deliveries.jsonl")), "and delivers nothing")
    }

    static var chromium: String? { DeployTests.which("chromium") }

    /// The HTML report opens in headless Chromium (Debian's package) and its chart is on the page: the
    /// screenshot shows the first plugin's bar colour, and the rendered DOM holds the bars and the legend.
    @Test(.enabled(if: chromium != nil, "needs chromium (apt-get install chromium)"))
    func theReportRendersItsChartsInHeadlessChromium() async throws {
        let browser = try #require(Self.chromium)
        let python = try #require(DeployTests.which("python3"))
        let directory = TemporaryDirectory("insightd-report")
        let file = Self.bank(directory)
        let main = try String(contentsOfFile: repositoryRoot + "/deploy/insightd.yaml", encoding: .utf8)
            .replacingOccurrences(of: "plugins_dir: ../plugins-config", with: "plugins_dir: \(repositoryRoot)/plugins-config")
        let config = directory.write("insightd.yaml", main)
        let report = directory.file("report.html")
        let replay = try LifecycleTests.Run.command(["replay", file, "--config", config, "--until", "2026-10-10", "--report", report])
        #expect(replay.status == 0, "\(replay.stderr)")

        let screenshot = directory.file("report.png")
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,800",
                     "--user-data-dir=\(directory.file("profile"))"]
        let shot = try DeployTests.execute(browser, flags + ["--screenshot=\(screenshot)", "file://\(report)"])
        #expect(shot.status == 0, "\(shot.output.suffix(400))")
        let counted = try DeployTests.execute(python, [try #require(Bundle.module.path(forResource: "png_color_count", ofType: "py",
                                                                                        inDirectory: "Fixtures")),
                                                       screenshot, "2f6fde"])
        let bluePixels = Int(counted.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(bluePixels > 2_000, "the chart's bars are painted (\(bluePixels) pixels of the first plugin's colour)")

        let dom = try DeployTests.execute(browser, flags + ["--dump-dom", "file://\(report)"]).output
        #expect(dom.components(separatedBy: "class=\"bar\"").count > 20, "the rendered page holds the chart's bars")
        #expect(dom.contains("生日关怀</span>") && !dom.contains("GRDB"), "the legend names the plugins")
    }
}
