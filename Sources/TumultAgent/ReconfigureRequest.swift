import Foundation

/// What `HostAgent.reconfigure` takes: running attacks of one target and
/// the experiment's new document for that target, so that the host
/// translates it as it would for `inject` and changes each attack to the
/// new fault of its family in place, connections kept (TCP toxics changed
/// between the test cases of a suite).
///
/// Part of version 1 of the agent protocol: a host that predates it
/// answers its route with 404, which the caller reads as "cannot change
/// in place" and falls back to recovering and injecting again.
public struct ReconfigureRequest: Sendable, Codable {
    /// The attacks `inject` returned for the target, in their order.
    public var attacks: [AttackID]
    /// The new document for the same target, owner and peers, as `inject` takes it.
    public var injection: InjectionRequest

    public init(attacks: [AttackID], injection: InjectionRequest) {
        self.attacks = attacks
        self.injection = injection
    }
}
