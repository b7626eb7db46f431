/// A value that a document writes as one string with a syntax of its own
/// (a duration, a rate, a cron line ...): decoded by parsing, so that a bad
/// value is reported with the parser's message, and encoded as the text it
/// was read from, so that round trips print what the user wrote.
public protocol TextValue: Codable {
    init(parsing text: String) throws(InvalidValue)
    var text: String { get }
}

extension TextValue {
    public init(from decoder: Decoder) throws {
        try self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}
