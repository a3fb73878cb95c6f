import InsightCore

/// The built-in lead texts; `templates:` in `loan-renewal.yaml` overrides them field by field.
enum LoanRenewalTexts {
    static let builtIn: [String: [String: LeadTextSource]] = [
        "zh-CN": [
            "loan_renewal": LeadTextSource(
                title: "{{clientName}}{{product}}贷款{{amount}}将于{{maturityDate}}到期",
                summary: "客户{{clientName}}的{{product}}贷款余额{{amount}}，{{maturityDate}}到期，还有{{remaining}}个{{#workingDays}}工作日{{/workingDays}}{{^workingDays}}自然日{{/workingDays}}（{{window}}天提醒）。近期无逾期，还款记录良好。",
                suggestedAction: "联系客户了解续贷或展期需求，提前准备授信材料，避免到期后资金断档。"),
            "relending": LeadTextSource(
                title: "{{clientName}}提前{{daysEarly}}天结清{{product}}贷款",
                summary: "客户{{clientName}}于{{repaidDate}}提前结清{{product}}贷款{{amount}}（原定{{maturityDate}}到期），还款记录良好，是再次授信的好时机。",
                suggestedAction: "一周内回访，了解提前还款原因和新的资金需求，评估再次授信。"),
        ],
        "en": [
            "loan_renewal": LeadTextSource(
                title: "{{clientName}}: {{product}} loan of {{amount}} matures on {{maturityDate}}",
                summary: "{{clientName}}'s {{product}} loan, {{amount}} outstanding, matures on {{maturityDate}}: {{remaining}} {{#workingDays}}working {{/workingDays}}days left ({{window}}-day window). No overdue history in the look-back.",
                suggestedAction: "Contact the client about renewal or extension and prepare the credit file before maturity."),
            "relending": LeadTextSource(
                title: "{{clientName}} repaid a {{product}} loan {{daysEarly}} days early",
                summary: "{{clientName}} repaid the {{product}} loan of {{amount}} on {{repaidDate}}, due {{maturityDate}}, with a clean record: a good moment to offer new credit.",
                suggestedAction: "Call within a week: ask why they repaid early and whether they need new financing."),
        ],
    ]
}
