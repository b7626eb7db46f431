import Foundation
import TumultFaults
import TumultModel
import TumultSystem

/// PodChaos as `ProcessFault`s on the pod's processes.
///
/// - `pod-kill`: every process of the pod is killed (SIGKILL; with a
///   `gracePeriod`, SIGTERM first and SIGKILL after that many seconds).
///   Chaos Mesh deletes the pod and its controller makes a new one; on one
///   machine whatever runs the pod's processes (systemd, compose) restarts them.
/// - `container-kill`: the processes named like `containerNames` (by `comm`
///   or `argv[0]`'s base name) in the pod's network namespace, resolved now
///   and killed one by one, since a process target cannot say "this name in
///   that namespace". A Docker, Podman or `ctr` pod is one container: its
///   main process is killed when `containerNames` names it; a Kubernetes
///   pod's named containers are found by their ids (`containerIDs`).
/// - `pod-failure`: the pod's processes are frozen for the duration. Chaos
///   Mesh swaps the containers' images for `pause`, which keeps the pod up
///   but doing nothing; freezing (cgroup freezer) is the local equivalent,
///   and thawing on recovery gives the processes back as they were.
public struct PodChaosTranslator: FaultTranslator {
    /// One process of a pod, with the names `containerNames` may match.
    public struct PodProcess: Sendable, Hashable {
        public var pid: Int32
        /// `comm`, and `argv[0]`'s base name when it differs.
        public var names: [String]

        public init(pid: Int32, names: [String]) {
            self.pid = pid
            self.names = names
        }
    }

    /// Lists the processes in a network namespace that Tumult may attack.
    public typealias ProcessLister = @Sendable (NetworkNamespace) throws -> [PodProcess]

    let processes: ProcessLister

    /// `processes` reads the host's process table by default; tests pass a fixed list.
    public init(processes: @escaping ProcessLister = PodChaosTranslator.processes(in:)) {
        self.processes = processes
    }

    public func faults(for spec: PodChaosSpec, target: Pod, peers: [Pod],
                       options: TranslationOptions) throws -> [PlannedFault] {
        switch spec.action {
        case .podKill:
            var fault = ProcessFault(action: .kill, target: try podProcesses(target))
            if let grace = spec.gracePeriod, grace > 0 { fault.gracePeriod = Double(grace) }
            return [plan(fault, pod: target, what: "pod-kill")]
        case .podFailure:
            return [plan(ProcessFault(action: .freeze, target: try frozenProcesses(target)), pod: target, what: "pod-failure")]
        case .containerKill:
            let names = Set(spec.containerNames ?? [])
            guard !names.isEmpty else {
                throw FaultError(.invalidFault, "spec.containerNames: required when action is container-kill")
            }
            return try containerPIDs(target, names: names).map { pid in
                plan(ProcessFault(action: .kill, target: .pid(pid)), pod: target, what: "container-kill")
            }
        }
    }

    func plan(_ fault: ProcessFault, pod: Pod, what: String) -> PlannedFault {
        PlannedFault(fault, injector: ProcessFaultInjector(), action: "process \(fault.action.rawValue)",
                     summary: "\(what): \(fault.summary) \(fault.target) of pod \(pod.id)")
    }

    /// Every process of the pod: its named namespace's, else its process.
    func podProcesses(_ pod: Pod) throws -> ProcessTarget {
        if let netns = pod.netns { return .networkNamespace(netns) }
        if let pid = pod.pid { return .pid(pid) }
        throw pod.unreachable
    }

    /// What pod-failure freezes: a container's whole cgroup (freezing its
    /// main process alone would leave the others running), else the pod's processes.
    func frozenProcesses(_ pod: Pod) throws -> ProcessTarget {
        if pod.netns == nil, let pid = pod.pid, [.docker, .podman, .containerd].contains(pod.source),
           let freezer = CgroupHierarchy.freezer(), let cgroup = freezer.cgroup(of: pid), !cgroup.isRoot {
            return .cgroup(freezer.version == 1 ? "freezer:\(cgroup.path)" : cgroup.path)
        }
        return try podProcesses(pod)
    }

    /// The pids container-kill signals: a Kubernetes pod's named containers'
    /// main processes (found by their ids).
    func containerPIDs(_ pod: Pod, names: Set<String>) throws -> [Int32] {
        let listed = names.sorted().joined(separator: ", ")
        if pod.netns == nil, let containers = pod.containerIDs, !containers.isEmpty {
            return try PodResolver().containerPIDs(pod, names: names)
        }
        if pod.netns == nil, let pid = pod.pid, [.docker, .podman, .containerd].contains(pod.source) {
            let containerNames = [pod.name, pod.labels["com.docker.compose.service"]].compactMap { $0 }
            guard containerNames.contains(where: names.contains) else {
                throw FaultError(.invalidFault, "spec.containerNames: pod \(pod.id) is one container, \(pod.name), "
                                 + "which none of \(listed) names")
            }
            return [pid]
        }
        let matching = try processes(try pod.networkNamespace()).filter { !names.isDisjoint(with: $0.names) }.map(\.pid)
        guard !matching.isEmpty else {
            throw FaultError(.invalidFault, "spec.containerNames: no process named \(listed) runs in pod \(pod.id)")
        }
        return matching.sorted()
    }

    /// The processes in `namespace`, never pid 1, kernel threads, Tumult
    /// itself, its callers or the helpers of any attack (the injector
    /// refuses to act on those).
    public static func processes(in namespace: NetworkNamespace) throws -> [PodProcess] {
        guard let inode = namespace.inode else {
            throw FaultError(.invalidFault, "\(namespace) does not exist")
        }
        let ourselves = ProcessTarget.ourselves
        var found: [PodProcess] = []
        for pid in ProcessTable.pids() where ProcessTable.networkNamespaceInode(of: pid) == inode {
            guard let entry = ProcessTable.entry(pid), !entry.isGone,
                  ProcessTarget.protection(of: entry, ourselves: ourselves) == nil else { continue }
            var names = [entry.command]
            if let first = ProcessTable.firstArgument(of: pid) {
                let base = URL(fileURLWithPath: first).lastPathComponent
                if base != entry.command { names.append(base) }
            }
            found.append(PodProcess(pid: pid, names: names))
        }
        return found
    }
}
