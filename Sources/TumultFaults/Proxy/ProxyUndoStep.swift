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
    /// deletes it. The table stays: see `dropTable`.
    case removeChain(namespace: NetworkNamespace, table: String, hook: String, chain: String, family: IptablesChain.Family)
    /// Deletes the nftables table iptables made for the redirect, when
    /// nothing else is left in it. Recorded before the proxy starts, so
    /// undone after it stopped: deleting a `nat` table unregisters its
    /// hooks, and the connections the proxy still finishes would lose
    /// their address translation.
    case dropTable(namespace: NetworkNamespace, table: String, family: IptablesChain.Family)

    /// Recovery's first step: the proxy stops applying anything and the
    /// connections it holds finish (up to `drainSeconds`) before the
    /// redirect is touched.
    case drainProxy(attack: String, pid: Int32, startTime: UInt64?, drainSeconds: Double)

    public var namespace: NetworkNamespace? {
        switch self {
        case .removeFiles, .drainProxy: nil
        case .stopProxy(let namespace, _, _, _, _, _), .removeChain(let namespace, _, _, _, _),
             .dropTable(let namespace, _, _): namespace
        }
    }
}
