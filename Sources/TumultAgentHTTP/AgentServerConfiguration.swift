#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How `tumult daemon` serves its agent: where it listens, its mutual TLS
/// files (or plain HTTP on loopback only) and the bearer token the agent
/// routes require.
public struct AgentServerConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// The CA, certificate and key; nil only with `insecure`.
    public var tls: AgentTLS?
    /// Plain HTTP, for tests and local tools: refused off loopback, where
    /// anyone on the network could inject faults.
    public var insecure: Bool
    /// Required as `Authorization: Bearer TOKEN` on `/agent/v1/*` when set.
    /// chaosd's `/api` routes do not take it (Chaos Mesh sends none); the
    /// client certificate guards them.
    public var token: String?

    /// `port` defaults to chaosd's: 31768 with TLS (its HTTPS port, which
    /// Chaos Mesh's default security mode reaches), 31767 without.
    public init(host: String = "0.0.0.0", port: Int? = nil, tls: AgentTLS? = nil, insecure: Bool = false,
                token: String? = nil) {
        self.host = host
        self.port = port ?? (insecure ? ChaosdRoutes.plainPort : ChaosdRoutes.tlsPort)
        self.tls = tls
        self.insecure = insecure
        self.token = token
    }

    /// Refuses what would expose the agent or leave it unreachable.
    public func validate() throws {
        if insecure {
            guard tls == nil else {
                throw AgentSetupError(.invalidConfiguration, "choose TLS files or insecure plain HTTP, not both")
            }
            guard Self.isLoopback(host) else {
                throw AgentSetupError(.invalidConfiguration,
                                      "plain HTTP (insecure) is only allowed on loopback (127.0.0.0/8, ::1, localhost), not on \(host): anyone who reaches it could inject faults")
            }
        } else if tls == nil {
            throw AgentSetupError(.invalidConfiguration,
                                  "the agent needs its CA, certificate and private key for mutual TLS (or insecure plain HTTP on loopback)")
        }
        guard (0...65535).contains(port) else {
            throw AgentSetupError(.invalidConfiguration, "port \(port) is not between 0 and 65535")
        }
    }

    /// True for `localhost`, 127.0.0.0/8 and ::1, read as addresses: a
    /// name such as `127.example.com` is not loopback.
    public static func isLoopback(_ host: String) -> Bool {
        var text = host.lowercased()
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if text == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { bytes in bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1 }
        }
        return false
    }
}
