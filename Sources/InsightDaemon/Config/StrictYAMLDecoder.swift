import Foundation
import Yams

/// A `Decoder` over a Yams node tree that rejects unknown keys and reports positions.
struct StrictYAMLDecoder: Decoder {
    let node: Node
    let codingPath: [any CodingKey]
    let file: String
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let mapping) = node else {
            throw error("expected a mapping of keys to values, found \(kind(of: node))")
        }
        var entries: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else {
                throw located(keyNode, "mapping keys must be plain strings")
            }
            guard Key(stringValue: key) != nil else {
                throw located(keyNode, key: key, unknownKeyMessage(key, known: knownKeys(of: Key.self)))
            }
            guard entries.updateValue(value, forKey: key) == nil else {
                throw located(keyNode, key: key, "key \(key) appears twice; keep one")
            }
        }
        return KeyedDecodingContainer(KeyedContainer<Key>(decoder: self, entries: entries))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .sequence(let sequence) = node else {
            throw error("expected a list, found \(kind(of: node))")
        }
        return UnkeyedContainer(decoder: self, items: Array(sequence))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueContainer(decoder: self)
    }

    func child(_ node: Node, key: any CodingKey) -> StrictYAMLDecoder {
        StrictYAMLDecoder(node: node, codingPath: codingPath + [key], file: file)
    }

    // MARK: Errors

    func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: node.mark?.line, column: node.mark?.column,
                    keyPath: YAMLDocument.keyPath(codingPath), message: message)
    }

    func located(_ node: Node, key: String? = nil, _ message: String) -> ConfigError {
        let path = YAMLDocument.keyPath(codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue } + (key.map { [$0] } ?? []))
        return ConfigError(file: file, line: node.mark?.line, column: node.mark?.column, keyPath: path, message: message)
    }

    func kind(of node: Node) -> String {
        switch node {
        case .scalar(let scalar): return scalar.tag == .implicit && scalar.string.isEmpty ? "nothing" : "the value \"\(scalar.string.prefix(40))\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    private func knownKeys<Key: CodingKey>(of type: Key.Type) -> [String] {
        guard let iterable = type as? any CaseIterable.Type else { return [] }
        return Self.allCases(of: iterable).compactMap { ($0 as? any CodingKey)?.stringValue }
    }

    private static func allCases<T: CaseIterable>(of type: T.Type) -> [Any] { Array(type.allCases) }

    private func unknownKeyMessage(_ key: String, known: [String]) -> String {
        var message = "unknown key \(key)"
        if let suggestion = known.min(by: { distance(key, $0) < distance(key, $1) }), distance(key, suggestion) <= 3 {
            message += "; did you mean \(suggestion)?"
        } else if !known.isEmpty {
            message += "; known keys here: \(known.joined(separator: ", "))"
        } else {
            message += "; remove it or check its spelling and indentation"
        }
        return message
    }

    /// Levenshtein distance, for "did you mean".
    private func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, cb) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    // MARK: Scalars

    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        if scalar.style != .plain { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    func scalar() throws -> Node.Scalar {
        guard case .scalar(let scalar) = node else { throw error("expected a single value, found \(kind(of: node))") }
        return scalar
    }

    func decodeString() throws -> String {
        let scalar = try scalar()
        if isNull(node) { throw error("expected a value, found nothing") }
        return scalar.string
    }

    func decodeBool() throws -> Bool {
        let scalar = try scalar()
        guard let value = Bool.construct(from: scalar) else { throw error("expected true or false, found \(kind(of: node))") }
        return value
    }

    func decodeInteger<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        let scalar = try scalar()
        guard let value = Int.construct(from: scalar), let converted = T(exactly: value) else {
            throw error("expected a whole number, found \(kind(of: node))")
        }
        return converted
    }

    func decodeDouble() throws -> Double {
        let scalar = try scalar()
        guard let value = Double.construct(from: scalar) else { throw error("expected a number, found \(kind(of: node))") }
        return value
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: StrictYAMLDecoder
    let entries: [String: Node]

    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] { entries.keys.sorted().compactMap(Key.init(stringValue:)) }

    func contains(_ key: Key) -> Bool { entries[key.stringValue] != nil }

    private func child(_ key: Key) throws -> StrictYAMLDecoder {
        guard let node = entries[key.stringValue] else {
            throw decoder.error("missing required key \(key.stringValue)")
        }
        return decoder.child(node, key: key)
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let node = entries[key.stringValue] else { return true }
        return decoder.isNull(node)
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).decodeBool() }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).decodeString() }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).decodeDouble() }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try child(key).decodeDouble()) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decodeInteger(Int.self) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decodeInteger(Int8.self) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decodeInteger(Int16.self) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decodeInteger(Int32.self) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decodeInteger(Int64.self) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decodeInteger(UInt.self) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decodeInteger(UInt8.self) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decodeInteger(UInt16.self) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decodeInteger(UInt32.self) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decodeInteger(UInt64.self) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let child = try child(key)
        if decoder.isNull(child.node), !(T.self is any ExpressibleByNilLiteral.Type) {
            throw child.error("expected a value, found nothing")
        }
        return try T(from: child)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct IndexKey: CodingKey {
    let intValue: Int?
    let stringValue: String
    init(_ index: Int) { intValue = index; stringValue = String(index) }
    init?(stringValue: String) { return nil }
    init?(intValue: Int) { self.init(intValue) }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: StrictYAMLDecoder
    let items: [Node]
    var currentIndex = 0

    init(decoder: StrictYAMLDecoder, items: [Node]) {
        self.decoder = decoder
        self.items = items
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> StrictYAMLDecoder {
        guard !isAtEnd else { throw decoder.error("the list has fewer items than expected") }
        defer { currentIndex += 1 }
        return decoder.child(items[currentIndex], key: IndexKey(currentIndex))
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, decoder.isNull(items[currentIndex]) else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decodeBool() }
    mutating func decode(_ type: String.Type) throws -> String { try next().decodeString() }
    mutating func decode(_ type: Double.Type) throws -> Double { try next().decodeDouble() }
    mutating func decode(_ type: Float.Type) throws -> Float { Float(try next().decodeDouble()) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next().decodeInteger(Int.self) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decodeInteger(Int8.self) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decodeInteger(Int16.self) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decodeInteger(Int32.self) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decodeInteger(Int64.self) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decodeInteger(UInt.self) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decodeInteger(UInt8.self) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decodeInteger(UInt16.self) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decodeInteger(UInt32.self) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decodeInteger(UInt64.self) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: try next()) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct SingleValueContainer: SingleValueDecodingContainer {
    let decoder: StrictYAMLDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { decoder.isNull(decoder.node) }
    func decode(_ type: Bool.Type) throws -> Bool { try decoder.decodeBool() }
    func decode(_ type: String.Type) throws -> String { try decoder.decodeString() }
    func decode(_ type: Double.Type) throws -> Double { try decoder.decodeDouble() }
    func decode(_ type: Float.Type) throws -> Float { Float(try decoder.decodeDouble()) }
    func decode(_ type: Int.Type) throws -> Int { try decoder.decodeInteger(Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decoder.decodeInteger(Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decoder.decodeInteger(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decoder.decodeInteger(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decoder.decodeInteger(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try decoder.decodeInteger(UInt.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.decodeInteger(UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.decodeInteger(UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.decodeInteger(UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.decodeInteger(UInt64.self) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: decoder) }
}
