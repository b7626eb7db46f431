import Foundation
import TumultFaults
import TumultModel

/// IOChaos as one `IOFault` per pod: the pod's file system mounted over
/// `volumePath` in the mount namespace of the pod's process (the container
/// `containerNames` picks, resolved before this), with the spec as its one rule.
public struct IOChaosTranslator: FaultTranslator {
    public init() {}

    public func faults(for spec: IOChaosSpec, target: Pod, peers: [Pod],
                       options: TranslationOptions) throws -> [PlannedFault] {
        let fault = IOFault(pid: try Self.process(of: target), volumePath: spec.volumePath, rules: [Self.rule(spec)])
        return [PlannedFault(fault, injector: IOFaultInjector(),
                             action: "io \(spec.action.rawValue)",
                             summary: "io \(fault.summary) under \(spec.volumePath) (pod \(target.id))")]
    }

    /// The spec's action, filters and parameters as the file system's rule.
    public static func rule(_ spec: IOChaosSpec) -> IORule {
        let action: IORule.Action = switch spec.action {
        case .latency: .latency
        case .fault: .fault
        case .attrOverride: .attrOverride
        case .mistake: .mistake
        }
        let known = Set(IOChaosSpec.fuseOperations)
        return IORule(action: action, path: spec.path.flatMap { $0.isEmpty ? nil : $0 },
                      methods: (spec.methods ?? []).map { $0.lowercased() }.filter(known.contains),
                      percent: spec.percent ?? 100, delayNanoseconds: spec.delay?.nanoseconds,
                      errno: spec.errno, attr: spec.attr, mistake: spec.mistake)
    }

    /// The process whose mount namespace has the volume: the pod's process,
    /// else the first process of its named network namespace.
    static func process(of pod: Pod) throws -> Int32 {
        if let pid = pod.pid { return pid }
        if let netns = pod.netns {
            guard let first = try firstProcess(inNetworkNamespace: netns) else {
                throw FaultError(.invalidFault, "no process runs in pod \(pod.id) to inject IO faults into")
            }
            return first
        }
        throw pod.unreachable
    }

    /// The process whose mount namespace stands for a named network
    /// namespace's: its first (lowest pid), Tumult's own left out; nil when none runs there.
    public static func firstProcess(inNetworkNamespace name: String) throws -> Int32? {
        try PodChaosTranslator.processes(in: .named(name)).map(\.pid).min()
    }
}
