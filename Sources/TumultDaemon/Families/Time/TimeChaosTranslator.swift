import Foundation
import TumultFaults
import TumultModel

/// TimeChaos as one `TimeFault` per pod: every process of its named network
/// namespace, or its process (the container `containerNames` picks,
/// resolved before this) with every descendant, as Chaos Mesh shifts a
/// container's process tree.
public struct TimeChaosTranslator: FaultTranslator {
    public init() {}

    public func faults(for spec: TimeChaosSpec, target: Pod, peers: [Pod],
                       options: TranslationOptions) throws -> [PlannedFault] {
        let fault: TimeFault
        if let netns = target.netns {
            fault = TimeFault(target: .networkNamespace(netns), offsetNanoseconds: spec.timeOffset.nanoseconds,
                              clocks: spec.effectiveClockIds)
        } else if let pid = target.pid {
            fault = TimeFault(target: .pid(pid), offsetNanoseconds: spec.timeOffset.nanoseconds,
                              clocks: spec.effectiveClockIds, includeDescendants: true)
        } else {
            throw target.unreachable
        }
        return [PlannedFault(fault, injector: TimeFaultInjector(), action: "time skew",
                             summary: "time skew \(fault.summary) of \(fault.target) (pod \(target.id))")]
    }
}
