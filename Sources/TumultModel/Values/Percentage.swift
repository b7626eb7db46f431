/// A percentage written as a string holding a number from 0 to 100 (`"25"`,
/// `"0.5"`), as NetworkChaos loss, duplicate, corrupt and correlation are.
public struct Percentage: Sendable, Hashable, CustomStringConvertible, DecodingFallback, TextValue {
    public let value: Double
    public let text: String

    public static var decodingFallback: Percentage { Percentage(0) }

    public init(parsing text: String) throws(InvalidValue) {
        guard let value = Double(text), value.isFinite else {
            throw InvalidValue("\"\(text)\" is not a percentage (a number from 0 to 100)")
        }
        guard (0...100).contains(value) else {
            throw InvalidValue("\"\(text)\" is out of range: a percentage is from 0 to 100")
        }
        self.value = value
        self.text = text
    }

    public init(_ value: Double) {
        self.value = value
        self.text = value.rounded() == value ? String(Int(value)) : String(value)
    }

    /// The value as a probability from 0 to 1.
    public var fraction: Double { value / 100 }
    public var description: String { text }

}

