import Foundation
import TumultModel

/// What a host agent does for whoever drives it: the controller, `tumult
/// run`, the server's chaosd routes, the CLI. The local agent runs it in
/// process (`LocalHostAgent`); a remote one is reached over HTTPS with mutual
/// TLS (`RemoteHostAgent`), the same calls as the versioned wire types below.
///
/// Everything above this protocol knows hosts only through it: it never
/// runs `tc` or reads a journal itself.
public protocol HostAgent: Sendable {
    /// The machine this agent acts on: the host part of its attack ids and
    /// `spec.nodeName` of the pods it reports.
    var machine: String { get }

    /// Version, machine, what it can inject, whether it is halted.
    func status() async throws -> AgentStatus

    /// The pods on this host (named netns, containers, the inventory file),
    /// each with `nodeName` set to `machine`.
    func pods() async throws -> [Pod]

    /// Injects the experiment's fault into one target and returns the ids
    /// of what it injected, which `recover` takes later. On failure nothing
    /// of this request is left on the host.
    func inject(_ request: InjectionRequest) async throws -> [AttackID]

    /// Recovers what `inject` or `attack` returned. Idempotent: attacks
    /// already recovered, or unknown to the host, succeed.
    func recover(_ attacks: [AttackID]) async throws

    /// Changes running attacks to the faults `request.injection`'s document
    /// now asks for on the same target, in place: nothing is recovered, so
    /// the target's connections keep going. Refused (`unsupported`) for a
    /// family that can only recover and inject again; the faults are then
    /// unchanged and the caller does that instead.
    func reconfigure(_ request: ReconfigureRequest) async throws

    /// The liveness check: reads back each of `attacks` (the read-back of
    /// apply) and applies again those found lost. One report per lost attack.
    func heal(_ attacks: [AttackID]) async throws -> [LostFault]

    /// Every attack the host holds (not recovered) that `query` matches,
    /// including what a crashed controller never learnt of.
    func attacks(_ query: AttackQuery) async throws -> [HostAttack]

    /// Recovers every fault `controller` injected for an experiment that is
    /// none of `keeping` (its store lost or behind), except those a live
    /// process holds in the foreground. Returns how many.
    func recoverOrphans(controller: String, keeping: Set<String>) async throws -> Int

    /// Emergency stop on the host: while halted, `inject` and `attack`
    /// refuse, and the faults made outside experiments are recovered.
    /// Returns how many were recovered.
    func setHalted(_ halted: Bool) async throws -> Int

    /// A count per fault family of what is in place on the host (qdiscs,
    /// rules, set members, engine packets ...), for `/metrics`.
    func census() async throws -> AgentCensus

    /// The dead-man's switch: `lease.controller` will call again within
    /// `lease.seconds`; if it does not, the host recovers every fault that
    /// controller injected. A period of 0 releases the lease.
    func renewLease(_ lease: Lease) async throws -> LeaseGrant

    /// One attack outside any experiment, as chaosd's API takes it:
    /// `family` is the last path component (`network`, `process`, `stress`,
    /// `disk`), `body` chaosd's JSON body.
    func attack(_ request: DirectAttack) async throws -> AttackID

    /// The attacks made outside experiments (chaosd's experiment list).
    func directAttacks() async throws -> [HostAttack]

    /// Runs a Workflow Task's command on the host and returns how it ended
    /// (its exit code and what it printed). Returns when the process ends,
    /// is cancelled (`cancelTask`) or outlives `request.timeoutSeconds`.
    func runTask(_ request: TaskRequest) async throws -> TaskOutcome

    /// Kills the task `id` if it still runs; an unknown id is not an error.
    func cancelTask(_ id: String) async throws

    /// Journals and applies an attack the CLI prepared (`tumult attack`
    /// handing its work to the running agent); returns its uid.
    func attack(prepared: PreparedAttack) async throws -> AttackID

    /// Recovers attacks by uid (or unique prefix), or all of them (`tumult recover`).
    func recover(_ recovery: AttackRecovery) async throws -> AttackRecovery.Outcome
}

extension HostAgent {
    /// An agent that cannot run tasks says so; the Workflow's node then
    /// ends with that reason.
    public func runTask(_ request: TaskRequest) async throws -> TaskOutcome {
        throw AgentError(.unsupported, "machine \(machine) cannot run workflow tasks")
    }

    public func cancelTask(_ id: String) async throws {}

    /// Only an agent with a journal on this host takes prepared attacks.
    public func attack(prepared: PreparedAttack) async throws -> AttackID {
        throw AgentError(.unsupported, "machine \(machine) does not take prepared attacks")
    }

    public func recover(_ recovery: AttackRecovery) async throws -> AttackRecovery.Outcome {
        throw AgentError(.unsupported, "machine \(machine) does not recover attacks by uid")
    }

    /// An agent that cannot change a running fault in place says so; the
    /// controller then recovers the target and injects the new document.
    public func reconfigure(_ request: ReconfigureRequest) async throws {
        throw AgentError(.unsupported, "machine \(machine) cannot change a running fault in place")
    }
}

/// The agent protocol's version, and where its routes live.
public enum AgentProtocol {
    /// Bumped when a wire type changes incompatibly; an agent refuses a
    /// caller of another version with a message naming both.
    public static let version = 1
    /// The prefix of every agent route (`/agent/v1/inject` ...).
    public static let pathPrefix = "/agent/v1"
}
