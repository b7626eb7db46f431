/// A bandwidth written with a unit, as `tc` and NetworkChaos write it:
/// `bit`, `kbit`, `mbit`, `gbit`, `tbit` (bits per second) or `bps`, `kbps`,
/// `mbps`, `gbps`, `tbps` (bytes per second). Units are case-insensitive.
///
/// Multiples are decimal (1 mbit = 1,000,000 bit/s) as in `tc`, so the
/// number a user writes is the number iperf3 reports.
public struct DataRate: Sendable, Hashable, CustomStringConvertible, DecodingFallback, TextValue {
    public let bitsPerSecond: UInt64
    public let text: String

    public static var decodingFallback: DataRate { DataRate(bitsPerSecond: 0) }

    static let units: [(suffix: String, bits: UInt64)] = [
        ("tbps", 8_000_000_000_000), ("gbps", 8_000_000_000), ("mbps", 8_000_000), ("kbps", 8_000), ("bps", 8),
        ("tbit", 1_000_000_000_000), ("gbit", 1_000_000_000), ("mbit", 1_000_000), ("kbit", 1_000), ("bit", 1),
    ]

    public static var unitNames: [String] { units.map(\.suffix).reversed() }

    public init(parsing text: String) throws(InvalidValue) {
        let lowered = text.lowercased()
        for unit in Self.units where lowered.hasSuffix(unit.suffix) {
            let number = lowered.dropLast(unit.suffix.count).drop { $0 == " " }
            let digits = number.reversed().drop { $0 == " " }.reversed()
            guard let count = UInt64(String(digits)) else { break }
            let (bits, overflow) = count.multipliedReportingOverflow(by: unit.bits)
            guard !overflow else { throw InvalidValue("\"\(text)\" is too large a rate") }
            bitsPerSecond = bits
            self.text = text
            return
        }
        throw InvalidValue("\"\(text)\" is not a rate (a whole number and one of \(Self.unitNames.joined(separator: ", ")), e.g. \"10mbit\")")
    }

    public init(bitsPerSecond: UInt64) {
        self.bitsPerSecond = bitsPerSecond
        self.text = "\(bitsPerSecond)bit"
    }

    public var bytesPerSecond: UInt64 { bitsPerSecond / 8 }
    public var description: String { text }

}
