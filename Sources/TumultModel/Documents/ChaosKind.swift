/// Every kind of document Tumult accepts. This is the one place that lists
/// them all and maps each to its spec type: the typed registry the rest of
/// the code goes through instead of switching on strings.
public enum ChaosKind: String, ChaosEnum {
    case podChaos = "PodChaos"
    case networkChaos = "NetworkChaos"
    case stressChaos = "StressChaos"
    case ioChaos = "IOChaos"
    case timeChaos = "TimeChaos"
    case dnsChaos = "DNSChaos"
    case httpChaos = "HTTPChaos"
    case kernelChaos = "KernelChaos"
    case jvmChaos = "JVMChaos"
    case blockChaos = "BlockChaos"
    case awsChaos = "AWSChaos"
    case gcpChaos = "GCPChaos"
    case azureChaos = "AzureChaos"
    case physicalMachineChaos = "PhysicalMachineChaos"
    case physicalMachine = "PhysicalMachine"
    case schedule = "Schedule"
    case workflow = "Workflow"
    case statusCheck = "StatusCheck"
    /// Tumult's own kind (`tumult.dev/v1alpha1`): Toxiproxy's toxics on a port's TCP connections.
    case tcpChaos = "TCPChaos"

    /// The Swift type of this kind's `spec`.
    public var specType: any ChaosSpec.Type {
        switch self {
        case .podChaos: PodChaosSpec.self
        case .networkChaos: NetworkChaosSpec.self
        case .stressChaos: StressChaosSpec.self
        case .ioChaos: IOChaosSpec.self
        case .timeChaos: TimeChaosSpec.self
        case .dnsChaos: DNSChaosSpec.self
        case .httpChaos: HTTPChaosSpec.self
        case .kernelChaos: KernelChaosSpec.self
        case .jvmChaos: JVMChaosSpec.self
        case .blockChaos: BlockChaosSpec.self
        case .awsChaos: AWSChaosSpec.self
        case .gcpChaos: GCPChaosSpec.self
        case .azureChaos: AzureChaosSpec.self
        case .physicalMachineChaos: PhysicalMachineChaosSpec.self
        case .physicalMachine: PhysicalMachineSpec.self
        case .schedule: ScheduleSpec.self
        case .workflow: WorkflowSpec.self
        case .statusCheck: StatusCheckSpec.self
        case .tcpChaos: TCPChaosSpec.self
        }
    }

    /// The key under which a Schedule or a Workflow template embeds this
    /// kind's spec (`networkChaos:`); nil for kinds that cannot be embedded.
    public var embeddedKey: String? {
        switch self {
        case .podChaos: "podChaos"
        case .networkChaos: "networkChaos"
        case .stressChaos: "stressChaos"
        case .ioChaos: "ioChaos"
        case .timeChaos: "timeChaos"
        case .dnsChaos: "dnsChaos"
        case .httpChaos: "httpChaos"
        case .kernelChaos: "kernelChaos"
        case .jvmChaos: "jvmChaos"
        case .blockChaos: "blockChaos"
        case .awsChaos: "awsChaos"
        case .gcpChaos: "gcpChaos"
        case .azureChaos: "azureChaos"
        case .physicalMachineChaos: "physicalmachineChaos"
        case .tcpChaos: "tcpChaos"
        case .physicalMachine, .schedule, .workflow, .statusCheck: nil
        }
    }

    /// Chaos Mesh's API group, which every kind but Tumult's own belongs to.
    public static let chaosMeshGroup = "chaos-mesh.org"
    /// Tumult's own API group, for the kinds Chaos Mesh does not have, so
    /// that they never collide with a Chaos Mesh kind of the same name.
    public static let tumultGroup = "tumult.dev"
    /// The one version of both groups.
    public static let version = "v1alpha1"

    /// The API group of this kind: `chaos-mesh.org`, or `tumult.dev` for Tumult's own.
    public var group: String {
        switch self {
        case .tcpChaos: Self.tumultGroup
        default: Self.chaosMeshGroup
        }
    }

    /// What documents of this kind carry in `apiVersion`: `chaos-mesh.org/v1alpha1`
    /// (`ChaosDocument.apiVersion`), or `tumult.dev/v1alpha1` for Tumult's own.
    public var apiVersion: String { "\(group)/\(Self.version)" }

    /// Whether this is one of Chaos Mesh's kinds (its CRDs, its dashboard
    /// and its tools know it), as opposed to one of Tumult's own.
    public var isChaosMesh: Bool { group == Self.chaosMeshGroup }

    /// Kinds that inject a fault (as opposed to Schedule, Workflow,
    /// StatusCheck and PhysicalMachine, which organise or describe).
    public var isFault: Bool { embeddedKey != nil }

    /// The kinds a Schedule or Workflow can embed.
    public static var embeddable: [ChaosKind] { allCases.filter(\.isFault) }

    /// Finds a kind by name, also accepting Chaos Mesh 1.x spellings.
    public init?(name: String) {
        if let kind = ChaosKind(rawValue: name) {
            self = kind
        } else if name == "IoChaos" {
            self = .ioChaos
        } else {
            return nil
        }
    }
}

