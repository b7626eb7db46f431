import Foundation
import TumultFaults
import TumultModel

/// TCPChaos (Tumult's own kind) as a `ProxyFault` in the pod's network
/// namespace: its toxics on the connections to or from `spec.port`.
public struct TCPChaosTranslator: FaultTranslator {
    public init() {}

    public func faults(for spec: TCPChaosSpec, target: Pod, peers: [Pod],
                       options: TranslationOptions) throws -> [PlannedFault] {
        guard let port = spec.port else { throw FaultError(.invalidFault, "spec.port: required") }
        let connections: ProxyFault.Connections = switch spec.effectiveConnections {
        case .incoming: .incoming
        case .outgoing: .outgoing
        case .both: .both
        }
        let fault = ProxyFault(namespace: try target.networkNamespace(), port: Int(port), connections: connections,
                               toxics: spec.toxics ?? [])
        let action = "tcp " + (fault.toxics.map(\.type.rawValue).joined(separator: ",").nilIfEmpty ?? "pass-through")
        return [PlannedFault(fault, injector: ProxyFaultInjector(detachProxy: options.detachHelpers),
                             action: action, summary: "tcp \(fault.summary) in \(fault.namespace)")]
    }
}

private extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
