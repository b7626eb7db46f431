import Foundation

/// PhysicalMachine: a host running chaosd, which PhysicalMachineChaos
/// selects by name or labels.
public struct PhysicalMachineSpec: ChaosSpec {
    public static let kind = ChaosKind.physicalMachine

    /// The chaosd server's URL, e.g. `http://10.0.0.1:31767`; a bare
    /// `host:port` gets `http://` in front (Chaos Mesh's defaulting).
    public var address: String

    public init(address: String) {
        self.address = address
    }

    public mutating func applyDefaults() {
        address = Self.withScheme(address)
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        let field = path.child("address")
        guard !diagnostics.hasError(touching: field) else { return }
        if let problem = Self.addressProblem(address) {
            diagnostics.error(field, problem)
        }
    }

    /// Chaos Mesh's default: an address not starting with `http` gets `http://`.
    static func withScheme(_ address: String) -> String {
        address.isEmpty || address.hasPrefix("http") ? address : "http://\(address)"
    }

    /// Chaos Mesh's check on a chaosd address, after defaulting: not empty
    /// and an absolute URL with a host.
    static func addressProblem(_ address: String) -> String? {
        if address.isEmpty {
            return "required: the URL of the chaosd server, e.g. \"http://10.0.0.1:31767\""
        }
        let full = withScheme(address)
        guard !full.contains(where: { $0.isWhitespace }), let url = URL(string: full),
              let scheme = url.scheme, scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            return "\"\(address)\" is not a valid address: expected the URL of the chaosd server, e.g. \"http://10.0.0.1:31767\""
        }
        return nil
    }
}

extension PhysicalMachineChaosSpec: MachineTargetedSpec {
    public var machineSelector: PodSelectorSpec? {
        guard let selector, !selector.isEmpty else { return nil }
        return PodSelectorSpec(namespaces: selector.namespaces, pods: selector.physicalMachines,
                               fieldSelectors: selector.fieldSelectors, labelSelectors: selector.labelSelectors,
                               annotationSelectors: selector.annotationSelectors,
                               expressionSelectors: selector.expressionSelectors)
    }

    public var machineAddresses: [String] { address ?? [] }
}
