import Foundation
import TumultModel

/// One thing the controller must do for a workflow, as `WorkflowEngine`
/// decides. Leaves are named by their node; the controller keeps what it
/// creates for a node findable by that name (Chaos Mesh labels it
/// `chaos-mesh.org/controlled-by: <node>`) and reports it back in `observed`.
///
/// Start actions are asked for until the controller reports the leaf; stop
/// actions are asked for while it still reports it. Both must be idempotent.
public enum WorkflowAction: Sendable, Equatable {
    /// Create this experiment for a chaos leaf (no duration: the engine
    /// deletes it when the node ends, as Chaos Mesh does).
    case createChaos(node: String, document: ChaosDocument)
    case deleteChaos(node: String, uid: String)
    /// Run the task's container; its result comes back as `.task(.exited)`.
    case runTask(node: String, name: String, task: WorkflowTask)
    /// Kill the task if it still runs, and forget it.
    case stopTask(node: String)
    /// Start this StatusCheck (a `.statusCheck` document).
    case startStatusCheck(node: String, document: ChaosDocument)
    case stopStatusCheck(node: String)
    /// Create this Schedule (a `.schedule` document) for a Schedule leaf.
    case createSchedule(node: String, document: ChaosDocument)
    case deleteSchedule(node: String, uid: String)
    /// Call `advance` again at this moment (the earliest deadline), even if
    /// nothing else happens before.
    case wake(at: Date)

    /// The node the action is about; nil for `wake`.
    public var node: String? {
        switch self {
        case .createChaos(let node, _), .deleteChaos(let node, _), .runTask(let node, _, _), .stopTask(let node),
             .startStatusCheck(let node, _), .stopStatusCheck(let node), .createSchedule(let node, _),
             .deleteSchedule(let node, _):
            node
        case .wake:
            nil
        }
    }

    /// True for the actions that end something.
    public var isStop: Bool {
        switch self {
        case .deleteChaos, .stopTask, .stopStatusCheck, .deleteSchedule: true
        default: false
        }
    }
}
