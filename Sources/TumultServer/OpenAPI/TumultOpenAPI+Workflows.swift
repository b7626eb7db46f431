import TumultController
import TumultModel

/// Chaos Mesh dashboard's workflow paths (`WorkflowRoutes`): the workflows
/// with their node topology (`WorkflowView`), the HTTP task helpers
/// (`HTTPTaskForm`), and Tumult's `/api/statuschecks` for StatusChecks
/// applied on their own.
extension TumultOpenAPI {
    static var workflows: [Route] {
        let base = "/api/workflows"
        let uid = path("uid", "The workflow's uid.")
        let applied = JSONSchema.anyOf([.ref("AppliedWorkflow"), .array(of: .ref("AppliedWorkflow"))])
        let template = httpTaskTemplate(given: true)
        let task = { (description: String, example: Value) in
            OpenAPIDocument.RequestBody(description: description, required: true, content: [
                "application/json": .init(schema: template, example: example),
            ])
        }
        return [
            (base, "get", operation("listWorkflows", "List workflows", tag: .workflows, parameters: [
                query("namespace", "Only this namespace."),
                query("status", "Only this status.", .string(oneOf: workflowStatuses)),
            ], answers: [200: json(.array(of: .ref("Workflow")), "The workflows not yet archived, oldest first.")])),
            (base, "post", operation("applyWorkflows", "Apply a Workflow", tag: .workflows, description: """
                Applies every document of the body, or none when any is invalid or is not a Workflow (400 with every problem \
                and its field path). A Workflow of the same name whose spec changed is a new run: the old one is stopped and \
                archived, and the answer has the new uid. One document answers one object, several an array in their order.
                """, parameters: [fieldValidation],
                body: documents("WorkflowDocument", "A Workflow document (YAML: several, separated by ---).", example: workflowExample),
                answers: [200: json(applied, "What was applied.", headers: ["Warning": warningHeader])],
                errors: [400, 409], write: true)),
            ("\(base)/{uid}", "get", operation("getWorkflow", "One workflow with its node topology", tag: .workflows,
                                               description: "A workflow no longer live is answered from the archive (`archived: true`).",
                                               parameters: [uid],
                                               answers: [200: json(.anyOf([.ref("WorkflowDetail"), .ref("ArchivedWorkflow")]),
                                                                   "The workflow.")],
                                               errors: [404])),
            ("\(base)/{uid}", "put", operation("updateWorkflow", "Update a workflow", tag: .workflows, description: """
                Applies the body to the workflow of that uid: the body must hold one Workflow of the same name and namespace \
                (else 400). A changed spec is a new run under a new uid, as POST; unknown fields are errors. \
                404 also for a workflow being deleted.
                """, parameters: [uid], body: documents("WorkflowDocument", "The Workflow document."),
                answers: [200: json(.ref("AppliedWorkflow"), "What was applied.")], errors: [400, 404, 409], write: true)),
            ("\(base)/{uid}", "delete", operation("deleteWorkflow", "Delete a workflow", tag: .workflows,
                                                  description: "Stops every node (their faults recovered), then archives it.",
                                                  parameters: [uid], answers: [200: json(.ref("Status"), "Deleted.")],
                                                  errors: [404], write: true)),
            ("\(base)/render-task/http", "post", operation("renderHTTPTask", "Render an HTTP request as a Task", tag: .workflows,
                description: """
                    The Workflow Task template that makes the request with curl (Chaos Mesh's dashboard form). Tumult runs \
                    the Task's command on the host: curl must be installed there. 400 without a name or an http(s) URL.
                    """,
                body: .init(description: "The request.", required: true, content: [
                    "application/json": .init(schema: httpTaskRequest, example: httpTaskFormExample),
                ]),
                answers: [200: json(.ref("HTTPTask"), "The Task template.")], errors: [400], write: true)),
            ("\(base)/parse-task/http", "post", operation("parseHTTPTask", "Read an HTTP Task back", tag: .workflows,
                description: "The request a rendered Task makes; 400 for a template that is not a rendered HTTP task.",
                body: task("A Task template as render-task/http gives it.", httpTaskExample),
                answers: [200: json(.ref("HTTPTaskForm"), "The request.")], errors: [400], write: true)),
            ("\(base)/validate-task/http", "post", operation("validateHTTPTask", "Whether a Task is a rendered HTTP task", tag: .workflows,
                description: "True when parse-task/http would read the template back; 400 only for a body that is not JSON.",
                body: task("A Task template.", httpTaskExample),
                answers: [200: json(.boolean("Whether it is a rendered HTTP task."), "The answer.")], errors: [400], write: true)),
        ]
    }

