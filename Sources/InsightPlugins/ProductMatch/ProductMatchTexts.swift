import InsightCore

/// The built-in lead texts; `templates:` in `product-match.yaml` overrides them field by field.
/// `product_reason` is the one-line reason shown with each product (its `title` field).
enum ProductMatchTexts {
    static let builtIn: [String: [String: LeadTextSource]] = [
        "zh-CN": [
            "product_match": LeadTextSource(
                title: "{{clientName}}：{{#isLargeCredit}}大额资金到账{{/isLargeCredit}}{{#isMaturingDeposit}}定期存款即将到期{{/isMaturingDeposit}}{{#isIdleBalance}}活期资金闲置{{/isIdleBalance}}{{#isLifeEvent}}人生阶段变化{{/isLifeEvent}}，推荐{{count}}款适配产品",
                summary: "{{#isLargeCredit}}客户{{clientName}}有一笔{{amount}}入账。{{/isLargeCredit}}{{#isMaturingDeposit}}客户{{clientName}}的定期存款{{amount}}将于{{date}}到期。{{/isMaturingDeposit}}{{#isIdleBalance}}客户{{clientName}}活期余额{{amount}}自{{date}}起持续闲置。{{/isIdleBalance}}{{#isLifeEvent}}客户{{clientName}}出现新的人生阶段信号（{{lifeEvent}}）。{{/isLifeEvent}}经适当性校验，可推荐：{{productList}}。{{#needsAssessment}}客户暂无有效风险测评，仅推荐R1级产品。{{/needsAssessment}}",
                suggestedAction: "{{#needsAssessment}}先请客户完成（重新）风险测评；{{/needsAssessment}}与客户沟通资金安排，按适当性要求介绍产品并充分揭示风险，不作收益承诺。"),
            "product_reason": LeadTextSource(
                title: "{{#isLargeCredit}}承接入账资金{{/isLargeCredit}}{{#isMaturingDeposit}}到期资金续作{{/isMaturingDeposit}}{{#isIdleBalance}}盘活闲置资金{{/isIdleBalance}}{{#isLifeEvent}}匹配人生阶段需求{{/isLifeEvent}}；产品{{riskLevel}}{{#assessed}}不高于客户{{clientLevel}}{{/assessed}}{{^assessed}}为最低风险等级{{/assessed}}",
                summary: "", suggestedAction: ""),
        ],
        "en": [
            "product_match": LeadTextSource(
                title: "{{clientName}}: {{#isLargeCredit}}large inflow{{/isLargeCredit}}{{#isMaturingDeposit}}term deposit maturing{{/isMaturingDeposit}}{{#isIdleBalance}}idle balance{{/isIdleBalance}}{{#isLifeEvent}}life event{{/isLifeEvent}}, {{count}} suitable products",
                summary: "{{#isLargeCredit}}{{clientName}} received {{amount}}. {{/isLargeCredit}}{{#isMaturingDeposit}}{{clientName}}'s term deposit of {{amount}} matures on {{date}}. {{/isMaturingDeposit}}{{#isIdleBalance}}{{clientName}} has kept {{amount}} idle in current accounts since {{date}}. {{/isIdleBalance}}{{#isLifeEvent}}{{clientName}} shows a new life event ({{lifeEvent}}). {{/isLifeEvent}}Suitable after checks: {{productList}}.{{#needsAssessment}} No valid risk assessment: R1 products only.{{/needsAssessment}}",
                suggestedAction: "{{#needsAssessment}}Ask the client to complete a (new) risk assessment first. {{/needsAssessment}}Discuss the client's plans, present the products with their risks, and promise no returns."),
            "product_reason": LeadTextSource(
                title: "{{#isLargeCredit}}a home for the inflow{{/isLargeCredit}}{{#isMaturingDeposit}}reinvest the maturing deposit{{/isMaturingDeposit}}{{#isIdleBalance}}put idle money to work{{/isIdleBalance}}{{#isLifeEvent}}fits the life event{{/isLifeEvent}}; {{riskLevel}}{{#assessed}} within the client's {{clientLevel}}{{/assessed}}{{^assessed}}, the lowest risk level{{/assessed}}",
                summary: "", suggestedAction: ""),
        ],
    ]
}
