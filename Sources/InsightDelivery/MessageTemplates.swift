import Foundation
import InsightCore
import InsightStore
import Mustache

/// What one outbox row sends: one lead (alone, escalated or as a fallback) or a manager's digest.
public struct OutboundMessage: Sendable {
    public var delivery: OutboxDelivery
    public var leads: [Lead]
    public var manager: ManagerState?

    public init(delivery: OutboxDelivery, leads: [Lead], manager: ManagerState?) {
        self.delivery = delivery
        self.leads = leads
        self.manager = manager
    }

    /// A digest, or a digest's fallback: it lists several leads.
    public var isDigest: Bool { delivery.purpose == .digest || !delivery.members.isEmpty }
    public var isEscalation: Bool { delivery.purpose == .escalation }
}

public struct RenderedMessage: Sendable, Hashable {
    /// One line, for a card header or a notification preview.
    public var title: String
    /// The body in the receiver's markup.
    public var body: String
}

/// Message text from Mustache templates, per plugin, kind and locale. Built-in templates cover `zh-CN` and
/// `en`; a file `<name>.<locale>.mustache` in the templates directory replaces one, where `<name>` is `lead`,
/// `digest`, `<plugin>` or `<plugin>.<kind>` (the most specific wins). Leads carry masked personal data
/// already; every rendered message is also scrubbed of phone, ID and account numbers.
public struct MessageTemplates: Sendable {
    public enum Style: String, Sendable, CaseIterable {
        /// Plain text (console): no markup.
        case text
        /// Markdown as WeCom, DingTalk and Feishu render it.
        case markdown
        /// Slack mrkdwn.
        case slack
    }

    public struct TemplateError: Error, CustomStringConvertible {
        public var file: String
        public var message: String
        public var description: String { "\(file): \(message)" }
    }

    public let locale: String
    public let timeZone: TimeZone
    /// Compiled templates by style, then by name (`lead`, `digest`, `<plugin>`, `<plugin>.<kind>`).
    private let compiled: [Style: [String: MustacheTemplate]]

