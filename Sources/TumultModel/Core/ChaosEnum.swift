/// A closed set of string values from the CRD schemas (`enum:`). Decoding an
/// unknown value names the allowed ones, which is the fix users need.
public protocol ChaosEnum: RawRepresentable, CaseIterable, Codable, Sendable, Hashable, DecodingFallback
where RawValue == String {}

extension ChaosEnum {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let value = Self(rawValue: raw) else {
            let allowed = Self.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw InvalidValue("\"\(raw)\" is not one of \(allowed)")
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static var decodingFallback: Self { allCases.first! }

    /// The values as written in documents, in declaration order.
    public static var rawValues: [String] { allCases.map(\.rawValue) }
}
