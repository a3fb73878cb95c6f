import AsyncHTTPClient
import Foundation
import InsightCore
import InsightDelivery
import InsightStore
import NIOCore

extension Commands {
    // MARK: - insightd routes test

    /// `insightd routes test --config PATH --lead lead.json [--at TIME] [--sent-today N]`: which routes and
    /// receivers a lead would go to, and when (as `amtool config routes test` does for Alertmanager).
    /// Returns the exit status and the report.
    public static func routesTest(configPath: String, leadPath: String, at: String?, sentToday: Int,
                                  openPaths: [String] = []) -> (ExitCode, String) {
        guard let configuration = loadOrReport(configPath) else { return (1, "") }
        let timeZone = configuration.config.timeZone
        let now: Date
        if let at {
            guard let parsed = RFC3339.parse(at) else { return (1, "--at must be an RFC 3339 time, got \"\(at)\"") }
            now = parsed
        } else {
            now = Date()
        }
        let lead: Lead
        do {
            lead = try leadForRouting(contentsOf: leadPath, now: now)
        } catch {
            return (1, "\(leadPath): \(error)")
        }
        var open: [LeadHeader] = []
        for path in openPaths {
            do {
                // An open lead was made before the one routed: a minute earlier unless its file says when.
                open.append(LeadHeader(try leadForRouting(contentsOf: path, now: now.addingTimeInterval(-60))))
            } catch {
                return (1, "\(path): \(error)")
            }
        }
        let router = configuration.router
        let planner = configuration.deliveryPlanner
        let compliance = planner.compliance
        func time(_ date: Date) -> String { RFC3339.format(date, timeZone: timeZone) }
        var lines = [
            "lead \(lead.id): plugin \(lead.plugin), kind \(lead.kind), priority \(lead.priority.rawValue), "
                + "manager \(lead.manager?.id ?? "none"), branch \(lead.manager?.branchId ?? "none"), segment \(lead.client?.segment ?? "none")"
                + (lead.tags.map { ", tags [\($0.joined(separator: ", "))]" } ?? ""),
            "routed at \(time(now))" + (sentToday > 0 ? " with \(sentToday) already sent alone per route on the day it would go" : ""),
        ]
        if let inhibition = compliance.inhibition(of: lead, among: open, at: now) {
            let rule = configuration.config.inhibit[inhibition.rule]
            lines.append("inhibited by \(inhibition.sourceId) (\(inhibition.sourceKind)), inhibit rule \(inhibition.rule)"
                         + (rule.duration.map { " for \($0) after it" } ?? "") + " or until compliance decides it: "
                         + "stored as suppressed, sent nowhere")
            return (0, lines.joined(separator: "\n"))
        }
        if compliance.mayInhibit(lead) {
            lines.append("an inhibit rule targets this lead: it is held back while the client has an open matching lead"
                         + (open.isEmpty ? " (give one with --open)" : " (none of the --open leads matches)"))
        }
        if compliance.isAML(lead) {
            lines.append(compliance.receivers.isEmpty
                ? "AML kind: delivery.compliance names no receiver, so no compliance queue gets it in full"
                : "AML kind: in full to the compliance queue (\(compliance.receivers.joined(separator: ", ")))")
            lines.append(compliance.managerNotice == .none
                ? "aml_manager_notice none: the manager's routes get nothing"
                : "aml_manager_notice neutral: the manager's routes below get a neutral task, without evidence or report wording")
        }
        let plans = planner.plans(for: lead, at: now, sent: { _, _ in sentToday })
        let managerGetsNothing = compliance.isAML(lead) && compliance.managerNotice == .none
        if lead.manager == nil, !managerGetsNothing {
            lines.append(router.unassigned.isEmpty
                ? "no manager, and delivery.unassigned names no receiver: the lead is kept in the ledger, sent nowhere"
                : "no manager: goes to delivery.unassigned")
        } else if !managerGetsNothing {
            let matched = router.matchingRoutes(lead)
            if matched.isEmpty { lines.append("no route matches: the lead is kept in the ledger, sent nowhere") }
            for route in matched {
                let config = configuration.config.routes[route.index]
                lines.append("route \(route.index) matches \(describe(config.match))"
                             + (route.continue ? " (continue: true, later routes are tried too)" : ""))
            }
        }
        for plan in plans {
            var line = "  → \(plan.receiver): \(plan.purpose.rawValue), "
            switch plan.timing {
            case "immediate", "unassigned": line += "at once"
            case "afterQuietHours": line += "held by quiet hours until \(time(plan.notBefore))"
            case "digest": line += "in the manager's digest at \(time(plan.notBefore))"
            case "overCap": line += "over max_per_manager_per_day: in the digest at \(time(plan.notBefore))"
            case "escalation": line += "if nobody acknowledges it by \(time(plan.notBefore))"
            case "compliance": line += "at once, in full (compliance queue)"
            default: line += "\(plan.timing) at \(time(plan.notBefore))"
            }
            if let fallback = plan.fallback { line += "; fallback \(fallback) when retries run out" }
            lines.append(line)
        }
        return (0, lines.joined(separator: "\n"))
    }

