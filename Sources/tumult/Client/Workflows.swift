import Foundation
import TumultModel

// The API's values for workflows and status checks (Chaos Mesh dashboard
// shapes, snake_case), decoded leniently like the experiments' in APIClient.swift.

/// One workflow of `GET /api/workflows` (Chaos Mesh's `WorkflowMeta`).
struct WorkflowItem: Decodable, Sendable, Equatable, Identified {
    var uid: String
    var namespace: String
    var name: String
    /// The template the workflow starts from.
    var entry: String?
    /// RFC 3339.
    var createdAt: String?
    var endTime: String?
    /// Chaos Mesh's word: `running`, `finished`, `failed` or `aborted`.
    var status: String
    /// Tumult's finer word: `Pending`, `Running`, `Accomplished`, `Aborted`, `Failed` or `Deleting`.
    var phase: String?
    var nodes: Int?
    var runningNodes: Int?
    var leaves: Int?
    /// The Schedule that created it, if one did.
    var scheduleUID: String?

    enum CodingKeys: String, CodingKey {
        case uid, namespace, name, entry, status, phase, nodes, leaves
        case createdAt = "created_at"
        case endTime = "end_time"
        case runningNodes = "running_nodes"
        case scheduleUID = "schedule_uid"
    }
}

/// `GET /api/workflows/:uid`: the meta, the node topology and the Workflow
/// document with its `status` (an archived workflow answers the same, with
/// `archived`).
struct WorkflowDetail: Decodable, Sendable, Equatable {
    /// One node of the topology (Chaos Mesh's `Node`), oldest first.
    struct Node: Decodable, Sendable, Equatable {
        /// A child a Serial or Parallel node (or a Task's branch) lists.
        struct Child: Decodable, Sendable, Equatable {
            var name: String
            var template: String?
        }

        struct Children: Decodable, Sendable, Equatable {
            var children: [Child]?
        }

        /// What a Task's container printed.
        struct TaskOutput: Decodable, Sendable, Equatable {
            var exitCode: Int?
            var stdout: String?
        }

        /// How one of a Task's conditional branches evaluated.
        struct Branch: Decodable, Sendable, Equatable {
            var target: String
            /// `True`, `False` or `Unknown`.
            var evaluationResult: String?
            var message: String?
            /// The node the branch started, if it did.
            var node: String?

            enum CodingKeys: String, CodingKey {
                case target, message, node
                case evaluationResult = "evaluation_result"
            }
        }

        struct Condition: Decodable, Sendable, Equatable {
            var type: String
            var status: String
            var reason: String?
        }

        var name: String
        var uid: String?
        /// `SerialNode`, `ParallelNode`, `TaskNode`, `ChaosNode` ...
        var type: String?
        /// `Serial`, `Parallel`, `Suspend`, `Task`, `NetworkChaos` ...
        var templateType: String?
        /// `Running`, `Succeed` or `Failed`.
        var state: String?
        /// `Running`, `Accomplished`, `DeadlineExceed`, `Aborted` or `Failed`.
        var phase: String?
        var template: String?
        var startedAt: String?
        /// The node that started this one; the entry node has none.
        var parent: String?
        var serial: Children?
        var parallel: Children?
        /// A Task's branches.
        var children: [Child]?
        var deadline: String?
        var finishedAt: String?
        /// The experiment (or status check) a leaf node created.
        var resourceUID: String?
        var taskResult: TaskOutput?
        var conditionalBranches: [Branch]?
        /// Why the node failed.
        var message: String?
        var conditions: [Condition]?

        enum CodingKeys: String, CodingKey {
            case name, uid, type, state, phase, template, parent, serial, parallel, children, deadline, message, conditions
            case templateType = "template_type"
            case startedAt = "started_at"
            case finishedAt = "finished_at"
            case resourceUID = "resource_uid"
            case taskResult = "task_result"
            case conditionalBranches = "conditional_branches"
        }

