import Foundation
import Testing
import TumultModel
@testable import tumult

/// What `get`, `describe`, `apply` and the `KIND/NAME` references make of
/// workflows and status checks, from answers shaped as the REST contract
/// shapes them.
@Suite struct WorkflowPrintingTests {
    /// 2024-05-01T12:00:00Z.
    let now = Date(timeIntervalSince1970: 1_714_564_800)

    func parse(_ json: String) throws -> Value {
        try APIClient.parseJSON(Data(json.utf8))
    }

    /// A Serial entry with a chaos node and a Parallel whose children are
    /// listed in another order than they started; the Task under it failed
    /// and started a branch node that no parent lists.
    let detailJSON = """
        {"uid": "w1", "namespace": "default", "name": "steady", "entry": "entry",
         "created_at": "2024-05-01T11:57:00Z", "status": "running", "phase": "Running",
         "nodes": 6, "running_nodes": 4, "leaves": 4,
         "topology": {"nodes": [
           {"name": "entry-a1", "uid": "w1/entry-a1", "namespace": "default", "workflow_name": "steady",
            "type": "SerialNode", "template_type": "Serial", "state": "Running", "phase": "Running",
            "template": "entry", "started_at": "2024-05-01T11:57:00Z",
            "serial": {"children": [{"name": "delay-b2", "template": "delay"}, {"name": "fan-c3", "template": "fan"}]},
            "conditions": []},
           {"name": "delay-b2", "type": "ChaosNode", "template_type": "NetworkChaos", "state": "Succeed",
            "phase": "Accomplished", "template": "delay", "started_at": "2024-05-01T11:57:00Z", "parent": "entry-a1",
            "finished_at": "2024-05-01T11:58:00Z", "resource_uid": "e1",
            "conditions": [{"type": "Accomplished", "status": "True", "reason": ""}]},
           {"name": "fan-c3", "type": "ParallelNode", "template_type": "Parallel", "state": "Running", "phase": "Running",
            "template": "fan", "started_at": "2024-05-01T11:58:00Z", "parent": "entry-a1",
            "parallel": {"children": [{"name": "probe-e5", "template": "probe"}, {"name": "wait-d4", "template": "wait"}]},
            "conditions": []},
           {"name": "wait-d4", "type": "SuspendNode", "template_type": "Suspend", "state": "Running", "phase": "Running",
            "template": "wait", "started_at": "2024-05-01T11:58:00Z", "parent": "fan-c3",
            "deadline": "2024-05-01T12:00:30Z", "conditions": []},
           {"name": "probe-e5", "type": "TaskNode", "template_type": "Task", "state": "Failed", "phase": "Failed",
            "template": "probe", "started_at": "2024-05-01T11:58:00Z", "parent": "fan-c3",
            "finished_at": "2024-05-01T11:59:00Z",
            "task_result": {"exitCode": 1, "stdout": "connection refused\\n"},
            "conditional_branches": [{"target": "retry", "evaluation_result": "True", "node": "retry-f6"},
                                     {"target": "give-up", "evaluation_result": "False", "message": "no retries left"}],
            "message": "exit code 1", "conditions": []},
           {"name": "retry-f6", "type": "ChaosNode", "template_type": "NetworkChaos", "state": "Running", "phase": "Running",
            "template": "retry", "started_at": "2024-05-01T11:59:00Z", "parent": "probe-e5",
            "deadline": "2024-05-01T11:59:50Z", "conditions": []}
         ]},
         "kube_object": {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "Workflow",
                         "metadata": {"name": "steady", "namespace": "default"}, "spec": {"entry": "entry"},
                         "status": {"entryNode": "entry-a1", "phase": "Running", "nodes": []}}}
        """

    @Test func nodesFollowTheirParentsInTheOrderTheParentListsThem() throws {
        let detail = try APIClient.decode(WorkflowDetail.self, from: try parse(detailJSON), what: "test")
        let tree = Printing.treeOrder(detail.nodes).map { String(repeating: " ", count: $0.depth) + $0.node.name }
        #expect(tree == ["entry-a1", " delay-b2", " fan-c3", "  probe-e5", "   retry-f6", "  wait-d4"])
    }

