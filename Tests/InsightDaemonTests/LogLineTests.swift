import Foundation
import InsightCore
@testable import InsightDaemon
import InsightTesting
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 14: a log record is one line in either format, whatever its message and metadata hold (log injection).
@Suite struct LogLineTests {
    /// A file name as a sender could choose it: a forged record after a newline, a carriage return, a tab, a
    /// terminal escape, DEL, NEL, the Unicode line and paragraph separators, and a backslash that looks like an escape.
    static let hostile = "late.jsonl\n2026-12-07T09:30:00+08:00 error insightd: [InsightHTTP] forged\r\t\u{1B}[31m\u{7F}\u{85}\u{2028}\u{2029}\\n"

    static func event(_ message: String, metadata: Logger.Metadata?) -> LogEvent {
        LogEvent(level: .info, message: "\(message)", metadata: metadata, source: "InsightIngest",
                 file: #fileID, function: #function, line: #line)
    }

    /// True for what some reader could take for the end of a line or a terminal command.
    static func breaksLines(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    @Test func aTextRecordIsOneLineWithEveryControlCharacterEscaped() {
        var handler = TextLogHandler(logLevel: .info, label: "insightd", output: { _ in })
        handler[metadataKey: "inbox.source"] = .string(Self.hostile)
        let line = handler.line(for: Self.event("inbox file ingested: " + Self.hostile, metadata: [
            "file.name": .string(Self.hostile), "files": .array([.string(Self.hostile)]),
        ]), at: Date(timeIntervalSince1970: 1_796_000_000))
        #expect(line.hasSuffix("\n"))
        #expect(!line.dropLast().unicodeScalars.contains(where: Self.breaksLines), "\(line)")
        let escaped = #"late.jsonl\n2026-12-07T09:30:00+08:00 error insightd: [InsightHTTP] forged\r\t\u{1B}[31m\u{7F}\u{85}\u{2028}\u{2029}\\n"#
        #expect(line.contains(" [InsightIngest] inbox file ingested: " + escaped + "\n"))
        #expect(line.contains(" file.name=" + escaped + " "))
        #expect(line.contains(" inbox.source=" + escaped + " "))
        #expect(line.contains(" info insightd: file.name="))
    }

    @Test func ordinaryTextIsWrittenAsItIs() {
        let handler = TextLogHandler(logLevel: .info, label: "insightd", output: { _ in })
        let line = handler.line(for: Self.event("lead created", metadata: ["lead.id": "ld_1", "client": "张*"]),
                                at: Date(timeIntervalSince1970: 0))
        #expect(line.hasSuffix(" info insightd: client=张* lead.id=ld_1 [InsightIngest] lead created\n"))
        #expect(TextLogHandler.escaped("C:\\inbox 收件 ✓") == "C:\\\\inbox 收件 ✓")
    }

    @Test func aJSONRecordIsOneLineAndReadsBackTheSame() throws {
        var handler = JSONLogHandler(label: "insightd")
        handler[metadataKey: "inbox.source"] = .string(Self.hostile)
        let line = handler.line(for: Self.event(Self.hostile, metadata: ["file.name": .string(Self.hostile)]),
                                at: Date(timeIntervalSince1970: 0))
        #expect(line.hasSuffix("\n"))
        #expect(!line.dropLast().unicodeScalars.contains(where: Self.breaksLines), "\(line)")
        let record = try JSONParser.parse(String(line.dropLast()))
        #expect(record["message"] == .string(Self.hostile))
        #expect(record["metadata"]?["file.name"] == .string(Self.hostile))
        #expect(record["metadata"]?["inbox.source"] == .string(Self.hostile))
    }

    /// The daemon itself, logging text: a file dropped into its inbox under a name holding a forged record.
    @Test func aFileNameCannotForgeALogRecord() throws {
        let port = try #require(LifecycleTests.freePort())
        let fixture = ConfigFixture(main: """
            plugins_dir: plugins
            state_dir: state
            listen: 127.0.0.1:\(port)
            logging: {format: text}
            sources:
              - {name: nightly, kind: inbox, path: inbox, poll_interval: 50ms}
            """)
        let name = "late\nFORGED error insightd: [InsightHTTP] admin token accepted.jsonl"
        let file = fixture.directory.write("inbox/" + name, #"{"id":"n1","type":"custom.ping","time":"2026-11-20T12:00:00+08:00","data":{}}"# + "\n")
        let daemon = try LifecycleTests.Run(["run", "--config", fixture.mainPath])
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        for _ in 0..<200 where FileManager.default.fileExists(atPath: file) { usleep(50_000) }
        usleep(200_000)
        kill(daemon.process.processIdentifier, SIGTERM)
        let result = daemon.finish()
        #expect(result.status == 0, "\(result.stderr.suffix(600))")
        #expect(result.stderr.contains(#"file.name=late\nFORGED error insightd: [InsightHTTP] admin token accepted.jsonl"#),
                "\(result.stderr.suffix(1000))")
        let lines = result.stderr.split(separator: "\n")
        #expect(!lines.contains { $0.hasPrefix("FORGED") }, "a line of its own: \(result.stderr.suffix(1000))")
    }
}
