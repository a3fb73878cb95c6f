import Testing
@testable import InsightCore

@Suite("Masking")
struct MaskingTests {
    @Test(arguments: [
        // 1 to 4 characters; compound surnames (复姓) stay whole, only from 3 characters on.
        ("李", "李*"), ("张三", "张*"), ("王小明", "王**"), ("王小明明", "王***"), ("欧阳娜娜", "欧阳**"), ("司马光", "司马*"),
        ("诸葛亮", "诸葛*"), ("上官婉儿", "上官**"), ("欧阳", "欧*"), ("Alice", "A****"), ("A", "A*"), ("  李四 ", "李*"),
        ("", ""), ("   ", ""),
    ])
    func name(_ input: String, _ expected: String) {
        #expect(Masking.name(input) == expected)
    }

    @Test(arguments: [
        ("13812345678", "138****5678"), ("+8613812345678", "+86*******5678"), ("12345678", "123*5678"),
        ("1234567", "*******"), ("123", "***"), ("", ""),
    ])
    func phone(_ input: String, _ expected: String) {
        #expect(Masking.phone(input) == expected)
    }

    @Test(arguments: [
        ("110101199001011234", "110***********1234"), ("11010119900101123X", "110***********123X"),
        ("1234567", "*******"), ("", ""),
    ])
    func idNumber(_ input: String, _ expected: String) {
        #expect(Masking.idNumber(input) == expected)
    }

    @Test(arguments: [
        ("6222020200112233", "************2233"), ("12345", "*2345"), ("1234", "****"), ("12", "**"), ("", ""),
    ])
    func accountNumber(_ input: String, _ expected: String) {
        #expect(Masking.accountNumber(input) == expected)
    }

    @Test func idNumberHidesTheBirthDate() {
        let masked = Masking.idNumber("110101199001011234")
        #expect(!masked.contains("19900101"))
        #expect(masked.count == 18)
        #expect(masked.filter { $0 == "*" }.count == 11)
    }

    @Test func accountNumberShowsOnlyTheLastFour() {
        let masked = Masking.accountNumber("6222020200112233")
        #expect(masked.hasSuffix("2233"))
        #expect(masked.dropLast(4).allSatisfy { $0 == "*" })
        #expect(masked.count == 16)
    }

    @Test func maskingCountsCharactersNotBytes() {
        #expect(Masking.phone("一二三四五六七八") == "一二三*五六七八")
    }
}

@Suite struct FieldMaskingTests {
    @Test(arguments: [
        ("data.counterparty", "王小明", "王**"),
        ("data.phone", "13812345678", "138****5678"),
        ("data.mobile", "13812345678", "138****5678"),
        ("data.idNumber", "110101199001011234", "110***********1234"),
        ("data.accountId", "6222020200112233", "************2233"),
        ("data.amount", "800000.00", "800000.00"),
        ("type", "account.transaction", "account.transaction"),
    ])
    func fieldsAreMaskedByWhatTheyHold(field: String, value: String, shown: String) {
        #expect(Masking.field(field, value: value) == shown)
    }

    @Test(arguments: [
        ("请致电13812345678确认", "请致电138****5678确认"),
        ("身份证110101199001011234，卡号6222020200112233", "身份证110***********1234，卡号************2233"),
        ("ID 11010119900101123X.", "ID 110***********123X."),
        ("金额 1200000.00 元，线索 ld_3f20155500931122，客户 C000123", "金额 1200000.00 元，线索 ld_3f20155500931122，客户 C000123"),
        ("线索 ld_0123456789012345", "线索 ld_0123456789012345"),
        ("Tel13812345678, acct6222020200112233", "Tel138****5678, acct************2233"),
        ("call 138-1234-5678 or 138 1234 5678", "call 138****5678 or 138****5678"),
        ("card 6222 0202 0011 2233 ok", "card ************2233 ok"),
        ("ID110101199001011234", "ID110***********1234"),
        ("2026-11-25 08:30", "2026-11-25 08:30"),
    ])
    func scrubMasksNumbersInFreeText(_ input: String, _ expected: String) {
        #expect(Masking.scrub(input) == expected)
    }

    /// Issue 14: numbers written in full-width digits or in groups with other separators were left whole.
    @Test(arguments: [
        ("致电138-12345678", "致电138****5678"),
        ("手机１３８１２３４５６７８。", "手机１３８****５６７８。"),
        ("call 138.1234.5678.", "call 138****5678."),
        ("电话(138)1234-5678", "电话138****5678"),
        ("tel (138) 1234 5678", "tel 138****5678"),
        ("（１３８）１２３４－５６７８", "１３８****５６７８"),
        ("１３８－１２３４－５６７８", "１３８****５６７８"),
        ("身份证110101 19900101 123X", "身份证110***********123X"),
        ("ID 110101-19900101-1234 ok", "ID 110***********1234 ok"),
        ("身份证１１０１０１１９９００１０１１２３Ｘ", "身份证１１０***********１２３Ｘ"),
        ("卡号6222.0202.0011.2233", "卡号************2233"),
        ("卡号６２２２　０２０２　００１１　２２３３", "卡号************２２３３"),
        ("acct ６２２２０２０２００１１２２３３", "acct ************２２３３"),
        ("card 6222-0202-0011-2233-123 ok", "card ***************3123 ok"),
        ("+86 138 1234 5678", "+86 138****5678"),
    ])
    func scrubMasksNumbersWrittenOtherWays(_ input: String, _ expected: String) {
        #expect(Masking.scrub(input) == expected)
    }

    /// What looks a little like those numbers but is not personal data stays as written.
    @Test(arguments: [
        "2026-12-07", "2026-12-07 08:30", "2026.12.07", "２０２６－１２－０７", "金额 12,345.67 元", "1,234,567,890.12",
        "共 3 笔，合计 138 元", "10.0.138.1", "2026-12-07 2026-12-08", "1 2 3 4 5 6 7 8 9 10 11 12", "v1.2.3-138.1234",
        "1380 12345678", "138 1234 567", "13812345678901234567890", "线索 ld_0123456789012345，投递 dl_6222020200112233",
    ])
    func scrubLeavesOrdinaryNumbers(_ input: String) {
        #expect(Masking.scrub(input) == input)
    }

    /// A megabyte of hostile text (a number in every few bytes, endless groups, one endless run) scrubs well
    /// within the limit even in a debug build with other tests running (under a second there, a tenth of one
    /// optimized); the regular expressions before took minutes, every match copying the text.
    @Test(arguments: ["电话138-1234-5678，", "6222 0202 0011 2233 ", "1-", "(138)", "１", "ld_1 ", "110101 19900101 123X "])
    func scrubIsLinear(_ unit: String) {
        let note = String(repeating: unit, count: (1 << 20) / unit.utf8.count)
        var scrubbed = ""
        let elapsed = ContinuousClock().measure { scrubbed = Masking.scrub(note) }
        #expect(elapsed < .seconds(10), "\(elapsed) for a megabyte of \"\(unit)\"")
        #expect(scrubbed.utf8.count <= note.utf8.count)
    }
}
