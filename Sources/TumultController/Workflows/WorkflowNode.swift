import Foundation
import TumultModel

/// One instance of a Workflow template, as Chaos Mesh's `WorkflowNode`:
/// named `<template>-<suffix>`, it runs from `startedAt` until a condition
/// ends it (Accomplished, DeadlineExceed or Aborted). Composite nodes
/// (Serial, Parallel, a Task's branches) own child nodes; leaves own one
/// thing the controller runs for them (an experiment, a task, a status
/// check, a Schedule).
public struct WorkflowNode: Codable, Sendable, Hashable {
    public var name: String
    public var templateName: String
    public var type: WorkflowTemplateType
    /// nil for the entry node.
    public var parent: String?
    /// Child node names, oldest first.
    public var children: [String] = []
    public var startedAt: Date
    /// `startedAt` plus the template's `deadline`.
    public var deadline: Date?
    /// When a condition ended it.
    public var finishedAt: Date?
    public var conditions: [WorkflowNodeCondition] = []
    /// For leaves: the name the controller gives what it creates for this
    /// node (`<node>-<suffix>`, as Chaos Mesh's generateName does).
    public var resourceName: String?
    /// For leaves: when the controller first reported the thing it runs for
    /// this node. A leaf is started once: until then the engine asks for it.
    public var observedAt: Date?
    /// Chaos and Schedule leaves: the uid of the experiment or Schedule.
    public var resourceUID: String?
    /// Task leaves: how the task ended.
    public var taskResult: TaskResult?
    /// Task leaves: each conditional branch and what it gave, in spec order.
    public var branches: [BranchOutcome]?
    /// StatusCheck leaves: how the check ended.
    public var statusCheckOutcome: StatusCheckOutcome?
    /// What went wrong, for display (a failed experiment, a task that could not run).
    public var failure: String?

    public init(name: String, templateName: String, type: WorkflowTemplateType, parent: String?, startedAt: Date,
                deadline: Date?) {
        self.name = name
        self.templateName = templateName
        self.type = type
        self.parent = parent
        self.startedAt = startedAt
        self.deadline = deadline
    }

    /// Leaves run one thing for the controller; the others only hold nodes.
    public var isLeaf: Bool {
        switch type {
        case .chaos, .task, .statusCheck, .schedule: true
        case .serial, .parallel, .suspend: false
        }
    }

    public func condition(_ type: WorkflowNodeCondition.Kind) -> WorkflowNodeCondition? {
        conditions.first { $0.type == type }
    }

    public func hasCondition(_ type: WorkflowNodeCondition.Kind) -> Bool {
        condition(type)?.status == true
    }

    /// Chaos Mesh's `WorkflowNodeFinished`: Accomplished, DeadlineExceed or Aborted.
    public var isFinished: Bool {
        hasCondition(.accomplished) || hasCondition(.deadlineExceed) || hasCondition(.aborted)
    }

    /// Sets a condition, replacing one of the same type (Chaos Mesh's `SetCondition`).
    public mutating func setCondition(_ type: WorkflowNodeCondition.Kind, _ status: Bool, reason: String) {
        let condition = WorkflowNodeCondition(type: type, status: status, reason: reason)
        if let index = conditions.firstIndex(where: { $0.type == type }) {
            conditions[index] = condition
        } else {
            conditions.append(condition)
        }
    }

    /// The one word the dashboard shows: the condition that ended the node
    /// (Aborted first, as it ends everything), Failed when it ended with a
    /// failure, else Running.
    public var phase: Phase {
        if hasCondition(.aborted) { return .aborted }
        guard isFinished else { return .running }
        if failure != nil { return .failed }
        return hasCondition(.deadlineExceed) ? .deadlineExceed : .accomplished
    }

    public enum Phase: String, Codable, Sendable {
        case running = "Running"
        case accomplished = "Accomplished"
        case deadlineExceed = "DeadlineExceed"
        case aborted = "Aborted"
        case failed = "Failed"
    }
}

/// A WorkflowNode condition, with Chaos Mesh's types and reasons.
public struct WorkflowNodeCondition: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable {
        /// The node did its work (children finished, check completed).
        case accomplished = "Accomplished"
        /// Its deadline, or an ancestor's, passed; counts as finished.
        case deadlineExceed = "DeadlineExceed"
        /// Chaos and Schedule leaves: the experiment or Schedule exists.
        case chaosInjected = "ChaosInjected"
        /// The workflow was aborted (a failed status check, or the abort annotation).
        case aborted = "Aborted"
    }

    public var type: Kind
    public var status: Bool
    /// One of Chaos Mesh's reasons (`NodeDeadlineExceed`, `ParentNodeAborted` ...).
    public var reason: String

    public init(type: Kind, status: Bool, reason: String) {
        self.type = type
        self.status = status
        self.reason = reason
    }

    /// Chaos Mesh's reason strings (api/v1alpha1/workflownode_types.go).
    public enum Reason {
        public static let nodeAccomplished = "NodeAccomplished"
        public static let nodeDeadlineExceed = "NodeDeadlineExceed"
        public static let parentNodeDeadlineExceed = "ParentNodeDeadlineExceed"
        public static let chaosCRCreated = "ChaosCRCreated"
        public static let chaosCRNotExists = "ChaosCRNotExists"
        public static let statusCheckCompleted = "StatusCheckCompleted"
        public static let statusCheckNotExceedSuccessThreshold = "StatusCheckNotExceedSuccessThreshold"
        public static let parentNodeAborted = "ParentNodeAborted"
        public static let workflowAborted = "WorkflowAborted"
    }
}

/// How a Task's container ended: what its branches are evaluated against.
public struct TaskResult: Codable, Sendable, Hashable {
    public var exitCode: Int
    /// The output with surrounding white space removed, as Chaos Mesh's
    /// collector trims the pod log.
    public var stdout: String

    public init(exitCode: Int, stdout: String) {
        self.exitCode = exitCode
        self.stdout = stdout
    }
}

/// One conditional branch of a Task after its result arrived.
public struct BranchOutcome: Codable, Sendable, Hashable {
    /// Chaos Mesh's `evaluationResult`: True, False, or Unknown when the
    /// expression could not be evaluated.
    public enum Evaluation: String, Codable, Sendable {
        case holds = "True"
        case doesNotHold = "False"
        case unknown = "Unknown"
    }

    public var target: String
    public var evaluation: Evaluation
    /// Why it is Unknown: `spec.templates[0].conditionalBranches[1].expression: ...`.
    public var message: String?
    /// The node spawned for it, when it held.
    public var node: String?

    public init(target: String, evaluation: Evaluation, message: String? = nil, node: String? = nil) {
        self.target = target
        self.evaluation = evaluation
        self.message = message
        self.node = node
    }
}

/// How a status check ended.
public struct StatusCheckOutcome: Codable, Sendable, Hashable {
    public var succeeded: Bool
    public var message: String?

    public init(succeeded: Bool, message: String? = nil) {
        self.succeeded = succeeded
        self.message = message
    }
}
