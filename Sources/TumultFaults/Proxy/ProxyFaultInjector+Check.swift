import Foundation
import TumultSystem

extension ProxyFaultInjector {
    /// The proxy alive and listening, and every redirect chain in place.
    public func check(_ steps: [ProxyUndoStep], attack: String) -> [String] {
        guard let namespace = steps.compactMap(\.namespace).first, namespace.exists else { return [] }
        var problems: [String] = []
        var chains: [HostReadBack.Chain] = []
        for step in steps {
            switch step {
            case .removeFiles, .dropTable, .drainProxy:
                break
            case .stopProxy(_, _, let pid, let startTime, let port, _):
                if !HostReadBack.helperAlive(pid, startTime: startTime) {
                    problems.append("the proxy (pid \(pid.map(String.init) ?? "?")) is no longer running")
                } else if let pid, let port, HostReadBack.listensTCP(pid, port: port) == false {
                    problems.append("the proxy (pid \(pid)) no longer listens on port \(port)")
                }
            case .removeChain(_, let table, let hook, let chain, let family):
                chains.append(.init(table: table, hook: hook, chain: chain, family: family))
            }
        }
        return problems + HostReadBack.missingChains(chains, runner: NamespacedRunner(namespace, base: runner))
    }
}
