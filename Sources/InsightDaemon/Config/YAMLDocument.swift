import Foundation
import InsightCore
import Yams

/// A parsed YAML file that decodes strictly: every error carries file, line and key, and a key the target
/// type does not know is an error (with a "did you mean" hint), never silently ignored.
///
/// Yams parses; this adds what Yams' own decoder does not do: unknown-key rejection and source positions.
public struct YAMLDocument {
    public let file: String
    let root: Node

    /// Parses `text`; an empty document decodes as an empty mapping.
    public init(text: String, file: String) throws(ConfigError) {
        self.file = file
        do {
            root = try Yams.compose(yaml: text) ?? Node.mapping(Node.Mapping([]))
        } catch let error as YamlError {
            throw Self.describe(error, file: file)
        } catch {
            throw ConfigError(file: file, message: "cannot parse YAML: \(error)")
        }
    }

    public init(contentsOf path: String, displayName: String? = nil) throws(ConfigError) {
        let name = displayName ?? path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: name, message: "cannot read the file (does it exist, and may insightd read it?)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: name, message: "the file is not UTF-8 text")
        }
        try self.init(text: text, file: name)
    }

    public func decode<T: Decodable>(_ type: T.Type = T.self) throws(ConfigError) -> T {
        try decode { decoder in try T(from: decoder) }
    }

    /// Runs `body` with a strict decoder of the root node, turning any error into a located ``ConfigError``.
    public func decode<T>(_ body: (any Decoder) throws -> T) throws(ConfigError) -> T {
        do {
            return try body(StrictYAMLDecoder(node: root, codingPath: [], file: file))
        } catch let error as ConfigError {
            throw error
        } catch let error as DecodingError {
            throw locate(error)
        } catch let error as PluginConfigurationError {
            throw self.error(at: error.path, error.message)
        } catch let error as CustomStringConvertible & Error {
            throw ConfigError(file: file, message: error.description)
        } catch {
            throw ConfigError(file: file, message: "\(error)")
        }
    }

    /// A located error for a key path given as strings (`["sources", "1", "secret"]`).
    public func error(at path: [String], _ message: String) -> ConfigError {
        var node: Node? = root
        var found = root
        for component in path {
            switch node {
            case .mapping(let mapping)?:
                node = mapping.first { $0.key.string == component }?.value
            case .sequence(let sequence)?:
                node = Int(component).flatMap { $0 < sequence.count ? sequence[$0] : nil }
            default:
                node = nil
            }
            guard let next = node else { break }
            found = next
        }
        return ConfigError(file: file, line: found.mark?.line, column: found.mark?.column,
                           keyPath: Self.keyPath(path), message: message)
    }

    static func keyPath(_ components: [String]) -> String {
        var text = ""
        for component in components {
            if Int(component) != nil { text += "[\(component)]" } else { text += text.isEmpty ? component : ".\(component)" }
        }
        return text
    }

    static func keyPath(_ codingPath: [any CodingKey]) -> String {
        keyPath(codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue })
    }

    private func locate(_ error: DecodingError) -> ConfigError {
        let context: DecodingError.Context
        let message: String
        switch error {
        case .dataCorrupted(let c): context = c; message = c.debugDescription
        case .keyNotFound(let key, let c): context = c; message = "missing required key \(key.stringValue)"
        case .typeMismatch(let type, let c): context = c; message = "expected \(type): \(c.debugDescription)"
        case .valueNotFound(let type, let c): context = c; message = "expected \(type), found nothing"
        @unknown default: return ConfigError(file: file, message: "\(error)")
        }
        return self.error(at: context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }, message)
    }

    private static func describe(_ error: YamlError, file: String) -> ConfigError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            let where_ = context.map { " \($0.text)" } ?? ""
            return ConfigError(file: file, line: mark.line, column: mark.column,
                               message: "YAML syntax error: \(problem)\(where_)")
        default:
            return ConfigError(file: file, message: "YAML error: \(error)")
        }
    }
}
