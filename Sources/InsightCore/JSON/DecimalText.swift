import Foundation

extension Decimal {
    /// Significands below this fit in a `UInt64` exactly.
    private static let fastLimit = Decimal(string: "10000000000000000000") ?? 0

    /// True when `literal` is already what ``plainText`` writes for the number it denotes: `-?(0|[1-9][0-9]*)`, then
    /// optionally a fraction that does not end in `0`, at most 18 digits, and not a negative zero. A caller that
    /// holds such a literal (an amount as an event gave it) can keep it instead of formatting the `Decimal` again.
    public static func isPlainText(_ literal: String) -> Bool {
        var digits = 0, fractionDigits = 0
        var negative = false, fraction = false, nonZero = false, leadingZero = false
        var last: UInt8 = 0
        for byte in literal.utf8 {
            switch byte {
            case 0x2D where digits == 0 && !negative:
                negative = true
            case 0x2E where digits > 0 && !fraction:
                fraction = true
            case 0x30...0x39:
                if !fraction {
                    if leadingZero { return false }  // `01`, `00`
                    if digits == 0 && byte == 0x30 { leadingZero = true }
                } else {
                    fractionDigits += 1
                }
                if byte != 0x30 { nonZero = true }
                digits += 1
            default:
                return false
            }
            last = byte
        }
        guard digits > 0, digits <= 18, last != 0x2E else { return false }
        if fraction && (fractionDigits == 0 || last == 0x30) { return false }
        return nonZero || !negative
    }

    /// The same text as `description` (`-1234.5`, `0.01`, `1200`), built from the integer significand when
    /// it fits in 64 bits. Foundation's `description` divides a variable-length integer digit by digit,
    /// allocating as it goes (about 10× slower); amounts are written on every event (state columns, plugin
    /// memory, lead texts).
    public var plainText: String {
        let significand = self.significand
        guard !isNaN, significand < Self.fastLimit, exponent > -64, exponent < 64 else { return description }
        let mantissa = NSDecimalNumber(decimal: significand).uint64Value
        guard mantissa != 0 else { return "0" }
        var digits: [UInt8] = []  // least significant first
        digits.reserveCapacity(20)
        var rest = mantissa
        while rest > 0 {
            digits.append(UInt8(rest % 10) + 0x30)
            rest /= 10
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count + 66)
        if sign == .minus { bytes.append(0x2D) }
        if exponent >= 0 {
            bytes.append(contentsOf: digits.reversed())
            bytes.append(contentsOf: repeatElement(0x30, count: exponent))
        } else if -exponent >= digits.count {
            bytes.append(contentsOf: [0x30, 0x2E])
            bytes.append(contentsOf: repeatElement(0x30, count: -exponent - digits.count))
            bytes.append(contentsOf: digits.reversed())
        } else {
            bytes.append(contentsOf: digits[(-exponent)...].reversed())
            bytes.append(0x2E)
            bytes.append(contentsOf: digits[..<(-exponent)].reversed())
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
