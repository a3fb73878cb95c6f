import Foundation
import Hummingbird
import InsightCore
import InsightEngine
import InsightStore

/// `POST /v1/admin/tick` `{"at": RFC 3339}`: runs every enabled scheduled plugin as of that instant, for
/// catch-up after an outage and for driving the calendar in tests. Scope: admin.
struct AdminController: Sendable {
    let authenticator: Authenticator
    let dispatcher: Dispatcher
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
        while await dispatcher.currentPosition < head {
            guard ContinuousClock.now < deadline else {
                let position = await dispatcher.currentPosition
                var problem = Problem(.serviceUnavailable, "Service Unavailable",
                                      detail: "the dispatcher has not yet handled the events journaled before this tick "
                                          + "(\(head - position) waiting after \(catchUp)); nothing ran; try again shortly")
                problem.headers[.retryAfter] = "5"
                throw problem
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let current = settings.current
        let localDate = LocalDate(at, in: current.timeZone)
        var results: [JSONValue] = []
        for (plugin, _) in current.schedules.sorted(by: { $0.key < $1.key }) {
            let leads = try await dispatcher.runTick(ScheduleTick(scheduledAt: at, localDate: localDate), plugin: plugin)
            results.append(.object(["plugin": .string(plugin), "newLeads": .number(String(leads.count))]))
        }
        return EventsController.json(.object([
            "at": .string(RFC3339.format(at, timeZone: current.timeZone)),
            "localDate": .string(localDate.description),
            "plugins": .array(results),
        ]), status: .ok)
    }
}
