import Foundation
import TumultAgent
import TumultFaults
import TumultModel
import TumultSystem

/// Gives a pod that arrives with container ids only (a Kubernetes pod from
/// the operator: no pid, no named netns) the pid its faults reach it
/// through: the main process of one of its containers on this node.
///
/// Processes are found from the cgroups in `/proc` first (one scan, every
/// runtime); when none matches (a daemon that sees another cgroup namespace,
/// a runtime with an unusual cgroup layout) a `containerd://` container is
/// looked up in containerd itself, its task's pid: `k8s.io` first, where
/// the CRI plugin keeps Kubernetes' containers, then the pod's namespace,
/// then every other.
public struct PodResolver: Sendable {
    public var procRoot: String
    /// containerd for the fallback; nil: none.
    public var containerd: ContainerdInventory?

    public init(procRoot: String = "/proc", containerd: ContainerdInventory? = ContainerdInventory()) {
        self.procRoot = procRoot
        self.containerd = containerd
    }

    /// Whether `pod` has to be resolved here: no way to reach it yet, but
    /// container ids to find it by.
    public static func needsResolution(_ pod: Pod) -> Bool {
        pod.pid == nil && pod.netns == nil && !containers(of: pod).isEmpty
    }

    /// `pod` with `pid` set when it needs resolution; otherwise `pod` as it is.
    /// `containerNames` (the spec's) narrows the containers the pid may be
    /// taken from, so that a StressChaos lands in the container it names.
    /// Throws an `AgentError` naming the pod and its container ids when no
    /// process of them runs on this node.
    public func resolve(_ pod: Pod, containerNames: [String]? = nil) throws -> Pod {
        guard Self.needsResolution(pod) else { return pod }
        let all = Self.containers(of: pod)
        var chosen = all
        if let names = containerNames, !names.isEmpty, pod.containerIDs != nil {
            chosen = names.compactMap { name in all.first { $0.name == name } }
            guard !chosen.isEmpty else {
                throw AgentError.field("spec.containerNames", "pod \(pod.id) has no container named \(names.joined(separator: ", ")) "
                                       + "(its containers: \(all.map(\.name).joined(separator: ", ")))")
            }
        }
        let found = mainProcesses(of: chosen.map(\.id))
        guard let pid = chosen.lazy.compactMap({ found[$0.id] }).first else {
            let ids = chosen.map { $0.id.description }.joined(separator: ", ")
            throw AgentError(.invalid, "no process of container\(chosen.count == 1 ? "" : "s") \(ids) of pod \(pod.id) on this node")
        }
        var resolved = pod
        resolved.pid = pid
        return resolved
    }

    /// The pid of each named container's main process (container-kill kills
    /// them one by one). Throws a `FaultError` naming what is missing.
    public func containerPIDs(_ pod: Pod, names: Set<String>) throws -> [Int32] {
        let all = Self.containers(of: pod)
        let listed = names.sorted().joined(separator: ", ")
        let chosen = all.filter { names.contains($0.name) }
        guard !chosen.isEmpty else {
            throw FaultError(.invalidFault, "spec.containerNames: pod \(pod.id) has no container named \(listed) "
                             + "(its containers: \(all.map(\.name).joined(separator: ", ")))")
        }
        let found = mainProcesses(of: chosen.map(\.id))
        let missing = chosen.filter { found[$0.id] == nil }
        guard missing.isEmpty else {
            throw FaultError(.invalidFault, "no process of container \(missing.map { "\($0.name) (\($0.id))" }.joined(separator: ", ")) "
                             + "of pod \(pod.id) on this node")
        }
        return chosen.compactMap { found[$0.id] }.sorted()
    }

    /// The main process of each container found: from `/proc`, then, for
    /// the containerd ones still missing, from containerd's tasks.
    public func mainProcesses(of ids: [ContainerRuntimeID]) -> [ContainerRuntimeID: Int32] {
        let table = ContainerProcessTable.scan(procRoot: procRoot)
        var found: [ContainerRuntimeID: Int32] = [:]
        for id in ids {
            if let pid = table.mainProcess(of: id.id) { found[id] = pid }
        }
        let missing = ids.filter { found[$0] == nil && ($0.runtime == nil || $0.runtime == "containerd") }
        guard !missing.isEmpty, let containerd, containerd.isPresent else { return found }
        // One `ctr tasks ls` per namespace, as long as something is missing.
        let others = ((try? containerd.namespaces()) ?? []).filter { $0 != ContainerdInventory.kubernetesNamespace }
        for namespace in [ContainerdInventory.kubernetesNamespace] + others {
            guard missing.contains(where: { found[$0] == nil }) else { break }
            guard let tasks = try? containerd.tasks(in: namespace) else { continue }
            for id in missing where found[id] == nil {
                if let task = tasks.first(where: { $0.id == id.id }) { found[id] = task.pid }
            }
        }
        return found
    }

    /// A pod's containers by name: `containerIDs`, else its one `containerID`
    /// under the pod's name. Ids that cannot be read are left out.
    static func containers(of pod: Pod) -> [(name: String, id: ContainerRuntimeID)] {
        if let ids = pod.containerIDs, !ids.isEmpty {
            return ids.sorted { $0.key < $1.key }.compactMap { name, text in
                ContainerRuntimeID(parsing: text).map { (name, $0) }
            }
        }
        guard let text = pod.containerID, let id = ContainerRuntimeID(parsing: text) else { return [] }
        return [(pod.name, id)]
    }
}

/// The kinds whose spec names containers of the pod (`containerNames`):
/// their faults go to those containers' processes.
protocol ContainerSelectingSpec: ChaosSpec {
    var containerNames: [String]? { get }
}

extension PodChaosSpec: ContainerSelectingSpec {}
extension StressChaosSpec: ContainerSelectingSpec {}
extension DNSChaosSpec: ContainerSelectingSpec {}
extension BlockChaosSpec: ContainerSelectingSpec {}
extension KernelChaosSpec: ContainerSelectingSpec {}
extension TimeChaosSpec: ContainerSelectingSpec {}
extension IOChaosSpec: ContainerSelectingSpec {}
extension JVMChaosSpec: ContainerSelectingSpec {}

extension PodResolver {
    /// `target` resolved for `document`: the containers its spec names, if any.
    public func resolve(_ target: Pod, for document: ChaosDocument) throws -> Pod {
        try resolve(target, containerNames: (document.spec as? any ContainerSelectingSpec)?.containerNames)
    }
}
