import Foundation
import InsightCore

/// Builds events for tests without JSON boilerplate.
public enum EventFixtures {
    public static func event(_ id: String, _ type: String, client: String?, at time: String = "2026-11-20T10:00:00+08:00",
                             source: String = "core-banking", data: [String: JSONValue]) -> Event {
        guard let date = RFC3339.parse(time) else { preconditionFailure("bad RFC 3339 literal \(time)") }
        return Event(id: id, source: source, type: type, time: date, clientId: client, data: .object(data))
    }

    public static func transaction(_ id: String, client: String, amount: String, direction: String = "credit",
                                   channel: String = "transfer", account: String = "6222020200112233",
                                   at time: String = "2026-11-20T10:00:00+08:00") -> Event {
        event(id, EventType.accountTransaction, client: client, at: time, data: [
            "accountId": .string(account), "amount": .string(amount), "direction": .string(direction),
            "channel": .string(channel), "currency": .string("CNY"),
        ])
    }

    /// Decodes a fixture file of NDJSON or JSON; traps on unreadable fixtures (tests only).
    public static func load(_ path: String, source: String = "fixture") -> [Event] {
        guard let data = FileManager.default.contents(atPath: path),
              let items = try? EventBatch.decode(Array(data), format: .automatic, defaultSource: source)
        else { preconditionFailure("cannot read fixture \(path)") }
        return items.compactMap { try? $0.result.get() }
    }
}