    static var statusChecks: [Route] {
        let base = "/api/statuschecks"
        let uid = path("uid", "The status check's uid.")
        return [
            (base, "get", operation("listStatusChecks", "List status checks", tag: .statusChecks, parameters: [
                query("namespace", "Only this namespace."),
            ], answers: [200: json(.array(of: .ref("StatusCheck")), "The status checks not yet archived, oldest first.")])),
            ("\(base)/{uid}", "get", operation("getStatusCheck", "One status check with its status", tag: .statusChecks,
                                               parameters: [uid], answers: [200: json(.ref("StatusCheckDetail"), "The status check.")],
                                               errors: [404])),
            ("\(base)/{uid}", "delete", operation("deleteStatusCheck", "Delete a status check", tag: .statusChecks,
                                                  description: "Stops it and archives it.",
                                                  parameters: [uid], answers: [200: json(.ref("Status"), "Deleted.")],
                                                  errors: [404], write: true)),
        ]
    }

    // MARK: Schemas

    /// Chaos Mesh dashboard's workflow status words (`WorkflowView.statusWord`).
    static let workflowStatuses = ["running", "finished", "failed", "aborted"]

    static let workflowPhases: [String] = [WorkflowState.Phase.pending, .running, .accomplished, .aborted, .failed, .deleting].map(\.rawValue)

    /// `kube_object`: the document as applied, with its status.
    static func freeFormObject(_ description: String) -> JSONSchema {
        JSONSchema(type: "object", description: description, additionalProperties: .allowed(true))
    }

    /// `WorkflowMeta`: what a list item has (`WorkflowView.meta`).
    static let workflowItem: [(String, JSONSchema)] = [
        ("uid", .string()),
        ("namespace", .string()),
        ("name", .string()),
        ("entry", .string("The template it starts from.")),
        ("created_at", .dateTime()),
        ("status", .string(oneOf: workflowStatuses)),
        ("phase", .string("Tumult's finer word.", oneOf: workflowPhases)),
        ("nodes", .integer("How many nodes it has.", minimum: 0)),
        ("running_nodes", .integer("How many of them are not finished.", minimum: 0)),
        ("leaves", .integer("How many of them run something (chaos, task, status check, schedule).", minimum: 0)),
    ]

    static let workflowExtra: [(String, JSONSchema)] = [
        ("end_time", .dateTime("When its entry node finished.")),
        ("schedule_uid", .string("The Schedule that started this run.")),
    ]

    static let workflowTopology = ("topology", JSONSchema.object("Every node, as Chaos Mesh's WorkflowNode objects.",
                                                                 required: [("nodes", .array(of: .ref("WorkflowNode")))]))

    static let workflowKubeObject = ("kube_object", freeFormObject("The Workflow as applied, with its status (entryNode, startTime, "
                                                                  + "endTime, conditions, phase, nodes ...)."))

