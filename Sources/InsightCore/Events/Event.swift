import Foundation
import Synchronization

/// One business event, as accepted into the journal.
///
/// `id` + `source` is the idempotency key. `data` is always a JSON object whose fields depend on `type`
/// (see ``EventType``); unknown types are kept as they came and offered to the `rules` plugin.
public struct Event: Sendable, Hashable {
    /// The journal sequence number; 0 until the event is journaled.
    public var sequence: Int64
    public let time: Date
    /// The fields that hold references, in one shared box: an event is copied at every stage of the data path
    /// (batch, partition, shard, plugin), and a copy then costs one reference count instead of one per string.
    @usableFromInline var body: Body

    @usableFromInline
    final class Body: @unchecked Sendable {  // `dataText` is written only while the box is not shared
        @usableFromInline let id: String
        @usableFromInline let source: String
        @usableFromInline let type: String
        @usableFromInline let clientId: String?
        /// `data` as given whole, or nil when the decoder kept it as its members.
        @usableFromInline let givenData: JSONValue?
        /// `data` as its members (``JSONObjectMembers``), as decoded on the data path; nil when given whole.
        @usableFromInline let dataMembers: JSONObjectMembers?
        @usableFromInline var dataText: String?
        /// What is made from `data` on first use (nil inside: not yet): the whole object of an event kept as members,
        /// and a transaction's fields. Only an event that is handled needs them: one that is only journaled (a
        /// webhook's, an inbox file's) never pays for them.
        private let derived: Mutex<Derived>

        struct Derived {
            var data: JSONValue?
            var transaction: TransactionFields?
        }

        @usableFromInline
        init(id: String, source: String, type: String, clientId: String?, data: JSONValue?, members: JSONObjectMembers?,
             dataText: String?, transaction: TransactionFields? = nil) {
            self.id = id
            self.source = source
            self.type = type
            self.clientId = clientId
            givenData = members == nil ? data ?? .object([:]) : nil
            dataMembers = members
            self.dataText = dataText
            derived = Mutex(Derived(data: nil, transaction: transaction))
        }

        /// A copy with another source or `dataText`, keeping `data` as it is held and whatever was made from it.
        @usableFromInline func copy(source: String, dataText: String?) -> Body {
            let made = derived.withLock { $0 }
            let body = Body(id: id, source: source, type: type, clientId: clientId, data: givenData, members: dataMembers,
                            dataText: dataText, transaction: made.transaction)
            if let data = made.data { body.derived.withLock { $0.data = data } }
            return body
        }

        @usableFromInline var data: JSONValue {
            if let givenData { return givenData }
            return derived.withLock { made in
                if let data = made.data { return data }
                let data = JSONValue.object(dataMembers?.object ?? [:])
                made.data = data
                return data
            }
        }

        /// `data[key]`, without making the whole object of an event kept as members.
        @usableFromInline func field(_ key: String) -> JSONValue? {
            if let dataMembers { return dataMembers[key] }
            return givenData?[key]
        }

        /// Nil for every type but `account.transaction`. The lock makes the first use safe from any thread.
        @usableFromInline var transaction: TransactionFields? {
            guard type == EventType.accountTransaction else { return nil }
            return derived.withLock { made in
                if let fields = made.transaction { return fields }
                let fields = TransactionFields(field)
                made.transaction = fields
                return fields
            }
        }
    }

    @inlinable public var id: String { body.id }
    @inlinable public var source: String { body.source }
    @inlinable public var type: String { body.type }
    @inlinable public var clientId: String? { body.clientId }
    /// The event's `data` object. An event decoded on the data path keeps `data` as its members and makes the object
    /// on first use: read one field with ``field(_:)`` instead.
    @inlinable public var data: JSONValue { body.data }
    /// True when `data` is an object, as it is for every decoded event.
    @inlinable public var dataIsObject: Bool { body.dataMembers != nil || body.givenData?.objectValue != nil }
    /// `data[key]`, the same value, without making the whole object of an event decoded on the data path.
    @inlinable public func field(_ key: String) -> JSONValue? { body.field(key) }
    /// For an `account.transaction`, the fields the projection and the plugins read on every transaction, looked up
    /// in `data` once, on first use (nil for every other type).
    @inlinable public var transaction: TransactionFields? { body.transaction }
    /// `data` as JSON text, when it was already written: decoding writes it on every core
    /// (``EventBatch/decodeLine(_:number:defaultSource:decoder:encodeData:)``), so the journal's single writer
    /// stores it as is instead of encoding it on its own thread. Not part of the event's identity.
    @inlinable public var dataText: String? {
        get { body.dataText }
        set {
            if isKnownUniquelyReferenced(&body) {
                body.dataText = newValue
            } else {
                body = body.copy(source: body.source, dataText: newValue)
            }
        }
    }

