import Foundation
import InsightCore
import Testing

/// `Decimal(exactly:)` parses money exactly, on its fast path and through Foundation alike.
@Suite struct DecimalLiteralTests {
    @Test(arguments: [
        ("1234.50", "1234.5"), ("-12", "-12"), ("0", "0"), ("-0", "0"), ("-0.00", "0"), ("007", "7"),
        ("0.1", "0.1"), ("9999999999999999999", "9999999999999999999"),
        // Beyond the fast path: 20 digits, exponents, a plus sign.
        ("12345678901234567890.5", "12345678901234567890.5"), ("1e3", "1000"), ("+5", "5"), ("2.5E-2", "0.025"),
    ])
    func parsesExactly(text: String, expected: String) throws {
        let value = try #require(Decimal(exactly: text))
        #expect(value.description == expected)
        #expect(!value.isNaN)
    }

    @Test(arguments: ["", "-", ".5", "1.", "1.2.3", "12abc", "--1", "1e", "NaN", " 1", "1 ", "0x10"])
    func refusesWhatIsNotOneNumber(text: String) {
        #expect(Decimal(exactly: text) == nil)
    }

    @Test func theFastPathAgreesWithFoundation() throws {
        var seed: UInt64 = 12345
        for _ in 0..<2000 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let whole = Int(seed >> 40) - (1 << 23)
            let cents = Int((seed >> 8) % 100)
            let text = "\(whole).\(cents < 10 ? "0" : "")\(cents)"
            let foundation = try #require(Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")))
            #expect(Decimal(exactly: text) == foundation, "\(text)")
        }
    }

    @Test(arguments: [
        "0", "-0.001", "1e5", "-12.50", "0.0000000000000000000000000001", "-1e-30", "5e60", "9999999999999999999",
        "10000000000000000000", "18446744073709551615", "123456789012345678901234567890", "-7", "100.25",
    ])
    func plainTextIsFoundationsDescription(text: String) throws {
        let value = try #require(Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")))
        #expect(value.plainText == value.description, "\(text)")
    }

    @Test func plainTextAgreesWithFoundationOnArithmetic() throws {
        var random = SeededRandom(seed: 7)
        for _ in 0..<2000 {
            // Sums, products and quotients give significands and exponents that parsing never does.
            let a = Decimal(sign: random.int(0..<2) == 0 ? .plus : .minus, exponent: -random.int(0..<6),
                            significand: Decimal(random.int(0..<100_000_000)))
            let b = Decimal(sign: .plus, exponent: random.int(-3..<4), significand: Decimal(random.int(1..<100_000)))
            for value in [a, a + b, a * b, a / b, a - a] {
                #expect(value.plainText == value.description, "\(value)")
            }
        }
    }

    /// A literal that `isPlainText` accepts is exactly what `plainText` writes for it, so a caller may keep the
    /// literal; one it refuses may still be plain (the caller then formats it, which is only slower).
    @Test(arguments: [
        ("0", true), ("7", true), ("-7", true), ("1200", true), ("1234.5", true), ("0.05", true), ("-0.5", true),
        ("123456789012345678", true), ("-0", false), ("-0.0", false), ("00", false), ("007", false), ("1.50", false),
        ("1.", false), (".5", false), ("1e3", false), ("+5", false), ("1234567890123456789", false), ("", false),
        ("-", false), ("1-2", false), ("1.2.3", false), ("0.0", false),
    ])
    func plainTextLiterals(text: String, plain: Bool) throws {
        #expect(Decimal.isPlainText(text) == plain, "\(text)")
        if plain { #expect(try #require(Decimal(exactly: text)).plainText == text) }
    }

    @Test func everyAcceptedLiteralIsItsOwnPlainText() throws {
        var seed: UInt64 = 987_654_321
        let alphabet = Array("0123456789.-")
        var accepted = 0
        for _ in 0..<20_000 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let length = Int(seed >> 60) + 1
            var text = ""
            var bits = seed
            for _ in 0..<length {
                bits = bits &* 6364136223846793005 &+ 1442695040888963407
                // Mostly digits, sometimes a point or a sign, so that well-formed and malformed literals both come up.
                let pick = Int(bits >> 59)
                text.append(pick < 26 ? alphabet[pick % 10] : alphabet[10 + pick % 2])
            }
            guard Decimal.isPlainText(text) else { continue }
            accepted += 1
            let value = try #require(Decimal(exactly: text), "\(text)")
            #expect(value.plainText == text, "\(text)")
        }
        #expect(accepted > 1_000)
    }

    /// A decimal string is read as its number: trimmed of spaces and tabs at either end, never of newlines.
    @Test(arguments: [
        ("1234.50", "1234.5"), (" 12.5", "12.5"), ("12.5\t", "12.5"), ("\u{3000}7", "7"), ("-3", "-3"), ("12.5\n", nil),
        ("\n12", nil), ("12 3", nil), ("", nil), ("abc", nil), ("1e2", "100"), ("５", nil),
    ] as [(String, String?)])
    func decimalStrings(text: String, expected: String?) {
        #expect(JSONValue.string(text).decimalValue?.description == expected, "\(text.debugDescription)")
    }
}
