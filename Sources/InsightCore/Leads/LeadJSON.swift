import Foundation

/// A lead as the API and the webhook receiver show it (DESIGN §5): RFC 3339 times in the bank's time zone.
/// (The ledger stores epoch milliseconds; this is the outside view.)
public enum LeadJSON {
    public static func encoder(timeZone: TimeZone) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date, timeZone: timeZone))
        }
        return encoder
    }

    /// The lead as a JSON value, for embedding in larger documents: what ``referenceValue(_:timeZone:)`` gives (its
    /// `Codable` form through ``encoder(timeZone:)``, parsed), built directly. A replay writes one per lead, and
    /// the encoder and parser cost several times the lead's own making.
    public static func value(_ lead: Lead, timeZone: TimeZone) throws -> JSONValue {
        value(lead) { .string(RFC3339.format($0, timeZone: timeZone)) }
    }

    /// The lead as its stored form in the ledger: what `JSONEncoder` with `.millisecondsSince1970` dates makes of it
    /// (a date is its milliseconds since 1970 as a number), built directly. Decoding it gives what decoding
    /// `JSONEncoder`'s form gives: the same lead, except that a date finer than a millisecond may come back a
    /// fraction of a microsecond off (the milliseconds are a `Double`), as it always did. Dates must be finite.
    public static func storedValue(_ lead: Lead) -> JSONValue {
        value(lead) { date in .number(millisecondsText(date)) }
    }

    /// A date's milliseconds since 1970 as `JSONEncoder` writes `.millisecondsSince1970`: the `Double`, exactly
    /// (its shortest round-trip text; a whole number without a fraction).
    static func millisecondsText(_ date: Date) -> String {
        let milliseconds = date.timeIntervalSince1970 * 1000
        if milliseconds.rounded() == milliseconds, let whole = Int64(exactly: milliseconds) { return String(whole) }
        return "\(milliseconds)"
    }

    private static func value(_ lead: Lead, date: (Date) -> JSONValue) -> JSONValue {
        func optional(_ text: String?) -> JSONValue? { text.map(JSONValue.string) }
        func strings(_ texts: [String]) -> JSONValue { .array(texts.map(JSONValue.string)) }
        // A nil member is left out, as `encodeIfPresent` leaves it out.
        var fields: [String: JSONValue] = [
            "id": .string(lead.id), "key": .string(lead.key), "plugin": .string(lead.plugin), "kind": .string(lead.kind),
            "priority": .string(lead.priority.rawValue), "title": .string(lead.title), "summary": .string(lead.summary),
            "suggestedAction": .string(lead.suggestedAction),
            "evidence": .array(lead.evidence.map {
                .object(["key": .string($0.key), "label": .string($0.label), "value": .string($0.value)])
            }),
            "createdAt": date(lead.createdAt), "sourceEvents": strings(lead.sourceEvents),
            "status": .string(lead.status.rawValue),
        ]
        if let client = lead.client {
            var object: [String: JSONValue] = ["id": .string(client.id)]
            object["name"] = optional(client.name)
            object["segment"] = optional(client.segment)
            fields["client"] = .object(object)
        }
        if let manager = lead.manager {
            var object: [String: JSONValue] = ["id": .string(manager.id)]
            object["name"] = optional(manager.name)
            object["branchId"] = optional(manager.branchId)
            fields["manager"] = .object(object)
        }
        if let products = lead.products {
            fields["products"] = .array(products.map {
                .object(["id": .string($0.id), "name": .string($0.name), "riskLevel": .string($0.riskLevel),
                         "reason": .string($0.reason)])
            })
        }
        if let dueAt = lead.dueAt { fields["dueAt"] = date(dueAt) }
        if let tags = lead.tags { fields["tags"] = strings(tags) }
        return .object(fields)
    }

    /// The lead's `Codable` form through ``encoder(timeZone:)``, parsed: the reference ``value(_:timeZone:)`` must
    /// equal (a test compares them over every kind of lead).
    public static func referenceValue(_ lead: Lead, timeZone: TimeZone) throws -> JSONValue {
        try JSONParser.parse(Array(encoder(timeZone: timeZone).encode(lead)))
    }

    /// A stored lead that does not read back: which member, and what is wrong with it.
    public struct StoredFormError: Error, CustomStringConvertible {
        public let path: String
        public let problem: String
        public var description: String { "\(path.isEmpty ? "the lead" : path): \(problem)" }
    }

    /// The lead from its stored form (``storedValue(_:)``, or `JSONEncoder`'s form of earlier versions), read as
    /// `JSONDecoder` with `.millisecondsSince1970` dates reads it: a missing or null optional member is nil, a
    /// required one must be there with its type, unknown members are ignored, and an evidence without a `key`
    /// takes its label. Built directly: reading a replay's leads back through `JSONDecoder` cost more than
    /// writing them out. The text is read by ``JSONParser``, which is stricter than `JSONDecoder` about text no
    /// writer of a lead body makes: a duplicate key, a trailing comma, a bad escape inside a member nobody reads,
    /// nesting deeper than 64 are refused.
    public static func storedLead(_ value: JSONValue) throws(StoredFormError) -> Lead {
        typealias Object = [String: JSONValue]
        func fail(_ path: String, _ problem: String) -> StoredFormError { StoredFormError(path: path, problem: problem) }
        func object(_ value: JSONValue, _ path: String) throws(StoredFormError) -> Object {
            guard case .object(let object) = value else { throw fail(path, "expected an object, found \(value.typeName)") }
            return object
        }
        /// The member, nil when it is missing or null (`decodeIfPresent`).
        func present(_ object: Object, _ key: String) -> JSONValue? {
            guard let value = object[key] else { return nil }
            return value == .null ? nil : value
        }
        func required(_ object: Object, _ key: String, _ path: String) throws(StoredFormError) -> JSONValue {
            guard let value = object[key] else { throw fail(path + key, "missing") }
            guard value != .null else { throw fail(path + key, "null where a value is required") }
            return value
        }
        func string(_ value: JSONValue, _ path: String) throws(StoredFormError) -> String {
            guard case .string(let text) = value else { throw fail(path, "expected a string, found \(value.typeName)") }
            return text
        }
        func text(_ object: Object, _ key: String, _ path: String) throws(StoredFormError) -> String {
            try string(required(object, key, path), path + key)
        }
        func optionalText(_ object: Object, _ key: String, _ path: String) throws(StoredFormError) -> String? {
            guard let value = present(object, key) else { return nil }
            return try string(value, path + key)
        }
        func array(_ value: JSONValue, _ path: String) throws(StoredFormError) -> [JSONValue] {
            guard case .array(let items) = value else { throw fail(path, "expected an array, found \(value.typeName)") }
            return items
        }
        func strings(_ value: JSONValue, _ path: String) throws(StoredFormError) -> [String] {
            var texts: [String] = []
            for (index, item) in try array(value, path).enumerated() { texts.append(try string(item, "\(path)[\(index)]")) }
            return texts
        }
        func date(_ value: JSONValue, _ path: String) throws(StoredFormError) -> Date {
            guard case .number(let literal) = value else {
                throw fail(path, "expected milliseconds since 1970, found \(value.typeName)")
            }
            // As `JSONDecoder` reads a `Double`: a number too large for one, or one that is not zero but rounds to
            // zero (`1e-400`), is refused rather than read as infinity or 1970.
            guard let milliseconds = Double(literal), milliseconds.isFinite,
                  milliseconds != 0 || !literal.prefix(while: { $0 != "e" && $0 != "E" }).contains(where: { $0 >= "1" && $0 <= "9" })
            else { throw fail(path, "\(literal.prefix(40)) is out of range for milliseconds since 1970") }
            return Date(timeIntervalSince1970: milliseconds / 1000)
        }

        let lead = try object(value, "")
        let priorityText = try text(lead, "priority", "")
        guard let priority = LeadPriority(rawValue: priorityText) else {
            throw fail("priority", "must be one of \(LeadPriority.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(priorityText)\"")
        }
        let statusText = try text(lead, "status", "")
        guard let status = LeadStatus(rawValue: statusText) else { throw fail("status", "unknown status \"\(statusText)\"") }
        var client: ClientReference?
        if let value = present(lead, "client") {
            let fields = try object(value, "client")
            client = ClientReference(id: try text(fields, "id", "client."), name: try optionalText(fields, "name", "client."),
                                     segment: try optionalText(fields, "segment", "client."))
        }
        var manager: ManagerReference?
        if let value = present(lead, "manager") {
            let fields = try object(value, "manager")
            manager = ManagerReference(id: try text(fields, "id", "manager."), name: try optionalText(fields, "name", "manager."),
                                       branchId: try optionalText(fields, "branchId", "manager."))
        }
        var evidence: [Evidence] = []
        for (index, item) in try array(try required(lead, "evidence", ""), "evidence").enumerated() {
            let path = "evidence[\(index)]."
            let fields = try object(item, "evidence[\(index)]")
            let label = try text(fields, "label", path)
            evidence.append(Evidence(key: try optionalText(fields, "key", path) ?? label, label: label, value: try text(fields, "value", path)))
        }
        var products: [ProductSuggestion]?
        if let value = present(lead, "products") {
            var list: [ProductSuggestion] = []
            for (index, item) in try array(value, "products").enumerated() {
                let path = "products[\(index)]."
                let fields = try object(item, "products[\(index)]")
                list.append(ProductSuggestion(id: try text(fields, "id", path), name: try text(fields, "name", path),
                                              riskLevel: try text(fields, "riskLevel", path), reason: try text(fields, "reason", path)))
            }
            products = list
        }
        return Lead(id: try text(lead, "id", ""), key: try text(lead, "key", ""), plugin: try text(lead, "plugin", ""),
                    kind: try text(lead, "kind", ""), priority: priority, client: client, manager: manager,
                    title: try text(lead, "title", ""), summary: try text(lead, "summary", ""),
                    suggestedAction: try text(lead, "suggestedAction", ""), evidence: evidence, products: products,
                    dueAt: try present(lead, "dueAt").map { value throws(StoredFormError) in try date(value, "dueAt") },
                    createdAt: try date(try required(lead, "createdAt", ""), "createdAt"),
                    sourceEvents: try strings(try required(lead, "sourceEvents", ""), "sourceEvents"), status: status,
                    tags: try present(lead, "tags").map { value throws(StoredFormError) in try strings(value, "tags") })
    }

    public static func data(_ lead: Lead, timeZone: TimeZone) throws -> Data {
        try encoder(timeZone: timeZone).encode(lead)
    }
}
