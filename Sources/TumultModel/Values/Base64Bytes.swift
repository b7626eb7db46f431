import Foundation

/// Bytes written in standard base64 with padding (`aGVsbG8=`), as a CRD
/// field of `format: byte` holds them (HTTPChaos `replace.body`). Line breaks
/// are ignored, as Go's decoder ignores them.
public struct Base64Bytes: Sendable, Hashable, CustomStringConvertible, DecodingFallback, TextValue {
    public let data: Data
    public let text: String

    public static var decodingFallback: Base64Bytes { Base64Bytes(Data()) }

    public init(_ data: Data) {
        self.data = data
        self.text = data.base64EncodedString()
    }

    public init(parsing text: String) throws(InvalidValue) {
        let compact = text.filter { $0 != "\n" && $0 != "\r" }
        guard compact.count % 4 == 0, let data = Data(base64Encoded: compact) else {
            throw InvalidValue("\"\(text)\" is not base64 (standard alphabet with = padding, e.g. \"aGVsbG8=\" for \"hello\")")
        }
        self.data = data
        self.text = text
    }

    public var description: String { text }

}
