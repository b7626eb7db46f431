/// A StressChaos memory size (`stressors.memory.size`): bytes with an optional
/// unit (`256MB`, `1GiB`, `100`) or a share of the available memory (`25%`).
///
/// The forms accepted are those Chaos Mesh's webhook accepts: docker/go-units
/// `FromHumanSize` (a number, an optional space, then `B` or `K`/`M`/`G`/`T`/`P`
/// optionally followed by `B` or `iB`, any case), or an integer percentage from
/// 0 to 100. The byte count is what the memory stressor (memStress) allocates:
/// `KB`/`K` are powers of 1000, `KiB` powers of 1024. An empty text means the
/// stressor's default, all the available memory.
public struct MemorySize: Sendable, Hashable, CustomStringConvertible, DecodingFallback, TextValue {
    public enum Amount: Sendable, Hashable {
        case bytes(UInt64)
        /// Percent of the memory available to the target.
        case percent(Int)
    }

    /// nil when the text is empty (all the available memory).
    public let amount: Amount?
    public let text: String

    public static var decodingFallback: MemorySize { MemorySize(text: "", amount: nil) }

    private init(text: String, amount: Amount?) {
        self.text = text
        self.amount = amount
    }

    public init(bytes: UInt64) {
        self.init(text: String(bytes), amount: .bytes(bytes))
    }

    public init(percent: Int) {
        self.init(text: "\(percent)%", amount: .percent(percent))
    }

    public init(parsing text: String) throws(InvalidValue) {
        self.text = text
        guard !text.isEmpty else {
            amount = nil
            return
        }
        if text.hasSuffix("%") {
            guard let percent = Self.goAtoi(text.dropLast()) else {
                throw InvalidValue("\"\(text)\" is not a memory size: a percentage is a whole number followed by %, e.g. \"25%\"")
            }
            guard (0...100).contains(percent) else {
                throw InvalidValue("\"\(text)\" is out of range: a percentage is from 0 to 100")
            }
            amount = .percent(percent)
            return
        }
        guard let bytes = Self.parseBytes(text) else {
            throw InvalidValue("\"\(text)\" is not a memory size (a number with an optional unit B, KB, MB, GB, TB, PB or KiB ... PiB, e.g. \"256MB\", or a percentage, e.g. \"25%\")")
        }
        amount = .bytes(bytes)
    }

    /// The bytes each worker takes when the target has `available` bytes.
    public func bytes(ofAvailable available: UInt64) -> UInt64 {
        switch amount {
        case nil: return available
        case .bytes(let bytes)?: return bytes
        case .percent(let percent)?: return UInt64(Double(available) / 100 * Double(percent))
        }
    }

    public var description: String { text }

    /// go-units v0.5.0 `parseSize`: the number ends at the last digit, dot or
    /// space; the suffix is at most three letters.
    static func parseBytes(_ text: String) -> UInt64? {
        let characters = Array(text)
        guard let separator = characters.lastIndex(where: { ("0"..."9").contains($0) || $0 == "." || $0 == " " }) else {
            return nil
        }
        let number = String(characters[..<(characters[separator] == " " ? separator : separator + 1)])
        let suffix = String(characters[(separator + 1)...]).lowercased()
        guard let size = goParseFloat(number), size >= 0 else { return nil }
        var multiplier = 1.0
        if !suffix.isEmpty {
            guard suffix.count <= 3, let first = suffix.first else { return nil }
            if first == "b" {
                guard suffix.count == 1 else { return nil }
            } else {
                let decimal: [Character: Double] = ["k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15]
                guard let scale = decimal[first] else { return nil }
                let rest = suffix.dropFirst()
                switch rest {
                case "", "b": multiplier = scale
                case "ib": multiplier = Double(1 << (10 * (["k", "m", "g", "t", "p"].firstIndex(of: first)! + 1)))
                default: return nil
                }
            }
        }
        let bytes = (size * multiplier).rounded(.towardZero)
        guard bytes.isFinite, bytes < 9.2e18 else { return nil }
        return UInt64(bytes)
    }

    /// Go's `strconv.ParseFloat` for plain decimal numbers: optional sign,
    /// digits with an optional point, optional exponent.
    static func goParseFloat(_ text: String) -> Double? {
        var rest = Substring(text)
        if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
        let whole = rest.prefix { ("0"..."9").contains($0) }
        rest = rest.dropFirst(whole.count)
        var fraction = Substring("")
        if rest.first == "." {
            rest = rest.dropFirst()
            fraction = rest.prefix { ("0"..."9").contains($0) }
            rest = rest.dropFirst(fraction.count)
        }
        guard !whole.isEmpty || !fraction.isEmpty else { return nil }
        if rest.first == "e" || rest.first == "E" {
            rest = rest.dropFirst()
            if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
            let exponent = rest.prefix { ("0"..."9").contains($0) }
            guard !exponent.isEmpty else { return nil }
            rest = rest.dropFirst(exponent.count)
        }
        guard rest.isEmpty else { return nil }
        return Double(text)
    }

    /// Go's `strconv.Atoi`: optional sign, then decimal digits only.
    static func goAtoi(_ text: Substring) -> Int? {
        var digits = text
        if digits.first == "+" || digits.first == "-" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        return Int(text.first == "+" ? text.dropFirst() : text)
    }

}
