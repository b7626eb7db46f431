import Foundation
import Testing
import TumultAgent
@testable import TumultController
import TumultModel

/// Workflows and StatusChecks run by the controller over a recording host,
/// with a manual clock: every template type reaches the host (experiments
/// injected and recovered, tasks run), in Chaos Mesh's order, and a
/// workflow resumes after a restart where it was.
@Suite struct WorkflowControllerTests {
    /// Probes answer success until `failing` is set.
    final class SwitchProber: StatusProber, @unchecked Sendable {
        private let lock = NSLock()
        private var isFailing = false
        private(set) var probes = 0
        var failing: Bool {
            get { lock.withLock { isFailing } }
            set { lock.withLock { isFailing = newValue } }
        }
        var count: Int { lock.withLock { probes } }

        func probe(_ check: HTTPStatusCheck, timeout: Duration) async -> ProbeResult {
            lock.withLock {
                probes += 1
                return isFailing ? .failure("connection refused") : .response(statusCode: 200, criteria: check.criteria)
            }
        }
    }

    func makeController(_ daemon: RecordingDaemon, clock: ManualClock, prober: (any StatusProber)? = SwitchProber(),
                        store: any ExperimentStore = InMemoryExperimentStore()) throws -> Controller {
        var configuration = Controller.Configuration(supportedKinds: [.networkChaos, .podChaos, .stressChaos])
        configuration.clock = { clock.now }
        configuration.retryDelay = 5
        configuration.watchInterval = nil
        configuration.statusProber = prober
        return try Controller(agent: daemon, inventory: StaticInventory(webPods), store: store, configuration: configuration)
    }

    /// A few passes at the same moment: what one pass starts, the next sees.
    func settle(_ controller: Controller, passes: Int = 3) async {
        for _ in 0..<passes { await controller.reconcile() }
    }

    static let delayLeaf = """
            - name: delay
              templateType: NetworkChaos
              deadline: 10s
              networkChaos:
                action: delay
                mode: all
                selector: {labelSelectors: {app: web}}
                delay: {latency: 100ms}
        """
    static let killLeaf = """
            - name: kill
              templateType: PodChaos
              deadline: 5s
              podChaos:
                action: pod-kill
                mode: one
                selector: {labelSelectors: {app: db}}
        """

