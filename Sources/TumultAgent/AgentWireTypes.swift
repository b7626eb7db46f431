import Foundation
import TumultModel

/// One experiment's fault for one target, as the controller asks a host.
public struct InjectionRequest: Sendable, Codable {
    /// Who asks and for what; journaled with each attack.
    public var owner: AttackOwner
    /// The experiment (kind, metadata and spec, defaults filled in).
    public var document: ChaosDocument
    /// The pod (or, for PhysicalMachineChaos, the machine as a pod) to inject into.
    public var target: Pod
    /// Pods chosen by the spec's second selector (NetworkChaos `target`),
    /// chosen once per run like the targets.
    public var peers: [Pod]
    /// When the fault must end, for faults that end themselves.
    public var endsAt: Date?
    /// The owner's dead-man's switch on a remote host: the host takes (or
    /// renews) the controller's lease before it injects, so no fault is
    /// ever uncovered. Nil in process, where host and controller die together.
    public var leaseSeconds: Double?

    public init(owner: AttackOwner, document: ChaosDocument, target: Pod, peers: [Pod] = [], endsAt: Date? = nil,
                leaseSeconds: Double? = nil) {
        self.owner = owner
        self.document = document
        self.target = target
        self.peers = peers
        self.endsAt = endsAt
        self.leaseSeconds = leaseSeconds
    }

    /// The experiment's uid.
    public var experiment: String { owner.experiment }

    enum CodingKeys: String, CodingKey { case owner, document, target, peers, endsAt, leaseSeconds }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        owner = try container.decode(AttackOwner.self, forKey: .owner)
        let object = try container.decode(Value.self, forKey: .document)
        document = try ChaosDocument.decoding(object)
        target = try container.decode(Pod.self, forKey: .target)
        peers = try container.decodeIfPresent([Pod].self, forKey: .peers) ?? []
        endsAt = try container.decodeIfPresent(Date.self, forKey: .endsAt)
        leaseSeconds = try container.decodeIfPresent(Double.self, forKey: .leaseSeconds)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(owner, forKey: .owner)
        try container.encode(try document.encoded(), forKey: .document)
        try container.encode(target, forKey: .target)
        try container.encode(peers, forKey: .peers)
        try container.encodeIfPresent(endsAt, forKey: .endsAt)
        try container.encodeIfPresent(leaseSeconds, forKey: .leaseSeconds)
    }
}

/// An attack the host found lost (its helper dead, its rules gone ...),
/// and whether it was applied again.
public struct LostFault: Sendable, Hashable, Codable {
    public var attack: AttackID
    /// What was missing, in words.
    public var detail: String
    public var restored: Bool
    /// Why it could not be restored; the attack is then gone from the host.
    public var error: String?

    public init(attack: AttackID, detail: String, restored: Bool, error: String? = nil) {
        self.attack = attack
        self.detail = detail
        self.restored = restored
        self.error = error
    }
}

/// One fault the host holds.
public struct HostAttack: Sendable, Hashable, Codable {
    public var id: AttackID
    /// The owner journaled with it (nil for attacks outside experiments).
    public var owner: AttackOwner?
    /// `network`, `process` ...
    public var family: String
    /// `network delay` ...
    public var action: String
    /// What the journal names as the target.
    public var target: String
    /// False while it was still being injected (a crash in the middle).
    public var injected: Bool
    /// chaosd's words: created, success, recovering, destroyed, error.
    public var state: String
    public var message: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: AttackID, owner: AttackOwner?, family: String, action: String, target: String, injected: Bool,
                state: String, message: String? = nil, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.owner = owner
        self.family = family
        self.action = action
        self.target = target
        self.injected = injected
        self.state = state
        self.message = message
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Which held attacks `HostAgent.attacks` returns.
public struct AttackQuery: Sendable, Hashable, Codable {
    /// Only those of this experiment.
    public var experiment: String?
    /// Only those this controller injected.
    public var controller: String?

    public init(experiment: String? = nil, controller: String? = nil) {
        self.experiment = experiment
        self.controller = controller
    }
}

/// What `HostAgent.status` reports.
public struct AgentStatus: Sendable, Hashable, Codable {
    public var version: Int
    public var machine: String
    /// Kinds it can inject (`NetworkChaos` ...).
    public var kinds: [String]
    /// Families of chaosd attacks it takes (`network`, `process` ...).
    public var families: [String]
    /// PhysicalMachineChaos actions it runs (`network-delay` ...).
    public var machineActions: [String]
    public var halted: Bool
    /// Attacks not yet recovered.
    public var activeAttacks: Int
    /// Controllers holding a lease on it.
    public var leases: [LeaseGrant]

    public init(version: Int = AgentProtocol.version, machine: String, kinds: [String], families: [String],
                machineActions: [String], halted: Bool, activeAttacks: Int, leases: [LeaseGrant]) {
        self.version = version
        self.machine = machine
        self.kinds = kinds
        self.families = families
        self.machineActions = machineActions
        self.halted = halted
        self.activeAttacks = activeAttacks
        self.leases = leases
    }
}

/// One controller's claim on a host: renewed by heartbeat, and when it
/// runs out the host recovers everything that controller injected.
public struct Lease: Sendable, Hashable, Codable {
    public var controller: String
    /// How long the host waits for the next renewal; 0 releases.
    public var seconds: Double

    public init(controller: String, seconds: Double) {
        self.controller = controller
        self.seconds = seconds
    }
}

/// A lease as the host holds it.
public struct LeaseGrant: Sendable, Hashable, Codable {
    public var controller: String
    public var seconds: Double
    public var renewedAt: Date
    public var expiresAt: Date

    public init(controller: String, seconds: Double, renewedAt: Date, expiresAt: Date) {
        self.controller = controller
        self.seconds = seconds
        self.renewedAt = renewedAt
        self.expiresAt = expiresAt
    }
}

/// One chaosd-style attack: the family (`network` ...) and chaosd's JSON body.
public struct DirectAttack: Sendable, Hashable, Codable {
    public var family: String
    public var body: Data
    /// The caller's id for it (Chaos Mesh sends its own `uid`); the
    /// attack is journaled under it when given and unused.
    public var uid: String?

    public init(family: String, body: Data, uid: String? = nil) {
        self.family = family
        self.body = body
        self.uid = uid
    }
}

/// Per-host counts for `/metrics`: the server only adds them up.
public struct AgentCensus: Sendable, Hashable, Codable {
    /// One gauge sample: `name` (`chaos_daemon_tcs_rules` ...), its labels, its value.
    public struct Sample: Sendable, Hashable, Codable {
        public var name: String
        public var labels: [String: String]
        public var value: Double

        public init(name: String, labels: [String: String], value: Double) {
            self.name = name
            self.labels = labels
            self.value = value
        }
    }

    public var machine: String
    public var samples: [Sample]

    public init(machine: String, samples: [Sample]) {
        self.machine = machine
        self.samples = samples
    }
}
