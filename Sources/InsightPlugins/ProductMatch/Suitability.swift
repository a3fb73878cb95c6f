import Foundation
import InsightCore

/// The suitability rules, absolute and failing closed. A product is suggested only if:
/// - its risk level is at most the client's assessed level, and the assessment (`riskAssessedAt`) is at most
///   `assessment_valid_days` old; a client without a valid assessment gets R1 products only;
/// - its minimum amount is covered by the amount in play;
/// - it is offered to the client's segment;
/// - the client has every tag it `requires`;
/// - the client does not already hold it.
public struct Suitability: Sendable {
    public let assessmentValidDays: Int

    public init(assessmentValidDays: Int) {
        self.assessmentValidDays = assessmentValidDays
    }

    /// The client's assessment as of `today`: the level when valid, with when it was assessed.
    public struct Assessment: Sendable, Hashable {
        /// The risk level products may reach: the client's level, or R1 without a valid assessment.
        public let ceiling: ProductRisk
        public let clientLevel: RiskLevel?
        public let assessedAt: LocalDate?
        public let validUntil: LocalDate?
        public var isValid: Bool { validUntil != nil }
    }

    public func assessment(of profile: ClientProfile, today: LocalDate) -> Assessment {
        if let level = profile.riskLevel, let assessed = profile.riskAssessedAt, assessed <= today,
           assessed.days(until: today) <= assessmentValidDays, let ceiling = ProductRisk(level.value) {
            return Assessment(ceiling: ceiling, clientLevel: level, assessedAt: assessed,
                              validUntil: assessed.adding(days: assessmentValidDays))
        }
        return Assessment(ceiling: ProductRisk.lowest, clientLevel: profile.riskLevel, assessedAt: profile.riskAssessedAt,
                          validUntil: nil)
    }

    /// A product that passed, with the check it passed written out for compliance.
    public struct Passed: Sendable, Hashable {
        public let product: Product
        public let check: String
    }

    /// The suitable products for `client` with `amount` in play, in catalog order; the checks are written in
    /// `locale`.
    public func suitable(_ catalog: [Product], for client: ClientState, amount: Decimal, today: LocalDate,
                         locale: String = LeadTexts.defaultLocale) -> [Passed] {
        let assessment = assessment(of: client.profile, today: today)
        let tags = Set(client.profile.tags)
        return catalog.compactMap { product in
            guard product.riskLevel <= assessment.ceiling,
                  product.minAmount <= amount,
                  product.segments.isEmpty || client.profile.segment.map(product.segments.contains) ?? false,
                  product.requires.allSatisfy(tags.contains),
                  (client.holdings[product.id]?.amount ?? 0) <= 0 else { return nil }
            func text(_ zh: String, _ en: String) -> String { LeadFormat.text(zh, en, locale: locale) }
            let level: String
            if let assessed = assessment.assessedAt, let until = assessment.validUntil, let clientLevel = assessment.clientLevel {
                level = text("\(product.riskLevel) ≤ 客户\(clientLevel)（\(assessed)测评，有效期至\(until)）",
                             "\(product.riskLevel) ≤ client \(clientLevel) (assessed \(assessed), valid until \(until))")
            } else {
                level = text("仅限\(product.riskLevel)：无有效风险测评", "\(product.riskLevel) only: no valid risk assessment")
                    + (assessment.assessedAt.map { text("（上次测评\($0)，已过期）", " (last assessed \($0), expired)") } ?? "")
            }
            let segmentName = client.profile.segment.map { LeadFormat.segment($0, locale: locale) } ?? "-"
            let segment = product.segments.isEmpty ? text("面向全部客户", "all segments")
                : text("面向\(segmentName)", "segment \(segmentName)")
            let minimum = LeadFormat.amount(product.minAmount, locale: locale), inPlay = LeadFormat.amount(amount, locale: locale)
            return Passed(product: product, check: text("\(level)；起购金额\(minimum) ≤ \(inPlay)；\(segment)；客户未持有",
                                                        "\(level); min \(minimum) ≤ \(inPlay); \(segment); not held"))
        }
    }
}