    public init(sequence: Int64 = 0, id: String, source: String, type: String, time: Date, clientId: String?,
                data: JSONValue, dataText: String? = nil) {
        self.sequence = sequence
        self.time = time
        body = Body(id: id, source: source, type: type, clientId: clientId, data: data, members: nil, dataText: dataText)
    }

    /// An event whose `data` is kept as the members it was decoded into (see ``JSONObjectMembers``).
    package init(sequence: Int64 = 0, id: String, source: String, type: String, time: Date, clientId: String?,
                 dataMembers: JSONObjectMembers, dataText: String? = nil) {
        self.sequence = sequence
        self.time = time
        body = Body(id: id, source: source, type: type, clientId: clientId, data: nil, members: dataMembers,
                    dataText: dataText)
    }

    public static func == (lhs: Event, rhs: Event) -> Bool {
        if lhs.body === rhs.body { return lhs.sequence == rhs.sequence && lhs.time == rhs.time }
        return lhs.sequence == rhs.sequence && lhs.id == rhs.id && lhs.source == rhs.source && lhs.type == rhs.type
            && lhs.time == rhs.time && lhs.clientId == rhs.clientId && lhs.data == rhs.data
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(sequence)
        hasher.combine(id)
        hasher.combine(source)
        hasher.combine(type)
        hasher.combine(time)
        hasher.combine(clientId)
        hasher.combine(data)
    }

    /// The event as journaled for an authenticated sender (or the inbox a file came from): the sender's
    /// name, or `sender/source` when the event names another source. Distinct sources stay distinct for
    /// idempotency, and no body can write into another sender's `(source, id)` space.
    public func journaled(under sender: String) -> Event {
        guard source != sender else { return self }
        var scoped = self
        scoped.body = body.copy(source: sender + "/" + source, dataText: dataText)
        return scoped
    }

    /// The largest accepted `id`, in characters; the same for `source`, `type` and `clientId`.
    public static let maximumIdLength = 128

    /// The most UTF-8 bytes an `id` (or a `source`, `type`, `clientId`) may take, whatever its characters:
    /// 128 characters of up to 4 bytes each, so any id of 128 ordinary characters (`张`, 3 bytes) fits. A
    /// limit in characters alone bounds nothing: one character may hold any number of combining marks.
    public static let maximumIdBytes = 4 * maximumIdLength

    /// True when `id` has at most ``maximumIdLength`` characters and ``maximumIdBytes`` UTF-8 bytes. Counting
    /// characters walks grapheme boundaries; an id of at most ``maximumIdLength`` UTF-8 bytes (any ASCII id)
    /// cannot have more characters, and one over ``maximumIdBytes`` is refused before they are counted.
    @inlinable
    public static func fitsIdLength(_ id: String) -> Bool {
        let bytes = id.utf8.count
        return bytes <= maximumIdLength || (bytes <= maximumIdBytes && id.count <= maximumIdLength)
    }

    /// The value a rule or template sees at a dotted path: `type`, `id`, `source`, `clientId`, `time`, or `data.…`.
    public func value(atPath path: String) -> JSONValue? {
        switch path {
        case "id": return .string(id)
        case "source": return .string(source)
        case "type": return .string(type)
        case "clientId": return clientId.map(JSONValue.string)
        case "time": return .string(RFC3339.format(time, timeZone: TimeZone(secondsFromGMT: 0) ?? .current))
        case "data": return data
        default:
            guard path.hasPrefix("data.") else { return nil }
            return data.value(atPath: path.dropFirst(5))
        }
    }
}

/// The fields of an `account.transaction` event that the projection and the plugins read on every transaction,
/// looked up in `data` (and the amount parsed) once, instead of by each reader. Each is
/// what `data[key]` gives through ``JSONValue/stringValue`` or ``JSONValue/decimalValue``; a class, so that
/// reading it retains one object rather than each of its strings.
public final class TransactionFields: Sendable {
    public let accountId: String?
    /// `data.amount` as an exact decimal.
    public let amount: Decimal?
    /// `data.amount` as it was written, when it is a number or a string (see ``Decimal/isPlainText(_:)``).
    public let amountLiteral: String?
    public let direction: String?
    public let currency: String?
    public let channel: String?
    public let counterparty: String?
    public let balanceAfter: Decimal?

    /// The fields, from `data[key]` through `field`.
    init(_ field: (String) -> JSONValue?) {
        accountId = field("accountId")?.stringValue
        let amountValue = field("amount")
        amount = amountValue?.decimalValue
        switch amountValue {
        case .number(let literal)?, .string(let literal)?: amountLiteral = literal
        default: amountLiteral = nil
        }
        direction = field("direction")?.stringValue
        currency = field("currency")?.stringValue
        channel = field("channel")?.stringValue
        counterparty = field("counterparty")?.stringValue
        balanceAfter = field("balanceAfter")?.decimalValue
    }
}
