import TumultSystem

/// The `nat` rules that send a namespace's connections on one port to the
/// proxy: pure argument lists, one chain per hook so that recovery
/// removes exactly what the fault added.
public enum ProxyRedirect {
    /// `TMT-1A2B3C4D-PIN` (PREROUTING: connections made to the namespace)
    /// and `TMT-1A2B3C4D-POUT` (OUTPUT: connections it makes).
    public static func chainName(attack: String, hook: String) -> String {
        "TMT-\(String(attack.filter(\.isHexDigit).prefix(8)).uppercased())-\(hook == "PREROUTING" ? "PIN" : "POUT")"
    }

    /// The hooks a fault's connections pass: PREROUTING for incoming,
    /// OUTPUT for outgoing.
    public static func hooks(for connections: ProxyFault.Connections) -> [String] {
        switch connections {
        case .incoming: ["PREROUTING"]
        case .outgoing: ["OUTPUT"]
        case .both: ["PREROUTING", "OUTPUT"]
        }
    }

    /// Creates `chain` with the redirect of TCP to `port` onto the proxy's
    /// `proxyPort` (the proxy's own marked connections excepted), then hooks it first.
    public static func install(chain: String, hook: String, port: Int, proxyPort: Int,
                               family: IptablesChain.Family = .ipv4) -> [Command] {
        let tool = family.tool
        return [
            Command([tool, "-w", "-t", "nat", "-N", chain]),
            Command([tool, "-w", "-t", "nat", "-A", chain, "-p", "tcp", "--dport", String(port),
                     "-m", "mark", "!", "--mark", String(format: "0x%x", TransparentProxy.upstreamMark),
                     "-j", "REDIRECT", "--to-ports", String(proxyPort)]),
            Command([tool, "-w", "-t", "nat", "-I", hook, "1", "-j", chain]),
        ]
    }
}
