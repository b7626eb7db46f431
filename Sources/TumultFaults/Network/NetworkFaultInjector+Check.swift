import Foundation
import TumultSystem

extension NetworkFaultInjector {
    /// The read-back of `apply`, again, from the recorded steps: the qdiscs
    /// with our handles, the ifb devices, the iptables chains and their
    /// jumps, the ipsets, and the userspace engine alive and bound to its
    /// queue. One command per kind of object, not per object.
    public func check(_ steps: [NetworkUndoStep], attack: String) -> [String] {
        guard let namespace = steps.first?.namespace, namespace.exists else { return [] }
        let inside = NamespacedRunner(namespace, base: runner)
        var problems: [String] = []
        var qdiscs: [String: [(parent: String, handle: String)]] = [:]
        var links: [String] = []
        var chains: [HostReadBack.Chain] = []
        var sets: [String] = []
        for step in steps {
            switch step {
            case .deleteQdisc(_, let device, let parent, let handle): qdiscs[device, default: []].append((parent, handle))
            case .deleteLink(_, let name): links.append(name)
            case .removeChain(_, let table, let hook, let chain, _): chains.append(.init(table: table, hook: hook, chain: chain))
            case .destroySet(_, let name): sets.append(name)
            case .stopEngine(_, _, let pid, let startTime):
                if !HostReadBack.helperAlive(pid, startTime: startTime) {
                    problems.append("the userspace engine (pid \(pid.map(String.init) ?? "?")) is no longer running")
                } else if let pid, HostReadBack.boundToQueue(pid) == false {
                    problems.append("the userspace engine (pid \(pid)) is no longer bound to its queue")
                }
            }
        }
        let channel = qdiscs.isEmpty && links.isEmpty ? nil : TrafficControlChannels.open(namespace, runner: runner)
        for (device, wanted) in qdiscs.sorted(by: { $0.key < $1.key }) {
            // A read that failed is no evidence of a loss; a device that is not there is.
            guard let channel, let read = Result(catching: { try channel.qdiscs(of: device) }).success else { continue }
            guard let shown = read else {
                problems.append("device \(device) is gone")
                continue
            }
            let handles = Set(shown.map(\.handle.description))
            for qdisc in wanted where !handles.contains(qdisc.handle) {
                problems.append("qdisc \(qdisc.handle) (\(qdisc.parent)) on \(device) is gone")
            }
        }
        if !links.isEmpty, let listed = try? channel?.links() {
            let names = Set(listed.map(\.name))
            for name in links where !names.contains(name) { problems.append("device \(name) is gone") }
        }
        problems += HostReadBack.missingChains(chains, runner: inside)
        if !sets.isEmpty, let listed = try? inside.run(Command(["ipset", "list", "-n"])), listed.succeeded {
            let names = Set(listed.stdout.split(separator: "\n").map(String.init))
            for name in sets where !names.contains(name) { problems.append("ipset \(name) is gone") }
        }
        return problems
    }
}

extension Result {
    var success: Success? { if case .success(let value) = self { value } else { nil } }
}
