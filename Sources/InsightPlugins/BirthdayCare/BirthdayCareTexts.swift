import InsightCore

/// The built-in lead texts; `templates:` in `birthday-care.yaml` overrides them field by field.
enum BirthdayCareTexts {
    static let builtIn: [String: [String: LeadTextSource]] = [
        "zh-CN": [
            "birthday": LeadTextSource(
                title: "{{clientName}}{{#milestone}}{{age}}岁整寿{{/milestone}}{{^milestone}}生日{{/milestone}}：{{date}}{{#isLunar}}（农历{{lunarDate}}）{{/isLunar}}",
                summary: "客户{{clientName}}将于{{date}}{{#isLunar}}（农历{{lunarDate}}）{{/isLunar}}迎来{{age}}岁生日{{#isToday}}，就是今天{{/isToday}}{{^isToday}}，还有{{daysLeft}}天{{/isToday}}。{{#milestone}}这是整寿生日，值得重点关怀。{{/milestone}}",
                suggestedAction: "{{#isToday}}今天{{/isToday}}{{^isToday}}生日当天{{/isToday}}致电或微信送上祝福{{#milestone}}，并安排网点生日礼品或上门拜访{{/milestone}}；以关怀为主，不做产品推介。"),
            "holiday_greeting": LeadTextSource(
                title: "{{holiday}}客户问候：{{count}}位客户",
                summary: "{{holiday}}（{{date}}）将至。您名下{{segments}}共{{count}}位，按资产从高到低：{{clientList}}{{#hasMore}}等（另有{{more}}位）{{/hasMore}}。",
                suggestedAction: "节前逐一致电或发送节日问候，重点客户可安排上门拜访或节日礼品。"),
        ],
        "en": [
            "birthday": LeadTextSource(
                title: "{{clientName}} turns {{age}} on {{date}}{{#isLunar}} ({{lunarDate}}){{/isLunar}}",
                summary: "{{clientName}} celebrates a {{#isLunar}}lunar {{/isLunar}}birthday on {{date}}{{#isLunar}} ({{lunarDate}}){{/isLunar}}{{#isToday}}, today{{/isToday}}{{^isToday}}, in {{daysLeft}} days{{/isToday}}: age {{age}}.{{#milestone}} A milestone birthday.{{/milestone}}",
                suggestedAction: "Call or message with birthday wishes{{#milestone}}, and arrange the branch gift or a visit{{/milestone}}. Keep it personal: no product pitch."),
            "holiday_greeting": LeadTextSource(
                title: "{{holiday}} greetings: {{count}} clients",
                summary: "{{holiday}} is on {{date}}. Your {{count}} clients in {{segments}}, largest AUM first: {{clientList}}{{#hasMore}} and {{more}} more{{/hasMore}}.",
                suggestedAction: "Send holiday greetings before the holiday; visit or send a gift to your top clients."),
        ],
    ]
}
