import Foundation
import TumultAgent
import TumultModel

/// One experiment as the controller keeps it: the document it was given and
/// everything that happened to it since, per target. This is what the store
/// saves and what the API shows as `status`.
public struct ExperimentRecord: Sendable, Equatable {
    public var uid: String
    public var document: ChaosDocument
    public var createdAt: Date
    /// Set by a delete; the record stays until every target is recovered.
    public var deletedAt: Date?
    /// The schedule that spawned this run, if any.
    public var scheduleUID: String?
    /// False until targets are chosen; they are chosen once per run and kept.
    public var selected: Bool = false
    /// The chosen targets' records, in target order.
    public var records: [TargetRecord] = []
    /// Pods chosen by the spec's second selector (NetworkChaos `target`).
    public var peers: [Pod] = []
    /// Why the experiment failed as a whole ("no target selected").
    public var failure: String?
    /// When it reached its end (duration passed or one-shot done, all recovered).
    public var finishedAt: Date?

    public init(uid: String, document: ChaosDocument, createdAt: Date, scheduleUID: String? = nil) {
        self.uid = uid
        self.document = document
        self.createdAt = createdAt
        self.scheduleUID = scheduleUID
    }

    public var kind: ChaosKind { document.kind }
    public var name: String { document.name }
    public var namespace: String { document.namespace }
    public var isPaused: Bool { document.metadata.isPaused }
    public var isDeleted: Bool { deletedAt != nil }

    /// The moment the fault must be gone: creation plus duration (pausing
    /// does not extend it, as in Chaos Mesh).
    public var endsAt: Date? {
        guard !document.spec.isOneShot, let duration = document.spec.duration else { return nil }
        return createdAt.addingTimeInterval(Double(duration.nanoseconds) / 1e9)
    }

    /// Chaos Mesh's desired phase, checked in its order.
    public func desiredPhase(at now: Date) -> DesiredPhase {
        if isDeleted { return .stop }
        if document.spec.isOneShot { return .run }
        if let endsAt, now >= endsAt { return .stop }
        if isPaused { return .stop }
        return .run
    }

    public var allRecovered: Bool { records.allSatisfy { $0.phase == .notInjected } }
    public var allInjected: Bool { !records.isEmpty && records.allSatisfy { $0.phase == .injected } }

    /// The one-word state the dashboard shows, in Chaos Mesh's order
    /// (`GetChaosStatus`): deleting first, then paused (the pause
    /// annotation, whatever the targets: an experiment paused before any
    /// target was found, or with none to find, is paused, not failed),
    /// then from the records.
    public func status(at now: Date) -> ExperimentStatusName {
        if isDeleted { return .deleting }
        if isPaused { return .paused }
        if failure != nil { return .failed }
        if finishedAt != nil { return .finished }
        if document.spec.isOneShot && allInjected { return .finished }
        switch desiredPhase(at: now) {
        case .run: return allInjected ? .running : .injecting
        case .stop: return allRecovered ? .finished : .running
        }
    }

    /// Whether the run is over, whatever the dashboard shows (a paused run
    /// past its duration is over though it still reads `paused`): failed,
    /// finished, a one-shot done, or past its duration with every target
    /// recovered. Schedules and `tumult run` go by this, not by `status`.
    public func isOver(at now: Date) -> Bool {
        if failure != nil || finishedAt != nil { return true }
        if document.spec.isOneShot { return allInjected }
        guard let endsAt, now >= endsAt else { return false }
        return allRecovered
    }

    /// Chaos Mesh's conditions: Selected, AllInjected, AllRecovered, Paused.
    /// Paused is the annotation, as Chaos Mesh's condition controller sets it.
    public func conditions(at now: Date) -> [Condition] {
        [
            Condition(type: "Selected", status: selected && failure == nil, message: failure),
            Condition(type: "AllInjected", status: allInjected),
            Condition(type: "AllRecovered", status: selected && allRecovered),
            Condition(type: "Paused", status: isPaused),
        ]
    }
}

/// The dashboard's experiment states.
public enum ExperimentStatusName: String, Codable, Sendable, CaseIterable {
    case injecting, running, paused, finished, failed, deleting