    public init(locale: String, timeZone: TimeZone, directory: String? = nil) throws {
        Self.registerContentTypes
        self.locale = locale
        self.timeZone = timeZone
        var sources = Self.builtIn[locale] ?? Self.builtIn["zh-CN"] ?? [:]
        if let directory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            let suffix = ".\(locale).mustache"
            for file in names.sorted() where file.hasSuffix(suffix) {
                let path = (directory as NSString).appendingPathComponent(file)
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw TemplateError(file: path, message: "cannot be read as UTF-8 text")
                }
                sources[String(file.dropLast(suffix.count))] = text
            }
        }
        var compiled: [Style: [String: MustacheTemplate]] = [:]
        for style in Style.allCases {
            for (name, source) in sources {
                do {
                    compiled[style, default: [:]][name] = try MustacheTemplate(string: Self.pragma(style) + Self.markup(source, style: style))
                } catch {
                    let file = directory.map { ($0 as NSString).appendingPathComponent("\(name).\(locale).mustache") }
                    throw TemplateError(file: file ?? "built-in \(name).\(locale)", message: "not a valid Mustache template: \(error)")
                }
            }
        }
        self.compiled = compiled
    }

    public func render(_ message: OutboundMessage, style: Style) -> RenderedMessage {
        let templates = compiled[style] ?? [:]
        let zh = locale != "en"
        let title: String
        let body: String
        if message.isDigest {
            if message.delivery.purpose == .group, let client = message.leads.first?.client {
                // One client's leads that fell due together (delivery.group_window).
                let name = client.name ?? client.id
                title = zh ? "客户\(name)：\(message.leads.count) 条线索" : "\(name): \(message.leads.count) leads"
            } else {
                title = zh ? "线索摘要：\(message.leads.count) 条待跟进" : "Lead digest: \(message.leads.count) to follow up"
            }
            let values: [String: Any] = [
                "title": title, "count": message.leads.count, "manager": Self.manager(message.manager),
                "leads": message.leads.enumerated().map { index, lead in
                    var values = context(lead, escalation: false)
                    values["index"] = index + 1
                    return values
                },
            ]
            body = templates["digest"]?.render(values) ?? title
        } else if let lead = message.leads.first {
            let prefix = message.isEscalation ? (zh ? "【升级】" : "[Escalated] ") : ""
            title = prefix + "【\(Self.priorityLabel(lead.priority, zh: zh))】" + lead.title
            let template = templates["\(lead.plugin).\(lead.kind)"] ?? templates[lead.plugin] ?? templates["lead"]
            body = template?.render(context(lead, escalation: message.isEscalation)) ?? title
        } else {
            title = zh ? "线索" : "Lead"
            body = title
        }
        return RenderedMessage(title: Masking.scrub(title),
                               body: Masking.scrub(body.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// Template markup is Markdown (`**bold**`); other styles get the template's own markup translated
    /// (never the values: a masked name keeps its stars).
    private static func markup(_ source: String, style: Style) -> String {
        switch style {
        case .markdown: source
        case .slack: source.replacingOccurrences(of: "**", with: "*")
        case .text: source.replacingOccurrences(of: "**", with: "")
        }
    }

    private func context(_ lead: Lead, escalation: Bool) -> [String: Any] {
        let zh = locale != "en"
        var values: [String: Any] = [
            "id": lead.id, "key": lead.key, "plugin": lead.plugin, "kind": lead.kind, "priority": lead.priority.rawValue,
            "priorityLabel": Self.priorityLabel(lead.priority, zh: zh), "urgent": lead.priority == .urgent,
            "title": lead.title, "summary": lead.summary, "suggestedAction": lead.suggestedAction,
            "escalation": escalation, "status": lead.status.rawValue,
            "createdAt": RFC3339.format(lead.createdAt, timeZone: timeZone),
            "evidence": lead.evidence.map { ["key": $0.key, "label": $0.label, "value": $0.value] },
            "products": (lead.products ?? []).map { ["id": $0.id, "name": $0.name, "riskLevel": $0.riskLevel, "reason": $0.reason] },
        ]
        if let client = lead.client {
            var entry: [String: Any] = ["id": client.id]
            if let name = client.name { entry["name"] = name }
            // `segment` is the display text in the message locale; `segmentCode` the code (`hnw`).
            if let segment = client.segment {
                entry["segment"] = LeadFormat.segment(segment, locale: locale)
                entry["segmentCode"] = segment
            }
            values["client"] = entry
        }
        if let manager = lead.manager {
            var entry: [String: Any] = ["id": manager.id]
            if let name = manager.name { entry["name"] = name }
            if let branch = manager.branchId { entry["branchId"] = branch }
            values["manager"] = entry
        }
        if let due = lead.dueAt {
            values["due"] = LocalDate(due, in: timeZone).description
            values["dueAt"] = RFC3339.format(due, timeZone: timeZone)
        }
        return values
    }

    private static func manager(_ manager: ManagerState?) -> [String: Any] {
        guard let manager else { return [:] }
        var entry: [String: Any] = ["id": manager.id]
        if let name = manager.name { entry["name"] = Masking.name(name) }
        if let branch = manager.branchId { entry["branchId"] = branch }
        return entry
    }

    static func priorityLabel(_ priority: LeadPriority, zh: Bool) -> String {
        switch priority {
        case .low: zh ? "低" : "Low"
        case .normal: zh ? "普通" : "Normal"
        case .high: zh ? "高" : "High"
        case .urgent: zh ? "紧急" : "URGENT"
        }
    }

    private static func pragma(_ style: Style) -> String {
        switch style {
        case .text: "{{% CONTENT_TYPE: INSIGHTD_TEXT}}"
        case .markdown: "{{% CONTENT_TYPE: INSIGHTD_MARKDOWN}}"
        case .slack: "{{% CONTENT_TYPE: INSIGHTD_SLACK}}"
        }
    }

    /// Values are escaped for the markup: a masked name's `*` must not pair with bold markers, so it becomes
    /// the full-width `＊`, which reads the same on a phone.
    private static let registerContentTypes: Void = {
        MustacheContentTypes.register(TextValues(), named: "INSIGHTD_TEXT")
        MustacheContentTypes.register(MarkdownValues(), named: "INSIGHTD_MARKDOWN")
        MustacheContentTypes.register(SlackValues(), named: "INSIGHTD_SLACK")
    }()

    /// Every value is scrubbed of personal numbers before it is escaped, so the masks' stars are escaped too.
    struct TextValues: MustacheContentType {
        func escapeText(_ text: String) -> String { Masking.scrub(text) }
    }

    struct MarkdownValues: MustacheContentType {
        func escapeText(_ text: String) -> String {
            Masking.scrub(text).replacingOccurrences(of: "*", with: "＊").replacingOccurrences(of: "`", with: "'")
        }
    }

    struct SlackValues: MustacheContentType {
        func escapeText(_ text: String) -> String {
            Masking.scrub(text).replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "*", with: "＊")
                .replacingOccurrences(of: "_", with: "＿").replacingOccurrences(of: "~", with: "～")
        }
    }

    static let builtIn: [String: [String: String]] = [
        "zh-CN": [
            "lead": """
                {{#escalation}}
                **【升级】此线索超时无人确认，请跟进**
                {{/escalation}}
                **【{{priorityLabel}}】{{title}}**
                {{#client}}
                客户：{{client.name}}（{{client.id}}）{{#client.segment}} · {{client.segment}}{{/client.segment}}
                {{/client}}
                {{summary}}
                **建议**：{{suggestedAction}}
                {{#evidence}}
                - {{label}}：{{value}}
                {{/evidence}}
                {{#products}}
                - 推荐 {{name}}（{{riskLevel}}）：{{reason}}
                {{/products}}
                {{#due}}
                截止：{{due}}
                {{/due}}
                线索编号：{{id}}
                """,
            "digest": """
                **{{title}}**
                {{#leads}}
                {{index}}. 【{{priorityLabel}}】{{title}}
                   {{#client}}客户：{{client.name}}（{{client.id}}） {{/client}}建议：{{suggestedAction}}{{#due}} 截止：{{due}}{{/due}}
                {{/leads}}
                """,
        ],
        "en": [
            "lead": """
                {{#escalation}}
                **[Escalated] nobody acknowledged this lead in time; please follow up**
                {{/escalation}}
                **[{{priorityLabel}}] {{title}}**
                {{#client}}
                Client: {{client.name}} ({{client.id}}){{#client.segment}} · {{client.segment}}{{/client.segment}}
                {{/client}}
                {{summary}}
                **Suggested**: {{suggestedAction}}
                {{#evidence}}
                - {{label}}: {{value}}
                {{/evidence}}
                {{#products}}
                - Product {{name}} ({{riskLevel}}): {{reason}}
                {{/products}}
                {{#due}}
                Due: {{due}}
                {{/due}}
                Lead: {{id}}
                """,
            "digest": """
                **{{title}}**
                {{#leads}}
                {{index}}. [{{priorityLabel}}] {{title}}
                   {{#client}}Client: {{client.name}} ({{client.id}}) {{/client}}Suggested: {{suggestedAction}}{{#due}} Due: {{due}}{{/due}}
                {{/leads}}
                """,
        ],
    ]
}
