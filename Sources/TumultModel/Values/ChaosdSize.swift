/// A byte count in the unit syntax chaosd and PhysicalMachineChaos use for
/// disk and memory sizes (`512kB`, `1M`, `2GiB`, `1G512M`): go-units'
/// `ParseUnit` tried with binary short units (`K`, `M`, `G`, ... = 1024^n),
/// IEC units (`KiB`, `MiB`, ...) and decimal units (`kB`/`KB`, `MB`, ...);
/// `c` is one byte. A bare number means mebibytes, as chaosd reads it.
///
/// The text is kept as written and encoded back unchanged.
public struct ChaosdSize: Sendable, Hashable, CustomStringConvertible, DecodingFallback, TextValue {
    public let bytes: UInt64
    public let text: String

    public static var decodingFallback: ChaosdSize { ChaosdSize(bytes: 0) }

    static let shortBinaryUnits: [String: Double] = [
        "c": 1, "K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776,
        "P": 1_125_899_906_842_624, "E": 1_152_921_504_606_846_976,
    ]
    static let binaryUnits: [String: Double] = [
        "c": 1, "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824, "TiB": 1_099_511_627_776,
        "PiB": 1_125_899_906_842_624, "EiB": 1_152_921_504_606_846_976,
    ]
    static let decimalUnits: [String: Double] = [
        "c": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15, "EB": 1e18,
    ]

    public init(parsing text: String) throws(InvalidValue) {
        var candidate = text
        // chaosd reads a bare integer as a number of mebibytes.
        if let first = text.first, (first.isASCII && first.isNumber) || first == "+" || first == "-",
           text.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }), text != "+", text != "-" {
            candidate += "M"
        }
        if candidate.hasPrefix("-") {
            throw InvalidValue("\"\(text)\" must not be negative")
        }
        for units in [Self.shortBinaryUnits, Self.binaryUnits, Self.decimalUnits] {
            if let bytes = Self.parse(candidate, units: units) {
                self.bytes = bytes
                self.text = text
                return
            }
        }
        throw InvalidValue("\"\(text)\" is not a size (a number and a unit: c, K, M, G, T, KiB, MiB, GiB, kB, MB, GB ..., e.g. \"512kB\" or \"1G\")")
    }

    public init(bytes: UInt64) {
        self.bytes = bytes
        self.text = "\(bytes)c"
    }

    public var description: String { text }

    /// go-units' `ParseUnit`: `[+]?([0-9]*(\.[0-9]*)?unit)+` with every unit
    /// from one table; `"0"` alone is zero.
    static func parse(_ text: String, units: [String: Double]) -> UInt64? {
        var rest = Substring(text)
        if rest.first == "+" { rest = rest.dropFirst() }
        if rest == "0" { return 0 }
        if rest.isEmpty { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let whole = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(whole.count)
            var fraction = Substring("")
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix { $0.isASCII && $0.isNumber }
                rest = rest.dropFirst(fraction.count)
            }
            guard !whole.isEmpty || !fraction.isEmpty, whole.count <= 18 else { return nil }
            let unit = rest.prefix { !($0 == "." || ($0.isASCII && $0.isNumber)) }
            rest = rest.dropFirst(unit.count)
            guard let scale = units[String(unit)] else { return nil }
            let number = Double("\(whole.isEmpty ? "0" : String(whole)).\(fraction.isEmpty ? "0" : String(fraction))") ?? 0
            total += number * scale
        }
        guard total < 9.2e18 else { return nil }
        return UInt64(total)
    }

}
