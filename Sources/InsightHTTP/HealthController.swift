import Foundation
import Hummingbird
import InsightCore
import InsightStore

/// `GET /healthz` (the process answers) and `GET /readyz` (the database takes writes and every source is
/// running; otherwise 503 naming what is wrong).
struct HealthController: Sendable {
    let database: AppDatabase
    let health: HealthBoard

    func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in EventsController.json(.object(["status": .string("ok")]), status: .ok) }
        router.get("/readyz") { _, _ in self.readiness() }
    }

    func readiness() -> Response {
        var problems: [String] = []
        if !database.isWritable() { problems.append("database: not writable") }
        for (name, status) in health.snapshot.sorted(by: { $0.key < $1.key }) {
            switch status {
            case .running: break
            case .starting: problems.append("\(name): starting")
            case .failed(let reason): problems.append("\(name): \(reason)")
            }
        }
        let body: JSONValue = .object([
            "status": .string(problems.isEmpty ? "ready" : "not ready"),
            "problems": .array(problems.map(JSONValue.string)),
        ])
        return EventsController.json(body, status: problems.isEmpty ? .ok : .serviceUnavailable)
    }
}
