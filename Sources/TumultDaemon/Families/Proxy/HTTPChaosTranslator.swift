import Foundation
import TumultFaults
import TumultModel

/// HTTPChaos as a `ProxyFault` in the pod's network namespace: the proxy
/// takes the connections made to `spec.port` and applies the one rule the
/// spec is. HTTPS cannot be read without the server's key, which Chaos
/// Mesh takes from a Kubernetes secret (`spec.tls`); Tumult refuses such a
/// spec rather than pretend, and passes TLS connections through untouched.
public struct HTTPChaosTranslator: FaultTranslator {
    public init() {}

    public func faults(for spec: HTTPChaosSpec, target: Pod, peers: [Pod],
                       options: TranslationOptions) throws -> [PlannedFault] {
        if spec.tls != nil {
            throw FaultError(.unsupported, "spec.tls: Tumult does not terminate TLS (the certificate and key would come from a Kubernetes secret); HTTPS connections pass through its proxy untouched, so a rule on them would never apply. Remove spec.tls to act on plain HTTP.")
        }
        guard let port = spec.port else { throw FaultError(.invalidFault, "spec.port: required") }
        let rule = HTTPRule(spec)
        let fault = ProxyFault(namespace: try target.networkNamespace(), port: Int(port), connections: .incoming,
                               httpRules: [rule])
        return [PlannedFault(fault, injector: ProxyFaultInjector(detachProxy: options.detachHelpers),
                             action: "http \(Self.action(spec))", summary: "http \(rule.summary) in \(fault.namespace)")]
    }

    /// The first action the spec sets, as Chaos Mesh names them.
    static func action(_ spec: HTTPChaosSpec) -> String {
        if spec.abort == true { return "abort" }
        if spec.delay != nil { return "delay" }
        if spec.replace != nil { return "replace" }
        if spec.patch != nil { return "patch" }
        return "pass-through"
    }
}
