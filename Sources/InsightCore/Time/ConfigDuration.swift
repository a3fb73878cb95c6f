/// A duration written as `500ms`, `5s`, `5m`, `2h` or `1d`: every module's config reads durations through it.
public struct ConfigDuration: Sendable, Hashable, Decodable, CustomStringConvertible {
    public let seconds: Double
    public let text: String

    public init?(_ text: String) {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            if let value = Double(number), value >= 0, !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }) {
                seconds = value * scale
                self.text = text
                return
            }
        }
        return nil
    }

    /// A duration known at compile time, such as a default: `ConfigDuration(seconds: 15, text: "15s")`.
    public init(seconds: Double, text: String) {
        self.seconds = seconds
        self.text = text
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = ConfigDuration(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "\"\(text)\" is not a duration; write a number and a unit: 500ms, 5s, 5m, 2h or 1d"))
        }
        self = value
    }

    public var duration: Duration { .milliseconds(Int64(seconds * 1000)) }
    public var description: String { text }
}
