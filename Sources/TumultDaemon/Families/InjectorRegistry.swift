import Foundation
import TumultFaults

/// Every fault family this build can inject and undo, by the name the
/// journal keeps. The one place that lists them: recovery, the liveness
/// check and restoring a lost fault look families up here instead of
/// switching on strings.
public struct InjectorRegistry: Sendable {
    /// One family's operations on journaled data (undo steps and the fault as JSON).
    public struct Family: Sendable {
        public let name: String
        /// Undoes recorded steps.
        public let recover: @Sendable (_ steps: [Data], _ attack: String) throws -> Void
        /// What of the fault is no longer in place (empty: it holds).
        public let check: @Sendable (_ steps: [Data], _ attack: String) throws -> [String]
        /// Applies the journaled fault again under the same attack (restoring a lost fault).
        public let apply: @Sendable (_ fault: String, _ attack: String, _ recorder: ChangeRecorder) throws -> Void
        /// Makes the running fault that the steps recorded become `fault`
        /// (JSON) in place, its target's connections kept; nil for families
        /// whose faults can only be recovered and injected again.
        public let reconfigure: (@Sendable (_ steps: [Data], _ fault: String, _ attack: String) throws -> Void)?
    }

    private var families: [String: Family] = [:]

    public init() {}

    public mutating func register<Injector: FaultInjector>(_ injector: Injector) {
        families[Injector.family] = Self.family(of: injector, reconfigure: nil)
    }

    /// The same for an injector that can change its running fault in
    /// place: the overload the compiler picks for such injectors, so that a
    /// family gains reconfiguration by conforming, with no list to update.
    public mutating func register<Injector: ReconfigurableInjector>(_ injector: Injector) {
        families[Injector.family] = Self.family(of: injector, reconfigure: { steps, fault, attack in
            try injector.reconfigure(try steps.map(Injector.decodeStep), to: try Self.decodeFault(fault, of: Injector.self),
                                     attack: attack)
        })
    }

    public func family(_ name: String) -> Family? { families[name] }

    private static func family<Injector: FaultInjector>(
        of injector: Injector,
        reconfigure: (@Sendable (_ steps: [Data], _ fault: String, _ attack: String) throws -> Void)?
    ) -> Family {
        Family(
            name: Injector.family,
            recover: { steps, attack in try injector.recover(try steps.map(Injector.decodeStep), attack: attack) },
            check: { steps, attack in injector.check(try steps.map(Injector.decodeStep), attack: attack) },
            apply: { fault, attack, recorder in
                try injector.apply(try decodeFault(fault, of: Injector.self), attack: attack, recorder: recorder)
            },
            reconfigure: reconfigure)
    }

    private static func decodeFault<Injector: FaultInjector>(_ fault: String, of _: Injector.Type) throws -> Injector.Fault {
        try JSONDecoder().decode(Injector.Fault.self, from: Data(fault.utf8))
    }
}
