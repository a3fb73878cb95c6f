import Foundation
import InsightCore

/// A rule's text: one string for every locale, or one per locale (`{zh-CN: 大额取现, en: Large cash withdrawal}`).
/// A locale without its own text uses `zh-CN`, then `en`.
public struct LocalizedText: Sendable, Hashable, Decodable {
    /// The locales lead texts come in.
    public static let locales = ["zh-CN", "en"]

    /// Text by locale; the key `""` holds a text for every locale.
    public let texts: [String: String]

    public init(_ text: String) {
        texts = ["": text]
    }

    public init(_ texts: [String: String]) {
        self.texts = texts
    }

    struct LocaleKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            texts = ["": text]
            return
        }
        let container: KeyedDecodingContainer<LocaleKey>
        do {
            container = try decoder.container(keyedBy: LocaleKey.self)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription:
                "expected a text, or a text per locale such as {zh-CN: ..., en: ...}"))
        }
        var texts: [String: String] = [:]
        for key in container.allKeys {
            guard Self.locales.contains(key.stringValue) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [key], debugDescription:
                    "unknown locale \(key.stringValue); locales: \(Self.locales.joined(separator: ", "))"))
            }
            texts[key.stringValue] = try container.decode(String.self, forKey: key)
        }
        guard !texts.isEmpty else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription:
                "give at least one text, e.g. {zh-CN: ...}"))
        }
        self.texts = texts
    }

    /// The text for `locale`: its own, else the text for every locale, else `zh-CN`'s, else `en`'s.
    public func text(for locale: String) -> String {
        texts[locale] ?? texts[""] ?? texts[LeadTexts.defaultLocale] ?? texts["en"] ?? ""
    }

    /// Every text with its locale (`nil` for a text for every locale), in a stable order.
    var variants: [(locale: String?, text: String)] {
        texts.keys.sorted().compactMap { key in texts[key].map { (key.isEmpty ? nil : key, $0) } }
    }
}
