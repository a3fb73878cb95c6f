import Foundation
import InsightCore

extension Commands {
    /// `insightd simulate --clients N --days D --seed S [--events E] [--start DATE]`: a synthetic bank's event
    /// stream as NDJSON on `write` (stdout): managers, client profiles (some with lunar birthdays), loans and
    /// term deposits maturing through the period, then activity in time order: transactions (a few large or
    /// AML-like), daily balances, wealth trades and corporate financials. The same arguments give the same bytes.
    public static func simulate(clients: Int, days: Int, seed: UInt64, events: Int?, start: String?,
                                write: (String) -> Void) -> (ExitCode, String?) {
        guard clients >= 1, days >= 1 else { return (1, "--clients and --days must be at least 1") }
        let timeZone = TimeZone(identifier: "Asia/Shanghai") ?? TimeZone(secondsFromGMT: 8 * 3600) ?? .current
        let startDate: Date
        if let start {
            guard let date = LocalDate(start)?.instant(in: timeZone) ?? RFC3339.parse(start) else {
                return (1, "--start must be a date (YYYY-MM-DD) or an RFC 3339 time, got \"\(start)\"")
            }
            startDate = date
        } else {
            startDate = LocalDate(year: 2026, month: 9, day: 1)?.instant(in: timeZone) ?? Date(timeIntervalSince1970: 1_788_192_000)
        }
        let bank = SyntheticBank(clients: clients, start: startDate, days: days, seed: seed)
        let total = events ?? clients * days / 3 + clients
        var chunk = ""
        func emit(_ event: Event) {
            chunk += line(event, timeZone: timeZone)
            chunk += "\n"
            if chunk.utf8.count >= 1 << 16 {
                write(chunk)
                chunk = ""
            }
        }
        for event in bank.openingEvents() { emit(event) }
        for index in 0..<total { emit(bank.activityEvent(index, of: total)) }
        write(chunk)
        return (0, nil)
    }

    /// The native envelope of DESIGN §3.
    static func line(_ event: Event, timeZone: TimeZone) -> String {
        var envelope: [String: JSONValue] = [
            "id": .string(event.id), "type": .string(event.type), "source": .string(event.source),
            "time": .string(RFC3339.format(event.time, timeZone: timeZone)), "data": event.data,
        ]
        if let client = event.clientId { envelope["clientId"] = .string(client) }
        return JSONWriter.string(.object(envelope))
    }
}
