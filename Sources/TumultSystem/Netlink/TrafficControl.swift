import Foundation

/// Changes to qdiscs, classes, filters and links as typed values: each one
/// is sent as one netlink message (`netlink(...)`) and can also be written
/// as the `tc` / `ip` argument list that does the same (`command`), which
/// is the fallback and what messages and tests show.
public enum TrafficControl {
    /// A qdisc or class handle, `MAJOR:MINOR` in hex as `tc` writes it.
    public struct Handle: Sendable, Hashable, Codable, CustomStringConvertible {
        public var raw: UInt32

        public init(raw: UInt32) { self.raw = raw }
        public init(major: UInt16, minor: UInt16 = 0) { raw = UInt32(major) << 16 | UInt32(minor) }

        /// `root`, `ingress`, `746d:`, `746d:2`; nil for anything else.
        public init?(_ text: String) {
            switch text {
            case "root": raw = Self.root.raw
            case "ingress": raw = Self.ingress.raw
            default:
                let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, let major = UInt16(parts[0], radix: 16),
                      let minor = parts[1].isEmpty ? 0 : UInt16(parts[1], radix: 16) else { return nil }
                raw = UInt32(major) << 16 | UInt32(minor)
            }
        }

        public static let root = Handle(raw: 0xFFFF_FFFF)  // TC_H_ROOT
        public static let ingress = Handle(raw: 0xFFFF_FFF1)  // TC_H_INGRESS
        public static let unspecified = Handle(raw: 0)

        public var major: UInt16 { UInt16(raw >> 16) }
        public var minor: UInt16 { UInt16(raw & 0xFFFF) }

        public var description: String {
            switch self {
            case .root: "root"
            case .ingress: "ingress"
            default: String(major, radix: 16) + ":" + (minor == 0 ? "" : String(minor, radix: 16))
            }
        }
    }

    /// Token bucket (`tbf`): `rate` in bits/s, `burst` and `limit` in
    /// bytes, an optional `peakrate` in bytes/s with its `mtu` (bucket size).
    public struct TokenBucket: Sendable, Hashable {
        public var rateBits: UInt64
        public var burst: UInt32
        public var limit: UInt32
        public var peakBytes: UInt64?
        public var mtu: UInt32?

        public init(rateBits: UInt64, burst: UInt32, limit: UInt32, peakBytes: UInt64? = nil, mtu: UInt32? = nil) {
            self.rateBits = rateBits
            self.burst = burst
            self.limit = limit
            self.peakBytes = peakBytes
            self.mtu = mtu
        }
    }

    /// netem's parameters: times in nanoseconds, probabilities in percent.
    public struct Netem: Sendable, Hashable {
        public var limit: UInt32 = 1000
        public var latency: UInt64 = 0
        public var jitter: UInt64 = 0
        public var delayCorrelation: Double = 0
        public var loss: Double = 0
        public var lossCorrelation: Double = 0
        public var duplicate: Double = 0
        public var duplicateCorrelation: Double = 0
        public var corrupt: Double = 0
        public var corruptCorrelation: Double = 0
        public var reorder: Double = 0
        public var reorderCorrelation: Double = 0
        public var gap: UInt32 = 0

        public init() {}
    }

    public enum Qdisc: Sendable, Hashable {
        case tokenBucket(TokenBucket)
        /// HTB with unclassified traffic going to class `defaultClass`.
        case htb(defaultClass: UInt32)
        case netem(Netem)
        case ingress

        public var kind: String {
            switch self {
            case .tokenBucket: "tbf"
            case .htb: "htb"
            case .netem: "netem"
            case .ingress: "ingress"
            }
        }
    }

    /// One `u32` match, as `tc`'s `match ip ...` and `match u32 0 0` write it.
    public enum Match: Sendable, Hashable {
        case everything
        case ipProtocol(UInt8)
        case source(IPv4Prefix)
        case destination(IPv4Prefix)
        case sourcePort(UInt16)
        case destinationPort(UInt16)

        var arguments: [String] {
            switch self {
            case .everything: ["match", "u32", "0", "0"]
            case .ipProtocol(let number): ["match", "ip", "protocol", String(number), "0xff"]
            case .source(let prefix): ["match", "ip", "src", prefix.description]
            case .destination(let prefix): ["match", "ip", "dst", prefix.description]
            case .sourcePort(let port): ["match", "ip", "sport", String(port), "0xffff"]
            case .destinationPort(let port): ["match", "ip", "dport", String(port), "0xffff"]
            }
        }

        /// The 32-bit word `tc` compares: (value, mask, offset into the IPv4 header).
        var key: (value: UInt32, mask: UInt32, offset: Int32) {
            switch self {
            case .everything: (0, 0, 0)
            case .ipProtocol(let number): (UInt32(number) << 16, 0x00FF_0000, 8)
            case .source(let prefix): (prefix.address & prefix.mask, prefix.mask, 12)
            case .destination(let prefix): (prefix.address & prefix.mask, prefix.mask, 16)
            case .sourcePort(let port): (UInt32(port) << 16, 0xFFFF_0000, 20)
            case .destinationPort(let port): (UInt32(port), 0x0000_FFFF, 20)
            }
        }
    }

    /// Where a matching packet goes: a class, or out of another device (ifb).
    public enum Target: Sendable, Hashable {
        case flow(Handle)
        case redirect(device: String)
    }

