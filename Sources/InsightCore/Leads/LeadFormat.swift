import Foundation

/// How lead texts show money, dates and ratios, the same in every plugin and independent of the host's
/// locale settings (so the same events give byte-identical leads everywhere).
public enum LeadFormat {
    /// `¥800,000` / `¥1,234.50` in Chinese; `CNY 800,000` in English. Other currencies show their code.
    public static func amount(_ value: Decimal, currency: String = "CNY", locale: String) -> String {
        let text = grouped(value)
        if currency == "CNY" && locale != "en" { return "¥" + text }
        return currency + " " + text
    }

    /// `11月25日` in Chinese, `25 Nov` in English.
    public static func date(_ date: LocalDate, locale: String) -> String {
        if locale == "en" {
            let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            return "\(date.day) \(months[date.month - 1])"
        }
        return "\(date.month)月\(date.day)日"
    }

    /// A lunar month/day: `十月初五` in Chinese, `lunar 10/5` in English.
    public static func lunar(_ date: LunarDate, locale: String) -> String {
        if locale == "en" { return "lunar \(date.isLeapMonth ? "leap " : "")\(date.month)/\(date.day)" }
        let months = ["正", "二", "三", "四", "五", "六", "七", "八", "九", "十", "冬", "腊"]
        let digits = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]
        let day: String
        switch date.day {
        case 1...10: day = "初" + digits[date.day]
        case 11...19: day = "十" + digits[date.day - 10]
        case 20: day = "二十"
        case 21...29: day = "廿" + digits[date.day - 20]
        default: day = "三十"
        }
        return (date.isLeapMonth ? "闰" : "") + months[(date.month - 1) % 12] + "月" + day
    }

    /// A ratio as a percentage with at most one decimal: `0.4567` → `45.7%`.
    public static func percent(_ ratio: Decimal) -> String {
        grouped(ratio * 100, scale: 1, group: false) + "%"
    }

    /// Decimal text rounded to `scale` places (trailing zeros of a whole number dropped), digits grouped by 3.
    static func grouped(_ value: Decimal, scale: Int = 2, group: Bool = true) -> String {
        var input = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &input, scale, .plain)
        let negative = rounded < 0
        let text = (negative ? -rounded : rounded).plainText
        let parts = text.split(separator: ".", maxSplits: 1)
        let whole = String(parts.first ?? "0")
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        if !fraction.isEmpty, fraction.count < scale { fraction += String(repeating: "0", count: scale - fraction.count) }
        var digits = ""
        for (index, character) in whole.enumerated() {
            if group, index > 0, (whole.count - index) % 3 == 0 { digits.append(",") }
            digits.append(character)
        }
        return (negative ? "-" : "") + digits + (fraction.isEmpty ? "" : "." + fraction)
    }
}

/// Display texts for the codes a manager sees in leads (segments, directions, channels, loan products, …) in
/// `zh-CN` (the default) and `en`. Events and evidence keys keep the codes; only what is shown changes. An
/// unknown code is shown as it is (it is the bank's own word).
extension LeadFormat {
    /// `zh` in Chinese (the default locale), `en` in English.
    public static func text(_ zh: String, _ en: String, locale: String) -> String {
        locale == "en" ? en : zh
    }

    /// Items joined as the locale writes a list: `甲、乙` or `A, B`.
    public static func list(_ items: [String], locale: String) -> String {
        items.joined(separator: locale == "en" ? ", " : "、")
    }

    /// `3天` / `3 days`.
    public static func days(_ count: Int, locale: String) -> String {
        locale == "en" ? "\(count) day\(count == 1 ? "" : "s")" : "\(count)天"
    }

    /// `24小时` / `24 hours`.
    public static func hours(_ count: Int, locale: String) -> String {
        locale == "en" ? "\(count) hour\(count == 1 ? "" : "s")" : "\(count)小时"
    }

    /// A client segment: `hnw` → `高净值客户` / `high net worth`.
    public static func segment(_ code: String, locale: String) -> String {
        lookup(code, segments, locale: locale)
    }

    /// A transaction direction: `credit` → `收入` / `credit`.
    public static func direction(_ code: String, locale: String) -> String {
        lookup(code, directions, locale: locale)
    }

    /// A transaction channel: `cash` → `现金` / `cash`; none → `未注明渠道` / `unnamed channel`.
    public static func channel(_ code: String?, locale: String) -> String {
        guard let code, !code.isEmpty else { return text("未注明渠道", "unnamed channel", locale: locale) }
        return lookup(code, channels, locale: locale)
    }

    /// A loan product, without the word loan: `business` → `经营` / `business`.
    public static func loanProduct(_ code: String, locale: String) -> String {
        lookup(code, loanProducts, locale: locale)
    }

