import AsyncHTTPClient
import Crypto
import Foundation
import InsightCore
import InsightStore
import NIOCore
import NIOHTTP1

/// How one attempt went.
public enum SendOutcome: Sendable, Hashable {
    case delivered(status: Int?)
    /// Worth trying again; `retryAfter` is the receiver's own `Retry-After` (429, 503).
    case failed(status: Int?, error: String, retryAfter: TimeInterval?)
    /// 410 Gone: stop sending to this target until an operator re-enables it.
    case gone(error: String)
}

/// A configured way out.
public protocol Receiver: Sendable {
    var name: String { get }
    /// Attempts in flight at once, at most.
    var concurrency: Int { get }
    /// Attempts a minute at most (a chat robot's rate limit); nil: no limit.
    var maxPerMinute: Int? { get }
    func send(_ message: OutboundMessage, at now: Date) async -> SendOutcome
}

extension Receiver {
    public var maxPerMinute: Int? { nil }
}

/// An HTTP request a receiver makes, built purely from the message (tests compare it with fixtures).
public struct OutboundRequest: Sendable {
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]
}

/// The HTTP receivers: `webhook` (the lead JSON, Standard Webhooks signed) and the chat robots `wecom`,
/// `dingtalk`, `feishu` and `slack`. All share one `HTTPClient`.
public struct HTTPReceiver: Receiver {
    public enum Kind: String, Sendable, CaseIterable {
        case webhook, wecom, dingtalk, feishu, slack
    }

    public let name: String
    public let kind: Kind
    public let url: String
    /// `whsec_…` for webhook; the robot's signing secret for dingtalk and feishu.
    public let secret: String?
    public let timeout: TimeAmount
    public let concurrency: Int
    public let maxPerMinute: Int?
    let client: HTTPClient
    let templates: MessageTemplates
    /// The webhook secret's key bytes (SymmetricKey itself is not Sendable).
    let webhookKey: [UInt8]?

    public init(name: String, kind: Kind, url: String, secret: String?, timeout: TimeAmount, concurrency: Int,
                maxPerMinute: Int? = nil, client: HTTPClient, templates: MessageTemplates) throws {
        self.name = name
        self.kind = kind
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.maxPerMinute = maxPerMinute.map { max(1, $0) }
        self.client = client
        self.templates = templates
        webhookKey = try kind == .webhook ? secret.map { try StandardWebhookSignature.key(secret: $0).withUnsafeBytes { Array($0) } } : nil
    }

