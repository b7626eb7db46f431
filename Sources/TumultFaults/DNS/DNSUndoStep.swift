import TumultSystem

/// One change a DNS fault made, recorded as how to undo it. Each is safe
/// to run twice and succeeds when its object is already gone.
public enum DNSUndoStep: Codable, Sendable, Hashable {
    /// Unhooks an iptables chain from `hook`, flushes and deletes it; and,
    /// with `dropEmptyTable`, deletes the nftables table iptables created
    /// for it when nothing else is left in it, so `iptables-save` reads as
    /// it did before.
    case removeChain(namespace: NetworkNamespace, table: String, hook: String, chain: String, dropEmptyTable: Bool)
    /// Stops the DNS responder of `attack` (found by pid and start time, or
    /// by its TUMULT_ATTACK environment when the pid was never recorded).
    case stopResponder(namespace: NetworkNamespace, attack: String, pid: Int32?, startTime: UInt64?)

    public var namespace: NetworkNamespace {
        switch self {
        case .removeChain(let namespace, _, _, _, _), .stopResponder(let namespace, _, _, _): namespace
        }
    }
}
