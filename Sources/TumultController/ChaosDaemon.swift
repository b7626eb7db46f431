import Foundation
import TumultModel

/// What the controller asks of the agent on a host — the role of Chaos
/// Mesh's chaos-daemon. The controller decides what runs where and when;
/// the daemon knows how each kind of fault is made. Keeping this a protocol
/// lets one controller drive a local agent, remote daemons, or (in the
/// benchmark) an agent that does nothing.
public protocol ChaosDaemon: Sendable {
    /// Injects the experiment's fault into one target and returns the ids
    /// of what it injected (journal attacks), which `recover` takes later.
    /// On failure nothing of this request is left on the host.
    func inject(_ request: InjectionRequest) async throws -> [String]

    /// Recovers what `inject` returned. Idempotent: ids already recovered,
    /// or unknown to the host, succeed.
    func recover(_ attacks: [String]) async throws

    /// The ids among `attacks` whose faults are still in place on the host
    /// (used when the controller starts again after a crash).
    func stillInjected(_ attacks: [String]) async -> Set<String>

    /// Everything the host injected for one experiment and has not yet
    /// recovered, including what a crashed controller never learnt of.
    func attacks(ofExperiment experiment: String) async -> [HostAttack]

    /// Recovers every fault the host holds for an experiment that is none of
    /// `experiments` (a controller's store lost or behind), except those a
    /// live process holds in the foreground (`tumult run`). Returns how many.
    func recoverOrphans(keeping experiments: Set<String>) async -> Int

    /// The liveness check: reads back each of `attacks` (the same read-back
    /// as after apply) and applies again, under the same ids, those found
    /// lost. Returns one report per lost attack; none while all hold.
    func heal(_ attacks: [String]) async -> [LostFault]

    /// Emergency stop on the host: while halted, `inject` refuses and
    /// faults injected by others (direct attacks) are recovered. Returns
    /// how many such faults were recovered.
    func setHalted(_ halted: Bool) async throws -> Int
}

/// An attack the host found lost (its helper dead, its rules gone ...),
/// and whether it was applied again.
public struct LostFault: Sendable, Hashable {
    public var attack: String
    /// What was missing, in words.
    public var detail: String
    public var restored: Bool
    /// Why it could not be restored; the attack is then gone from the host.
    public var error: String?

    public init(attack: String, detail: String, restored: Bool, error: String? = nil) {
        self.attack = attack
        self.detail = detail
        self.restored = restored
        self.error = error
    }
}

/// One fault the host holds for an experiment.
public struct HostAttack: Sendable, Hashable {
    public var uid: String
    /// The pod's `namespace/name`.
    public var target: String
    /// False while it was still being injected (a crash in the middle).
    public var injected: Bool

    public init(uid: String, target: String, injected: Bool) {
        self.uid = uid
        self.target = target
        self.injected = injected
    }
}

/// One experiment's fault for one target.
public struct InjectionRequest: Sendable {
    /// The experiment's uid, so the host can name what it injected after it.
    public var experiment: String
    /// The experiment (kind, metadata and spec, defaults filled in).
    public var document: ChaosDocument
    public var target: Pod
    /// Pods chosen by the spec's second selector (NetworkChaos `target`),
    /// chosen once per run like the targets.
    public var peers: [Pod]
    /// When the fault must end, for faults that end themselves.
    public var endsAt: Date?

    public init(experiment: String, document: ChaosDocument, target: Pod, peers: [Pod] = [], endsAt: Date? = nil) {
        self.experiment = experiment
        self.document = document
        self.target = target
        self.peers = peers
        self.endsAt = endsAt
    }
}

/// Where the controller finds the pods selectors choose from.
public protocol PodInventory: Sendable {
    func pods() async throws -> [Pod]
}

/// A fixed list of pods (tests and benchmarks).
public struct StaticInventory: PodInventory {
    public var list: [Pod]
    public init(_ list: [Pod]) { self.list = list }
    public func pods() async throws -> [Pod] { list }
}

/// Watches what the controller does, for metrics. Called from the
/// controller's tasks: implementations must be thread-safe and quick.
public protocol ControllerObserver: Sendable {
    func didEmit(_ event: EventRecord)
    /// One injection or recovery of one target, and how long the host took.
    func didFinish(_ operation: ControllerOperation, kind: String, seconds: Double, succeeded: Bool)
    /// A fault of an experiment of `kind` was found lost, and was or was not restored.
    func didLoseFault(kind: String, restored: Bool)
}

extension ControllerObserver {
    public func didLoseFault(kind: String, restored: Bool) {}
}

public enum ControllerOperation: String, Sendable {
    case inject, recover
}