        /// The children this node names, in its order: a Serial's or a
        /// Parallel's, else a Task's branches.
        var listedChildren: [String] {
            (serial?.children ?? parallel?.children ?? children ?? []).map(\.name)
        }
    }

    struct Topology: Decodable, Sendable, Equatable {
        var nodes: [Node]?
    }

    /// `kube_object`: the Workflow as stored, with Chaos Mesh's `status`
    /// (and Tumult's `phase`, `abort` and `failure`).
    struct Object: Decodable, Sendable, Equatable {
        struct Status: Decodable, Sendable, Equatable {
            struct Abort: Decodable, Sendable, Equatable {
                var time: String?
                var reason: String?
            }

            var entryNode: String?
            var startTime: String?
            var endTime: String?
            var phase: String?
            var abort: Abort?
            var failure: String?
        }

        var metadata: KubeObject.Metadata?
        var status: Status?
    }

    var item: WorkflowItem
    var topology: Topology?
    var kubeObject: Object?
    /// A workflow no longer live, answered from the archive.
    var archived: Bool?
    /// After an apply: `created`, `configured` or `unchanged`.
    var result: String?

    enum CodingKeys: String, CodingKey {
        case topology, archived, result
        case kubeObject = "kube_object"
    }

    init(from decoder: Decoder) throws {
        item = try WorkflowItem(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        topology = try container.decodeIfPresent(Topology.self, forKey: .topology)
        kubeObject = try container.decodeIfPresent(Object.self, forKey: .kubeObject)
        archived = try container.decodeIfPresent(Bool.self, forKey: .archived)
        result = try container.decodeIfPresent(String.self, forKey: .result)
    }

    var nodes: [Node] { topology?.nodes ?? [] }
}

/// One status check of `GET /api/statuschecks`.
struct StatusCheckItem: Decodable, Sendable, Equatable, Identified {
    var uid: String
    var namespace: String
    var name: String
    var createdAt: String?
    /// `Synchronous` or `Continuous`.
    var mode: String?
    var url: String?
    /// `running`, `succeeded`, `failed` or `durationExceeded`.
    var status: String
    /// `running`, `succeeded` or `failed`.
    var verdict: String?
    /// How many probes ran.
    var count: Int?
    /// The Workflow that started it, if one did.
    var workflowUID: String?

    enum CodingKeys: String, CodingKey {
        case uid, namespace, name, mode, url, status, verdict, count
        case createdAt = "created_at"
        case workflowUID = "workflow_uid"
    }
}

/// `GET /api/statuschecks/:uid`: the item and the StatusCheck document with
/// Chaos Mesh's `status` (its probe records and conditions).
struct StatusCheckDetail: Decodable, Sendable, Equatable {
    struct Object: Decodable, Sendable, Equatable {
        struct Status: Decodable, Sendable, Equatable {
            /// One probe.
            struct Record: Decodable, Sendable, Equatable {
                var startTime: String?
                /// `Success` or `Failure`.
                var outcome: String?
                var statusCode: Int?
                var message: String?
            }

            struct Condition: Decodable, Sendable, Equatable {
                var type: String
                var status: String
                var reason: String?
                var message: String?
                var lastTransitionTime: String?
            }

            var startTime: String?
            var completionTime: String?
            var count: Int?
            var records: [Record]?
            var conditions: [Condition]?
        }

        var metadata: KubeObject.Metadata?
        var status: Status?
    }

    var item: StatusCheckItem
    var kubeObject: Object?
    /// After an apply: `created`, `configured` or `unchanged`.
    var result: String?

    enum CodingKeys: String, CodingKey {
        case result
        case kubeObject = "kube_object"
    }

    init(from decoder: Decoder) throws {
        item = try StatusCheckItem(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kubeObject = try container.decodeIfPresent(Object.self, forKey: .kubeObject)
        result = try container.decodeIfPresent(String.self, forKey: .result)
    }
}