    public func send(_ message: OutboundMessage, at now: Date) async -> SendOutcome {
        let outbound: OutboundRequest
        do {
            outbound = try request(for: message, at: now)
        } catch {
            return .failed(status: nil, error: "could not build the request: \(error)", retryAfter: nil)
        }
        var request = HTTPClientRequest(url: outbound.url)
        request.method = .POST
        for (name, value) in outbound.headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: outbound.body))
        do {
            let response = try await client.execute(request, timeout: timeout)
            let status = Int(response.status.code)
            // Only the start of the answer matters (a robot's error code, an excerpt for the log); a large body
            // after a 2xx must not turn a delivered message into a failure.
            var head = ByteBuffer()
            for try await chunk in response.body {
                var chunk = chunk
                head.writeBuffer(&chunk)
                if head.readableBytes >= 16 * 1024 { break }
            }
            let text = String(buffer: head)
            if response.status == .gone {
                return .gone(error: "410 Gone" + Self.excerpt(text))
            }
            guard (200..<300).contains(status) else {
                let retryAfter = [429, 503].contains(status)
                    ? RetryPolicy.retryAfter(response.headers.first(name: "Retry-After"), now: now) : nil
                return .failed(status: status, error: "HTTP \(status)" + Self.excerpt(text), retryAfter: retryAfter)
            }
            if let error = robotErrorText(text) {
                return .failed(status: status, error: error, retryAfter: nil)
            }
            return .delivered(status: status)
        } catch {
            return .failed(status: nil, error: "\(error)", retryAfter: nil)
        }
    }

    /// The robots answer 200 with an error code in the body (WeCom and DingTalk `errcode`, Feishu `code`).
    public func robotErrorText(_ text: String) -> String? {
        guard [.wecom, .dingtalk, .feishu].contains(kind), let json = try? JSONParser.parse(Array(text.utf8)) else { return nil }
        let code = json["errcode"] ?? json["code"] ?? json["StatusCode"]
        guard let code, case .number(let value) = code, value != "0" else { return nil }
        let message = (json["errmsg"] ?? json["msg"] ?? json["StatusMessage"])?.stringValue ?? ""
        return "\(kind.rawValue) error \(value): \(message)"
    }

    static func excerpt(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? "" : ": " + Masking.scrub(String(trimmed.prefix(300)))
    }

    /// The request for a message: URL, headers and body.
    public func request(for message: OutboundMessage, at now: Date) throws -> OutboundRequest {
        let json = [("Content-Type", "application/json; charset=utf-8")]
        switch kind {
        case .webhook:
            let body = Array(try webhookBody(message).utf8)
            var headers = json + [("User-Agent", "insightd"), ("insightd-purpose", message.delivery.purpose.rawValue)]
            let timestamp = Int64(now.timeIntervalSince1970)
            headers.append(("webhook-id", message.delivery.id))
            headers.append(("webhook-timestamp", "\(timestamp)"))
            if let webhookKey {
                headers.append(("webhook-signature",
                                StandardWebhookSignature.sign(key: SymmetricKey(data: webhookKey), id: message.delivery.id, timestamp: timestamp, body: body)))
            }
            return OutboundRequest(url: url, headers: headers, body: body)
        case .wecom:
            return OutboundRequest(url: url, headers: json, body: Array(JSONWriter.string(ChatPayloads.wecom(
                templates.render(message, style: .markdown), plain: templates.render(message, style: .text),
                manager: message.manager)).utf8))
        case .dingtalk:
            let timestampMs = Int64((now.timeIntervalSince1970 * 1000).rounded())
            let target = secret.map { DingTalkSignature.signedURL(url, secret: $0, timestampMs: timestampMs) } ?? url
            return OutboundRequest(url: target, headers: json, body: Array(JSONWriter.string(ChatPayloads.dingtalk(
                templates.render(message, style: .markdown), manager: message.manager)).utf8))
        case .feishu:
            let timestamp = Int64(now.timeIntervalSince1970)
            let signature = secret.map { (timestamp: timestamp, sign: FeishuSignature.sign(secret: $0, timestamp: timestamp)) }
            return OutboundRequest(url: url, headers: json, body: Array(JSONWriter.string(ChatPayloads.feishu(
                templates.render(message, style: .markdown), signature: signature)).utf8))
        case .slack:
            return OutboundRequest(url: url, headers: json, body: Array(JSONWriter.string(ChatPayloads.slack(
                templates.render(message, style: .slack))).utf8))
        }
    }

    /// DESIGN §5: one lead is the lead JSON; a digest is `{"type": "digest", "manager": …, "leads": […]}`; a
    /// client's leads sent together (`delivery.group_window`) are the same shape with `"type": "group"`.
    func webhookBody(_ message: OutboundMessage) throws -> String {
        if message.isDigest {
            var manager: [String: JSONValue] = ["id": .string(message.delivery.managerId)]
            if let name = message.manager?.name { manager["name"] = .string(Masking.name(name)) }
            if let branch = message.manager?.branchId { manager["branchId"] = .string(branch) }
            return JSONWriter.string(.object([
                "type": .string(message.delivery.purpose == .group ? "group" : "digest"), "deliveryId": .string(message.delivery.id),
                "manager": .object(manager),
                "leads": .array(try message.leads.map { try LeadJSON.value($0, timeZone: templates.timeZone) }),
            ]))
        }
        guard let lead = message.leads.first else { return "{}" }
        return JSONWriter.string(try LeadJSON.value(lead, timeZone: templates.timeZone))
    }
}

/// Chat robot payloads, in each platform's documented format (fixtures in the tests).
public enum ChatPayloads {
    /// WeCom group robot: markdown that mentions the manager by `<@userid>`; without a user id but with a
    /// mobile, a text message with `mentioned_mobile_list` (markdown cannot mention by mobile).
    public static func wecom(_ markdown: RenderedMessage, plain: RenderedMessage, manager: ManagerState?) -> JSONValue {
        if let userId = manager?.wecomUserId, !userId.isEmpty {
            let mention = "\n<@\(userId)>"
            return .object(["msgtype": .string("markdown"),
                            "markdown": .object(["content": .string(truncate(markdown.body, bytes: 4096 - mention.utf8.count) + mention)])])
        }
        if let mobile = manager?.mobile, !mobile.isEmpty {
            return .object(["msgtype": .string("text"),
                            "text": .object(["content": .string(truncate(plain.body, bytes: 2048)),
                                             "mentioned_mobile_list": .array([.string(mobile)])])])
        }
        return .object(["msgtype": .string("markdown"),
                        "markdown": .object(["content": .string(truncate(markdown.body, bytes: 4096))])])
    }

