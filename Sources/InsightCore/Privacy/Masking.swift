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

    /// Masks personal data inside free text: mainland mobile numbers (`138****5678`, also written `138-1234-5678`
    /// or after letters as in `Tel13812345678`), 18-digit ID numbers (`110***********1234`) and 12–19 digit
    /// account or card numbers (last 4 digits; also in groups of four). A last line of defence for messages,
    /// notes and logs; leads are masked where they are made. insightd's own ids (`ld_…`, `dl_…`) stay whole.
    public static func scrub(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 >= 0x30 && $0 <= 0x39 }) else { return text }
        let grouped = maskGroupedNumbers(text)
        var output = ""
        var token = ""
        func flush() {
            output += token.hasPrefix("ld_") || token.hasPrefix("dl_") ? token : maskDigitRuns(token)
            token = ""
        }
        for character in grouped {
            if character.isASCII && (character.isNumber || character.isLetter || character == "_") {
                token.append(character)
            } else {
                flush()
                output.append(character)
            }
        }
        flush()
        return output
    }

    /// Each maximal run of digits in a token (17 digits and an `X` for an ID number), masked by its length.
    static func maskDigitRuns(_ token: String) -> String {
        guard token.contains(where: \.isNumber) else { return token }
        var output = ""
        var run = ""
        for character in token {
            if character.isNumber {
                run.append(character)
            } else if (character == "X" || character == "x") && run.count == 17 {
                run.append(character)
                output += maskNumber(run)
                run = ""
            } else {
                output += maskNumber(run)
                run = ""
                output.append(character)
            }
        }
        return output + maskNumber(run)
    }

    static func maskNumber(_ run: String) -> String {
        guard run.count >= 11 else { return run }
        let allDigits = run.allSatisfy(\.isNumber)
        if run.count == 11, allDigits, run.hasPrefix("1") { return phone(run) }
        if run.count == 18 { return idNumber(run) }
        if allDigits, (12...19).contains(run.count) { return accountNumber(run) }
        return run
    }

    /// Phones written `138-1234-5678` or `138 1234 5678`, and card numbers in groups of four.
    private static let groupedNumbers: [NSRegularExpression] = [
        #"(?<![0-9])1[3-9][0-9][- ][0-9]{4}[- ][0-9]{4}(?![0-9])"#,
        #"(?<![0-9])[0-9]{4}(?:[- ][0-9]{4}){2,3}(?:[- ][0-9]{1,3})?(?![0-9])"#,
    ].compactMap { try? NSRegularExpression(pattern: $0) }

    static func maskGroupedNumbers(_ text: String) -> String {
        var result = text
        for expression in groupedNumbers {
            let matches = expression.matches(in: result, range: NSRange(result.startIndex..., in: result))
            for match in matches.reversed() {
                guard let range = Range(match.range, in: result) else { continue }
                let digits = result[range].filter(\.isNumber)
                result.replaceSubrange(range, with: digits.count == 11 ? phone(String(digits)) : accountNumber(String(digits)))
            }
        }
        return result
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
