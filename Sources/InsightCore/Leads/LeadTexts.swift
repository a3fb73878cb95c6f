import Foundation
import Mustache

/// The three texts of a lead, as Mustache template sources (one per field), in one locale.
public struct LeadTextSource: Sendable, Hashable, Decodable {
    public var title: String?
    public var summary: String?
    public var suggestedAction: String?

    public init(title: String? = nil, summary: String? = nil, suggestedAction: String? = nil) {
        self.title = title
        self.summary = summary
        self.suggestedAction = suggestedAction
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case title
        case summary
        case suggestedAction = "suggested_action"
    }
}

/// Lead texts per locale and kind: the plugin's built-in templates, overridden field by field by the
/// `templates:` section of its config file. Rendered as plain text (no HTML escaping).
///
/// Locales: `zh-CN` is the default and always complete; `en` is built in too. A locale without a template
/// for a kind falls back to `zh-CN`.
public struct LeadTexts: Sendable {
    public struct Rendered: Sendable, Hashable {
        public let title: String
        public let summary: String
        public let suggestedAction: String
    }

    public static let defaultLocale = "zh-CN"

    private struct Compiled: Sendable {
        let title: Field
        let summary: Field
        let suggestedAction: Field
    }

    /// One text: a template, or the constant it always renders to (a source without a tag, such as most suggested
    /// actions, rendered once when compiled).
    private enum Field: Sendable {
        case template(MustacheTemplate)
        case constant(String)

        init(_ template: MustacheTemplate, source: String) {
            self = source.contains("{{") ? .template(template) : .constant(LeadTexts.clean(template.render([String: Any]())))
        }

        func render(_ values: [String: Any]) -> String {
            switch self {
            case .template(let template): LeadTexts.clean(template.render(values))
            case .constant(let text): text
            }
        }
    }

    /// A string value as the templates see it: rendered as itself (``MustacheCustomRenderable``), so a variable costs
    /// the renderer two type checks instead of the half dozen of its generic path (lambda, optional,
    /// `String(describing:)`). Its transforms (`{{uppercased(name)}}`) are the string's own, and in a section it
    /// is truthy as a string is, even when empty.
    private struct Text: MustacheCustomRenderable, MustacheTransformable, CustomReflectable {
        let renderText: String
        var isNull: Bool { false }
        func transform(_ name: String) -> Any? { renderText.transform(name) }
        /// No children, as a string has none: the renderer looks names up in a value by reflection, and must not find
        /// `renderText` in this one (`{{name.renderText}}` renders nothing, as it does for a string).
        var customMirror: Mirror { Mirror(self, children: [:]) }
    }

    private let templates: [String: [String: Compiled]]
    /// Every template source with its config path (`templates.<locale>.<kind>.<field>`), for compliance review.
    public let sources: [PublishedText]

    /// - Parameters:
    ///   - builtIn: locale → kind → complete texts.
    ///   - overrides: the `templates:` section of the config file: locale → kind → some fields.
    public init(builtIn: [String: [String: LeadTextSource]],
                overrides: [String: [String: LeadTextSource]]?) throws(PluginConfigurationError) {
        var merged = builtIn
        for locale in (overrides ?? [:]).keys.sorted() where builtIn[locale] == nil {
            throw PluginConfigurationError(path: ["templates", locale],
                                           message: "no locale \(locale); locales: \(builtIn.keys.sorted().joined(separator: ", "))")
        }
        for (locale, kinds) in overrides ?? [:] {
            for (kind, fields) in kinds {
                guard builtIn.values.contains(where: { $0[kind] != nil }) else {
                    let known = Set(builtIn.values.flatMap(\.keys)).sorted().joined(separator: ", ")
                    throw PluginConfigurationError(path: ["templates", locale, kind],
                                                   message: "no lead kind \(kind) in this plugin; kinds: \(known)")
                }
                var entry = merged[locale]?[kind] ?? builtIn[Self.defaultLocale]?[kind] ?? LeadTextSource()
                if let title = fields.title { entry.title = title }
                if let summary = fields.summary { entry.summary = summary }
                if let action = fields.suggestedAction { entry.suggestedAction = action }
                merged[locale, default: [:]][kind] = entry
            }
        }
        var compiled: [String: [String: Compiled]] = [:]
        var sources: [PublishedText] = []
        for locale in merged.keys.sorted() {
            for (kind, entry) in merged[locale] ?? [:] {
                let path = ["templates", locale, kind]
                func template(_ text: String?, _ key: LeadTextSource.CodingKeys) throws(PluginConfigurationError) -> Field {
                    let source = text ?? ""
                    sources.append(PublishedText(path: path + [key.rawValue], text: source))
                    do {
                        return Field(try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + source), source: source)
                    } catch {
                        throw PluginConfigurationError(path: path + [key.rawValue], message: "not a valid Mustache template: \(error)")
                    }
                }
                compiled[locale, default: [:]][kind] = Compiled(
                    title: try template(entry.title, .title), summary: try template(entry.summary, .summary),
                    suggestedAction: try template(entry.suggestedAction, .suggestedAction))
            }
        }
        templates = compiled
        self.sources = sources.sorted { $0.path.lexicographicallyPrecedes($1.path) }
    }

    /// Renders the texts for `kind` in `locale` (falling back to `zh-CN`) with `values`: a dictionary of
    /// strings, numbers, booleans, arrays and nested dictionaries.
    public func render(_ kind: String, locale: String, values: [String: Any]) -> Rendered {
        guard let compiled = templates[locale]?[kind] ?? templates[Self.defaultLocale]?[kind] else {
            return Rendered(title: kind, summary: "", suggestedAction: "")
        }
        // The top-level strings (most values: amounts and dates come formatted) go in as `Text`.
        var prepared: [String: Any] = [:]
        prepared.reserveCapacity(values.count)
        for (key, value) in values { prepared[key] = (value as? String).map { Text(renderText: $0) } ?? value }
        return Rendered(title: compiled.title.render(prepared), summary: compiled.summary.render(prepared),
                        suggestedAction: compiled.suggestedAction.render(prepared))
    }

    /// A rendered text without white space at either end.
    private static func clean(_ text: String) -> String {
        // Foundation's trimming bridges through NSString: skip it when neither end is white space (the usual
        // text). A printable ASCII byte at an end is not white space, without asking the Unicode tables.
        func printable(_ byte: UInt8?) -> Bool { byte.map { $0 > 0x20 && $0 < 0x7F } ?? true }
        if printable(text.utf8.first) && printable(text.utf8.last) { return text }
        // Otherwise ask the same table Foundation trims by, about the end scalars (not Characters: U+200B is
        // in the table but is not `Character.isWhitespace`, and a prepended scalar hides a space after it).
        let trimmed = CharacterSet.whitespacesAndNewlines
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
              trimmed.contains(first) || trimmed.contains(last) else { return text }
        return text.trimmingCharacters(in: trimmed)
    }
}

/// A text a plugin publishes in leads (a template or a catalog name), with where it is configured, so
/// `insightd check` can review it for forbidden wording.
public struct PublishedText: Sendable, Hashable {
    /// The key path in the plugin's config file (or in the named auxiliary file).
    public let path: [String]
    public let text: String
    /// The auxiliary file it comes from (`products`), or nil for the plugin's own file.
    public let file: String?

    public init(path: [String], text: String, file: String? = nil) {
        self.path = path
        self.text = text
        self.file = file
    }
}
