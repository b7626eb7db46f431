import Foundation
import TumultModel

/// One Workflow as the controller keeps it: its document, the engine's
/// state (nodes and status) and what each leaf node runs, by node name.
/// The store saves it whole, so a restarted controller carries on from
/// where the engine was.
public struct WorkflowRecord: Sendable, Equatable {
    public var uid: String
    public var document: ChaosDocument
    public var createdAt: Date
    /// Set by a delete; the record stays until every leaf is stopped and
    /// every fault it injected recovered.
    public var deletedAt: Date?
    /// The Schedule that spawned this run, if any.
    public var scheduleUID: String?
    public var state: WorkflowState
    /// The experiment, Schedule or status check each leaf node created, by
    /// node name (Chaos Mesh finds them by the `controlled-by` label).
    public var leaves: [String: String] = [:]
    /// Task results already taken from the host, by node name, until the
    /// engine stops the task.
    public var taskResults: [String: LeafObservation.TaskProgress] = [:]
    /// The engine's next deadline: the loop wakes for it.
    public var wakeAt: Date?

    public init(uid: String, document: ChaosDocument, createdAt: Date, scheduleUID: String? = nil) {
        self.uid = uid
        self.document = document
        self.createdAt = createdAt
        self.scheduleUID = scheduleUID
        state = WorkflowState(workflowName: document.name, namespace: document.namespace)
    }

    public var spec: WorkflowSpec? { document.spec as? WorkflowSpec }
    public var name: String { document.name }
    public var namespace: String { document.namespace }
    public var isDeleted: Bool { deletedAt != nil }
    /// Finished, failed or aborted: nothing new will start.
    public var isOver: Bool { state.isFinished || state.failure != nil }

    /// The phase the dashboard and `tumult get workflows` show.
    public var phase: WorkflowState.Phase { isDeleted ? .deleting : state.phase }
}

/// A record kept whole under its document's name, which `apply` replaces
/// by name (`Controller.applyByName`).
protocol NamedDocumentRecord {
    var uid: String { get }
    var document: ChaosDocument { get set }
    var isDeleted: Bool { get }
}

extension WorkflowRecord: NamedDocumentRecord {}

extension WorkflowRecord: Codable {
    enum CodingKeys: String, CodingKey { case uid, document, createdAt, deletedAt, scheduleUID, state, leaves, taskResults, wakeAt }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        uid = try container.decode(String.self, forKey: .uid)
        document = try ChaosDocument.decodeStored(try container.decode(Value.self, forKey: .document))
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        deletedAt = try container.decodeIfPresent(Date.self, forKey: .deletedAt)
        scheduleUID = try container.decodeIfPresent(String.self, forKey: .scheduleUID)
        state = try container.decode(WorkflowState.self, forKey: .state)
        leaves = try container.decodeIfPresent([String: String].self, forKey: .leaves) ?? [:]
        taskResults = try container.decodeIfPresent([String: LeafObservation.TaskProgress].self, forKey: .taskResults) ?? [:]
        wakeAt = try container.decodeIfPresent(Date.self, forKey: .wakeAt)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(uid, forKey: .uid)
        try container.encode(try document.encoded(), forKey: .document)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encodeIfPresent(deletedAt, forKey: .deletedAt)
        try container.encodeIfPresent(scheduleUID, forKey: .scheduleUID)
        try container.encode(state, forKey: .state)
        try container.encode(leaves, forKey: .leaves)
        try container.encode(taskResults, forKey: .taskResults)
        try container.encodeIfPresent(wakeAt, forKey: .wakeAt)
    }
}
