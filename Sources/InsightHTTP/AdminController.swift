import Foundation
import Hummingbird
import InsightCore
import InsightEngine
import InsightStore

/// What runs `POST /v1/admin/tick`: the single instance's dispatcher, or a cluster member.
public protocol TickRunner: Sendable {
    /// How many of the events up to `head` (a journal sequence) are not handled yet; 0 when all are.
    func unhandled(upTo head: Int64) async throws -> Int64
    /// Runs a plugin's tick now and returns the new leads.
    func runTick(_ tick: ScheduleTick, plugin: String) async throws -> [Lead]
}

extension Dispatcher: TickRunner {
    public func unhandled(upTo head: Int64) async throws -> Int64 { max(0, head - currentPosition) }
}

/// `POST /v1/admin/tick` `{"at": RFC 3339}`: runs every enabled scheduled plugin as of that instant, for
/// catch-up after an outage and for driving the calendar in tests. Scope: admin.
struct AdminController: Sendable {
    let authenticator: Authenticator
    let runner: any TickRunner
    let journal: any JournalStore
    let settings: SettingsBox
    /// How long a tick waits for the dispatcher to handle the events journaled before it was asked for.
    let catchUp: Duration

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/admin/tick") { request, context in try await self.tick(request, context: context) }
    }

    func tick(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try authenticator.require(.admin, headers: request.headers)
        let body = try await request.body.collect(upTo: 64 * 1024)
        let document: JSONValue
        do {
            document = try JSONParser.parse(Array(body.readableBytesView))
        } catch {
            throw Problem.badRequest("the body must be {\"at\": \"<RFC 3339 time>\"}: \(error)")
        }
        guard let text = document["at"]?.stringValue, let at = RFC3339.parse(text) else {
            throw Problem(.unprocessableContent, "Unprocessable Content",
                          detail: "field \"at\" is required, as an RFC 3339 time such as \"2026-11-25T08:30:00+08:00\"")
        }
        // Every event acknowledged before this request must be handled first, or the tick would miss it.
        let head = try await journal.journalHead()
        let deadline = ContinuousClock.now + catchUp
        // Asked again after 20 ms, then less and less often up to every 250 ms (in a cluster each asking is a query).
        var pause = Duration.milliseconds(20)
        while case let waiting = try await runner.unhandled(upTo: head), waiting > 0 {
            guard ContinuousClock.now < deadline else {
                var problem = Problem(.serviceUnavailable, "Service Unavailable",
                                      detail: "the dispatcher has not yet handled the events journaled before this tick "
                                          + "(\(waiting) waiting after \(catchUp)); nothing ran; try again shortly")
                problem.headers[.retryAfter] = "5"
                throw problem
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(250))
        }
        let current = settings.current
        let localDate = LocalDate(at, in: current.timeZone)
        var results: [JSONValue] = []
        for (plugin, _) in current.schedules.sorted(by: { $0.key < $1.key }) {
            do {
                let leads = try await runner.runTick(ScheduleTick(scheduledAt: at, localDate: localDate), plugin: plugin)
                results.append(.object(["plugin": .string(plugin), "newLeads": .number(String(leads.count))]))
            } catch {
                guard !results.isEmpty else { throw error }
                // Some ticks ran and committed their leads: say which, not that nothing was stored.
                var problem = Problem(.serviceUnavailable, "Service Unavailable",
                                      detail: "the ticks before \(plugin) ran and their leads are stored; \(plugin) and the ones "
                                          + "after it did not run (\(error)); asking again is safe: a lead is kept once")
                problem.extra["plugins"] = .array(results)
                problem.headers[.retryAfter] = "5"
                throw problem
            }
        }
        return EventsController.json(.object([
            "at": .string(RFC3339.format(at, timeZone: current.timeZone)),
            "localDate": .string(localDate.description),
            "plugins": .array(results),
        ]), status: .ok)
    }
}
