import Foundation

/// Where a secret comes from: `env:NAME`, `file:PATH`, `credential:NAME` (systemd `LoadCredential=`, read
/// from `$CREDENTIALS_DIRECTORY`), or a literal (for local trials only; `insightd check` warns).
public enum SecretReference: Sendable, Hashable, Decodable, CustomStringConvertible {
    case environment(String)
    case file(String)
    case credential(String)
    case literal(String)

    public init(_ text: String) {
        if text.hasPrefix("env:") { self = .environment(String(text.dropFirst(4))) }
        else if text.hasPrefix("file:") { self = .file(String(text.dropFirst(5))) }
        else if text.hasPrefix("credential:") { self = .credential(String(text.dropFirst(11))) }
        else { self = .literal(text) }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        let reference = SecretReference(text)
        switch reference {
        case .environment(let name), .file(let name), .credential(let name):
            guard !name.isEmpty else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                    debugDescription: "\"\(text)\" names nothing; write env:NAME, file:/path or credential:NAME"))
            }
        case .literal(let value):
            guard !value.isEmpty else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "the secret is empty"))
            }
        }
        self = reference
    }

    /// Never prints a literal secret.
    public var description: String {
        switch self {
        case .environment(let name): "env:\(name)"
        case .file(let path): "file:\(path)"
        case .credential(let name): "credential:\(name)"
        case .literal: "(literal secret)"
        }
    }

    public var isLiteral: Bool {
        if case .literal = self { return true }
        return false
    }

    /// Reads the secret's value. Throws a message that says what is missing and how to provide it.
    public func resolve(environment: [String: String]) throws(SecretError) -> Secret {
        switch self {
        case .literal(let value):
            return Secret(value)
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw SecretError(message: "environment variable \(name) is not set; export it, or put it in the unit's EnvironmentFile")
            }
            return Secret(value)
        case .file(let path):
            return try Self.read(path, what: "secret file \(path)")
        case .credential(let name):
            guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
                throw SecretError(message: "credential \(name) needs $CREDENTIALS_DIRECTORY (set by systemd LoadCredential=\(name):/path); outside systemd use env: or file:")
            }
            return try Self.read((directory as NSString).appendingPathComponent(name), what: "credential \(name)")
        }
    }

    private static func read(_ path: String, what: String) throws(SecretError) -> Secret {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw SecretError(message: "cannot read \(what); check that it exists and that insightd may read it")
        }
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else { throw SecretError(message: "\(what) is empty") }
        return Secret(value)
    }
}

public struct SecretError: Error, Sendable {
    public let message: String
}

/// A resolved secret. Its description is redacted so it never reaches a log.
public struct Secret: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var description: String { "(secret)" }
}