    static var workflowSchemas: [String: JSONSchema] {
        [
            "WorkflowDocument": chaosDocument(kinds: [ChaosKind.workflow.rawValue]),
            "Workflow": .object("A workflow in a list (the dashboard's core.WorkflowMeta).", required: workflowItem, optional: workflowExtra),
            "WorkflowDetail": .object("A workflow with its node topology and object (the dashboard's core.WorkflowDetail).",
                                      required: workflowItem + [workflowTopology, workflowKubeObject], optional: workflowExtra),
            "AppliedWorkflow": .object("A workflow as applied.",
                                       required: workflowItem + [workflowTopology, workflowKubeObject, applyResult],
                                       optional: workflowExtra + [("warnings", .array(of: .ref("FieldError")))]),
            "ArchivedWorkflow": .object("A workflow no longer live, from the archive: its last nodes as the topology.", required: [
                ("uid", .string()), ("namespace", .string()), ("name", .string()), ("entry", .string()),
                ("created_at", .dateTime()), ("end_time", .dateTime("When it was archived.")),
                ("status", .string(oneOf: ["finished", "aborted", "failed", "unknown"])),
                ("phase", .string("Its last phase (Deleting for a deleted one), or Archived when none was kept.",
                                  oneOf: workflowPhases + ["Archived"])),
                ("archived", .boolean("Always true.")),
                workflowTopology,
                ("kube_object", freeFormObject("The Workflow as it was archived, with its last status.")),
            ]),
            "WorkflowNode": workflowNode,
            "HTTPTaskForm": .object("An HTTP request as the dashboard's form has it (Chaos Mesh's curl.RequestForm).", required: [
                ("name", .string()), ("url", .string()), ("method", .string()), ("body", .string()),
                ("header", .map(of: .array(of: .string()))), ("followLocation", .boolean()),
                ("jsonContent", .boolean("Content-Type: application/json is sent.")),
            ]),
            "HTTPTask": httpTaskTemplate(given: false),
            "StatusCheck": .object("A status check in a list.", required: statusCheckItem, optional: statusCheckExtra),
            "StatusCheckDetail": .object("A status check with its object and status (startTime, completionTime, count, records, conditions).",
                                         required: statusCheckItem + [statusCheckKubeObject], optional: statusCheckExtra),
            "AppliedStatusCheck": .object("A status check as applied.", required: statusCheckItem + [statusCheckKubeObject, applyResult],
                                          optional: statusCheckExtra + [("warnings", .array(of: .ref("FieldError")))]),
        ]
    }

    /// One node of the topology (`WorkflowView.node`).
    static var workflowNode: JSONSchema {
        let child = JSONSchema.object(required: [("name", .string("The child node.")), ("template", .string("Its template."))])
        let condition = JSONSchema.object(required: [
            ("type", .string(oneOf: [WorkflowNodeCondition.Kind.accomplished, .deadlineExceed, .chaosInjected, .aborted].map(\.rawValue))),
            ("status", .string(oneOf: ["True", "False"])),
            ("reason", .string("Chaos Mesh's reason (NodeAccomplished, NodeDeadlineExceed, ParentNodeAborted ...).")),
        ])
        let branch = JSONSchema.object(required: [
            ("target", .string("The template it starts when its expression holds.")),
            ("evaluation_result", .string(oneOf: [BranchOutcome.Evaluation.holds, .doesNotHold, .unknown].map(\.rawValue))),
        ], optional: [
            ("message", .string("Why it is Unknown.")),
            ("node", .string("The node it started.")),
        ])
        return .object("A node: one run of a template.", required: [
            ("name", .string("TEMPLATE-SUFFIX.")),
            ("uid", .string("WORKFLOW_UID/NAME.")),
            ("namespace", .string()),
            ("workflow_name", .string()),
            ("type", .string(oneOf: ["SerialNode", "ParallelNode", "SuspendNode", "TaskNode", "StatusCheckNode", "ScheduleNode", "ChaosNode"])),
            ("template_type", .string(oneOf: WorkflowTemplateType.rawValues)),
            ("state", .string("Chaos Mesh's word.", oneOf: ["Running", "Succeed", "Failed"])),
            ("phase", .string("Tumult's finer word.",
                              oneOf: [WorkflowNode.Phase.running, .accomplished, .deadlineExceed, .aborted, .failed].map(\.rawValue))),
            ("template", .string("The template it runs.")),
            ("started_at", .dateTime()),
            ("conditions", .array(of: condition)),
        ], optional: [
            ("parent", .string("The node that started it; absent for the entry node.")),
            ("serial", .object("Serial nodes: the children started so far, in order.", required: [("children", .array(of: child))])),
            ("parallel", .object("Parallel nodes: the children.", required: [("children", .array(of: child))])),
            ("children", .array(of: child, "Task nodes: the nodes their conditional branches started.")),
            ("deadline", .dateTime("When its template's deadline ends it.")),
            ("finished_at", .dateTime()),
            ("resource_uid", .string("Leaves: the uid of the experiment, Schedule or status check it runs.")),
            ("task_result", .object("Task nodes: how the command ended.", required: [
                ("exitCode", .integer()), ("stdout", .string("The output, trimmed.")),
            ])),
            ("conditional_branches", .array(of: branch, "Task nodes: each branch and what it gave, in spec order.")),
            ("message", .string("What went wrong (a failed experiment, a task that could not run).")),
        ])
    }

