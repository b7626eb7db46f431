import Foundation
import TumultModel
import TumultSystem

/// One DNS fault on one target (DNSChaos): queries for names matching the
/// patterns get SERVFAIL (`error`) or a random address (`random`); all
/// other queries go on to the target's own resolver, answered unchanged.
public struct DNSFault: Codable, Sendable, Hashable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        case error, random
    }

    public var action: Action
    public var namespace: NetworkNamespace
    /// The names affected; empty means every name.
    public var patterns: [DNSPattern]
    /// The resolver other queries go to (`IP` or `IP:PORT`, `[IPv6]:PORT`);
    /// default: the first `nameserver` of the target's resolv.conf.
    public var upstream: String?

    public init(action: Action, namespace: NetworkNamespace, patterns: [DNSPattern] = [], upstream: String? = nil) {
        self.action = action
        self.namespace = namespace
        self.patterns = patterns
        self.upstream = upstream
    }

    /// `error web.example,db.*` or `random all names`.
    public var summary: String {
        action.rawValue + " " + (patterns.isEmpty ? "all names" : patterns.map(\.text).joined(separator: ","))
    }
}

/// A resolver's address and port, as `--upstream` and resolv.conf give it.
public struct DNSEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int = 53) {
        self.host = host
        self.port = port
    }

    /// `IP`, `IP:PORT`, `IPv6`, `[IPv6]:PORT`; nil when it is none of them.
    public init?(parsing text: String) {
        var host = text, port = 53
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Int(rest.dropFirst()) else { return nil }
                port = value
            }
        } else if text.filter({ $0 == ":" }).count == 1 {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard let value = Int(parts[1]) else { return nil }
            host = String(parts[0])
            port = value
        }
        guard (1...65_535).contains(port), Self.isAddress(host) else { return nil }
        self.host = host
        self.port = port
    }

    public var isIPv6: Bool { host.contains(":") }

    /// `10.0.0.1:53` or `[::1]:53`.
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static func isAddress(_ text: String) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        return inet_pton(AF_INET, text, &buffer) == 1 || inet_pton(AF_INET6, text, &buffer) == 1
    }

    /// The first `nameserver` of a resolv.conf's text.
    public static func firstNameserver(inResolvConf text: String) -> DNSEndpoint? {
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { continue }
            // A scoped IPv6 address (fe80::1%eth0) keeps only the address.
            let address = String(fields[1].split(separator: "%").first ?? fields[1])
            if isAddress(address) { return DNSEndpoint(host: address) }
        }
        return nil
    }
}