    /// The capitalised key of `/api/experiments/state`.
    public var stateKey: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }
}

/// One target of an experiment: Chaos Mesh's `containerRecords` entry.
public struct TargetRecord: Codable, Sendable, Hashable {
    public enum Phase: String, Codable, Sendable {
        case injected = "Injected"
        case notInjected = "Not Injected"
    }

    /// `namespace/name` of the pod.
    public var id: String
    public var selectorKey: String = "."
    public var phase: Phase = .notInjected
    public var injectedCount: Int = 0
    public var recoveredCount: Int = 0
    /// The newest last; at most `RecordEvent.limit`.
    public var events: [RecordEvent] = []
    /// What the host injected for this target (attack ids with their machine).
    public var attacks: [AttackID] = []
    /// The pod as it was when chosen, so it is recovered and re-injected
    /// where it was even if the inventory changes.
    public var pod: Pod {
        get { podBox.pod }
        set { podBox = PodBox(newValue) }
    }
    /// The pod, kept once however many targets chose it (`PodBox`).
    var podBox: PodBox
    /// No new attempt before this moment after a failed injection.
    public var retryAfter: Date?
    /// Faults of this target found lost while it should have been injected,
    /// and how many of those were restored (nil: none; optional so that
    /// records stored before faults were watched still decode).
    public var faultsLost: Int?
    public var faultsRestored: Int?

    public init(pod: Pod) {
        self.init(podBox: PodBox(pod))
    }

    /// A target whose pod is `podBox`, shared with the other targets that chose it.
    init(podBox: PodBox) {
        self.id = podBox.pod.id
        self.podBox = podBox
    }

    public mutating func record(_ event: RecordEvent) {
        events.append(event)
        if events.count > RecordEvent.limit { events.removeFirst(events.count - RecordEvent.limit) }
    }

    enum CodingKeys: String, CodingKey {
        case id, selectorKey, phase, injectedCount, recoveredCount, events, attacks, pod, retryAfter, faultsLost, faultsRestored
    }

    // The coding is what the compiler made when `pod` was a stored `Pod`:
    // records stored before read back, and stored records do not change.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        selectorKey = try container.decode(String.self, forKey: .selectorKey)
        phase = try container.decode(Phase.self, forKey: .phase)
        injectedCount = try container.decode(Int.self, forKey: .injectedCount)
        recoveredCount = try container.decode(Int.self, forKey: .recoveredCount)
        events = try container.decode([RecordEvent].self, forKey: .events)
        attacks = try container.decode([AttackID].self, forKey: .attacks)
        podBox = PodBox(try container.decode(Pod.self, forKey: .pod))
        retryAfter = try container.decodeIfPresent(Date.self, forKey: .retryAfter)
        faultsLost = try container.decodeIfPresent(Int.self, forKey: .faultsLost)
        faultsRestored = try container.decodeIfPresent(Int.self, forKey: .faultsRestored)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(selectorKey, forKey: .selectorKey)
        try container.encode(phase, forKey: .phase)
        try container.encode(injectedCount, forKey: .injectedCount)
        try container.encode(recoveredCount, forKey: .recoveredCount)
        try container.encode(events, forKey: .events)
        try container.encode(attacks, forKey: .attacks)
        try container.encode(pod, forKey: .pod)
        try container.encodeIfPresent(retryAfter, forKey: .retryAfter)
        try container.encodeIfPresent(faultsLost, forKey: .faultsLost)
        try container.encodeIfPresent(faultsRestored, forKey: .faultsRestored)
    }

    // Equal and hashed by the pod's value, not by which box holds it.
    public static func == (lhs: TargetRecord, rhs: TargetRecord) -> Bool {
        lhs.id == rhs.id && lhs.selectorKey == rhs.selectorKey && lhs.phase == rhs.phase
            && lhs.injectedCount == rhs.injectedCount && lhs.recoveredCount == rhs.recoveredCount
            && lhs.events == rhs.events && lhs.attacks == rhs.attacks && lhs.retryAfter == rhs.retryAfter
            && lhs.faultsLost == rhs.faultsLost && lhs.faultsRestored == rhs.faultsRestored
            && (lhs.podBox === rhs.podBox || lhs.podBox.pod == rhs.podBox.pod)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(selectorKey)
        hasher.combine(phase)
        hasher.combine(injectedCount)
        hasher.combine(recoveredCount)
        hasher.combine(events)
        hasher.combine(attacks)
        hasher.combine(pod)
        hasher.combine(retryAfter)
        hasher.combine(faultsLost)
        hasher.combine(faultsRestored)
    }
}