    private static func describe(_ match: RouteConfig.Match) -> String {
        var parts: [String] = []
        if let plugins = match.plugin { parts.append("plugin: [\(plugins.joined(separator: ", "))]") }
        if let kinds = match.kind { parts.append("kind: [\(kinds.joined(separator: ", "))]") }
        if let priorities = match.priority { parts.append("priority: [\(priorities.map(\.rawValue).joined(separator: ", "))]") }
        if let branches = match.branch { parts.append("branch: [\(branches.joined(separator: ", "))]") }
        if let segments = match.segment { parts.append("segment: [\(segments.joined(separator: ", "))]") }
        return "{" + parts.joined(separator: ", ") + "}"
    }

    struct LeadFileError: Error, CustomStringConvertible {
        var description: String
    }

    /// A lead as the API shows it, or just the fields routing reads: plugin, kind, priority,
    /// client.{id,segment}, manager.{id,branchId}.
    static func leadForRouting(contentsOf path: String, now: Date) throws -> Lead {
        guard let data = FileManager.default.contents(atPath: path) else { throw LeadFileError(description: "cannot read the file") }
        let json: JSONValue
        do {
            json = try JSONParser.parse(Array(data))
        } catch {
            throw LeadFileError(description: "not valid JSON: \(error)")
        }
        guard let plugin = json["plugin"]?.stringValue, let kind = json["kind"]?.stringValue else {
            throw LeadFileError(description: "a lead needs at least plugin and kind (and usually priority, client, manager)")
        }
        var priority = LeadPriority.normal
        if let text = json["priority"]?.stringValue {
            guard let value = LeadPriority(rawValue: text) else {
                throw LeadFileError(description: "priority must be low, normal, high or urgent, got \"\(text)\"")
            }
            priority = value
        }
        let client = json["client"].flatMap { value -> ClientReference? in
            value["id"]?.stringValue.map { ClientReference(id: $0, name: value["name"]?.stringValue, segment: value["segment"]?.stringValue) }
        }
        let manager = json["manager"].flatMap { value -> ManagerReference? in
            value["id"]?.stringValue.map { ManagerReference(id: $0, name: value["name"]?.stringValue, branchId: value["branchId"]?.stringValue) }
        }
        let key = json["key"]?.stringValue ?? "\(plugin):routes-test:\(kind)"
        let tags = json["tags"]?.arrayValue?.compactMap(\.stringValue)
        return Lead(id: json["id"]?.stringValue ?? Lead.id(forKey: key), key: key, plugin: plugin, kind: kind, priority: priority,
                    client: client, manager: manager, title: json["title"]?.stringValue ?? kind, summary: "", suggestedAction: "",
                    evidence: [], products: nil, dueAt: nil,
                    createdAt: json["createdAt"]?.stringValue.flatMap(RFC3339.parse) ?? now, sourceEvents: [], status: .new,
                    tags: tags?.isEmpty == false ? tags : nil)
    }

    // MARK: - insightd leads

    /// The API a `leads` subcommand calls.
    public struct APIClient: Sendable {
        public var baseURL: String
        public var token: String?

        public init(baseURL: String, token: String?) {
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.token = token
        }

