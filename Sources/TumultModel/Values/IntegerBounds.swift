extension Diagnostics {
    /// Reports an integer field outside `minimum...maximum` (either bound may
    /// be open), unless a problem was already reported at `path`.
    /// `meaning` names what the number is: `"150" is out of range: <meaning> is from 0 to 100`.
    mutating func checkBounds<T: BinaryInteger>(_ value: T?, min minimum: T? = nil, max maximum: T? = nil,
                                                at path: FieldPath, meaning: String) {
        guard let value, !hasError(touching: path) else { return }
        if let minimum, let maximum, !(minimum...maximum).contains(value) {
            error(path, "\"\(value)\" is out of range: \(meaning) is from \(minimum) to \(maximum)")
        } else if let minimum, maximum == nil, value < minimum {
            error(path, "\"\(value)\" is out of range: \(meaning) is at least \(minimum)")
        } else if let maximum, minimum == nil, value > maximum {
            error(path, "\"\(value)\" is out of range: \(meaning) is at most \(maximum)")
        }
    }
}
