import Foundation

/// What anyone outside the compliance queue sees of an AML lead: a neutral task to verify the transaction
/// background per the AML procedure. No evidence, no products, and no title, summary or action that names a
/// suspicion, a monitoring rule or a report (反洗钱法: the client must not be tipped off, and a manager who
/// does not know cannot tip anyone off).
public enum AMLNotice {
    /// The neutral lead's plugin and kind: they name no monitoring rule (templates `compliance.aml_verification`).
    public static let plugin = "compliance"
    public static let kind = "aml_verification"

    /// The kinds the AML law covers by default (`delivery.aml_kinds`): large transactions, velocity, 快进快出
    /// and dormant reactivation.
    public static let defaultKinds: Set<String> = ["risk_large_transaction", "risk_velocity", "risk_rapid_in_out",
                                                   "risk_dormant_reactivation"]

    /// The same lead id (feedback and the API still work on it), with an opaque key and kind, no source
    /// events (they would point at the very transactions), no tags, evidence or products.
    public static func neutral(_ lead: Lead, locale: String) -> Lead {
        var copy = Lead(id: lead.id, key: "\(plugin):\(lead.id)", plugin: plugin, kind: kind, priority: lead.priority,
                        client: lead.client, manager: lead.manager, title: "", summary: "", suggestedAction: "", evidence: [],
                        products: nil, dueAt: lead.dueAt, createdAt: lead.createdAt, sourceEvents: [], status: lead.status)
        let english = locale == "en"
        copy.title = english ? "Verify the background of a recent transaction" : "核实客户近期交易背景"
        copy.summary = english
            ? "A recent transaction of this client needs its background verified under the bank's AML procedure."
            : "该客户近期有交易需按本行反洗钱工作程序核实背景。"
        copy.suggestedAction = english
            ? "Per the AML procedure, confirm the source and purpose of the funds with the client as part of routine "
                + "due diligence and record it; do not mention any monitoring or review to the client."
            : "按反洗钱工作程序，以常规尽职调查方式向客户了解资金来源与用途并做好记录；请勿向客户提及任何监测或复核情况。"
        return copy
    }
}
