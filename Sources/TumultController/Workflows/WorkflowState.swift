import Foundation
import TumultModel

/// Everything the workflow engine knows about one running Workflow: its
/// nodes and its status. The controller stores it as JSON with the workflow
/// and hands it back to `WorkflowEngine`: nothing else is kept between two
/// steps, so a restarted controller carries on from the stored state.
public struct WorkflowState: Codable, Sendable, Hashable {
    /// The Workflow's name and namespace, for the names and labels of what
    /// its leaves create.
    public var workflowName: String
    public var namespace: String
    /// Every node ever created, oldest first.
    public var nodes: [WorkflowNode] = []
    /// Chaos Mesh's `status.entryNode`.
    public var entryNode: String?
    /// Chaos Mesh's `status.startTime`: the first step.
    public var startTime: Date?
    /// Chaos Mesh's `status.endTime`: when the entry node finished.
    public var endTime: Date?
    /// Set once the workflow is aborted (Chaos Mesh's annotation
    /// `workflow.chaos-mesh.org/abort: "true"`).
    public var abort: Abort?
    /// Set by a delete: nothing starts any more and every leaf is stopped.
    public var deletedAt: Date?
    /// Why the workflow could not start (its entry names no template).
    public var failure: String?

    public init(workflowName: String, namespace: String) {
        self.workflowName = workflowName
        self.namespace = namespace
    }

    public struct Abort: Codable, Sendable, Hashable {
        public var at: Date
        public var reason: String

        public init(at: Date, reason: String) {
            self.at = at
            self.reason = reason
        }
    }

    public subscript(node name: String) -> WorkflowNode? {
        nodes.first { $0.name == name }
    }

    public var entry: WorkflowNode? { entryNode.flatMap { self[node: $0] } }

    /// The entry node finished (Chaos Mesh counts an aborted or timed-out
    /// entry as accomplished too).
    public var isFinished: Bool { entry?.isFinished == true }

    public var isAborted: Bool { abort != nil }

    /// Chaos Mesh's workflow conditions: Scheduled (the entry node exists)
    /// and Accomplished (it finished). Chaos Mesh has no Aborted condition:
    /// an abort is the annotation, and shows here as `phase`.
    public var conditions: [WorkflowCondition] {
        [
            WorkflowCondition(type: .scheduled, status: entryNode != nil),
            WorkflowCondition(type: .accomplished, status: isFinished),
        ]
    }

    /// The one word the dashboard shows.
    public var phase: Phase {
        if deletedAt != nil { return .deleting }
        if failure != nil { return .failed }
        if isAborted { return .aborted }
        if entryNode == nil { return .pending }
        return isFinished ? .accomplished : .running
    }

    public enum Phase: String, Codable, Sendable {
        case pending = "Pending"
        case running = "Running"
        case accomplished = "Accomplished"
        case aborted = "Aborted"
        case failed = "Failed"
        case deleting = "Deleting"
    }

    /// `name` and every node below it.
    func descendants(of name: String) -> [String] {
        guard let node = self[node: name] else { return [] }
        return node.children.flatMap { [$0] + descendants(of: $0) }
    }

    /// Changes one node in place, found by name.
    mutating func update(_ name: String, _ change: (inout WorkflowNode) -> Void) {
        guard let index = nodes.firstIndex(where: { $0.name == name }) else { return }
        change(&nodes[index])
    }
}

/// A Workflow condition (Chaos Mesh's `WorkflowCondition`).
public struct WorkflowCondition: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable {
        case scheduled = "Scheduled"
        case accomplished = "Accomplished"
    }

    public var type: Kind
    public var status: Bool

    public init(type: Kind, status: Bool) {
        self.type = type
        self.status = status
    }
}
