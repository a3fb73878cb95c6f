/// Writes ``JSONValue`` as canonical JSON: object keys sorted, no insignificant white space.
///
/// Canonical output is what makes the journal, lead evidence and replays byte-identical run to run.
public enum JSONWriter {
    public static func string(_ value: JSONValue) -> String {
        var output = ""
        output.reserveCapacity(128)
        write(value, into: &output)
        return output
    }

    public static func write(_ value: JSONValue, into output: inout String) {
        switch value {
        case .null: output += "null"
        case .bool(let flag): output += flag ? "true" : "false"
        case .number(let literal): output += literal
        case .string(let text): writeString(text, into: &output)
        case .array(let items):
            output += "["
            for (offset, item) in items.enumerated() {
                if offset > 0 { output += "," }
                write(item, into: &output)
            }
            output += "]"
        case .object(let object):
            output += "{"
            for (offset, key) in object.keys.sorted().enumerated() {
                if offset > 0 { output += "," }
                writeString(key, into: &output)
                output += ":"
                if let item = object[key] { write(item, into: &output) }
            }
            output += "}"
        }
    }

    /// Opens the next member of an object written by hand: `{"name":` for the first (`members` is 0), `,"name":` after
    /// it; counts the member. The caller closes the object with `}` once `members` > 0.
    public static func writeMemberName(_ name: String, members: inout Int, into output: inout String) {
        output += members == 0 ? "{" : ","
        writeString(name, into: &output)
        output += ":"
        members += 1
    }

    public static func writeString(_ text: String, into output: inout String) {
        output += "\""
        var needsEscape = false
        for byte in text.utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
            needsEscape = true
            break
        }
        if !needsEscape {
            output += text
        } else {
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": output += "\\\""
                case "\\": output += "\\\\"
                case "\n": output += "\\n"
                case "\r": output += "\\r"
                case "\t": output += "\\t"
                // As `JSONEncoder` writes them: the stored forms written by hand must be its bytes.
                case "\u{08}": output += "\\b"
                case "\u{0C}": output += "\\f"
                case let control where control.value < 0x20:
                    let hex = String(control.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: output.unicodeScalars.append(scalar)
                }
            }
        }
        output += "\""
    }
}
