/// Masks personal data before it leaves the process: in leads, notifications and logs.
public enum Masking {
    /// `张三` → `张*`, `欧阳娜娜` → `欧***`, `Alice` → `A****`.
    public static func name(_ name: String) -> String {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard let first = trimmed.first else { return "" }
        return String(first) + String(repeating: "*", count: max(1, trimmed.count - 1))
    }

    /// `13812345678` → `138****5678`. Short values are masked entirely.
    public static func phone(_ phone: String) -> String {
        keep(phone, head: 3, tail: 4)
    }

    /// `110101199001011234` → `110***********1234`.
    public static func idNumber(_ id: String) -> String {
        keep(id, head: 3, tail: 4)
    }

    /// Only the last 4 digits show: `6222020200112233` → `************2233`.
    public static func accountNumber(_ account: String) -> String {
        keep(account, head: 0, tail: 4)
    }

    /// Masks a field value by what its name says it holds: names and counterparties like names, phones,
    /// ID numbers, and account or card numbers (last 4 digits). Other fields pass unchanged.
    public static func field(_ name: String, value: String) -> String {
        let key = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch key {
        case "name", "counterparty", "counterpartyname", "payee", "payer": return Masking.name(value)
        case "phone", "mobile", "telephone": return phone(value)
        case "idnumber", "idno", "idcard", "passport": return idNumber(value)
        case "accountid", "accountno", "account", "cardno", "cardnumber", "counterpartyaccount": return accountNumber(value)
        default: return value
        }
    }

    /// A stable stand-in for an account-like identifier in a lead key, where even the last 4 digits are not
    /// needed: `#` and 16 hex digits of its hash. The evidence shows the masked number.
    public static func reference(_ id: String) -> String {
        "#" + StableHash.hex(id)
    }

    private static func keep(_ value: String, head: Int, tail: Int) -> String {
        let characters = Array(value)
        guard characters.count > head + tail else { return String(repeating: "*", count: characters.count) }
        return String(characters.prefix(head)) + String(repeating: "*", count: characters.count - head - tail)
            + String(characters.suffix(tail))
    }
}

import Foundation
