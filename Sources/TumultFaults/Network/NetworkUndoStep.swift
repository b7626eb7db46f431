import TumultSystem

/// One change a network fault made, recorded as how to undo it. Each is
/// safe to run twice and succeeds when its object is already gone.
public enum NetworkUndoStep: Codable, Sendable, Hashable {
    /// `tc qdisc del dev DEVICE PARENT` when the qdisc there is ours (`handle`).
    case deleteQdisc(namespace: NetworkNamespace, device: String, parent: String, handle: String)
    /// `ip link del NAME` (an ifb device Tumult created).
    case deleteLink(namespace: NetworkNamespace, name: String)
    /// Unhooks an iptables chain from `hook`, flushes and deletes it; and,
    /// with `dropEmptyTable`, deletes the nftables table iptables created
    /// for it when nothing else is left in it, so `iptables-save` reads as
    /// it did before.
    case removeChain(namespace: NetworkNamespace, table: String, hook: String, chain: String, dropEmptyTable: Bool)
    /// `ipset destroy NAME`.
    case destroySet(namespace: NetworkNamespace, name: String)
    /// Stops the userspace engine of `attack` (found by pid and start time,
    /// or by its TUMULT_ATTACK environment when the pid was never recorded).
    case stopEngine(namespace: NetworkNamespace, attack: String, pid: Int32?, startTime: UInt64?)

    public var namespace: NetworkNamespace {
        switch self {
        case .deleteQdisc(let namespace, _, _, _), .deleteLink(let namespace, _),
             .removeChain(let namespace, _, _, _, _), .destroySet(let namespace, _),
             .stopEngine(let namespace, _, _, _):
            namespace
        }
    }
}