    /// A Task template making an HTTP request, as render-task/http gives it
    /// (exactly these keys); `given`: as parse-task/http and
    /// validate-task/http take it (the name optional, any other key of a
    /// template allowed).
    static func httpTaskTemplate(given: Bool) -> JSONSchema {
        let command = ("command", JSONSchema.array(of: .string(), "curl -i -s [-L] -X METHOD [-H 'KEY: VALUE' ...] [-d BODY] URL."))
        let image = ("image", JSONSchema.string("Chaos Mesh's curl image (\(HTTPTaskForm.image)), kept but not pulled: Tumult runs the command on the host."))
        let containerName = ("name", JSONSchema.string())
        let container = JSONSchema.object(required: given ? [command] : [command, containerName, image],
                                          optional: given ? [containerName, image] : [], additionalProperties: given)
        let name = ("name", JSONSchema.string("The task's name."))
        let fields: [(String, JSONSchema)] = [
            ("templateType", .string(oneOf: ["Task"])),
            ("task", .object(required: [("container", container)], additionalProperties: given)),
        ]
        return .object(given ? "A Workflow Task template." : "A Workflow Task template that makes the request with curl.",
                       required: given ? fields : [name] + fields, optional: given ? [name] : [], additionalProperties: given)
    }

    /// What render-task/http takes: only name and url are needed.
    static let httpTaskRequest = JSONSchema.object("An HTTP request as the dashboard's form sends it.", required: [
        ("name", .string("The task's name.")),
        ("url", .string("An http or https URL.")),
    ], optional: [
        ("method", .string("Default GET.")),
        ("body", .string()),
        ("header", .map(of: .array(of: .string()))),
        ("followLocation", .boolean("curl -L.")),
        ("jsonContent", .boolean("Send Content-Type: application/json.")),
    ])

    static let statusCheckItem: [(String, JSONSchema)] = [
        ("uid", .string()),
        ("namespace", .string()),
        ("name", .string()),
        ("created_at", .dateTime()),
        ("mode", .string(oneOf: StatusCheckSpec.Mode.allCases.map(\.rawValue))),
        ("url", .string("The URL it probes.")),
        ("status", .string("How it ended, or running.",
                           oneOf: [StatusCheckState.Outcome.running, .succeeded, .failed, .durationExceeded].map(\.rawValue))),
        ("verdict", .string("What a Workflow goes by.", oneOf: [StatusCheckState.Verdict.running, .succeeded, .failed].map(\.rawValue))),
        ("count", .integer("How many probes ran.", minimum: 0)),
    ]

    static let statusCheckExtra: [(String, JSONSchema)] = [
        ("workflow_uid", .string("The Workflow that started it.")),
    ]

    static let statusCheckKubeObject = ("kube_object", freeFormObject("The StatusCheck as applied, with Chaos Mesh's status "
                                                                     + "(startTime, completionTime, count, records, conditions)."))

    // MARK: Examples

    /// A Workflow that only waits: applying it injects nothing.
    static let workflowExample = value("""
        {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "Workflow",
         "metadata": {"name": "pause-then-done", "namespace": "shop"},
         "spec": {"entry": "entry",
                  "templates": [{"name": "entry", "templateType": "Serial", "children": ["wait"]},
                                {"name": "wait", "templateType": "Suspend", "deadline": "5s"}]}}
        """)

    /// A request to this server's own configuration (port 2333, as `tumult server` listens by default).
    static let httpTaskFormExample = value("""
        {"name": "ping", "url": "http://127.0.0.1:2333/api/common/config", "method": "GET"}
        """)

    /// What render-task/http answers for `httpTaskFormExample`.
    static let httpTaskExample = value("""
        {"name": "ping", "templateType": "Task",
         "task": {"container": {"name": "ping", "image": "\(HTTPTaskForm.image)",
                                "command": ["curl", "-i", "-s", "-X", "GET", "http://127.0.0.1:2333/api/common/config"]}}}
        """)
}
