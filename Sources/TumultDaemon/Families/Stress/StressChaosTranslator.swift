import Foundation
import TumultFaults
import TumultModel

/// StressChaos as `StressFault`s whose workers join the pod's cgroups: one
/// for `stressors.cpu`, one for `stressors.memory`, or a single stress-ng
/// run for `stressngStressors`, which wins over both as in Chaos Mesh.
///
/// Every process of a pod on one machine shares its cgroups (the first
/// process of its namespace stands for them), so `containerNames` picks
/// nothing more here.
public struct StressChaosTranslator: FaultTranslator {
    public init() {}

    public func faults(for spec: StressChaosSpec, target: Pod, peers: [Pod],
                       options: TranslationOptions) throws -> [PlannedFault] {
        let placement = try Self.target(of: target)
        let injector = StressFaultInjector(detachWorkers: options.detachHelpers)
        func plan(_ fault: StressFault) -> PlannedFault {
            PlannedFault(fault, injector: injector, action: "stress \(fault.action.rawValue)",
                         summary: "stress \(fault.summary) in \(fault.target) (pod \(target.id))")
        }

        if let raw = spec.stressngStressors, !raw.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            // The injector runs `stress-ng --cpu N --cpu-load L OPTIONS`: one
            // CPU worker at load 0 does no work (stress-ng runs it beside the
            // stressors the raw arguments name, which decide the load).
            var fault = StressFault(action: .cpu, target: placement)
            fault.workers = 1
            fault.load = 0
            fault.stressNGOptions = raw.split(whereSeparator: \.isWhitespace).map(String.init)
            return [plan(fault)]
        }

        guard let stressors = spec.stressors, stressors.cpu != nil || stressors.memory != nil else {
            throw FaultError(.invalidFault, "spec.stressors: set cpu, memory or both (or spec.stressngStressors)")
        }
        var planned: [PlannedFault] = []
        if let cpu = stressors.cpu {
            var fault = StressFault(action: .cpu, target: placement)
            fault.workers = cpu.workers
            fault.load = cpu.load ?? 100
            fault.stressNGOptions = cpu.options ?? []
            planned.append(plan(fault))
        }
        if let memory = stressors.memory {
            var fault = StressFault(action: .memory, target: placement)
            fault.workers = memory.workers
            fault.size = try Self.size(memory.size)
            fault.oomScoreAdj = memory.oomScoreAdj
            fault.stressNGOptions = memory.options ?? []
            planned.append(plan(fault))
        }
        return planned
    }

    /// The cgroups the workers join: the first process of the pod's named
    /// namespace, else the pod's process.
    static func target(of pod: Pod) throws -> StressFault.Target {
        if let netns = pod.netns { return .networkNamespace(netns) }
        if let pid = pod.pid { return .process(pid) }
        throw pod.unreachable
    }

    /// Chaos Mesh's memory size; none means all the available memory.
    static func size(_ size: MemorySize?) throws -> StressFault.Size {
        switch size?.amount {
        case nil: return .percent(100)
        case .bytes(let bytes)? where bytes > 0: return .bytes(bytes)
        case .percent(let percent)? where percent > 0: return .percent(Double(percent))
        default:
            throw FaultError(.invalidFault, "spec.stressors.memory.size: \"\(size?.text ?? "")\" must be above 0")
        }
    }
}
