import Foundation

extension RawRepresentable where RawValue == String, Self: CaseIterable {
    /// Decodes one of the cases (a config enum such as `window_unit`), or says which values are allowed.
    public init(decodingOneOf decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "\"\(text)\" is not allowed here; use one of \(Self.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        self = value
    }
}
