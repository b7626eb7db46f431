import Foundation
import TumultModel

/// How workflows look from outside (pure): Chaos Mesh's `status` on the
/// object, and the dashboard API's `WorkflowMeta` and `WorkflowDetail`
/// (`pkg/dashboard/core/workflow.go`) with the node topology.
public enum WorkflowView {
    /// Chaos Mesh's dashboard status words: running, finished, failed, aborted, unknown.
    public static func statusWord(of record: WorkflowRecord) -> String {
        switch record.phase {
        case .pending, .running, .deleting: "running"
        case .accomplished: "finished"
        case .aborted: "aborted"
        case .failed: "failed"
        }
    }

    /// `WorkflowMeta`: a list item.
    public static func meta(of record: WorkflowRecord) -> Value {
        var fields: [(String, Value)] = [
            ("uid", .string(record.uid)),
            ("namespace", .string(record.namespace)),
            ("name", .string(record.name)),
            ("entry", .string(record.spec?.entry ?? "")),
            ("created_at", .string(StatusView.timestamp(record.createdAt))),
        ]
        if let end = record.state.endTime { fields.append(("end_time", .string(StatusView.timestamp(end)))) }
        fields.append(("status", .string(statusWord(of: record))))
        // Tumult's finer word (Pending, Running, Accomplished, Aborted, Failed, Deleting).
        fields.append(("phase", .string(record.phase.rawValue)))
        let leaves = record.state.nodes.filter(\.isLeaf)
        fields.append(("nodes", .integer(record.state.nodes.count)))
        fields.append(("running_nodes", .integer(record.state.nodes.filter { !$0.isFinished }.count)))
        fields.append(("leaves", .integer(leaves.count)))
        if let schedule = record.scheduleUID { fields.append(("schedule_uid", .string(schedule))) }
        return .object(Value.Object(fields))
    }

    /// `WorkflowDetail`: the meta, the topology and the object (`kube_object`).
    public static func detail(of record: WorkflowRecord) -> Value {
        guard case .object(var fields) = meta(of: record) else { return .null }
        fields["topology"] = .object(Value.Object([("nodes", .array(record.state.nodes.map { node(of: $0, in: record) }))]))
        var object = (try? record.document.encoded()) ?? .null
        if case .object(var objectFields) = object {
            objectFields["status"] = status(of: record)
            object = .object(objectFields)
        }
        fields["kube_object"] = object
        return .object(fields)
    }

    /// Chaos Mesh's node types in the dashboard's topology.
    static func nodeType(_ type: WorkflowTemplateType) -> String {
        switch type {
        case .serial: "SerialNode"
        case .parallel: "ParallelNode"
        case .suspend: "SuspendNode"
        case .task: "TaskNode"
        case .statusCheck: "StatusCheckNode"
        case .schedule: "ScheduleNode"
        case .chaos: "ChaosNode"
        }
    }

    /// Chaos Mesh's node states: Running, Succeed, Failed.
    static func nodeState(_ node: WorkflowNode) -> String {
        switch node.phase {
        case .running: "Running"
        case .accomplished, .deadlineExceed: "Succeed"
        case .aborted, .failed: "Failed"
        }
    }

    static func node(of node: WorkflowNode, in record: WorkflowRecord) -> Value {
        var fields: [(String, Value)] = [
            ("name", .string(node.name)),
            ("uid", .string("\(record.uid)/\(node.name)")),
            ("namespace", .string(record.namespace)),
            ("workflow_name", .string(record.name)),
            ("type", .string(nodeType(node.type))),
            ("template_type", .string(node.type.rawValue)),
            ("state", .string(nodeState(node))),
            ("phase", .string(node.phase.rawValue)),
            ("template", .string(node.templateName)),
            ("started_at", .string(StatusView.timestamp(node.startedAt))),
        ]
        if let parent = node.parent { fields.append(("parent", .string(parent))) }
        let children: [Value] = node.children.compactMap { name in
            record.state[node: name].map { child in
                .object(Value.Object([("name", .string(child.name)), ("template", .string(child.templateName))]))
            }
        }
        switch node.type {
        case .serial: fields.append(("serial", .object(Value.Object([("children", .array(children))]))))
        case .parallel: fields.append(("parallel", .object(Value.Object([("children", .array(children))]))))
        default: if !children.isEmpty { fields.append(("children", .array(children))) }
        }
        if let deadline = node.deadline { fields.append(("deadline", .string(StatusView.timestamp(deadline)))) }
        if let finished = node.finishedAt { fields.append(("finished_at", .string(StatusView.timestamp(finished)))) }
        if let uid = record.leaves[node.name] ?? node.resourceUID {
            fields.append(("resource_uid", .string(uid)))
        }
        if let result = node.taskResult {
            fields.append(("task_result", .object(Value.Object([("exitCode", .integer(result.exitCode)),
                                                                  ("stdout", .string(result.stdout))]))))
        }
        if let branches = node.branches {
            fields.append(("conditional_branches", .array(branches.map { branch in
                var entry: [(String, Value)] = [("target", .string(branch.target)),
                                                ("evaluation_result", .string(branch.evaluation.rawValue))]
                if let message = branch.message { entry.append(("message", .string(message))) }
                if let spawned = branch.node { entry.append(("node", .string(spawned))) }
                return .object(Value.Object(entry))
            })))
        }
        if let failure = node.failure { fields.append(("message", .string(failure))) }
        fields.append(("conditions", conditions(of: node)))
        return .object(Value.Object(fields))
    }

    static func conditions(of node: WorkflowNode) -> Value {
        .array(node.conditions.map { condition in
            .object(Value.Object([("type", .string(condition.type.rawValue)),
                                  ("status", .string(condition.status ? "True" : "False")),
                                  ("reason", .string(condition.reason))]))
        })
    }

    /// The Workflow's `status` as Chaos Mesh writes it (entryNode,
    /// startTime, endTime, conditions), with Tumult's `phase`, `abort` and
    /// the nodes (Chaos Mesh keeps those as WorkflowNode objects).
    public static func status(of record: WorkflowRecord) -> Value {
        var fields: [(String, Value)] = []
        if let entry = record.state.entryNode { fields.append(("entryNode", .string(entry))) }
        if let start = record.state.startTime { fields.append(("startTime", .string(StatusView.timestamp(start)))) }
        if let end = record.state.endTime { fields.append(("endTime", .string(StatusView.timestamp(end)))) }
        fields.append(("conditions", .array(record.state.conditions.map { condition in
            .object(Value.Object([("type", .string(condition.type.rawValue)),
                                  ("status", .string(condition.status ? "True" : "False"))]))
        })))
        fields.append(("phase", .string(record.phase.rawValue)))
        if let abort = record.state.abort {
            fields.append(("abort", .object(Value.Object([("time", .string(StatusView.timestamp(abort.at))),
                                                          ("reason", .string(abort.reason))]))))
        }
        if let failure = record.state.failure { fields.append(("failure", .string(failure))) }
        fields.append(("nodes", .array(record.state.nodes.map { node(of: $0, in: record) })))
        return .object(Value.Object(fields))
    }
}
