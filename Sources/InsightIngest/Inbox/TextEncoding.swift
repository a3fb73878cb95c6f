import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Converts export files to UTF-8. UTF-8 (with or without BOM) is checked; GB18030 and GBK go through the
/// C library's iconv, which every Linux host has.
///
/// Decoded as is from a CSV mapping's `encoding` in the config (one of `utf-8`, `gb18030`, `gbk`).
public enum TextEncoding: String, Sendable, CaseIterable, Decodable {
    case utf8 = "utf-8"
    case gb18030
    case gbk

    public init(from decoder: any Decoder) throws { try self.init(decodingOneOf: decoder) }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Decodes `bytes`; throws when they are not valid text in this encoding.
    public func decode(_ bytes: ArraySlice<UInt8>) throws(Failure) -> String {
        switch self {
        case .utf8:
            var slice = bytes
            if slice.starts(with: [0xEF, 0xBB, 0xBF]) { slice = slice.dropFirst(3) }
            guard let text = String(validating: slice, as: UTF8.self) else {
                throw Failure(description: "not valid UTF-8; if the file is GB18030/GBK, set encoding: gb18030 in its csv mapping")
            }
            return text
        case .gb18030, .gbk:
            return try Self.iconv(bytes, from: self == .gbk ? "GBK" : "GB18030")
        }
    }

    private static func iconv(_ bytes: ArraySlice<UInt8>, from encoding: String) throws(Failure) -> String {
        guard !bytes.isEmpty else { return "" }
        let converter = iconv_open("UTF-8", encoding)
        guard converter != iconv_t(bitPattern: -1) else {
            throw Failure(description: "this system's iconv cannot convert \(encoding)")
        }
        defer { iconv_close(converter) }
        var input = Array(bytes)
        // A byte can become three of UTF-8 (GBK 0x80 is €, U+20AC): room for four each.
        var output = [UInt8](repeating: 0, count: input.count * 4 + 16)
        let result: Int = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(inBuffer.baseAddress)?
                    .assumingMemoryBound(to: CChar.self)
                var inLeft = inBuffer.count
                var outPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outBuffer.baseAddress)?
                    .assumingMemoryBound(to: CChar.self)
                var outLeft = outBuffer.count
                let status = Glibc.iconv(converter, &inPointer, &inLeft, &outPointer, &outLeft)
                if status == -1 || inLeft != 0 { return -1 }
                return outBuffer.count - outLeft
            }
        }
        guard result >= 0, let text = String(validating: output[0..<result], as: UTF8.self) else {
            throw Failure(description: "not valid \(encoding) text")
        }
        return text
    }
}
