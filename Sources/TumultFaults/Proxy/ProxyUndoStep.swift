import TumultSystem

/// One change a proxy fault made, recorded as how to undo it. Each is safe
/// to run twice and succeeds when its object is already gone.
public enum ProxyUndoStep: Codable, Sendable, Hashable {
    /// Deletes the proxy's configuration and state files.
    case removeFiles(attack: String)
    /// Stops the proxy of `attack` (by pid and start time, or by its
    /// TUMULT_ATTACK environment when the pid was never recorded), letting
    /// open connections finish for up to `drainSeconds` first.
    case stopProxy(namespace: NetworkNamespace, attack: String, pid: Int32?, startTime: UInt64?, port: Int?,
                   drainSeconds: Double)
    /// Unhooks an iptables (or ip6tables) chain from `hook`, flushes and
    /// deletes it (and the nftables table iptables made for it when nothing
    /// else is left).
    case removeChain(namespace: NetworkNamespace, table: String, hook: String, chain: String, dropEmptyTable: Bool,
                     family: IptablesChain.Family)

    public var namespace: NetworkNamespace? {
        switch self {
        case .removeFiles: nil
        case .stopProxy(let namespace, _, _, _, _, _), .removeChain(let namespace, _, _, _, _, _): namespace
        }
    }
}
