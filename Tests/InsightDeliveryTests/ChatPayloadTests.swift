import Foundation
import InsightCore
import InsightDelivery
import InsightStore
import Testing

/// Every chat-robot payload against a fixture of the platform's documented format (Fixtures/README.md cites
/// the pages), and the robots' signing schemes against published or documented test vectors.
@Suite struct ChatPayloadTests {
    static func fixture(_ name: String) throws -> JSONValue {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "json"))
        return try JSONParser.parse(Array(Data(contentsOf: url)))
    }

    /// The shape of a JSON document: the same keys (recursively) and the same value types, values aside.
    static func shape(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "bool"
        case .number: "number"
        case .string: "string"
        case .array(let items): "[" + (items.first.map(shape) ?? "") + "]"
        case .object(let object): "{" + object.keys.sorted().map { "\($0):\(shape(object[$0] ?? .null))" }.joined(separator: ",") + "}"
        }
    }

    static let manager: ManagerState = {
        var manager = ManagerState(id: "M017")
        manager.name = "李四"
        manager.mobile = "13800001111"
        manager.wecomUserId = "M017"
        manager.dingtalkUserId = "M017"
        return manager
    }()

    static func message(purpose: DeliveryPurpose = .lead, leads: [Lead] = [makeLead("C1:2026")]) -> OutboundMessage {
        let delivery = OutboxDelivery(id: "dl_0000000000000001", leadId: leads.first?.id, receiver: "robot", managerId: "M017", route: 0,
                                      purpose: purpose, timing: "immediate", status: .pending, parentId: nil,
                                      members: purpose == .digest ? leads.map(\.id) : [], fallback: nil, attempts: 0,
                                      notBefore: Date(), nextAttempt: Date(), createdAt: Date(), updatedAt: Date(), sentAt: nil,
                                      lastError: nil)
        return OutboundMessage(delivery: delivery, leads: leads, manager: manager)
    }

    @Test func wecomMarkdownMentionsTheManagerByUserId() throws {
        let rendered = try templates().render(Self.message(), style: .markdown)
        let payload = ChatPayloads.wecom(rendered, plain: try templates().render(Self.message(), style: .text), manager: Self.manager)
        #expect(Self.shape(payload) == Self.shape(try Self.fixture("wecom-markdown")))
        let content = try #require(payload["markdown"]?["content"]?.stringValue)
        #expect(content.hasSuffix("<@M017>"))
        #expect(content.contains("**【普通】客户张＊生日提醒**"), "bold title; the masked name's star cannot pair with the bold")
        #expect(content.utf8.count <= 4096)
    }

    @Test func wecomMentionsByMobileWithATextMessage() throws {
        var manager = Self.manager
        manager.wecomUserId = nil
        let payload = ChatPayloads.wecom(try templates().render(Self.message(), style: .markdown),
                                         plain: try templates().render(Self.message(), style: .text), manager: manager)
        #expect(Self.shape(payload) == Self.shape(try Self.fixture("wecom-text")))
        #expect(payload["text"]?["mentioned_mobile_list"] == .array([.string("13800001111")]))
        #expect(payload["text"]?["content"]?.stringValue?.contains("客户张*生日提醒") == true, "plain text keeps the mask as is")
    }

    @Test func dingtalkMarkdownMentionsInTextAndAt() throws {
        let payload = ChatPayloads.dingtalk(try templates().render(Self.message(), style: .markdown), manager: Self.manager)
        #expect(Self.shape(payload) == Self.shape(try Self.fixture("dingtalk-markdown")))
        let text = try #require(payload["markdown"]?["text"]?.stringValue)
        #expect(text.contains("@13800001111") && text.contains("@M017"), "DingTalk highlights a mention only when the text has it")
        #expect(payload["at"]?["isAtAll"] == .bool(false))
    }

    @Test func feishuInteractiveCardIsSigned() throws {
        let rendered = try templates().render(Self.message(), style: .markdown)
        let payload = ChatPayloads.feishu(rendered, signature: (timestamp: 1_599_360_473, sign: FeishuSignature.sign(secret: "demo", timestamp: 1_599_360_473)))
        let fixture = try Self.fixture("feishu-interactive")
        #expect(Self.shape(payload) == Self.shape(fixture))
        #expect(payload["sign"] == fixture["sign"], "the published vector: secret demo, timestamp 1599360473")
        #expect(payload["timestamp"] == fixture["timestamp"])
        #expect(payload["card"]?["elements"]?.arrayValue?.first?["text"]?["tag"] == .string("lark_md"))
    }

    @Test func slackSectionIsMrkdwnWithEscapedValues() throws {
        let rendered = try templates().render(Self.message(), style: .slack)
        let payload = ChatPayloads.slack(rendered)
        #expect(Self.shape(payload) == Self.shape(try Self.fixture("slack")))
        let text = try #require(payload["blocks"]?.arrayValue?.first?["text"]?["text"]?.stringValue)
        #expect(text.hasPrefix("*【普通】客户张＊生日提醒*"), "Slack bold is one star; the name's star is full-width")
        #expect(!text.contains("**"))
    }

    @Test func signaturesMatchTheirVectors() throws {
        // Feishu: the published vector, and the DingTalk-style mistake it must not produce.
        #expect(FeishuSignature.sign(secret: "demo", timestamp: 1_599_360_473) == "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8=")
        #expect(FeishuSignature.sign(secret: "SECtest0123456789abcdef", timestamp: 1_700_000_000) == "R9sugg1yeI3YQr9rgdGGtTPc1xPgB+4G136nVzRFCNg=")
        #expect(FeishuSignature.sign(secret: "demo", timestamp: 1_599_360_473) != "DkEDUyVoOOJ539qBvUgMyzkzIdRWlf4e/V3Rq+ONJnQ=")
        // DingTalk: the signature goes URL-encoded into the query.
        let url = DingTalkSignature.signedURL("https://oapi.dingtalk.com/robot/send?access_token=T", secret: "SECtest0123456789abcdef",
                                              timestampMs: 1_700_000_000_000)
        #expect(url == "https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000&sign=%2FlfnxUUu80FwVTsIlv2F1cMGBb%2BPxEKAwYh%2FbsRxXcc%3D")
        #expect(DingTalkSignature.sign(secret: "this is secret", timestampMs: 1_599_360_473_000)
                    .addingPercentEncoding(withAllowedCharacters: .alphanumerics) == "hXZTWifRGHclNuZSKxoXc%2F%2Fsh51SWfVfRIhcdeKs63I%3D")
    }

    @Test func robotsThatAnswer200WithAnErrorCodeFail() throws {
        let receiver = try HTTPReceiver(name: "wecom", kind: .wecom, url: "http://127.0.0.1:1/x", secret: nil, timeout: .seconds(1),
                                        concurrency: 1, client: .shared, templates: templates())
        #expect(receiver.robotErrorText("{\"errcode\":93000,\"errmsg\":\"invalid webhook url\"}") == "wecom error 93000: invalid webhook url")
        #expect(receiver.robotErrorText("{\"errcode\":0,\"errmsg\":\"ok\"}") == nil)
        let feishu = try HTTPReceiver(name: "feishu", kind: .feishu, url: "http://127.0.0.1:1/x", secret: "s", timeout: .seconds(1),
                                      concurrency: 1, client: .shared, templates: templates())
        #expect(feishu.robotErrorText("{\"code\":19021,\"msg\":\"sign match fail or timestamp is not within one hour from current time\"}")?
                    .hasPrefix("feishu error 19021") == true)
        #expect(feishu.robotErrorText("{\"code\":0,\"msg\":\"success\",\"data\":{}}") == nil)
    }

    @Test func digestsListEveryLeadAndEscalationsSayTheyAre() throws {
        let leads = [makeLead("C1:2026"), makeLead("C2:2026", client: "C2")]
        let digest = try templates().render(Self.message(purpose: .digest, leads: leads), style: .text)
        #expect(digest.title == "线索摘要：2 条待跟进")
        #expect(digest.body.contains("1. 【普通】客户张*生日提醒") && digest.body.contains("2. 【普通】"))
        #expect(digest.body.contains("（C2）"))
        let escalation = try templates("en").render(Self.message(purpose: .escalation), style: .text)
        #expect(escalation.title.hasPrefix("[Escalated] "))
        #expect(escalation.body.contains("nobody acknowledged this lead in time"))
    }

    @Test func templateOverridesComeFromTheTemplatesDirectory() throws {
        let directory = NSTemporaryDirectory() + "insightd-templates-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "生日：{{client.name}} {{title}} 电话 13812345678".write(toFile: directory + "/birthday-care.birthday.zh-CN.mustache",
                                                               atomically: true, encoding: .utf8)
        let custom = try MessageTemplates(locale: "zh-CN", timeZone: shanghai, directory: directory)
        let body = custom.render(Self.message(), style: .text).body
        #expect(body == "生日：张* 客户张*生日提醒 电话 138****5678",
                "the override is used, and a phone number a template lets through is still masked")
        try "{{#broken}}".write(toFile: directory + "/lead.zh-CN.mustache", atomically: true, encoding: .utf8)
        #expect(throws: MessageTemplates.TemplateError.self) { try MessageTemplates(locale: "zh-CN", timeZone: shanghai, directory: directory) }
    }
}
