/// The fault specs a Schedule or a Workflow template may carry, each under
/// its own key (`networkChaos:`, `podChaos:` ...). Exactly one is expected,
/// the one the surrounding `type`/`templateType` names.
public struct EmbeddedChaos: Codable, Sendable, Hashable {
    public var awsChaos: AWSChaosSpec?
    public var azureChaos: AzureChaosSpec?
    public var blockChaos: BlockChaosSpec?
    public var dnsChaos: DNSChaosSpec?
    public var gcpChaos: GCPChaosSpec?
    public var httpChaos: HTTPChaosSpec?
    public var ioChaos: IOChaosSpec?
    public var jvmChaos: JVMChaosSpec?
    public var kernelChaos: KernelChaosSpec?
    public var networkChaos: NetworkChaosSpec?
    public var physicalmachineChaos: PhysicalMachineChaosSpec?
    public var podChaos: PodChaosSpec?
    public var stressChaos: StressChaosSpec?
    /// Tumult's own kind: Chaos Mesh's Schedules and Workflows have no such
    /// key, Tumult's read it.
    public var tcpChaos: TCPChaosSpec?
    public var timeChaos: TimeChaosSpec?

    public init() {}

    /// Holds `spec` under its kind's key.
    public init(_ spec: any ChaosSpec) {
        self.init()
        self[type(of: spec).kind] = spec
    }

    /// The embedded spec of `kind`, if present.
    public subscript(kind: ChaosKind) -> (any ChaosSpec)? {
        get {
            switch kind {
            case .awsChaos: awsChaos
            case .azureChaos: azureChaos
            case .blockChaos: blockChaos
            case .dnsChaos: dnsChaos
            case .gcpChaos: gcpChaos
            case .httpChaos: httpChaos
            case .ioChaos: ioChaos
            case .jvmChaos: jvmChaos
            case .kernelChaos: kernelChaos
            case .networkChaos: networkChaos
            case .physicalMachineChaos: physicalmachineChaos
            case .podChaos: podChaos
            case .stressChaos: stressChaos
            case .tcpChaos: tcpChaos
            case .timeChaos: timeChaos
            case .physicalMachine, .schedule, .workflow, .statusCheck: nil
            }
        }
        set {
            switch kind {
            case .awsChaos: awsChaos = newValue as? AWSChaosSpec
            case .azureChaos: azureChaos = newValue as? AzureChaosSpec
            case .blockChaos: blockChaos = newValue as? BlockChaosSpec
            case .dnsChaos: dnsChaos = newValue as? DNSChaosSpec
            case .gcpChaos: gcpChaos = newValue as? GCPChaosSpec
            case .httpChaos: httpChaos = newValue as? HTTPChaosSpec
            case .ioChaos: ioChaos = newValue as? IOChaosSpec
            case .jvmChaos: jvmChaos = newValue as? JVMChaosSpec
            case .kernelChaos: kernelChaos = newValue as? KernelChaosSpec
            case .networkChaos: networkChaos = newValue as? NetworkChaosSpec
            case .physicalMachineChaos: physicalmachineChaos = newValue as? PhysicalMachineChaosSpec
            case .podChaos: podChaos = newValue as? PodChaosSpec
            case .stressChaos: stressChaos = newValue as? StressChaosSpec
            case .tcpChaos: tcpChaos = newValue as? TCPChaosSpec
            case .timeChaos: timeChaos = newValue as? TimeChaosSpec
            case .physicalMachine, .schedule, .workflow, .statusCheck: break
            }
        }
    }

    /// Every embedded spec that is present, with its kind.
    public var present: [(kind: ChaosKind, spec: any ChaosSpec)] {
        ChaosKind.embeddable.compactMap { kind in self[kind].map { (kind, $0) } }
    }

    mutating func applyDefaults() {
        for (kind, spec) in present {
            self[kind] = ChaosDocument.withDefaults(spec)
        }
    }

    /// Checks that the spec for `expected` is there (and is the only one),
    /// then validates it where it sits.
    func validate(expecting expected: ChaosKind?, typeField: String, at path: FieldPath,
                  into diagnostics: inout Diagnostics) {
        if let expected, let key = expected.embeddedKey, self[expected] == nil,
           !diagnostics.hasError(touching: path.child(key)) {
            diagnostics.error(path.child(key), "required when \(typeField) is \(expected.rawValue)")
        }
        for (kind, spec) in present {
            let specPath = path.child(kind.embeddedKey!)
            if kind != expected {
                let named = expected.map { "is \($0.rawValue)" } ?? "names no chaos kind"
                diagnostics.error(specPath, "does not match \(typeField), which \(named)")
            }
            spec.validate(at: specPath, into: &diagnostics)
        }
    }
}
