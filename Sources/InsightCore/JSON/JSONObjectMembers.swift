/// A JSON object's members as they were read, in order, without a dictionary: the shape an event's `data` is
/// decoded into on the data path (``JSONParser/parseMembers(_:)``). Most events are read by key a handful of times
/// (by the validator, the projection and a plugin or two) and never as a whole; a few comparisons of short keys
/// cost less than hashing each key into a dictionary, and the dictionary is made only for a reader that asks for
/// ``Event/data`` whole. Keys are unique: the parser rejects a duplicate.
public struct JSONObjectMembers: Sendable, Equatable {
    public let members: [(key: String, value: JSONValue)]

    /// Members whose keys the caller has checked are unique (the parser rejects a duplicate key), so that reading
    /// a key by ``subscript(_:)`` and through ``object`` agree. Not public: an outside caller could break it.
    init(uniqueKeys members: [(key: String, value: JSONValue)]) {
        assert(Set(members.map(\.key)).count == members.count, "JSONObjectMembers requires unique keys")
        self.members = members
    }

    /// The value of `key`, found by comparison (an object read this way has at most ``JSONParser`` 's linear
    /// limit of members).
    public subscript(key: String) -> JSONValue? {
        for member in members where member.key == key { return member.value }
        return nil
    }

    /// The members as an object.
    public var object: [String: JSONValue] {
        var object = [String: JSONValue](minimumCapacity: members.count)
        for member in members { object[member.key] = member.value }
        return object
    }

    public static func == (lhs: JSONObjectMembers, rhs: JSONObjectMembers) -> Bool {
        lhs.object == rhs.object
    }
}

/// A parsed JSON document whose root may be kept as its members (see ``JSONParser/parseMembers(_:)``).
public enum JSONDocument: Sendable {
    /// A root object of at most the parser's linear limit of members.
    case members(JSONObjectMembers)
    /// Any other document, a larger object included.
    case value(JSONValue)
}
