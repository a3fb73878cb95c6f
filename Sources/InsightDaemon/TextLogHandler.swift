import Foundation
import InsightCore
import Logging

/// Human-readable lines on stderr, for a terminal, laid out as swift-log's `StreamLogHandler` lays them out:
/// `2026-12-07T09:30:00+08:00 info insightd: file=a.jsonl [InsightIngest] inbox file done`.
///
/// Unlike `StreamLogHandler`, it escapes every control character in what it writes (`\n`, `\r`, `\t`, the
/// other C0 and C1 controls as `\u{1B}`, and the line and paragraph separators U+2028 and U+2029), and `\`
/// as `\\` so that an escape cannot be forged either. Messages and metadata carry outside text, such as the
/// name of a file dropped into an inbox; unescaped, a newline in it would start a line that reads as a
/// record of its own (log injection). One record is always one line.
struct TextLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    let label: String
    /// Where a finished line goes (with its `\n`): stderr, or a test's buffer.
    let output: @Sendable (String) -> Void

    init(logLevel: Logger.Level, label: String,
         output: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.logLevel = logLevel
        self.label = label
        self.output = output
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        output(line(for: event, at: Date()))
    }

    /// The record as one line, ending in `\n`.
    func line(for event: LogEvent, at time: Date) -> String {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var line = RFC3339.format(time, timeZone: .current) + " " + event.level.rawValue
        if !label.isEmpty { line += " " + Self.escaped(label) }
        line += ":"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " " + Self.escaped(key) + "=" + Self.escaped(value.description)
        }
        line += " [" + Self.escaped(event.source) + "] " + Self.escaped(event.message.description) + "\n"
        return line
    }

    /// `text` with its control characters, line separators and backslashes escaped; as it is when it has none.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case _ where needsEscape(scalar): escaped += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// C0 controls, DEL, C1 controls (among them NEL, U+0085), U+2028 and U+2029: what some reader could take
    /// for the end of a line or a terminal command. And `\`, which starts an escape.
    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x5C, 0x7F...0x9F, 0x2028, 0x2029: true
        default: false
        }
    }
}
