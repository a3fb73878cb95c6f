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
        keep(phone, Shown.phone)
    }

    /// `110101199001011234` → `110***********1234`.
    public static func idNumber(_ id: String) -> String {
        keep(id, Shown.idNumber)
    }

    /// Only the last 4 digits show: `6222020200112233` → `************2233`.
    public static func accountNumber(_ account: String) -> String {
        keep(account, Shown.accountNumber)
    }

    /// How many characters each mask leaves at the start and at the end; ``scrub(_:)`` masks the numbers it
    /// finds in text alike.
    enum Shown {
        static let phone = (head: 3, tail: 4)
        static let idNumber = (head: 3, tail: 4)
        static let accountNumber = (head: 0, tail: 4)
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

    /// Masks personal data inside free text: mainland mobile numbers (`138****5678`), 18-character ID numbers
    /// (`110***********1234`, the last may be `X`) and 12–19 digit account or card numbers (last 4 digits).
    /// A last line of defence for messages, notes and logs; leads are masked where they are made.
    ///
    /// Numbers are found however they are written: after letters (`Tel13812345678`), in full-width digits
    /// (`１３８１２３４５６７８`), and in groups separated by a space, `-` or `.` (full-width ones too):
    /// `138-1234-5678`, `138-12345678`, `(138)1234-5678`, `110101 19900101 123X`, `6222.0202.0011.2233`. A
    /// number in groups is masked whole (`138****5678`), its separators dropped; the digits it shows are the
    /// ones written, full-width or not. Only those shapes join groups, so dates (`2026-12-07`), times, amounts
    /// (`12,345.67`) and short numbers stay as they are. insightd's own ids (`ld_…`, `dl_…`) stay whole.
    ///
    /// One pass over the bytes finds the runs of digits and a second reads them in order, looking at most a few
    /// runs ahead: linear in the text whatever it holds (no regular expression, nothing to backtrack).
    public static func scrub(_ text: String) -> String {
        FreeText.scrub(text)
    }

    /// A stable stand-in for an account-like identifier in a lead key, where even the last 4 digits are not
    /// needed: `#` and 16 hex digits of its hash. The evidence shows the masked number.
    public static func reference(_ id: String) -> String {
        "#" + StableHash.hex(id)
    }

    private static func keep(_ value: String, _ shown: (head: Int, tail: Int)) -> String {
        let (head, tail) = shown
        let characters = Array(value)
        guard characters.count > head + tail else { return String(repeating: "*", count: characters.count) }
        return String(characters.prefix(head)) + String(repeating: "*", count: characters.count - head - tail)
            + String(characters.suffix(tail))
    }
}

import Foundation