    public enum Request: Sendable, Hashable, CustomStringConvertible {
        case addQdisc(device: String, parent: Handle, handle: Handle, Qdisc)
        /// Deletes the qdisc at `parent` if its handle is `handle` (the kernel checks it, atomically).
        case deleteQdisc(device: String, parent: Handle, handle: Handle)
        case addHTBClass(device: String, parent: Handle, classID: Handle, rateBits: UInt64)
        case addFilter(device: String, parent: Handle, priority: UInt16?, matches: [Match], target: Target)
        case addLink(name: String, kind: String)
        case setLinkUp(name: String)
        case deleteLink(name: String)

        /// The device the request names (looked up as an index before it is sent).
        public var device: String {
            switch self {
            case .addQdisc(let device, _, _, _), .deleteQdisc(let device, _, _), .addHTBClass(let device, _, _, _),
                 .addFilter(let device, _, _, _, _):
                device
            case .addLink(let name, _), .setLinkUp(let name), .deleteLink(let name): name
            }
        }

        /// What `tc` or `ip` would be run with to do the same.
        public var command: Command {
            switch self {
            case .addQdisc(let device, let parent, let handle, let qdisc):
                var arguments = ["tc", "qdisc", "add", "dev", device]
                switch parent {
                case .root: arguments += ["root", "handle", handle.description]
                case .ingress: arguments += ["handle", handle.description]
                default: arguments += ["parent", parent.description, "handle", handle.description]
                }
                return Command(arguments + TrafficControl.arguments(qdisc))
            case .deleteQdisc(let device, let parent, _):
                let at = parent == .root || parent == .ingress ? [parent.description] : ["parent", parent.description]
                return Command(["tc", "qdisc", "del", "dev", device] + at)
            case .addHTBClass(let device, let parent, let classID, let rate):
                return Command(["tc", "class", "add", "dev", device, "parent", parent.description, "classid",
                                classID.description, "htb", "rate", TrafficControl.rateText(rate)])
            case .addFilter(let device, let parent, let priority, let matches, let target):
                var arguments = ["tc", "filter", "add", "dev", device, "parent", parent.description, "protocol", "ip"]
                if let priority { arguments += ["prio", String(priority)] }
                arguments += ["u32"] + matches.flatMap(\.arguments)
                switch target {
                case .flow(let handle): arguments += ["flowid", handle.description]
                case .redirect(let to): arguments += ["action", "mirred", "egress", "redirect", "dev", to]
                }
                return Command(arguments)
            case .addLink(let name, let kind): return Command(["ip", "link", "add", name, "type", kind])
            case .setLinkUp(let name): return Command(["ip", "link", "set", name, "up"])
            case .deleteLink(let name): return Command(["ip", "link", "del", name])
            }
        }

        public var description: String { command.description }
    }

    /// `tc`'s spelling of a qdisc and its parameters.
    public static func arguments(_ qdisc: Qdisc) -> [String] {
        switch qdisc {
        case .tokenBucket(let bucket):
            var arguments = ["tbf", "rate", "\(bucket.rateBits)bit", "burst", String(bucket.burst), "limit", String(bucket.limit)]
            if let peak = bucket.peakBytes, peak > 0, let mtu = bucket.mtu, mtu > 0 {
                arguments += ["peakrate", "\(peak)bps", "mtu", String(mtu)]
            }
            return arguments
        case .htb(let defaultClass): return ["htb", "default", String(defaultClass, radix: 16)]
        case .ingress: return ["ingress"]
        case .netem(let netem):
            var arguments = ["netem", "limit", String(netem.limit)]
            if netem.latency > 0 || netem.jitter > 0 {
                arguments += ["delay", "\(netem.latency / 1_000)us"]
                if netem.jitter > 0 {
                    arguments.append("\(netem.jitter / 1_000)us")
                    if netem.delayCorrelation > 0 { arguments.append(percentText(netem.delayCorrelation)) }
                }
            }
            func add(_ name: String, _ value: Double, _ correlation: Double) {
                guard value > 0 else { return }
                arguments += [name, percentText(value)]
                if correlation > 0 { arguments.append(percentText(correlation)) }
            }
            add("loss", netem.loss, netem.lossCorrelation)
            add("duplicate", netem.duplicate, netem.duplicateCorrelation)
            add("corrupt", netem.corrupt, netem.corruptCorrelation)
            add("reorder", netem.reorder, netem.reorderCorrelation)
            if netem.gap > 0 && netem.reorder > 0 { arguments += ["gap", String(netem.gap)] }
            return arguments
        }
    }

    static func percentText(_ value: Double) -> String {
        (value.rounded() == value ? String(Int(value)) : String(value)) + "%"
    }

    /// `100gbit`, `10mbit` ... as the plan has always written HTB rates.
    static func rateText(_ bits: UInt64) -> String {
        for (unit, scale) in [("gbit", UInt64(1_000_000_000)), ("mbit", 1_000_000), ("kbit", 1_000)]
        where bits >= scale && bits % scale == 0 {
            return "\(bits / scale)\(unit)"
        }
        return "\(bits)bit"
    }
}

/// An IPv4 address with a prefix length (`10.0.0.0/8`, `10.1.2.3` = /32).
public struct IPv4Prefix: Sendable, Hashable, CustomStringConvertible {
    public var address: UInt32
    public var length: Int
    private var text: String

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return nil }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard octets.count == 4 else { return nil }
        address = octets.reduce(0) { $0 << 8 | UInt32($1) }
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...32).contains(length) else { return nil }
            self.length = length
        } else {
            length = 32
        }
        self.text = text
    }

    public var mask: UInt32 { length == 0 ? 0 : UInt32.max << (32 - UInt32(length)) }
    public var description: String { text }
}
