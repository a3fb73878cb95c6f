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