        /// A daemon that is not running should say so at once: no connection retries, a short connect timeout.
        static let client: HTTPClient = {
            var pool = HTTPClient.Configuration.ConnectionPool()
            pool.retryConnectionEstablishment = false
            return HTTPClient(eventLoopGroupProvider: .singleton,
                              configuration: HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                                      timeout: .init(connect: .seconds(5), read: .seconds(30)),
                                                                      connectionPool: pool))
        }()

        public struct Failure: Error, CustomStringConvertible {
            public var description: String
        }

        /// Sends a request; returns the JSON body of a 2xx answer, or throws with the problem's detail.
        public func call(_ method: String, _ path: String, body: JSONValue? = nil) async throws -> JSONValue {
            var request = HTTPClientRequest(url: baseURL + path)
            request.method = .init(rawValue: method)
            if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: JSONWriter.string(body)))
            }
            let response: HTTPClientResponse
            do {
                response = try await Self.client.execute(request, timeout: .seconds(30))
            } catch {
                throw Failure(description: "cannot reach insightd at \(baseURL): \(error)")
            }
            let bytes = try await response.body.collect(upTo: 32 * 1024 * 1024)
            let json = try? JSONParser.parse(Array(bytes.readableBytesView))
            guard (200..<300).contains(Int(response.status.code)) else {
                let detail = json?["detail"]?.stringValue ?? String(buffer: bytes)
                throw Failure(description: "\(response.status.code) \(json?["title"]?.stringValue ?? response.status.reasonPhrase): \(detail)")
            }
            return json ?? .null
        }
    }

    public struct LeadFilters: Sendable {
        public var manager: String?
        public var client: String?
        public var plugin: String?
        public var status: String?
        public var since: String?
        public var limit: Int?
        public var cursor: String?

        public init(manager: String? = nil, client: String? = nil, plugin: String? = nil, status: String? = nil,
                    since: String? = nil, limit: Int? = nil, cursor: String? = nil) {
            self.manager = manager
            self.client = client
            self.plugin = plugin
            self.status = status
            self.since = since
            self.limit = limit
            self.cursor = cursor
        }

        var query: String {
            let pairs: [(String, String?)] = [("manager", manager), ("client", client), ("plugin", plugin), ("status", status),
                                              ("since", since), ("limit", limit.map(String.init)), ("cursor", cursor)]
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~:")
            let items = pairs.compactMap { name, value in
                value.map { "\(name)=\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0)" }
            }
            return items.isEmpty ? "" : "?" + items.joined(separator: "&")
        }
    }

    /// `insightd leads list`: a table (or the API's JSON), with the cursor for the next page.
    public static func leadsList(_ api: APIClient, filters: LeadFilters, json: Bool) async -> (ExitCode, String) {
        do {
            let page = try await api.call("GET", "/v1/leads" + filters.query)
            if json { return (0, JSONWriter.string(page)) }
            let leads = page["leads"]?.arrayValue ?? []
            var rows = [["ID", "PLUGIN", "KIND", "PRIORITY", "STATUS", "CLIENT", "MANAGER", "DUE", "TITLE"]]
            for lead in leads {
                rows.append([
                    lead["id"]?.stringValue ?? "", lead["plugin"]?.stringValue ?? "", lead["kind"]?.stringValue ?? "",
                    lead["priority"]?.stringValue ?? "", lead["status"]?.stringValue ?? "",
                    [lead["client"]?["id"]?.stringValue, lead["client"]?["name"]?.stringValue].compactMap { $0 }.joined(separator: " "),
                    lead["manager"]?["id"]?.stringValue ?? "-", String((lead["dueAt"]?.stringValue ?? "-").prefix(10)),
                    String((lead["title"]?.stringValue ?? "").prefix(40)),
                ])
            }
            var output = leads.isEmpty ? "no leads match" : table(rows)
            if let next = page["nextCursor"]?.stringValue { output += "\nmore: insightd leads list --cursor \(next)" }
            return (0, output)
        } catch {
            return (1, "\(error)")
        }
    }

    /// `insightd leads show ID`: the lead, its evidence, its deliveries and its history.
    public static func leadsShow(_ api: APIClient, id: String, json: Bool) async -> (ExitCode, String) {
        do {
            let lead = try await api.call("GET", "/v1/leads/\(pathSegment(id))")
            if json { return (0, JSONWriter.string(lead)) }
            func text(_ value: JSONValue?) -> String { value?.stringValue ?? "-" }
            var lines = [
                "\(text(lead["id"]))  \(text(lead["plugin"]))/\(text(lead["kind"]))  \(text(lead["priority"]))  status \(text(lead["status"]))",
                text(lead["title"]),
                "client   \(text(lead["client"]?["id"])) \(text(lead["client"]?["name"])) (\(text(lead["client"]?["segment"])))",
                "manager  \(text(lead["manager"]?["id"])) \(text(lead["manager"]?["name"])) branch \(text(lead["manager"]?["branchId"]))",
                "due      \(text(lead["dueAt"]))   created \(text(lead["createdAt"]))",
                "summary  \(text(lead["summary"]))",
                "action   \(text(lead["suggestedAction"]))",
                "evidence",
            ]
            for item in lead["evidence"]?.arrayValue ?? [] { lines.append("  - \(text(item["label"])): \(text(item["value"]))") }
            for product in lead["products"]?.arrayValue ?? [] {
                lines.append("  product \(text(product["id"])) \(text(product["name"])) (\(text(product["riskLevel"]))): \(text(product["reason"]))")
            }
            lines.append("deliveries")
            for delivery in lead["deliveries"]?.arrayValue ?? [] {
                let when = delivery["sentAt"]?.stringValue.map { "sent \($0)" }
                    ?? (delivery["status"]?.stringValue == "pending" ? "next \(text(delivery["nextAttemptAt"]))" : "updated \(text(delivery["updatedAt"]))")
                lines.append("  \(text(delivery["id"])) → \(text(delivery["receiver"])) \(text(delivery["purpose"])) \(text(delivery["status"]))"
                             + " (\(text(delivery["timing"])), \(when))")
                for attempt in delivery["attempts"]?.arrayValue ?? [] {
                    let status = attempt["httpStatus"].map { JSONWriter.string($0) } ?? "-"
                    lines.append("    #\(JSONWriter.string(attempt["attempt"] ?? .null)) \(text(attempt["at"])) \(text(attempt["outcome"])) HTTP \(status)"
                                 + (attempt["error"]?.stringValue.map { ": \($0)" } ?? ""))
                }
            }
            lines.append("history")
            for entry in lead["activity"]?.arrayValue ?? [] {
                lines.append("  \(text(entry["at"])) \(text(entry["kind"])) \(entry["outcome"]?.stringValue ?? "") \(entry["note"]?.stringValue ?? "") (\(text(entry["actor"])))")
            }
            return (0, lines.joined(separator: "\n"))
        } catch {
            return (1, "\(error)")
        }
    }

    /// `insightd leads feedback ID --outcome X [--note N] [--until T]`.
    public static func leadsFeedback(_ api: APIClient, id: String, outcome: String, note: String?, until: String?) async -> (ExitCode, String) {
        var body: [String: JSONValue] = ["outcome": .string(outcome)]
        if let note { body["note"] = .string(note) }
        if let until { body["until"] = .string(until) }
        do {
            let lead = try await api.call("POST", "/v1/leads/\(pathSegment(id))/feedback", body: .object(body))
            return (0, "\(lead["id"]?.stringValue ?? id): \(outcome) recorded; status \(lead["status"]?.stringValue ?? "?")")
        } catch {
            return (1, "\(error)")
        }
    }

    /// `insightd leads decide ID --decision cleared|reported [--reference R] [--note N]`.
    public static func leadsDecide(_ api: APIClient, id: String, decision: String, reference: String?, note: String?) async -> (ExitCode, String) {
        var body: [String: JSONValue] = ["decision": .string(decision)]
        if let reference { body["reference"] = .string(reference) }
        if let note { body["note"] = .string(note) }
        do {
            let entry = try await api.call("POST", "/v1/leads/\(pathSegment(id))/decision", body: .object(body))
            return (0, "\(id): \(entry["decision"]?.stringValue ?? decision) recorded by \(entry["actor"]?.stringValue ?? "?") at "
                       + (entry["at"]?.stringValue ?? "?") + (entry["reference"]?.stringValue.map { ", reference \($0)" } ?? ""))
        } catch {
            return (1, "\(error)")
        }
    }

    private static func pathSegment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