/// A chosen pod, held by reference: a target record carries 8 bytes
/// instead of the pod's 180, and the targets of one selection pass that
/// chose the same pod share one box (62,000 targets over 5,000 pods keep
/// 5,000 pods, not 62,000). Immutable: changing a target's pod puts a new box.
final class PodBox: Sendable {
    let pod: Pod
    init(_ pod: Pod) { self.pod = pod }

    /// The boxes of `pods`, one per distinct pod: `shared` keeps those
    /// already made (by `namespace/name` and node) for the next call.
    static func boxes(_ pods: [Pod], sharing shared: inout [PodKey: PodBox]) -> [PodBox] {
        pods.map { pod in
            let key = PodKey(id: pod.id, node: pod.nodeName)
            if let box = shared[key], box.pod == pod { return box }
            let box = PodBox(pod)
            shared[key] = box
            return box
        }
    }

    struct PodKey: Hashable {
        var id: String
        var node: String
    }
}

/// One apply or recover of one target.
public struct RecordEvent: Codable, Sendable, Hashable {
    /// Chaos Mesh keeps at most 100 events a record.
    public static let limit = 100

    public enum Outcome: String, Codable, Sendable { case succeeded = "Succeeded", failed = "Failed" }
    public enum Operation: String, Codable, Sendable { case apply = "Apply", recover = "Recover" }

    public var type: Outcome
    public var operation: Operation
    public var message: String
    public var timestamp: Date

    public init(type: Outcome, operation: Operation, message: String, timestamp: Date) {
        self.type = type
        self.operation = operation
        self.message = message
        self.timestamp = timestamp
    }
}

/// A Kubernetes-style condition.
public struct Condition: Codable, Sendable, Hashable {
    public var type: String
    public var status: Bool
    public var message: String?

    public init(type: String, status: Bool, message: String? = nil) {
        self.type = type
        self.status = status
        self.message = message
    }
}

extension ExperimentRecord: Codable {
    enum CodingKeys: String, CodingKey {
        case uid, document, createdAt, deletedAt, scheduleUID, selected, records, peers, failure, finishedAt
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        uid = try container.decode(String.self, forKey: .uid)
        document = try ChaosDocument.decodeStored(try container.decode(Value.self, forKey: .document))
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        deletedAt = try container.decodeIfPresent(Date.self, forKey: .deletedAt)
        scheduleUID = try container.decodeIfPresent(String.self, forKey: .scheduleUID)
        selected = try container.decode(Bool.self, forKey: .selected)
        records = try container.decode([TargetRecord].self, forKey: .records)
        peers = try container.decode([Pod].self, forKey: .peers)
        failure = try container.decodeIfPresent(String.self, forKey: .failure)
        finishedAt = try container.decodeIfPresent(Date.self, forKey: .finishedAt)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(uid, forKey: .uid)
        try container.encode(try document.encoded(), forKey: .document)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encodeIfPresent(deletedAt, forKey: .deletedAt)
        try container.encodeIfPresent(scheduleUID, forKey: .scheduleUID)
        try container.encode(selected, forKey: .selected)
        try container.encode(records, forKey: .records)
        try container.encode(peers, forKey: .peers)
        try container.encodeIfPresent(failure, forKey: .failure)
        try container.encodeIfPresent(finishedAt, forKey: .finishedAt)
    }
}

extension ChaosDocument {
    /// Reads back a document the controller stored (it was valid when stored).
    static func decodeStored(_ value: Value) throws -> ChaosDocument {
        do {
            return try ChaosDocument.decoding(value)
        } catch {
            throw ControllerError(.invalidDocument, "a stored document no longer reads: \(error)")
        }
    }
}