    func workflow(_ name: String, entry: String = "entry", _ templates: String) throws -> ChaosDocument {
        try document("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: Workflow
            metadata: {name: \(name), namespace: shop}
            spec:
              entry: \(entry)
              templates:
            \(templates)
            """)
    }

    func serialWorkflow() throws -> ChaosDocument {
        try workflow("serial", """
                - name: entry
                  templateType: Serial
                  children: [delay, kill]
            \(Self.delayLeaf)
            \(Self.killLeaf)
            """)
    }

    /// The targets of the experiments with `label` (a workflow node's), by kind.
    func experiments(_ controller: Controller, kind: ChaosKind) async -> [ExperimentRecord] {
        await controller.allExperiments().filter { $0.kind == kind }
    }

    @Test func serialRunsItsChildrenInOrder() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(serialWorkflow()).uid
        await settle(controller)
        // The delay first, on the three web pods; no pod-kill yet.
        let delay = try #require(await experiments(controller, kind: .networkChaos).first)
        #expect(delay.allInjected && delay.records.count == 3)
        #expect(await experiments(controller, kind: .podChaos).isEmpty)
        #expect(delay.document.metadata.labels?[WorkflowEngine.workflowLabel] == "serial")
        clock.advance(9)
        await settle(controller)
        #expect(await experiments(controller, kind: .podChaos).isEmpty)
        #expect(await daemon.activeCount == 3)

        // At its deadline the delay is recovered before the pod-kill starts.
        clock.advance(1)
        await settle(controller)
        #expect(await experiments(controller, kind: .networkChaos).isEmpty, "the delay's experiment is archived")
        #expect(await daemon.recovered.count == 3)
        let kill = try #require(await experiments(controller, kind: .podChaos).first)
        #expect(kill.records.map(\.pod.name) == ["db-1"] && kill.records[0].injectedCount == 1)
        let record = try #require(await controller.workflow(uid))
        #expect(record.state.nodes.map(\.templateName) == ["entry", "delay", "kill"])
        #expect(record.state[node: record.state.nodes[1].name]?.phase == .deadlineExceed)
        #expect(record.phase == .running)

        clock.advance(5)
        await settle(controller)
        let done = try #require(await controller.workflow(uid))
        #expect(done.phase == .accomplished)
        #expect(done.state.nodes.allSatisfy { $0.isFinished })
        #expect(await controller.isSettled(uid))
        let left = await controller.allExperiments().map { "\($0.kind) deleted=\($0.isDeleted) finished=\($0.finishedAt != nil) \($0.records.map(\.phase))" }
        #expect(left.isEmpty, "every leaf's experiment deleted and archived: \(left)")
        let reasons = try await controller.events(EventFilter(objectID: uid)).map(\.reason)
        #expect(reasons.contains("Created") && reasons.contains("Accomplished") && reasons.contains("NodeCreated"))
    }

    @Test func parallelChildrenOverlap() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(workflow("parallel", """
                - name: entry
                  templateType: Parallel
                  children: [delay, stress]
            \(Self.delayLeaf)
                - name: stress
                  templateType: StressChaos
                  deadline: 6s
                  stressChaos:
                    mode: all
                    selector: {labelSelectors: {app: db}}
                    stressors: {cpu: {workers: 1, load: 20}}
            """)).uid
        await settle(controller)
        #expect(await experiments(controller, kind: .networkChaos).first?.allInjected == true)
        #expect(await experiments(controller, kind: .stressChaos).first?.allInjected == true)
        #expect(await daemon.activeCount == 4)
        clock.advance(6)
        await settle(controller)
        #expect(await experiments(controller, kind: .stressChaos).isEmpty, "the shorter one ends at its own deadline")
        #expect(await daemon.activeCount == 3)
        clock.advance(4)
        await settle(controller)
        #expect(await daemon.activeCount == 0)
        #expect(await controller.workflow(uid)?.phase == .accomplished)
    }

    @Test func nestedSerialInParallelInSerial() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(workflow("nested", """
                - name: entry
                  templateType: Serial
                  children: [both, kill]
                - name: both
                  templateType: Parallel
                  children: [steps, pause]
                - name: steps
                  templateType: Serial
                  children: [delay]
                - name: pause
                  templateType: Suspend
                  deadline: 3s
            \(Self.delayLeaf)
            \(Self.killLeaf)
            """)).uid
        await settle(controller)
        #expect(await daemon.activeCount == 3)
        clock.advance(3)
        await settle(controller)
        #expect(await daemon.activeCount == 3, "the parallel waits for its slower child")
        #expect(await experiments(controller, kind: .podChaos).isEmpty)
        clock.advance(7)
        await settle(controller)
        #expect(await experiments(controller, kind: .podChaos).count == 1)
        clock.advance(5)
        await settle(controller)
        let record = try #require(await controller.workflow(uid))
        #expect(record.phase == .accomplished)
        #expect(record.state.nodes.map(\.templateName) == ["entry", "both", "steps", "pause", "delay", "kill"])
    }

    @Test func failingStatusCheckAbortsAndRecoversEverything() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let prober = SwitchProber()
        let controller = try makeController(daemon, clock: clock, prober: prober)
        let uid = try await controller.apply(workflow("guarded", """
                - name: entry
                  templateType: Parallel
                  children: [delay, health]
            \(Self.delayLeaf)
                - name: health
                  templateType: StatusCheck
                  deadline: 60s
                  abortWithStatusCheck: true
                  statusCheck:
                    mode: Continuous
                    type: HTTP
                    intervalSeconds: 1
                    failureThreshold: 2
                    http: {url: "http://127.0.0.1:9/health", criteria: {statusCode: "200"}}
            """)).uid
        await settle(controller)
        #expect(await daemon.activeCount == 3)
        for _ in 0..<3 {
            clock.advance(1)
            await settle(controller, passes: 1)
        }
        #expect(prober.count == 3)
        #expect(await daemon.activeCount == 3)
        prober.failing = true
        clock.advance(1)
        await settle(controller, passes: 1)
        #expect(await daemon.activeCount == 3, "one failure is below the threshold")
        clock.advance(1)
        // The second failure, the abort and every recovery: one pass.
        await settle(controller, passes: 1)
        #expect(await daemon.activeCount == 0)
        let record = try #require(await controller.workflow(uid))
        #expect(record.phase == .aborted)
        #expect(record.state.abort?.reason.contains("2 failed probes in a row") == true)
        let health = try #require(record.state.nodes.first { $0.templateName == "health" })
        #expect(health.hasCondition(.aborted) && health.statusCheckOutcome?.succeeded == false)
        await settle(controller)
        #expect(await controller.isSettled(uid))
        #expect(await controller.allStatusChecks().isEmpty, "the check is stopped and archived")
        #expect(try controller.store.archives().contains { $0.kind == "StatusCheck" })
    }

    @Test func resumesAfterARestartWhereItWas() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-wf-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = RecordingDaemon(), clock = ManualClock()
        var controller: Controller? = try makeController(daemon, clock: clock, store: SQLiteExperimentStore(directory: directory))
        let uid = try await controller!.apply(serialWorkflow()).uid
        await settle(controller!)
        let nodesBefore = try #require(await controller!.workflow(uid)).state.nodes.map(\.name)
        clock.advance(4)
        controller = nil  // a crash: the host keeps its faults

        let restarted = try makeController(daemon, clock: clock, store: SQLiteExperimentStore(directory: directory))
        await restarted.restore()
        await settle(restarted)
        let record = try #require(await restarted.workflow(uid))
        #expect(record.state.nodes.map(\.name) == nodesBefore, "the same nodes: nothing started again")
        #expect(await experiments(restarted, kind: .networkChaos).count == 1)
        #expect(await daemon.activeCount == 3)
        #expect(await daemon.recovered.isEmpty)
        clock.advance(6)
        await settle(restarted)
        #expect(await daemon.recovered.count == 3)
        #expect(await experiments(restarted, kind: .podChaos).count == 1)
        clock.advance(5)
        await settle(restarted)
        #expect(await restarted.workflow(uid)?.phase == .accomplished)
    }

    @Test func deleteRecoversEveryLeafThenArchives() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(serialWorkflow()).uid
        await settle(controller)
        #expect(await daemon.activeCount == 3)
        try await controller.delete(uid)
        #expect(await controller.workflow(uid)?.phase == .deleting)
        await settle(controller)
        #expect(await daemon.activeCount == 0)
        #expect(await controller.workflow(uid) == nil)
        #expect(await controller.allExperiments().isEmpty)
        let archive = try #require(try controller.store.archive(uid))
        #expect(archive.kind == "Workflow")
        #expect(archive.object.objectValue?["status"]?.objectValue?["nodes"] != nil)
    }

    @Test func pauseIsRefusedAsInChaosMesh() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(serialWorkflow()).uid
        await #expect(throws: ControllerError.self) { try await controller.setPaused(uid, true) }
        do {
            try await controller.setPaused(uid, true)
        } catch let error as ControllerError {
            #expect(error.code == .unsupported && error.message.contains("cannot be paused"))
        }
    }

    @Test func abortAnnotationAbortsARunningWorkflow() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        var document = try serialWorkflow()
        let uid = try await controller.apply(document).uid
        await settle(controller)
        #expect(await daemon.activeCount == 3)
        document.metadata.annotations = [WorkflowEngine.abortAnnotation: "true"]
        #expect(try await controller.apply(document).result == .configured)
        await settle(controller)
        #expect(await daemon.activeCount == 0)
        #expect(await controller.workflow(uid)?.phase == .aborted)
        #expect(await experiments(controller, kind: .podChaos).isEmpty, "nothing starts after an abort")
    }

    @Test func theEmergencyStopAbortsRunningWorkflows() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(serialWorkflow()).uid
        await settle(controller)
        #expect(await daemon.activeCount == 3)
        #expect(await controller.halt() == 3)
        await settle(controller)
        #expect(await controller.workflow(uid)?.phase == .aborted)
        try await controller.unhalt()
        clock.advance(10)
        await settle(controller)
        #expect(await daemon.activeCount == 0, "nothing of the aborted workflow comes back after unhalt")
        #expect(await experiments(controller, kind: .podChaos).isEmpty)
    }

    @Test func taskResultPicksItsBranch() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(workflow("branches", """
                - name: entry
                  templateType: Task
                  task:
                    container: {name: probe, image: busybox, command: [echo, branch-b]}
                  conditionalBranches:
                    - {target: kill, expression: 'exitCode == 0 && stdout == "branch-a"'}
                    - {target: delay, expression: 'exitCode == 0 && stdout == "branch-b"'}
            \(Self.delayLeaf)
            \(Self.killLeaf)
            """)).uid
        await settle(controller)
        #expect(await daemon.tasks.map(\.command) == [["echo", "branch-b"]])
        #expect(await experiments(controller, kind: .networkChaos).count == 1)
        #expect(await experiments(controller, kind: .podChaos).isEmpty)
        let entry = try #require(await controller.workflow(uid)?.state.entry)
        #expect(entry.taskResult == TaskResult(exitCode: 0, stdout: "branch-b"))
        #expect(entry.branches?.map(\.evaluation) == [.doesNotHold, .holds])
    }

    @Test func scheduleOfTypeWorkflowSpawnsRuns() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let schedule = try await controller.apply(document("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: Schedule
            metadata: {name: nightly, namespace: shop}
            spec:
              schedule: "@every 30s"
              type: Workflow
              historyLimit: 1
              workflow:
                entry: entry
                templates:
                  - name: entry
                    templateType: Serial
                    children: [delay]
            \(Self.delayLeaf.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            """)).uid
        await settle(controller)
        #expect(await controller.allWorkflows().isEmpty)
        clock.advance(30)
        await settle(controller)
        let run = try #require(await controller.allWorkflows().first)
        #expect(run.scheduleUID == schedule && run.name.hasPrefix("nightly-"))
        #expect(await daemon.activeCount == 3)
        clock.advance(10)
        await settle(controller)
        #expect(await controller.workflow(run.uid)?.phase == .accomplished)
        #expect(await daemon.activeCount == 0)
        clock.advance(20)
        await settle(controller)
        #expect(await controller.allWorkflows().count == 2, "the next run, the finished one kept (historyLimit 1)")
        try await controller.delete(schedule)
        await settle(controller)
        #expect(await controller.allWorkflows().isEmpty)
        #expect(await daemon.activeCount == 0)
    }

    @Test func scheduleLeafSpawnsRunsUntilItsDeadline() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(workflow("repeating", """
                - name: entry
                  templateType: Schedule
                  deadline: 25s
                  schedule:
                    schedule: "@every 10s"
                    type: NetworkChaos
                    historyLimit: 5
                    networkChaos:
                      action: delay
                      mode: all
                      selector: {labelSelectors: {app: web}}
                      delay: {latency: 10ms}
                      duration: 3s
            """)).uid
        await settle(controller)
        let schedule = try #require(await controller.allSchedules().first)
        #expect(schedule.document.metadata.labels?[WorkflowEngine.workflowLabel] == "repeating")
        // Runs at 10 s and 20 s, each 3 s long; the node ends at 25 s.
        for step in 1...2 {
            clock.advance(step == 1 ? 10 : 7)
            await settle(controller)
            #expect(await daemon.activeCount == 3, "run \(step) injected")
            clock.advance(3)
            await settle(controller)
            #expect(await daemon.activeCount == 0, "run \(step) over after its 3 s")
        }
        clock.advance(2)
        await settle(controller)
        #expect(await controller.workflow(uid)?.phase == .accomplished)
        #expect(await controller.allSchedules().isEmpty, "the Schedule is deleted at the node's deadline")
        #expect(await daemon.activeCount == 0)
    }

    @Test func standaloneStatusCheckKeepsItsHistory() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let prober = SwitchProber()
        let controller = try makeController(daemon, clock: clock, prober: prober)
        let uid = try await controller.apply(document("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: StatusCheck
            metadata: {name: api-health, namespace: shop}
            spec:
              mode: Synchronous
              type: HTTP
              intervalSeconds: 2
              successThreshold: 3
              recordsHistoryLimit: 2
              http: {url: "http://127.0.0.1:9/health", criteria: {statusCode: "200"}}
            """)).uid
        for _ in 0..<3 {
            clock.advance(2)
            await settle(controller, passes: 1)
        }
        let record = try #require(await controller.statusCheck(uid))
        #expect(record.state.outcome == .succeeded && record.state.count == 3)
        #expect(record.state.records.count == 2, "history bounded by recordsHistoryLimit")
        let status = try #require(record.status.objectValue)
        #expect(status["count"] == .integer(3) && status["completionTime"] != nil)
        let events = try await controller.events(EventFilter(objectID: uid)).map(\.reason)
        #expect(events.contains("StatusCheckCompleted") && events.contains("StatusCheckExecutionSucceed"))
        clock.advance(10)
        await settle(controller)
        #expect(prober.count == 3, "a completed check probes no more")
        try await controller.delete(uid)
        #expect(await controller.statusCheck(uid) == nil)
        #expect(try controller.store.archive(uid)?.kind == "StatusCheck")
    }

    @Test func tasksAreRefusedWhereTheHostDoesNotAllowThem() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        var configuration = Controller.Configuration(supportedKinds: [.networkChaos])
        configuration.clock = { clock.now }
        configuration.watchInterval = nil
        configuration.runsTasks = false
        let controller = try Controller(agent: daemon, inventory: StaticInventory(webPods), store: InMemoryExperimentStore(),
                                        configuration: configuration)
        let tasked = try workflow("tasked", """
                - name: entry
                  templateType: Task
                  task:
                    container: {name: run, image: busybox, command: [id]}
            """)
        do {
            _ = try await controller.apply(tasked)
            Issue.record("a Task was accepted without --allow-tasks")
        } catch let error as ControllerError {
            #expect(error.message.contains("spec.templates[0] (entry)") && error.message.contains("--allow-tasks"))
        }
        #expect(await controller.allWorkflows().isEmpty)
        #expect(await daemon.tasks.isEmpty)
    }

    @Test func refusedBeforeAnythingRuns() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock, prober: nil)
        let time = try workflow("timely", """
                - name: entry
                  templateType: TimeChaos
                  deadline: 10s
                  timeChaos:
                    mode: all
                    selector: {labelSelectors: {app: web}}
                    timeOffset: "-1h"
            """)
        do {
            _ = try await controller.apply(time)
            Issue.record("a TimeChaos leaf was accepted")
        } catch let error as ControllerError {
            #expect(error.message.contains("spec.templates[0] (entry)") && error.message.contains("TimeChaos"))
        }
        let check = try workflow("checked", """
                - name: entry
                  templateType: StatusCheck
                  deadline: 10s
                  statusCheck:
                    type: HTTP
                    http: {url: "http://127.0.0.1:9/", criteria: {statusCode: "200"}}
            """)
        await #expect(throws: ControllerError.self) { _ = try await controller.apply(check) }
        #expect(await controller.allWorkflows().isEmpty)
    }
}
