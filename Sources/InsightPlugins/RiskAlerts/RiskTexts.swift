import InsightCore

/// The lead kinds of risk-alerts (DESIGN §5).
public enum RiskLeadKind {
    public static let largeTransaction = "risk_large_transaction"
    public static let velocity = "risk_velocity"
    public static let rapidInOut = "risk_rapid_in_out"
    public static let dormantReactivation = "risk_dormant_reactivation"
    public static let aumDrop = "risk_aum_drop"
    public static let noPurchase = "risk_no_purchase"
    public static let overdue = "risk_overdue"
    public static let corporateLeverage = "risk_corporate_leverage"

    public static let all = [largeTransaction, velocity, rapidInOut, dormantReactivation, aumDrop, noPurchase, overdue,
                             corporateLeverage]
}

/// The built-in lead texts (Mustache), per locale and kind. The values each kind's templates can use are
/// listed in `plugins-config/risk-alerts.yaml`. Amounts and dates arrive already formatted for the locale;
/// account and loan numbers arrive masked.
enum RiskTexts {
    static let builtIn: [String: [String: LeadTextSource]] = ["zh-CN": chinese, "en": english]

    private static let chinese: [String: LeadTextSource] = [
        RiskLeadKind.largeTransaction: LeadTextSource(
            title: "{{#cash}}大额现金交易{{/cash}}{{^cash}}大额转账交易{{/cash}}：{{amount}}",
            summary: """
                {{time}}，账户{{account}}{{#credit}}收入{{/credit}}{{^credit}}支出{{/credit}}{{amount}}\
                （渠道：{{channel}}{{#counterparty}}，交易对手：{{counterparty}}{{/counterparty}}），\
                达到{{#cash}}大额现金{{/cash}}{{^cash}}大额转账{{/cash}}交易标准（≥{{threshold}}）。
                """,
            suggestedAction: "按反洗钱流程核实交易背景、资金来源与用途，必要时提交大额或可疑交易报告。"),
        RiskLeadKind.velocity: LeadTextSource(
            title: """
                {{#byCount}}交易频次异常{{/byCount}}{{^byCount}}短时大额支出{{/byCount}}：\
                {{windowHours}}小时内支出{{count}}笔，合计{{total}}
                """,
            summary: """
                {{from}}{{#to}}至{{to}}{{/to}}，客户在{{windowHours}}小时内支出{{count}}笔、合计{{total}}，\
                {{#byCount}}笔数超过{{maxCount}}笔{{/byCount}}{{#both}}，且{{/both}}\
                {{#byTotal}}金额超过{{maxTotal}}{{/byTotal}}。
                """,
            suggestedAction: "按反洗钱流程复核该时段交易的对手方与用途，必要时提交可疑交易报告。"),
        RiskLeadKind.rapidInOut: LeadTextSource(
            title: "快进快出：{{creditAmount}}入账后{{hours}}小时内转出{{ratio}}",
            summary: """
                {{creditTime}}账户{{account}}收入{{creditAmount}}，此后{{debitCount}}笔支出合计{{debitTotal}}，\
                占入账金额{{ratio}}（标准：{{windowHours}}小时内转出≥{{minRatio}}），资金快进快出。
                """,
            suggestedAction: "按反洗钱流程提交可疑交易复核：核实资金来源、去向及交易目的。"),
        RiskLeadKind.dormantReactivation: LeadTextSource(
            title: "休眠账户异动：沉寂{{dormantDays}}天后{{#credit}}收入{{/credit}}{{^credit}}支出{{/credit}}{{amount}}",
            summary: """
                账户{{account}}自{{lastBefore}}起{{dormantDays}}天无交易（休眠标准{{minDays}}天），\
                于{{time}}{{#credit}}收入{{/credit}}{{^credit}}支出{{/credit}}{{amount}}。
                """,
            suggestedAction: "按反洗钱流程核实账户使用人及交易背景，排除账户被冒用或出租出借。"),
        RiskLeadKind.aumDrop: LeadTextSource(
            title: "资产流失预警：AUM较近期高点下降{{drop}}",
            summary: """
                客户资产（AUM）由{{peakDate}}的{{peak}}降至{{asOf}}的{{current}}，下降{{drop}}\
                （预警线：{{lookbackDays}}天内下降≥{{threshold}}）。
                """,
            suggestedAction: "近期联系客户，了解资金去向与需求变化，评估挽留方案。"),
        RiskLeadKind.noPurchase: LeadTextSource(
            title: "{{days}}天未购买理财产品",
            summary: "客户最近一次购买理财产品在{{lastPurchase}}，至今{{days}}天未再购买（提醒标准：{{thresholdDays}}天）。",
            suggestedAction: "联系客户回顾持仓与到期安排，了解理财需求有无变化。"),
        RiskLeadKind.overdue: LeadTextSource(
            title: "贷款{{#days}}逾期{{days}}天{{/days}}{{^days}}转为逾期{{/days}}：{{loan}}",
            summary: """
                {{#product}}{{product}}{{/product}}贷款{{loan}}{{#outstanding}}（余额{{outstanding}}）{{/outstanding}}\
                自{{since}}起逾期{{#days}}，当前逾期{{days}}天{{/days}}\
                {{#threshold}}，已达{{threshold}}天提示节点{{/threshold}}{{^threshold}}，新转逾期{{/threshold}}。
                """,
            suggestedAction: "尽快联系借款人了解还款困难原因，按贷后管理流程催收，并评估风险分类。"),
        RiskLeadKind.corporateLeverage: LeadTextSource(
            title: """
                {{#ratioHigh}}资产负债率偏高：{{ratio}}{{/ratioHigh}}\
                {{#ratioRise}}资产负债率上升{{risePoints}}个百分点{{/ratioRise}}\
                {{#cashFlow}}经营现金流连续{{periods}}期为负{{/cashFlow}}（{{period}}）
                """,
            summary: """
                {{#ratioHigh}}{{period}}资产负债率{{ratio}}，高于预警线{{maxRatio}}。{{/ratioHigh}}\
                {{#ratioRise}}资产负债率由{{previousPeriod}}的{{previousRatio}}升至{{period}}的{{ratio}}，\
                上升{{risePoints}}个百分点（预警线{{minRise}}个百分点）。{{/ratioRise}}\
                {{#cashFlow}}经营活动现金流连续{{periods}}期为负：{{cashFlows}}。{{/cashFlow}}
                """,
            suggestedAction: "复核企业经营与偿债能力，必要时调整授信方案或补充担保措施。"),
    ]

