import Foundation

/// Syntax checks for the addresses and names NetworkChaos and
/// PhysicalMachineChaos documents carry. Nothing is resolved here.
public enum NetworkAddress {
    /// An `externalTargets` entry: an IPv4/IPv6 address, a CIDR, or a host
    /// name, optionally with a port (`example.com:443`, `10.0.0.0/8:22`,
    /// `[::1]:80`).
    public static func problem(withTarget text: String) -> String? {
        let (host, port) = splitPort(text)
        if let port, !(port.allSatisfy(\.isNumber) && (Int(port).map { (1...65535).contains($0) } ?? false)) {
            return "\"\(text)\" has a bad port \"\(port)\" (1-65535)"
        }
        if isIP(host) || isCIDR(host) || isHostName(host) { return nil }
        return "\"\(text)\" is not an IP address, a CIDR or a host name (optionally with :port)"
    }

    /// Splits `host:port`; a bare IPv6 address (many colons) has no port
    /// unless it is written in brackets.
    public static func splitPort(_ text: String) -> (host: String, port: String?) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, nil) }
            return rest.hasPrefix(":") ? (host, String(rest.dropFirst())) : (text, nil)
        }
        let colons = text.filter { $0 == ":" }.count
        guard colons == 1, let colon = text.lastIndex(of: ":") else { return (text, nil) }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    public static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber)
                && Int(part)! <= 255 && !(part.count > 1 && part.first == "0")
        }
    }

    public static func isIPv6(_ text: String) -> Bool {
        guard text.contains(":"), text.count <= 45 else { return false }
        var body = Substring(text)
        var groupsAllowed = 8
        if let lastColon = body.lastIndex(of: ":"), body[body.index(after: lastColon)...].contains(".") {
            guard isIPv4(String(body[body.index(after: lastColon)...])) else { return false }
            body = body[...lastColon]
            if body.hasSuffix(":") && !body.hasSuffix("::") { body = body.dropLast() }
            groupsAllowed = 6
        }
        let halves = String(body).components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        var groups = 0
        for half in halves where !half.isEmpty {
            for group in half.split(separator: ":", omittingEmptySubsequences: false) {
                guard !group.isEmpty, group.count <= 4, group.allSatisfy(\.isHexDigit) else { return false }
                groups += 1
            }
        }
        return halves.count == 2 ? groups < groupsAllowed : groups == groupsAllowed
    }

    public static func isIP(_ text: String) -> Bool { isIPv4(text) || isIPv6(text) }

    public static func isCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bits = Int(parts[1]), parts[1].allSatisfy(\.isNumber) else { return false }
        let address = String(parts[0])
        if isIPv4(address) { return (0...32).contains(bits) }
        if isIPv6(address) { return (0...128).contains(bits) }
        return false
    }

    /// RFC 1123 host name: dot-separated labels of letters, digits and '-'.
    public static func isHostName(_ text: String) -> Bool {
        let name = text.hasSuffix(".") ? String(text.dropLast()) : text
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        // All-numeric dotted names are malformed IPs, not host names.
        if labels.allSatisfy({ $0.allSatisfy(\.isNumber) }) { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }
}