    /// DingTalk custom robot: markdown; a mention needs the `@mobile` in the text as well as in `at`.
    public static func dingtalk(_ message: RenderedMessage, manager: ManagerState?) -> JSONValue {
        var mentions = ""
        var mobiles: [JSONValue] = []
        var userIds: [JSONValue] = []
        if let mobile = manager?.mobile, !mobile.isEmpty {
            mobiles.append(.string(mobile))
            mentions += "\n\n@\(mobile)"
        }
        if let userId = manager?.dingtalkUserId, !userId.isEmpty {
            userIds.append(.string(userId))
            mentions += mobiles.isEmpty ? "\n\n@\(userId)" : " @\(userId)"
        }
        // Truncate the body, never the mentions: DingTalk highlights a mention only when the text has it.
        let text = truncate(message.body, bytes: 18_000 - mentions.utf8.count) + mentions
        return .object([
            "msgtype": .string("markdown"),
            "markdown": .object(["title": .string(message.title), "text": .string(text)]),
            "at": .object(["atMobiles": .array(mobiles), "atUserIds": .array(userIds), "isAtAll": .bool(false)]),
        ])
    }

    /// Feishu custom bot: an interactive card (header title, one lark_md block), signed when a secret is set.
    public static func feishu(_ message: RenderedMessage, signature: (timestamp: Int64, sign: String)?) -> JSONValue {
        var payload: [String: JSONValue] = [
            "msg_type": .string("interactive"),
            "card": .object([
                "header": .object(["title": .object(["tag": .string("plain_text"), "content": .string(message.title)]),
                                   "template": .string("blue")]),
                "elements": .array([.object(["tag": .string("div"),
                                             "text": .object(["tag": .string("lark_md"),
                                                              "content": .string(truncate(message.body, bytes: 18_000))])])]),
            ]),
        ]
        if let signature {
            payload["timestamp"] = .string("\(signature.timestamp)")
            payload["sign"] = .string(signature.sign)
        }
        return .object(payload)
    }

    /// Slack incoming webhook: `text` (the notification) and one mrkdwn section.
    public static func slack(_ message: RenderedMessage) -> JSONValue {
        .object([
            "text": .string(message.title),
            "blocks": .array([.object(["type": .string("section"),
                                       "text": .object(["type": .string("mrkdwn"),
                                                        "text": .string(truncate(message.body, characters: 3000))])])]),
        ])
    }

    static func truncate(_ text: String, bytes limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var result = ""
        var used = 0
        for character in text {
            let size = String(character).utf8.count
            if used + size > limit - 3 { break }
            result.append(character)
            used += size
        }
        return result + "…"
    }

    static func truncate(_ text: String, characters limit: Int) -> String {
        text.count > limit ? String(text.prefix(limit - 1)) + "…" : text
    }
}

/// `console`: a readable block on stdout, for trying insightd out.
public struct ConsoleReceiver: Receiver {
    public let name: String
    public let concurrency = 1
    let templates: MessageTemplates
    let write: @Sendable (String) -> Void

    public init(name: String, templates: MessageTemplates,
                write: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }) {
        self.name = name
        self.templates = templates
        self.write = write
    }

    public func send(_ message: OutboundMessage, at now: Date) async -> SendOutcome {
        let rendered = templates.render(message, style: .text)
        let zh = templates.locale != "en"
        let manager = message.delivery.managerId.isEmpty
            ? (zh ? "未分配客户经理" : "unassigned") : (zh ? "客户经理 " : "manager ") + message.delivery.managerId
        let purpose: String = switch message.delivery.purpose {
        case .lead: zh ? "线索" : "lead"
        case .digest: zh ? "摘要" : "digest"
        case .escalation: zh ? "升级" : "escalation"
        case .fallback: zh ? "备用通道" : "fallback"
        case .group: zh ? "同一客户的线索" : "client group"
        }
        let rule = String(repeating: "─", count: 60)
        write("\(rule)\n▶ \(manager) · \(purpose) \(message.delivery.id)\n\(rendered.body)\n")
        return .delivered(status: nil)
    }
}

/// `file`: one JSON line per delivery, appended (and flushed to disk) for audit trails and other tools.
public final class FileReceiver: Receiver {
    public let name: String
    public let concurrency = 1
    let path: String
    let timeZone: TimeZone

    public init(name: String, path: String, timeZone: TimeZone) {
        self.name = name
        self.path = path
        self.timeZone = timeZone
    }

    public func send(_ message: OutboundMessage, at now: Date) async -> SendOutcome {
        do {
            let line: JSONValue = .object([
                "deliveryId": .string(message.delivery.id), "purpose": .string(message.delivery.purpose.rawValue),
                "receiver": .string(name), "managerId": .string(message.delivery.managerId),
                "sentAt": .string(RFC3339.format(now, timeZone: timeZone)),
                "leads": .array(try message.leads.map { try LeadJSON.value($0, timeZone: timeZone) }),
            ])
            try append(JSONWriter.string(line) + "\n")
            return .delivered(status: nil)
        } catch {
            return .failed(status: nil, error: "cannot append to \(path): \(error)", retryAfter: nil)
        }
    }

    private func append(_ text: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteUnknown)
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.synchronize()
    }
}