    @Test func describeShowsTheWorkflowItsNodeTreeAndEvents() throws {
        let detail = try APIClient.decode(WorkflowDetail.self, from: try parse(detailJSON), what: "test")
        let events = try APIClient.items(Event.self, in: try parse("""
            [{"id": 3, "object_id": "w1", "created_at": "2024-05-01T11:59:00Z", "type": "Warning",
              "reason": "NodeFailed", "message": "probe-e5 failed"},
             {"id": 2, "object_id": "w1", "created_at": "2024-05-01T11:57:00Z", "type": "Normal",
              "reason": "Created", "message": "workflow created"}]
            """), what: "test").map(\.item)
        #expect(Printing.describe(detail, events: events, now: now) == """
            Name:       steady
            Namespace:  default
            UID:        w1
            Entry:      entry
            Status:     running
            Phase:      Running
            Created:    2024-05-01T11:57:00Z (3m ago)
            End Time:   <none>
            Nodes:
              NAME             TYPE           PHASE          STARTED   DETAILS
              entry-a1         Serial         Running        3m
                delay-b2       NetworkChaos   Accomplished   3m        finished 2m ago
                fan-c3         Parallel       Running        2m
                  probe-e5     Task           Failed         2m        finished 60s ago; exit code 1, stdout "connection refused"; branches retry=True, give-up=False (no retries left); message: exit code 1
                    retry-f6   NetworkChaos   Running        60s       deadline passed 10s ago
                  wait-d4      Suspend        Running        2m        deadline in 30s
            Events:
              AGE   TYPE      REASON       MESSAGE
              3m    Normal    Created      workflow created
              60s   Warning   NodeFailed   probe-e5 failed

            """)
    }

    @Test func workflowsListWithTheirPhaseAndRunningNodes() throws {
        let items = try APIClient.items(WorkflowItem.self, in: try parse("""
            [{"uid": "w1", "namespace": "default", "name": "steady", "entry": "entry",
              "created_at": "2024-05-01T11:57:00Z", "status": "running", "phase": "Running",
              "nodes": 5, "running_nodes": 2, "leaves": 3},
             {"uid": "w2", "namespace": "shop", "name": "nightly-run", "entry": "main",
              "created_at": "2024-04-27T12:00:00Z", "end_time": "2024-04-27T12:05:00Z", "status": "finished",
              "phase": "Accomplished", "nodes": 3, "running_nodes": 0, "leaves": 2, "schedule_uid": "s1"}]
            """), what: "test")
        let listing = Printing.workflows(items, columns: ListingColumns(allNamespaces: true), now: now)
        #expect(listing.table.render() == """
            NAMESPACE   NAME          ENTRY   STATUS         NODES         AGE
            default     steady        entry   Running        2/5 running   3m
            shop        nightly-run   main    Accomplished   0/3 running   4d

            """)
        #expect(listing.clockColumns == [5])
    }

    @Test func referencesNameWorkflowsAndStatusChecks() throws {
        #expect(try ObjectReference(parsing: "Workflow/steady") == ObjectReference(kind: .workflow, name: "steady"))
        #expect(try ObjectReference(parsing: "workflows/steady").collection == .workflows)
        #expect(try ObjectReference(parsing: "StatusChecks/web").kind == .statusCheck)
        #expect(try ObjectReference(parsing: "statuscheck/web").collection == .statuschecks)
        #expect(try ObjectReference(parsing: "workflow/steady").description == "workflow/steady")
        #expect(ObjectReference(documentKind: .workflow, name: "steady").kind == .workflow)
        #expect(ObjectCollection.workflows.path == "/api/workflows")
        #expect(ObjectCollection.workflows.controlPath == "/api/experiments")
        #expect(ObjectCollection.schedules.controlPath == "/api/schedules")
    }

    @Test func applyPostsWorkflowsToTheirCollectionAndSaysWhatWasApplied() throws {
        #expect(Apply.collection(for: .workflow) == .workflows)
        #expect(Apply.collection(for: .statusCheck) == .experiments)
        #expect(Apply.collection(for: .schedule) == .schedules)
        let answer = try APIClient.decode(ExperimentDetail.self, from: try parse("""
            {"uid": "w1", "namespace": "default", "name": "steady", "entry": "entry", "status": "running",
             "phase": "Pending", "nodes": 0, "running_nodes": 0, "leaves": 0, "topology": {"nodes": []},
             "result": "created"}
            """), what: "test")
        #expect(Printing.applied(answer, documentKind: .workflow, fallbackKind: "Workflow", fallbackName: "steady")
            == "workflow.chaos-mesh.org/steady created")
        #expect(Printing.applied(answer, documentKind: .networkChaos, fallbackKind: "NetworkChaos", fallbackName: "steady")
            == "networkchaos/steady created")
    }
}
