import Foundation
import Synchronization
import TumultModel

/// The hosts a controller drives, by machine name: its own agent (in
/// process) and the remote ones. Routes each target to its host's agent
/// (`spec.nodeName` of a pod, the machine's name for a machine) and gathers
/// what every host reports. Membership changes while it runs (a
/// PhysicalMachine applied, a daemon joining), so it is guarded.
public final class AgentFleet: Sendable {
    public struct Member: Sendable {
        public var machine: Machine
        public var agent: any HostAgent
        /// Pods of this host come from here instead of `agent.pods()` (tests, benchmarks).
        public var inventory: (any PodInventory)?
    }

    /// The controller's own host: attack ids with no machine go to it.
    public let localMachine: String
    private let members: Mutex<[String: Member]>
    /// Makes the agent of a machine reached by its address (the server's
    /// HTTPS client); nil: remote machines cannot be added.
    private let connector: (@Sendable (Machine) -> any HostAgent)?
    /// A cluster's pods (the operator's cache of the API server): every
    /// pod with its node comes from here, and no host is asked for pods.
    private let clusterInventory: (any PodInventory)?

    /// A fleet of one: the local host's agent; `inventory` overrides where its pods come from.
    public init(local agent: any HostAgent, machine: Machine? = nil, inventory: (any PodInventory)? = nil,
                connector: (@Sendable (Machine) -> any HostAgent)? = nil) {
        let machine = machine ?? Machine(name: agent.machine, address: "", source: .local)
        localMachine = machine.name
        members = Mutex([machine.name: Member(machine: machine, agent: agent, inventory: inventory)])
        self.connector = connector
        clusterInventory = nil
    }

    /// A cluster's fleet: no host of its own (the operator injects nothing
    /// itself), the nodes' agents added as their daemons appear, and pods
    /// read from `inventory` (the API server's), each routed by its
    /// `spec.nodeName` to that node's agent.
    public init(cluster inventory: any PodInventory, name: String = "cluster") {
        localMachine = name
        members = Mutex([:])
        connector = nil
        clusterInventory = inventory
    }

    /// Whether remote machines can be added.
    public var canConnect: Bool { connector != nil }

    /// Adds (or replaces) a machine reached through its address, with an
    /// agent the connector makes. Returns false when there is no connector.
    @discardableResult
    public func register(_ machine: Machine) -> Bool {
        guard let connector else { return false }
        register(machine, agent: connector(machine))
        return true
    }

    /// The machine of a chaosd address named by a PhysicalMachineChaos,
    /// added under its `host:port` when no machine has that address.
    public func connect(address: String) -> Machine? {
        guard connector != nil, let url = URL(string: address), let host = url.host else { return nil }
        let name = url.port.map { "\(host):\($0)" } ?? host
        if let known = machine(named: name) { return known }
        let machine = Machine(name: name, address: address, source: .address)
        register(machine)
        return machine
    }

    /// The agent of `machine`; the empty name is the local host's.
    public func agent(for machine: String) -> (any HostAgent)? {
        members.withLock { $0[machine.isEmpty ? localMachine : machine]?.agent }
    }

    /// Adds a machine or replaces its entry (a PhysicalMachine applied again, a daemon re-joining).
    public func register(_ machine: Machine, agent: any HostAgent) {
        members.withLock { $0[machine.name] = Member(machine: machine, agent: agent, inventory: nil) }
    }

    /// Forgets a machine (its PhysicalMachine deleted); the local one stays.
    public func remove(_ name: String) {
        guard name != localMachine else { return }
        members.withLock { _ = $0.removeValue(forKey: name) }
    }

    public func machine(named name: String) -> Machine? {
        members.withLock { $0[name]?.machine }
    }

    /// Every machine, the local one first, then by name.
    public func machines() -> [Machine] {
        let all = members.withLock { $0.values.map(\.machine) }
        return all.sorted { ($0.name == localMachine ? 0 : 1, $0.name) < ($1.name == localMachine ? 0 : 1, $1.name) }
    }

    /// Every member, for calls made to all hosts.
    public func all() -> [Member] {
        members.withLock { Array($0.values) }.sorted { $0.machine.name < $1.machine.name }
    }

    /// Records the outcome of the last call to a machine's agent.
    public func noteContact(_ name: String, error: String?, at moment: Date = Date()) {
        members.withLock { members in
            guard var member = members[name] else { return }
            if error == nil { member.machine.lastSeen = moment }
            member.machine.error = error
            members[name] = member
        }
    }

    /// The pods every host reports, side by side, each with `nodeName`
    /// set to its machine. A host that cannot be reached contributes none,
    /// and its error is kept on its machine.
    public func pods() async -> (pods: [Pod], unreachable: [String: String]) {
        if let clusterInventory {
            do {
                return (try await clusterInventory.pods(), [:])
            } catch {
                return ([], [localMachine: String(describing: error)])
            }
        }
        let members = all()
        return await withTaskGroup(of: (String, Result<[Pod], any Error>).self) { group in
            for member in members {
                group.addTask {
                    do {
                        let pods: [Pod]
                        if let inventory = member.inventory { pods = try await inventory.pods() } else { pods = try await member.agent.pods() }
                        return (member.machine.name, .success(pods))
                    } catch {
                        return (member.machine.name, .failure(error))
                    }
                }
            }
            var pods: [Pod] = []
            var unreachable: [String: String] = [:]
            for await (name, result) in group {
                switch result {
                case .success(let found):
                    noteContact(name, error: nil)
                    pods.append(contentsOf: found.map { pod in
                        var pod = pod
                        if pod.nodeName != name {
                            pod.nodeName = name
                            pod.nodeLabels["kubernetes.io/hostname"] = name
                        }
                        return pod
                    })
                case .failure(let error):
                    noteContact(name, error: String(describing: error))
                    unreachable[name] = String(describing: error)
                }
            }
            pods.sort { ($0.namespace, $0.name, $0.nodeName) < ($1.namespace, $1.name, $1.nodeName) }
            return (pods, unreachable)
        }
    }

    /// Attack ids grouped by the member that holds them; ids of machines
    /// no longer in the fleet are returned apart.
    public func grouped(_ attacks: [AttackID]) -> (byMember: [(Member, [AttackID])], unknown: [AttackID]) {
        var byName: [String: [AttackID]] = [:]
        for attack in attacks { byName[attack.machine.isEmpty ? localMachine : attack.machine, default: []].append(attack) }
        let snapshot = members.withLock { $0 }
        var known: [(Member, [AttackID])] = []
        var unknown: [AttackID] = []
        for (name, ids) in byName.sorted(by: { $0.key < $1.key }) {
            if let member = snapshot[name] { known.append((member, ids)) } else { unknown.append(contentsOf: ids) }
        }
        return (known, unknown)
    }
}
