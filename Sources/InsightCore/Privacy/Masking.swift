/// Masks personal data before it leaves the process: in leads, notifications and logs.
public enum Masking {
    /// The surname shows, the given name is starred: `张三` → `张*`, `王小明` → `王**`, `欧阳娜娜` → `欧阳**`
    /// (compound surnames stay whole), `Alice` → `A****`, `李` → `李*`.
    public static func name(_ name: String) -> String {
        let characters = Array(name.trimmingCharacters(in: .whitespaces))
        guard characters.count > 1 else { return characters.isEmpty ? "" : String(characters) + "*" }
        let surname = characters.count >= 3 && compoundSurnames.contains(String(characters.prefix(2))) ? 2 : 1
        return String(characters.prefix(surname)) + String(repeating: "*", count: characters.count - surname)
    }

    /// Two-character Chinese surnames (复姓) common enough to meet in a client book.
    static let compoundSurnames: Set<String> = [
        "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "令狐", "夏侯",
        "轩辕", "端木", "独孤", "南宫", "西门", "百里", "呼延", "赫连", "澹台", "公冶", "太史", "申屠", "钟离", "闻人",
        "万俟", "濮阳", "淳于", "单于", "拓跋", "第五", "司空", "亓官", "司寇", "仉督", "子车", "颛孙", "巫马", "公西",
        "漆雕", "乐正", "壤驷", "公良", "宰父", "谷梁", "段干", "东郭", "南门", "羊舌", "梁丘", "左丘", "东门", "公羊",
    ]

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

    /// Masks personal data inside free text: mainland mobile numbers (`138****5678`), 18-digit ID numbers
    /// (`110***********1234`) and 12–19 digit account or card numbers (last 4 digits). A last line of defence
    /// for messages and logs; leads are masked where they are made.
    public static func scrub(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 >= 0x30 && $0 <= 0x39 }) else { return text }
        var output = ""
        var run = ""
        // Tokens are runs of ASCII letters, digits, `_` and `-`, so an identifier such as `ld_3f20155500931122`,
        // `ld_0123456789012345` or `C000123` is never mistaken for a number.
        func flush() {
            let allDigits = run.allSatisfy(\.isNumber)
            if run.count == 11, allDigits, run.hasPrefix("1") {
                output += phone(run)
            } else if run.count == 18, run.dropLast().allSatisfy(\.isNumber), run.last?.isNumber == true || run.last == "X" || run.last == "x" {
                output += idNumber(run)
            } else if allDigits, (12...19).contains(run.count) {
                output += accountNumber(run)
            } else {
                output += run
            }
            run = ""
        }
        for character in text {
            if character.isASCII && (character.isNumber || character.isLetter || character == "_" || character == "-") {
                run.append(character)
            } else {
                flush()
                output.append(character)
            }
        }
        flush()
        return output
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
