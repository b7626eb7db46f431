/// A duration written in Go's syntax (`90ms`, `1.5s`, `2h45m`, `-10m100ns`),
/// as Chaos Mesh documents write them.
///
/// The text is kept as written so that `convert` and round trips print what
/// the user wrote; `nanoseconds` is what the code uses.
public struct GoDuration: Sendable, Hashable, Comparable, CustomStringConvertible, DecodingFallback, TextValue {
    public let nanoseconds: Int64
    public let text: String

    public static let zero = GoDuration(nanoseconds: 0)
    public static var decodingFallback: GoDuration { .zero }

    /// Parses Go's `time.ParseDuration` syntax.
    public init(parsing text: String) throws(InvalidValue) {
        guard let nanoseconds = Self.parse(text) else {
            throw InvalidValue("\"\(text)\" is not a duration (e.g. \"90ms\", \"1.5s\", \"2h45m\")")
        }
        self.nanoseconds = nanoseconds
        self.text = text
    }

    /// A duration from a number, written in its shortest Go-like form.
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
        self.text = Self.format(nanoseconds)
    }

    public static func seconds(_ seconds: Double) -> GoDuration {
        GoDuration(nanoseconds: Int64((seconds * 1e9).rounded()))
    }

    public static func milliseconds(_ milliseconds: Int64) -> GoDuration {
        GoDuration(nanoseconds: milliseconds * 1_000_000)
    }

    public var seconds: Double { Double(nanoseconds) / 1e9 }
    public var milliseconds: Double { Double(nanoseconds) / 1e6 }
    public var isNegative: Bool { nanoseconds < 0 }
    public var description: String { text }

    /// The stricter form the NetworkChaos CRD demands for latency and jitter:
    /// one unsigned number and one unit (`^[0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h)$`).
    public var isSingleUnsignedUnit: Bool {
        var rest = Substring(text)
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { return false }
        rest = rest.dropFirst(digits.count)
        if rest.first == "." {
            rest = rest.dropFirst()
            let fraction = rest.prefix { $0.isASCII && $0.isNumber }
            guard !fraction.isEmpty else { return false }
            rest = rest.dropFirst(fraction.count)
        }
        return ["ns", "us", "ms", "s", "m", "h"].contains(String(rest))
    }

    public static func < (lhs: GoDuration, rhs: GoDuration) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func == (lhs: GoDuration, rhs: GoDuration) -> Bool {
        lhs.nanoseconds == rhs.nanoseconds && lhs.text == rhs.text
    }

    static let units: [(String, Int64)] = [
        ("ns", 1), ("us", 1_000), ("\u{00B5}s", 1_000), ("\u{03BC}s", 1_000), ("ms", 1_000_000),
        ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    static func parse(_ text: String) -> Int64? {
        var rest = Substring(text)
        var negative = false
        if rest.first == "-" || rest.first == "+" {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        if rest.isEmpty { return nil }
        var total: Int64 = 0
        while !rest.isEmpty {
            let whole = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(whole.count)
            var fraction = Substring("")
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix { $0.isASCII && $0.isNumber }
                rest = rest.dropFirst(fraction.count)
            }
            if whole.isEmpty && fraction.isEmpty { return nil }
            let unitText = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard let unit = units.first(where: { $0.0 == unitText })?.1 else { return nil }
            rest = rest.dropFirst(unitText.count)
            var part: Int64 = 0
            for digit in whole {
                let (times, overflow1) = part.multipliedReportingOverflow(by: 10)
                let (plus, overflow2) = times.addingReportingOverflow(Int64(digit.wholeNumberValue!))
                if overflow1 || overflow2 { return nil }
                part = plus
            }
            let (scaled, overflow) = part.multipliedReportingOverflow(by: unit)
            if overflow { return nil }
            var fractionNanos: Int64 = 0
            if !fraction.isEmpty {
                var scale = Double(unit)
                var value = 0.0
                for digit in fraction.prefix(18) {
                    scale /= 10
                    value += Double(digit.wholeNumberValue!) * scale
                }
                fractionNanos = Int64(value.rounded())
            }
            let (sum1, overflow3) = total.addingReportingOverflow(scaled)
            let (sum2, overflow4) = sum1.addingReportingOverflow(fractionNanos)
            if overflow3 || overflow4 { return nil }
            total = sum2
        }
        return negative ? -total : total
    }

    static func format(_ nanoseconds: Int64) -> String {
        if nanoseconds == 0 { return "0s" }
        let sign = nanoseconds < 0 ? "-" : ""
        var rest = nanoseconds.magnitude
        if rest < 1_000 { return "\(sign)\(rest)ns" }
        if rest < 1_000_000 { return sign + decimal(rest, 1_000) + "us" }
        if rest < 1_000_000_000 { return sign + decimal(rest, 1_000_000) + "ms" }
        var text = sign
        let hours = rest / 3_600_000_000_000
        rest %= 3_600_000_000_000
        let minutes = rest / 60_000_000_000
        rest %= 60_000_000_000
        if hours > 0 { text += "\(hours)h" }
        if minutes > 0 { text += "\(minutes)m" }
        if rest > 0 { text += decimal(rest, 1_000_000_000) + "s" }
        return text
    }

    static func decimal(_ value: UInt64, _ unit: UInt64) -> String {
        let whole = value / unit
        var fraction = value % unit
        guard fraction > 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: String(unit).count - 1 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast(); fraction /= 10 }
        return "\(whole).\(digits)"
    }

}
