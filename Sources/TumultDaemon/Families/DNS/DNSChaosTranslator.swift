import Foundation
import TumultFaults
import TumultModel

/// DNSChaos as a `DNSFault` in the pod's network namespace: Tumult's
/// responder answers the matching names with an error or a random address
/// and passes every other query to the pod's own resolver. Every container
/// of a pod shares its network namespace, so `containerNames` picks nothing
/// more here.
public struct DNSChaosTranslator: FaultTranslator {
    public init() {}

    public func faults(for spec: DNSChaosSpec, target: Pod, peers: [Pod],
                       options: TranslationOptions) throws -> [PlannedFault] {
        let action: DNSFault.Action = switch spec.action {
        case .error: .error
        case .random: .random
        }
        let fault = DNSFault(action: action, namespace: try target.networkNamespace(), patterns: spec.patterns ?? [])
        return [PlannedFault(fault, injector: DNSFaultInjector(detachResponder: options.detachHelpers),
                             action: "dns \(action.rawValue)", summary: "dns \(fault.summary) in \(fault.namespace)")]
    }
}
