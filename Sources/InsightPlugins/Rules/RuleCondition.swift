import Foundation
import InsightCore

/// A condition on one event field (`{field: data.amount, gte: 500000}`) or a group (`{all: [...]}`,
/// `{any: [...]}`).
///
/// Comparison follows the event value's JSON type: numbers and decimal strings compare as exact decimals,
/// booleans as `true`/`false`, other strings as text (so ISO dates order correctly). A missing field makes
/// every comparison false; use `exists: false` to match its absence.
public indirect enum RuleCondition: Sendable, Decodable {
    case field(FieldCondition)
    case all([RuleCondition])
    case any([RuleCondition])

    public struct FieldCondition: Sendable {
        public let field: String
        public let comparison: Comparison
        /// `data.a.b` as `["a", "b"]`, split once when the rule is loaded.
        let dataPath: [String]?

        init(field: String, comparison: Comparison) {
            self.field = field
            self.comparison = comparison
            dataPath = field.hasPrefix("data.") ? field.dropFirst(5).split(separator: ".").map(String.init) : nil
        }
    }

    public enum Comparison: Sendable {
        case eq(Literal), ne(Literal), gt(Literal), gte(Literal), lt(Literal), lte(Literal)
        case oneOf([Literal])
        case exists(Bool)
    }

    /// A rule's literal, with its exact decimal value worked out once when the rule is loaded.
    public struct Literal: Sendable, Hashable {
        public let text: String
        public let decimal: Decimal?

        public init(_ text: String) {
            self.text = text
            decimal = Decimal(exactly: text)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case field, eq, ne, gt, gte, lt, lte, `in`, exists, all, any
    }

    static let operators: [CodingKeys] = [.eq, .ne, .gt, .gte, .lt, .lte, .in, .exists]
    static let fieldRoots = ["id", "source", "type", "clientId", "time"]
    /// Client state fields a condition may read, as `client.<name>`.
    static let clientFields = ["segment", "riskLevel", "tags", "aum", "managerId", "branchId", "status", "marketingConsent",
                               "birthCalendar"]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if container.contains(.all) || container.contains(.any) {
            guard !container.contains(.field), container.allKeys.count == 1 else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                    debugDescription: "a group has exactly one key, all or any, holding a list of conditions"))
            }
            self = container.contains(.all) ? .all(try container.decode([RuleCondition].self, forKey: .all))
                : .any(try container.decode([RuleCondition].self, forKey: .any))
            return
        }
        let field = try container.decode(String.self, forKey: .field)
        guard Self.fieldRoots.contains(field) || (field.hasPrefix("data.") && field.count > 5)
                || (field.hasPrefix("client.") && Self.clientFields.contains(String(field.dropFirst(7)))) else {
            throw DecodingError.dataCorruptedError(forKey: .field, in: container,
                debugDescription: "field must be data.<path>, client.<\(Self.clientFields.joined(separator: "|"))>, or one of \(Self.fieldRoots.joined(separator: ", ")); got \"\(field)\"")
        }
        let present = Self.operators.filter { container.contains($0) }
        guard present.count == 1, let op = present.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "a field condition needs exactly one operator of eq, ne, gt, gte, lt, lte, in, exists; found \(present.isEmpty ? "none" : present.map(\.stringValue).joined(separator: ", "))"))
        }
        let comparison: Comparison
        switch op {
        case .eq: comparison = .eq(Literal(try container.decode(String.self, forKey: op)))
        case .ne: comparison = .ne(Literal(try container.decode(String.self, forKey: op)))
        case .gt: comparison = .gt(Literal(try container.decode(String.self, forKey: op)))
        case .gte: comparison = .gte(Literal(try container.decode(String.self, forKey: op)))
        case .lt: comparison = .lt(Literal(try container.decode(String.self, forKey: op)))
        case .lte: comparison = .lte(Literal(try container.decode(String.self, forKey: op)))
        case .in: comparison = .oneOf(try container.decode([String].self, forKey: op).map(Literal.init))
        default: comparison = .exists(try container.decode(Bool.self, forKey: op))
        }
        self = .field(FieldCondition(field: field, comparison: comparison))
    }

    /// The field conditions inside, for evidence.
    var fieldConditions: [FieldCondition] {
        switch self {
        case .field(let condition): [condition]
        case .all(let items), .any(let items): items.flatMap(\.fieldConditions)
        }
    }

    public func matches(_ event: Event, client: ClientState? = nil) -> Bool {
        switch self {
        case .all(let items): return items.allSatisfy { $0.matches(event, client: client) }
        case .any(let items): return items.contains { $0.matches(event, client: client) }
        case .field(let condition):
            if let path = condition.dataPath {
                // The first key read as a field: an event decoded on the data path makes no object for it.
                var value: JSONValue? = path.first.map(event.field) ?? event.data
                for key in path.dropFirst() { value = value?[key] }
                return condition.matches(value)
            }
            return condition.matches(Self.value(of: condition.field, event: event, client: client))
        }
    }

    /// The value a field path names: an event field, or a `client.` field of the client's state (with this
    /// event applied).
    static func value(of field: String, event: Event, client: ClientState?) -> JSONValue? {
        guard field.hasPrefix("client.") else { return event.value(atPath: field) }
        guard let client else { return nil }
        let profile = client.profile
        switch field.dropFirst(7) {
        case "segment": return profile.segment.map(JSONValue.string)
        case "riskLevel": return profile.riskLevel.map { .number(String($0.value)) }
        case "tags": return .array(profile.tags.map(JSONValue.string))
        case "aum": return .number(client.aum.plainText)
        case "managerId": return profile.managerId.map(JSONValue.string)
        case "branchId": return profile.branchId.map(JSONValue.string)
        case "status": return .string(profile.status ?? "active")
        case "marketingConsent": return profile.marketingConsent.map(JSONValue.bool)
        case "birthCalendar": return .string((profile.birthCalendar ?? .gregorian).rawValue)
        default: return nil
        }
    }
}

