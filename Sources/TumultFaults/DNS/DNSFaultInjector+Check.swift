import Foundation
import TumultSystem

extension DNSFaultInjector {
    /// The responder alive and bound to its port, and the redirect chain in place.
    public func check(_ steps: [DNSUndoStep], attack: String) -> [String] {
        guard let namespace = steps.first?.namespace, namespace.exists else { return [] }
        var problems: [String] = []
        var chains: [HostReadBack.Chain] = []
        for step in steps {
            switch step {
            case .stopResponder(_, _, let pid, let startTime):
                if !HostReadBack.helperAlive(pid, startTime: startTime) {
                    problems.append("the DNS responder (pid \(pid.map(String.init) ?? "?")) is no longer running")
                } else if let pid, let listen = HostReadBack.argument("--listen", of: pid),
                          let port = listen.split(separator: ":").last.flatMap({ Int($0) }),
                          HostReadBack.listensUDP(pid, port: port) == false {
                    problems.append("the DNS responder (pid \(pid)) no longer listens on \(listen)")
                }
            case .removeChain(_, let table, let hook, let chain, _):
                chains.append(.init(table: table, hook: hook, chain: chain))
            }
        }
        return problems + HostReadBack.missingChains(chains, runner: NamespacedRunner(namespace, base: runner))
    }
}
