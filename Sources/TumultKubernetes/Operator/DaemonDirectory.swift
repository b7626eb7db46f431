import Foundation
import Logging
import NIOSSL
import Synchronization
import TumultAgent
import TumultAgentHTTP

/// The nodes' daemons, found by their pods (the DaemonSet's): each running
/// daemon pod with an address becomes its node's agent in the fleet, over
/// the fleet's mutual TLS; a node whose daemon pod is gone leaves it.
final class DaemonDirectory: Sendable {
    /// The daemon pod's annotation naming its agent port, when it is not the default.
    static let portAnnotation = "tumult.dev/agent-port"

    let fleet: AgentFleet
    let configuration: OperatorConfiguration
    let logger: Logger
    /// Each node's agent and the address it was made for.
    private let agents = Mutex<[String: (address: String, agent: RemoteHostAgent)]>([:])
    private let selector: [(key: String, value: String)]

    init(fleet: AgentFleet, configuration: OperatorConfiguration, logger: Logger) {
        self.fleet = fleet
        self.configuration = configuration
        self.logger = logger
        selector = configuration.daemonSelector.split(separator: ",").compactMap { term in
            let parts = term.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
    }

    /// Whether `pod` is one of the daemons (the label selector of the configuration, equality terms).
    func isDaemon(_ pod: PodObject) -> Bool {
        guard pod.metadata.namespace == configuration.namespace else { return false }
        let labels = pod.metadata.labels
        return selector.allSatisfy { labels[$0.key] == $0.value }
    }

    /// The agent's URL of a running daemon pod, nil while it has none.
    func address(of pod: PodObject) -> String? {
        guard pod.metadata.deletionTimestamp == nil, pod.status?.phase == "Running",
              let ip = pod.status?.podIP, !ip.isEmpty else { return nil }
        let port = pod.metadata.annotations[Self.portAnnotation].flatMap(Int.init) ?? configuration.daemonPort
        let host = ip.contains(":") ? "[\(ip)]" : ip
        return "\(configuration.fleetTLS == nil ? "http" : "https")://\(host):\(port)"
    }

    /// Brings the fleet to the daemon pods given (every one of them, from the cache).
    func sync(_ pods: [PodObject]) {
        var wanted: [String: String] = [:]
        for pod in pods where isDaemon(pod) {
            guard let node = pod.spec?.nodeName, !node.isEmpty, let address = address(of: pod) else { continue }
            wanted[node] = address
        }
        var retired: [RemoteHostAgent] = []
        agents.withLock { agents in
            for (node, entry) in agents where wanted[node] != entry.address {
                retired.append(entry.agent)
                agents[node] = nil
                fleet.remove(node)
                logger.info("node daemon gone", metadata: ["node": "\(node)", "address": "\(entry.address)"])
            }
            for (node, address) in wanted where agents[node] == nil {
                let machine = Machine(name: node, namespace: configuration.namespace, address: address, source: .node)
                let agent = RemoteHostAgent(machine: machine, token: configuration.fleetToken, tls: configuration.fleetTLS)
                agents[node] = (address, agent)
                fleet.register(machine, agent: agent)
                logger.info("node daemon found", metadata: ["node": "\(node)", "address": "\(address)"])
            }
        }
        for agent in retired { Task { try? await agent.shutdown() } }
    }

    /// Closes every agent's connections.
    func shutdown() async {
        let all = agents.withLock { agents in
            defer { agents = [:] }
            return agents.values.map(\.agent)
        }
        for agent in all { try? await agent.shutdown() }
    }
}
