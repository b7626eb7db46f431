import Foundation
import TumultAgent
import TumultFaults
import TumultModel

/// One fault family's plug-in: its injector and every way in — the Chaos
/// Mesh kinds it realises, the chaosd body it takes (which is also what a
/// PhysicalMachineChaos action becomes), and the PhysicalMachineChaos
/// actions it runs. Adding a family is a folder and one line in
/// `FamilyRegistry.families`.
public protocol FaultFamily: Sendable {
    static func register(into registry: inout FamilyRegistry)
}

/// Everything this build can do on a host, gathered from the families.
public struct FamilyRegistry: Sendable {
    /// The one list of families.
    public static let families: [any FaultFamily.Type] = [
        NetworkFamily.self, ProcessFamily.self, StressFamily.self, DiskFamily.self, DNSFamily.self, IOFamily.self,
        TimeFamily.self, ProxyFamily.self,
    ]

    /// How faults are made (helpers detached or not, the network engine).
    public let options: TranslationOptions
    public private(set) var injectors = InjectorRegistry()
    public private(set) var translators = TranslatorRegistry()
    /// chaosd's body type by the last component of its path (`network`).
    private(set) var chaosd: [String: any ChaosdCommand.Type] = [:]
    /// PhysicalMachineChaos action (`network-delay`) → chaosd path and sub-action
    /// (`network`, `delay`), as Chaos Mesh splits it.
    public private(set) var machineActions: [String: MachineAction] = [:]

    /// Where a PhysicalMachineChaos action goes: chaosd's path and the `action` of its body.
    public struct MachineAction: Sendable, Hashable {
        public var family: String
        public var action: String?
    }

    /// Each family's count of what it holds on the host, for `/metrics`.
    private var censuses: [@Sendable (CensusContext) -> [AgentCensus.Sample]] = []

    public init(options: TranslationOptions) {
        self.options = options
    }

    mutating func register(census: @escaping @Sendable (CensusContext) -> [AgentCensus.Sample]) {
        censuses.append(census)
    }

    /// Every family's census (blocks: it reads the kernel).
    func census(_ context: CensusContext) -> [AgentCensus.Sample] {
        censuses.flatMap { $0(context) }
    }

    public mutating func register<Injector: FaultInjector>(injector: Injector) {
        injectors.register(injector)
    }

    /// An injector whose running fault can change in place (TCP toxics):
    /// registered with its reconfiguration.
    public mutating func register<Injector: ReconfigurableInjector>(injector: Injector) {
        injectors.register(injector)
    }

    public mutating func register<Translator: FaultTranslator>(translator: Translator) {
        translators.register(translator)
    }

    /// chaosd's `POST /api/attack/PATH` body, and the PhysicalMachineChaos
    /// actions Chaos Mesh turns into it (`network-delay` → `network`, `delay`).
    mutating func register(chaosd path: String, _ type: any ChaosdCommand.Type, machineActions actions: [String]) {
        chaosd[path] = type
        for action in actions {
            let parts = action.split(separator: "-", maxSplits: 1).map(String.init)
            machineActions[action] = MachineAction(family: path, action: parts.count > 1 ? parts[1] : nil)
        }
    }

    func chaosdType(_ path: String) -> (any ChaosdCommand.Type)? { chaosd[path] }

    /// The chaosd paths taken, sorted.
    public var chaosdFamilies: [String] { chaosd.keys.sorted() }

    /// This build's registry: every family, then the kinds that span them.
    public static func standard(options: TranslationOptions = TranslationOptions()) -> FamilyRegistry {
        var registry = FamilyRegistry(options: options)
        for family in families { family.register(into: &registry) }
        registry.register(translator: PhysicalMachineChaosTranslator(machineActions: registry.machineActions,
                                                                     chaosd: registry.chaosd))
        return registry
    }
}

extension InjectorRegistry {
    /// The injectors of this build. `detachHelpers`: helpers started when a
    /// lost fault is applied again outlive this process (the server's) or die
    /// with it (`tumult run`, a foreground attack), as the first ones did.
    public static func standard(detachHelpers: Bool = true) -> InjectorRegistry {
        FamilyRegistry.standard(options: TranslationOptions(detachHelpers: detachHelpers)).injectors
    }
}

extension TranslatorRegistry {
    /// Every kind this build can inject on a host.
    public static func standard() -> TranslatorRegistry {
        FamilyRegistry.standard().translators
    }
}