    private static let english: [String: LeadTextSource] = [
        RiskLeadKind.largeTransaction: LeadTextSource(
            title: "Large {{#cash}}cash{{/cash}}{{^cash}}transfer{{/cash}} transaction: {{amount}}",
            summary: """
                On {{time}} account {{account}} {{#credit}}received{{/credit}}{{^credit}}paid out{{/credit}} {{amount}} \
                via {{channel}}{{#counterparty}} (counterparty {{counterparty}}){{/counterparty}}, at or above the \
                large {{#cash}}cash{{/cash}}{{^cash}}transfer{{/cash}} threshold of {{threshold}}.
                """,
            suggestedAction: "Review under AML procedure: verify the purpose and the source of funds; file a large or suspicious transaction report if required."),
        RiskLeadKind.velocity: LeadTextSource(
            title: """
                {{#byCount}}Unusual debit activity{{/byCount}}{{^byCount}}Large outflow{{/byCount}}: \
                {{total}} in {{windowHours}} hours (debits: {{count}})
                """,
            summary: """
                {{#to}}From {{from}} to {{to}}{{/to}}{{^to}}On {{from}}{{/to}} the client's debits within {{windowHours}} hours \
                numbered {{count}} and totalled {{total}}: \
                {{#byCount}}more than {{maxCount}} debits{{/byCount}}{{#both}}, and {{/both}}\
                {{#byTotal}}more than {{maxTotal}} in total{{/byTotal}}.
                """,
            suggestedAction: "Review under AML procedure: check the counterparties and purpose of these debits; file a suspicious transaction report if required."),
        RiskLeadKind.rapidInOut: LeadTextSource(
            title: "Rapid in and out: {{ratio}} of {{creditAmount}} paid out within {{hours}} hours",
            summary: """
                On {{creditTime}} account {{account}} received {{creditAmount}}; the debits since (count: {{debitCount}}) \
                total {{debitTotal}}, {{ratio}} of the credit (threshold: at least {{minRatio}} within {{windowHours}} hours).
                """,
            suggestedAction: "Submit for suspicious transaction review under AML procedure: verify where the funds came from, where they went and why."),
        RiskLeadKind.dormantReactivation: LeadTextSource(
            title: "Dormant account reactivated: {{amount}} after {{dormantDays}} quiet days",
            summary: """
                Account {{account}} had no transaction for {{dormantDays}} days since {{lastBefore}} (dormant after \
                {{minDays}} days), then {{#credit}}received{{/credit}}{{^credit}}paid out{{/credit}} {{amount}} on {{time}}.
                """,
            suggestedAction: "Review under AML procedure: confirm who is using the account and why, and rule out a rented or borrowed account."),
        RiskLeadKind.aumDrop: LeadTextSource(
            title: "AUM down {{drop}} from its recent peak",
            summary: """
                The client's AUM fell from {{peak}} on {{peakDate}} to {{current}} on {{asOf}}, down {{drop}} \
                (alert at {{threshold}} within {{lookbackDays}} days).
                """,
            suggestedAction: "Contact the client soon to understand where the funds went and what has changed; consider a retention plan."),
        RiskLeadKind.noPurchase: LeadTextSource(
            title: "No wealth purchase for {{days}} days",
            summary: "The client last bought a wealth product on {{lastPurchase}}, {{days}} days ago (reminder after {{thresholdDays}} days).",
            suggestedAction: "Contact the client to review holdings and upcoming maturities, and ask whether their needs have changed."),
        RiskLeadKind.overdue: LeadTextSource(
            title: "Loan {{loan}} {{#days}}overdue {{days}} days{{/days}}{{^days}}now overdue{{/days}}",
            summary: """
                {{#product}}The {{product}} loan{{/product}}{{^product}}Loan{{/product}} {{loan}}\
                {{#outstanding}} (outstanding {{outstanding}}){{/outstanding}} has been overdue since {{since}}\
                {{#days}}, now {{days}} days{{/days}}\
                {{#threshold}}, reaching the {{threshold}}-day mark{{/threshold}}{{^threshold}}; newly overdue{{/threshold}}.
                """,
            suggestedAction: "Contact the borrower soon about the missed payments, follow the collection procedure and review the risk classification."),
        RiskLeadKind.corporateLeverage: LeadTextSource(
            title: """
                {{#ratioHigh}}Debt ratio high: {{ratio}}{{/ratioHigh}}\
                {{#ratioRise}}Debt ratio up {{risePoints}} points{{/ratioRise}}\
                {{#cashFlow}}Operating cash flow negative for {{periods}} periods{{/cashFlow}} ({{period}})
                """,
            summary: """
                {{#ratioHigh}}The debt ratio for {{period}} is {{ratio}}, above the {{maxRatio}} limit.{{/ratioHigh}}\
                {{#ratioRise}}The debt ratio rose from {{previousRatio}} ({{previousPeriod}}) to {{ratio}} ({{period}}), \
                up {{risePoints}} percentage points (alert at {{minRise}}).{{/ratioRise}}\
                {{#cashFlow}}Operating cash flow was negative for {{periods}} consecutive periods: {{cashFlows}}.{{/cashFlow}}
                """,
            suggestedAction: "Review the company's operations and ability to repay; adjust the credit line or add collateral if needed."),
    ]
}
