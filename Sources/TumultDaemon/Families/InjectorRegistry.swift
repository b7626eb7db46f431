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
    }

    private var families: [String: Family] = [:]

    public init() {}

    public mutating func register<Injector: FaultInjector>(_ injector: Injector) {
        families[Injector.family] = Family(
            name: Injector.family,
            recover: { steps, attack in try injector.recover(try steps.map(Injector.decodeStep), attack: attack) },
            check: { steps, attack in injector.check(try steps.map(Injector.decodeStep), attack: attack) },
            apply: { fault, attack, recorder in
                let decoded = try JSONDecoder().decode(Injector.Fault.self, from: Data(fault.utf8))
                try injector.apply(decoded, attack: attack, recorder: recorder)
            })
    }

    public func family(_ name: String) -> Family? { families[name] }
}