extension RuleCondition.FieldCondition {
    func matches(_ value: JSONValue?) -> Bool {
        let present = value.map { $0 != .null } ?? false
        if case .exists(let expected) = comparison { return present == expected }
        guard let value, present else { return false }
        // A list (such as client.tags) matches eq / in when any element does, and ne when none does.
        if case .array(let items) = value {
            switch comparison {
            case .eq, .oneOf: return items.contains { matches($0) }
            case .ne(let literal): return !items.contains { Self.order($0, literal) == .orderedSame }
            default: return false
            }
        }
        switch comparison {
        case .eq(let literal): return Self.order(value, literal) == .orderedSame
        case .ne(let literal): return Self.order(value, literal) != .orderedSame
        case .gt(let literal): return Self.order(value, literal) == .orderedDescending
        case .gte(let literal): return [.orderedDescending, .orderedSame].contains(Self.order(value, literal))
        case .lt(let literal): return Self.order(value, literal) == .orderedAscending
        case .lte(let literal): return [.orderedAscending, .orderedSame].contains(Self.order(value, literal))
        case .oneOf(let literals): return literals.contains { Self.order(value, $0) == .orderedSame }
        case .exists: return false
        }
    }

    /// Orders an event value against a rule's literal; nil when they cannot be compared.
    static func order(_ value: JSONValue, _ literal: RuleCondition.Literal) -> ComparisonResult? {
        switch value {
        case .bool(let flag):
            guard let other = Bool(literal.text.lowercased()) else { return nil }
            return flag == other ? .orderedSame : nil
        case .number, .string:
            // A literal that is not a number never needs the value parsed as one.
            if let right = literal.decimal, let left = value.decimalValue {
                return left == right ? .orderedSame : (left < right ? .orderedAscending : .orderedDescending)
            }
            guard case .string(let text) = value else { return nil }
            return text == literal.text ? .orderedSame : (text < literal.text ? .orderedAscending : .orderedDescending)
        default:
            return nil
        }
    }
}