    /// A loan product as a noun: `business` → `经营贷款` / `business loan`.
    public static func loan(_ code: String?, locale: String) -> String {
        guard let code else { return text("贷款", "loan", locale: locale) }
        return loanProduct(code, locale: locale) + text("贷款", " loan", locale: locale)
    }

    /// A status of a loan, deposit, policy or client: `overdue` → `逾期` / `overdue`.
    public static func status(_ code: String, locale: String) -> String {
        lookup(code, statuses, locale: locale)
    }

    /// A catalog product's kind: `wealth` → `理财` / `wealth management`.
    public static func productKind(_ code: String, locale: String) -> String {
        lookup(code, productKinds, locale: locale)
    }

    /// The calendar of a birthday: `chinese` → `农历` / `lunar`.
    public static func birthCalendar(_ code: String, locale: String) -> String {
        lookup(code, calendars, locale: locale)
    }

    /// A client tag that marks a life event: `retirement` → `退休` / `retirement`.
    public static func lifeEvent(_ code: String, locale: String) -> String {
        lookup(code, lifeEvents, locale: locale)
    }

    /// An event type: `account.transaction` → `账户交易` / `account transaction`.
    public static func eventType(_ code: String, locale: String) -> String {
        lookup(code, eventTypes, locale: locale)
    }

    /// `true` → `是` / `yes`.
    public static func yesNo(_ value: Bool, locale: String) -> String {
        value ? text("是", "yes", locale: locale) : text("否", "no", locale: locale)
    }

    private static func lookup(_ code: String, _ table: [String: (zh: String, en: String)], locale: String) -> String {
        guard let entry = table[code] else { return code }
        return locale == "en" ? entry.en : entry.zh
    }

    private static let segments: [String: (zh: String, en: String)] = [
        "mass": ("大众客户", "mass"), "affluent": ("财富客户", "affluent"), "hnw": ("高净值客户", "high net worth"),
        "private": ("私人银行客户", "private banking"), "corporate": ("对公客户", "corporate"),
    ]
    private static let directions: [String: (zh: String, en: String)] = [
        "credit": ("收入", "credit"), "debit": ("支出", "debit"),
    ]
    private static let channels: [String: (zh: String, en: String)] = [
        "cash": ("现金", "cash"), "transfer": ("转账", "transfer"), "card": ("银行卡", "card"), "atm": ("自助柜员机", "ATM"),
        "pos": ("刷卡消费", "POS"), "online": ("网上银行", "online banking"), "mobile": ("手机银行", "mobile banking"),
        "counter": ("柜面", "branch counter"),
    ]
    private static let loanProducts: [String: (zh: String, en: String)] = [
        "mortgage": ("住房按揭", "mortgage"), "consumer": ("消费", "consumer"), "business": ("经营", "business"),
        "working_capital": ("流动资金", "working-capital"), "car": ("汽车", "car"), "auto": ("汽车", "car"),
        "credit_card": ("信用卡", "credit card"),
    ]
    private static let statuses: [String: (zh: String, en: String)] = [
        "active": ("正常", "active"), "repaid": ("已结清", "repaid"), "overdue": ("逾期", "overdue"),
        "closed": ("已销户", "closed"), "withdrawn": ("已支取", "withdrawn"), "matured": ("已到期", "matured"),
        "lapsed": ("已失效", "lapsed"), "cancelled": ("已退保", "cancelled"), "canceled": ("已退保", "cancelled"),
    ]
    private static let productKinds: [String: (zh: String, en: String)] = [
        "deposit": ("存款", "deposit"), "wealth": ("理财", "wealth management"), "fund": ("基金", "fund"),
        "insurance": ("保险", "insurance"), "loan": ("贷款", "loan"),
    ]
    private static let calendars: [String: (zh: String, en: String)] = [
        "gregorian": ("公历", "Gregorian"), "chinese": ("农历", "lunar"),
    ]
    private static let lifeEvents: [String: (zh: String, en: String)] = [
        "mortgage": ("新办住房按揭", "new mortgage"), "maternity": ("家庭添丁", "new baby"), "retirement": ("临近退休", "retirement"),
        "marriage": ("新婚", "marriage"), "newborn": ("家庭添丁", "new baby"), "education": ("子女教育", "children's education"),
    ]
    private static let eventTypes: [String: (zh: String, en: String)] = [
        "client.profile": ("客户资料", "client profile"), "manager.profile": ("客户经理资料", "manager profile"),
        "account.transaction": ("账户交易", "account transaction"), "account.balance": ("资产快照", "balance snapshot"),
        "deposit.term": ("定期存款", "term deposit"), "loan.account": ("贷款账户", "loan account"),
        "wealth.trade": ("理财交易", "wealth trade"), "corporate.financials": ("企业财务报表", "corporate financials"),
        "crm.interaction": ("客户联系记录", "CRM interaction"),
    ]
}
