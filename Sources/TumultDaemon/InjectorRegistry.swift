import Foundation
import TumultFaults

/// Every fault family this build can inject and undo, by the name the
/// journal keeps. The one place that lists them: recovery looks families up
/// here instead of switching on strings.
public struct InjectorRegistry: Sendable {
    /// Undoes recorded steps of one family.
    public struct Family: Sendable {
        public let name: String
        public let recover: @Sendable (_ steps: [Data], _ attack: String) throws -> Void
    }

    private var families: [String: Family] = [:]

    public init() {}

    public mutating func register<Injector: FaultInjector>(_ injector: Injector) {
        families[Injector.family] = Family(name: Injector.family) { steps, attack in
            try injector.recover(try steps.map(Injector.decodeStep), attack: attack)
        }
    }

    public func family(_ name: String) -> Family? { families[name] }

    /// The registry of this build, with injectors that run real commands.
    public static func standard() -> InjectorRegistry {
        var registry = InjectorRegistry()
        registry.register(NetworkFaultInjector())
        registry.register(ProcessFaultInjector())
        registry.register(StressFaultInjector())
        registry.register(DiskFaultInjector())
        registry.register(DNSFaultInjector())
        return registry
    }
}
