import Foundation
import Testing
@testable import TumultController
import TumultModel

/// The workflow engine step by step, with a manual clock: each template
/// type, deadlines of leaves and parents, branches, status checks and
/// aborts, deletion, and resuming from a stored state.
@Suite struct WorkflowEngineTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func at(_ seconds: Double) -> Date { start.addingTimeInterval(seconds) }

    /// A NetworkChaos template (delay) or, with `podKill`, a one-shot PodChaos.
    static func chaos(_ name: String, deadline: String? = nil, podKill: Bool = false) -> String {
        var lines = ["- name: \(name)", "  templateType: \(podKill ? "PodChaos" : "NetworkChaos")"]
        if let deadline { lines.append("  deadline: \(deadline)") }
        if podKill {
            lines += ["  podChaos:", "    action: pod-kill", "    mode: one"]
        } else {
            lines += ["  networkChaos:", "    action: delay", "    mode: all", "    delay:", "      latency: 10ms"]
        }
        lines += ["    selector:", "      labelSelectors:", "        app: web"]
        return lines.joined(separator: "\n")
    }

    static func composite(_ name: String, _ type: String, _ children: [String], deadline: String? = nil) -> String {
        var lines = ["- name: \(name)", "  templateType: \(type)"]
        if let deadline { lines.append("  deadline: \(deadline)") }
        lines.append("  children: [\(children.joined(separator: ", "))]")
        return lines.joined(separator: "\n")
    }

    static func suspend(_ name: String, _ deadline: String) -> String {
        "- name: \(name)\n  templateType: Suspend\n  deadline: \(deadline)"
    }

    static func task(_ name: String, command: [String], branches: [(String, String?)] = [], deadline: String? = nil) -> String {
        var lines = ["- name: \(name)", "  templateType: Task"]
        if let deadline { lines.append("  deadline: \(deadline)") }
        lines += ["  task:", "    container:", "      name: main", "      image: busybox",
                  "      command: [\(command.map { "\"\($0)\"" }.joined(separator: ", "))]"]
        if !branches.isEmpty {
            lines.append("  conditionalBranches:")
            for (target, expression) in branches {
                lines.append("    - target: \(target)")
                if let expression { lines.append("      expression: '\(expression)'") }
            }
        }
        return lines.joined(separator: "\n")
    }

    static func statusCheck(_ name: String, mode: String = "Synchronous", deadline: String? = nil,
                            abort: Bool = false) -> String {
        var lines = ["- name: \(name)", "  templateType: StatusCheck"]
        if let deadline { lines.append("  deadline: \(deadline)") }
        if abort { lines.append("  abortWithStatusCheck: true") }
        lines += ["  statusCheck:", "    mode: \(mode)", "    type: HTTP", "    http:", "      url: http://web.local/health",
                  "      criteria:", "        statusCode: \"200\""]
        return lines.joined(separator: "\n")
    }

    static func spec(_ templates: String...) throws -> WorkflowSpec {
        try workflowSpec(workflowYAML(templates.joined(separator: "\n")))
    }

    /// Runs to the end with a seeded generator; returns the state, host and end time.
    static func run(_ spec: WorkflowSpec, until end: Double? = nil, seed: UInt64 = 1,
                    host configure: (inout WorkflowHost) -> Void = { _ in }) -> (WorkflowState, WorkflowHost, Double) {
        var state = WorkflowState(workflowName: "test-workflow", namespace: "chaos")
        var host = WorkflowHost(origin: start)
        configure(&host)
        var generator = SplitMix64(seed: seed)
        let stopped = drive(&state, spec, host: &host, from: start, until: end.map(at), generator: &generator)
        return (state, host, stopped.timeIntervalSince(start))
    }

    static func nodes(_ state: WorkflowState, template: String) -> [WorkflowNode] {
        state.nodes.filter { $0.templateName == template }
    }

    static func node(_ state: WorkflowState, _ template: String) throws -> WorkflowNode {
        try #require(nodes(state, template: template).first, "no node of \(template)")
    }

    // MARK: Template types

    @Test func serialRunsChildrenOneAfterAnother() throws {
        let spec = try Self.spec(Self.composite("entry", "Serial", ["a", "pause", "b"]),
                                 Self.chaos("a", deadline: "10s"), Self.suspend("pause", "5s"),
                                 Self.chaos("b", deadline: "10s"))
        let (state, host, end) = Self.run(spec)
        #expect(host.timeline == ["+a@0", "-a@10", "+b@15", "-b@25"])
        #expect(end == 25)
        #expect(state.phase == .accomplished)
        #expect(state.conditions == [WorkflowCondition(type: .scheduled, status: true),
                                     WorkflowCondition(type: .accomplished, status: true)])
        #expect(state.startTime == Self.start && state.endTime == Self.at(25))
        let entry = try #require(state.entry)
        #expect(entry.condition(.accomplished)?.reason == WorkflowNodeCondition.Reason.nodeAccomplished)
        #expect(entry.children.map(WorkflowHost.template(of:)) == ["a", "pause", "b"])
        #expect(try Self.node(state, "a").phase == .deadlineExceed)
        #expect(try Self.node(state, "pause").condition(.deadlineExceed)?.reason == "NodeDeadlineExceed")
        #expect(try Self.node(state, "a").resourceUID == "uid-1")
        #expect(try Self.node(state, "a").condition(.chaosInjected) ==
                WorkflowNodeCondition(type: .chaosInjected, status: false, reason: "ChaosCRNotExists"))
    }

    @Test func parallelStartsAllChildrenAtOnceAndEndsWithTheLast() throws {
        let spec = try Self.spec(Self.composite("entry", "Parallel", ["a", "b", "pause"]),
                                 Self.chaos("a", deadline: "10s"), Self.chaos("b", deadline: "20s"),
                                 Self.suspend("pause", "5s"))
        let (state, host, end) = Self.run(spec)
        #expect(host.timeline == ["+a@0", "+b@0", "-a@10", "-b@20"])
        #expect(end == 20)
        #expect(state.entry?.phase == .accomplished)
        #expect(state.entry?.finishedAt == Self.at(20))
    }

    @Test func suspendWaitsForItsDeadlineAndEndsAsDeadlineExceed() throws {
        let spec = try Self.spec(Self.suspend("entry", "30s"))
        var state = WorkflowState(workflowName: "w", namespace: "chaos")
        var generator = SplitMix64(seed: 1)
        let first = WorkflowEngine.advance(&state, spec: spec, at: Self.start, observed: [:], using: &generator)
        #expect(first == [.wake(at: Self.at(30))])
        #expect(state.entry?.phase == .running)
        #expect(WorkflowEngine.advance(&state, spec: spec, at: Self.at(29), observed: [:], using: &generator)
                == [.wake(at: Self.at(30))])
        #expect(WorkflowEngine.advance(&state, spec: spec, at: Self.at(30), observed: [:], using: &generator) == [])
        #expect(state.entry?.phase == .deadlineExceed)
        #expect(state.isFinished && state.endTime == Self.at(30))
    }

    @Test func chaosLeafCreatesOneExperimentWithoutDurationAndDeletesItAtItsDeadline() throws {
        let spec = try Self.spec(Self.chaos("entry", deadline: "20s"))
        var state = WorkflowState(workflowName: "w", namespace: "chaos")
        var generator = SplitMix64(seed: 7)
        let actions = WorkflowEngine.advance(&state, spec: spec, at: Self.start, observed: [:], using: &generator)
        let node = try #require(state.entry)
        guard case .createChaos(let name, let document)? = actions.first else {
            Issue.record("expected a createChaos, got \(actions)")
            return
        }
        #expect(name == node.name && node.name.hasPrefix("entry-") && node.name.count == "entry-".count + 5)
        #expect(document.kind == .networkChaos)
        #expect(document.spec.duration == nil)
        #expect(document.name == node.resourceName && document.name.hasPrefix(node.name + "-"))
        #expect(document.namespace == "chaos")
        #expect(document.metadata.labels == ["chaos-mesh.org/controlled-by": node.name, "chaos-mesh.org/workflow": "w"])
        #expect(actions.last == .wake(at: Self.at(20)))
        // Asked for again until the controller reports it, then never again.
        let again = WorkflowEngine.advance(&state, spec: spec, at: Self.at(1), observed: [:], using: &generator)
        #expect(again.first == actions.first)
        let observed: [String: LeafObservation] = [node.name: .chaos(uid: "u1", .injected)]
        #expect(WorkflowEngine.advance(&state, spec: spec, at: Self.at(2), observed: observed, using: &generator)
                == [.wake(at: Self.at(20))])
        #expect(state.entry?.condition(.chaosInjected)?.reason == "ChaosCRCreated")
        #expect(WorkflowEngine.advance(&state, spec: spec, at: Self.at(20), observed: observed, using: &generator)
                == [.deleteChaos(node: node.name, uid: "u1")])
        #expect(WorkflowEngine.advance(&state, spec: spec, at: Self.at(21), observed: [:], using: &generator) == [])
        #expect(WorkflowEngine.isSettled(state, observed: [:]))
    }

    @Test func oneShotLeafWaitsForItsDeadlineAndEndsWhenItHasNone() throws {
        // With a deadline, a pod-kill node lasts its whole deadline (Chaos Mesh).
        let timed = try Self.spec(Self.composite("entry", "Serial", ["kill", "b"]),
                                  Self.chaos("kill", deadline: "30s", podKill: true), Self.chaos("b", deadline: "5s"))
        let (_, timedHost, timedEnd) = Self.run(timed)
        #expect(timedHost.timeline == ["+kill@0", "-kill@30", "+b@30", "-b@35"])
        #expect(timedEnd == 35)
        // Without one, it ends once the kill is done.
        let untimed = try Self.spec(Self.composite("entry", "Serial", ["kill", "b"]),
                                    Self.chaos("kill", podKill: true), Self.chaos("b", deadline: "5s"))
        let (state, host, end) = Self.run(untimed)
        #expect(host.timeline == ["+kill@0", "-kill@0", "+b@0", "-b@5"])
        #expect(end == 5)
        #expect(try Self.node(state, "kill").phase == .accomplished)
    }

    @Test func chaosLeafWithoutDeadlineRunsUntilItsParentsDeadline() throws {
        let spec = try Self.spec(Self.composite("entry", "Parallel", ["a", "b"], deadline: "60s"),
                                 Self.chaos("a"), Self.chaos("b", deadline: "10s"))
        let (state, host, end) = Self.run(spec)
        #expect(host.timeline == ["+a@0", "+b@0", "-b@10", "-a@60"])
        #expect(end == 60)
        #expect(try Self.node(state, "a").condition(.deadlineExceed)?.reason == "ParentNodeDeadlineExceed")
        #expect(state.entry?.condition(.deadlineExceed)?.reason == "NodeDeadlineExceed")
        #expect(state.isFinished)
    }

    @Test func experimentDeletedBySomeoneElseIsNotRecreated() throws {
        let spec = try Self.spec(Self.chaos("entry", deadline: "20s"))
        var state = WorkflowState(workflowName: "w", namespace: "chaos")
        var generator = SplitMix64(seed: 1)
        _ = WorkflowEngine.advance(&state, spec: spec, at: Self.start, observed: [:], using: &generator)
        let name = try #require(state.entryNode)
        _ = WorkflowEngine.advance(&state, spec: spec, at: Self.at(1), observed: [name: .chaos(uid: "u", .injected)],
                                   using: &generator)
        let actions = WorkflowEngine.advance(&state, spec: spec, at: Self.at(5), observed: [:], using: &generator)
        #expect(actions == [.wake(at: Self.at(20))])
        #expect(state.entry?.condition(.chaosInjected)?.status == false)
    }

    @Test func failedExperimentIsRecordedAndTheNodeKeepsItsDeadline() throws {
        let spec = try Self.spec(Self.chaos("entry", deadline: "20s"))
        var state = WorkflowState(workflowName: "w", namespace: "chaos")
        var generator = SplitMix64(seed: 1)
        _ = WorkflowEngine.advance(&state, spec: spec, at: Self.start, observed: [:], using: &generator)
        let name = try #require(state.entryNode)
        let observed: [String: LeafObservation] = [name: .chaos(uid: "u", .failed("no target selected"))]
        _ = WorkflowEngine.advance(&state, spec: spec, at: Self.at(1), observed: observed, using: &generator)
        #expect(state.entry?.failure == "no target selected")
        #expect(state.entry?.phase == .running)
        _ = WorkflowEngine.advance(&state, spec: spec, at: Self.at(20), observed: observed, using: &generator)
        #expect(state.entry?.phase == .failed)
    }

    @Test func scheduleLeafCreatesAScheduleAndDeletesItAtItsDeadline() throws {
        let spec = try Self.spec("""
        - name: entry
          templateType: Schedule
          deadline: 40s
          schedule:
            schedule: "@every 2s"
            concurrencyPolicy: Allow
            type: PodChaos
            podChaos:
              action: pod-kill
              mode: one
              selector:
                labelSelectors:
                  app: web
        """)
        var state = WorkflowState(workflowName: "w", namespace: "chaos")
        var host = WorkflowHost(origin: Self.start)
        var generator = SplitMix64(seed: 3)
        let actions = WorkflowEngine.advance(&state, spec: spec, at: Self.start, observed: [:], using: &generator)
        guard case .createSchedule(_, let document)? = actions.first else {
            Issue.record("expected createSchedule, got \(actions)")
            return
        }
        #expect(document.kind == .schedule)
        #expect((document.spec as? ScheduleSpec)?.schedule.text == "@every 2s")
        host.perform(actions, at: Self.start)
        drive(&state, spec, host: &host, from: Self.start, generator: &generator)
        #expect(host.timeline == ["+entry@0", "-entry@40"])
        #expect(state.entry?.phase == .deadlineExceed)
    }

    // MARK: Deadlines of parents

    @Test func parentDeadlineStopsRunningDescendantsAndStartsNothingMore() throws {
        let spec = try Self.spec(Self.composite("entry", "Serial", ["a", "inner", "c"], deadline: "15s"),
                                 Self.chaos("a", deadline: "10s"),
                                 Self.composite("inner", "Parallel", ["b", "pause"]),
                                 Self.chaos("b", deadline: "30s"), Self.suspend("pause", "30s"),
                                 Self.chaos("c", deadline: "5s"))
        let (state, host, end) = Self.run(spec)
        #expect(host.timeline == ["+a@0", "-a@10", "+b@10", "-b@15"])
        #expect(end == 15)
        #expect(state.entry?.condition(.deadlineExceed)?.reason == "NodeDeadlineExceed")
        for template in ["inner", "b", "pause"] {
            #expect(try Self.node(state, template).condition(.deadlineExceed)?.reason == "ParentNodeDeadlineExceed",
                    "\(template)")
            #expect(try Self.node(state, template).finishedAt == Self.at(15))
        }
        #expect(try Self.node(state, "a").condition(.deadlineExceed)?.reason == "NodeDeadlineExceed")
        #expect(Self.nodes(state, template: "c").isEmpty)
        #expect(state.isFinished)
    }

    @Test func wakeIsTheEarliestDeadlineAhead() throws {
        let spec = try Self.spec(Self.composite("entry", "Parallel", ["a", "b"], deadline: "90s"),
                                 Self.chaos("a", deadline: "30s"), Self.suspend("b", "12s"))
        var state = WorkflowState(workflowName: "w", namespace: "chaos")
        var generator = SplitMix64(seed: 1)
        let actions = WorkflowEngine.advance(&state, spec: spec, at: Self.start, observed: [:], using: &generator)
        #expect(actions.filter { if case .wake = $0 { true } else { false } } == [.wake(at: Self.at(12))])
        #expect(actions.last == .wake(at: Self.at(12)))
    }

    // MARK: Nesting

    /// Serial [x, Parallel [Serial [p1, p2], q], y]: leaves start and stop in
    /// this order (at one moment, stops first, then starts oldest node first).
    @Test func nestedSerialInParallelInSerialStartsAndStopsLeavesInOrder() throws {
        let spec = try Self.spec(Self.composite("entry", "Serial", ["x", "fan", "y"]),
                                 Self.chaos("x", deadline: "5s"),
                                 Self.composite("fan", "Parallel", ["chain", "q"]),
                                 Self.composite("chain", "Serial", ["p1", "p2"]),
                                 Self.chaos("p1", deadline: "10s"), Self.chaos("p2", deadline: "10s"),
                                 Self.chaos("q", deadline: "15s"), Self.chaos("y", deadline: "5s", podKill: true))
        let (state, host, end) = Self.run(spec)
        #expect(host.timeline == ["+x@0", "-x@5", "+q@5", "+p1@5", "-p1@15", "+p2@15", "-q@20", "-p2@25",
                                  "+y@25", "-y@30"])
        #expect(end == 30)
        let fan = try Self.node(state, "fan")
        #expect(fan.finishedAt == Self.at(25) && fan.phase == .accomplished)
        #expect(fan.children.map(WorkflowHost.template(of:)) == ["chain", "q"])
        #expect(try Self.node(state, "chain").parent == fan.name)
        #expect(state.nodes.map(\.templateName) == ["entry", "x", "fan", "chain", "q", "p1", "p2", "y"])
    }

    // MARK: Tasks and branches

    @Test func taskSpawnsTheTargetsOfTheBranchesThatHold() throws {
        let spec = try Self.spec(
            Self.task("entry", command: ["echo", "branch-b"], branches: [
                ("a", "exitCode == 0 && stdout == \"branch-a\""),
                ("b", "exitCode == 0 && stdout == \"branch-b\""),
                ("c", "stdout startsWith \"branch\" and exitCode in [0, 2]"),
                ("d", "exitCode != 0"),
            ]),
            Self.chaos("a", deadline: "10s"), Self.chaos("b", deadline: "10s"), Self.suspend("c", "20s"),
            Self.chaos("d", deadline: "10s"))
        let (state, host, end) = Self.run(spec)
        #expect(host.timeline == ["+entry@0", "-entry@1", "+b@1", "-b@11"])
        #expect(end == 21)
        let entry = try #require(state.entry)
        #expect(entry.taskResult == TaskResult(exitCode: 0, stdout: "branch-b"))
        #expect(entry.branches?.map(\.evaluation) == [.doesNotHold, .holds, .holds, .doesNotHold])
        #expect(entry.branches?.map { $0.node.map(WorkflowHost.template(of:)) } == [nil, "b", "c", nil])
        #expect(entry.children.map(WorkflowHost.template(of:)) == ["b", "c"])
        #expect(entry.phase == .accomplished && entry.finishedAt == Self.at(21))
    }

    @Test func nonZeroExitCodeTakesTheFailureBranch() throws {
        let spec = try Self.spec(
            Self.task("entry", command: ["sh", "-c", "exit 3"], branches: [("ok", "exitCode == 0"),
                                                                            ("failed", "exitCode != 0")]),
            Self.suspend("ok", "5s"), Self.task("failed", command: ["curl", "-XPOST", "http://hook"]))
        let (state, host, end) = Self.run(spec)
        #expect(host.timeline == ["+entry@0", "-entry@1", "+failed@1", "-failed@2"])
        #expect(end == 2)
        #expect(state.entry?.taskResult?.exitCode == 3)
        // A task without branches is accomplished once it ran.
        #expect(try Self.node(state, "failed").phase == .accomplished)
        #expect(try Self.node(state, "failed").branches == [])
    }

    @Test func noBranchHoldingEndsTheTaskAtOnceAndABlankExpressionAlwaysHolds() throws {
        let none = try Self.spec(Self.task("entry", command: ["echo", "x"], branches: [("a", "stdout == \"y\"")]),
                                 Self.suspend("a", "5s"))
        let (noneState, _, noneEnd) = Self.run(none)
        #expect(noneEnd == 1 && noneState.entry?.phase == .accomplished)
        let always = try Self.spec(Self.task("entry", command: ["echo", "x"], branches: [("a", nil), ("a", "")]),
                                   Self.suspend("a", "5s"))
        let (alwaysState, _, alwaysEnd) = Self.run(always)
        #expect(alwaysEnd == 6)
        #expect(alwaysState.entry?.children.count == 2)
    }

    @Test func stdoutIsTrimmedLikeChaosMeshsCollector() throws {
        let spec = try Self.spec(Self.task("entry", command: ["echo", "ok"], branches: [("a", "stdout == \"ok\"")]),
                                 Self.suspend("a", "5s"))
        let (state, _, _) = Self.run(spec) { host in host.task = { _ in (0, "\n  ok \n") } }
        #expect(state.entry?.taskResult?.stdout == "ok")
        #expect(state.entry?.branches?.first?.evaluation == .holds)
    }

    @Test func branchThatCannotBeEvaluatedIsUnknownWithItsFieldPath() throws {
        // Validation refuses what does not parse, so a stored state from
        // before is what meets it; here the spec is edited after loading.
        var spec = try Self.spec(Self.task("entry", command: ["echo", "x"], branches: [("a", "exitCode == 0"),
                                                                                        ("a", "stdout > 3")]),
                                 Self.suspend("a", "5s"))
        spec.templates[0].conditionalBranches?[0].expression = "exitCode = 0"
        let (state, _, end) = Self.run(spec)
        let branches = try #require(state.entry?.branches)
        #expect(branches.map(\.evaluation) == [.unknown, .unknown])
        #expect(branches[0].message?.hasPrefix("spec.templates[0].conditionalBranches[0].expression: ") == true)
        #expect(branches[0].message?.contains("\"==\"") == true)
        #expect(branches[1].message?.hasPrefix("spec.templates[0].conditionalBranches[1].expression: ") == true)
        #expect(branches[1].message?.contains("string and int") == true)
        #expect(end == 1 && state.entry?.phase == .accomplished)
    }

    @Test func taskThatCannotRunEndsItsNodeWithTheReason() throws {
        let spec = try Self.spec(Self.task("entry", command: ["echo"], branches: [("a", nil)]), Self.suspend("a", "5s"))
        var state = WorkflowState(workflowName: "w", namespace: "chaos")
        var generator = SplitMix64(seed: 1)
        let actions = WorkflowEngine.advance(&state, spec: spec, at: Self.start, observed: [:], using: &generator)
        let name = try #require(state.entryNode)
        guard case .runTask(name, let podName, let task)? = actions.first else {
            Issue.record("expected runTask, got \(actions)")
            return
        }
        #expect(podName.hasPrefix(name + "-"))
        #expect(task.container?.objectValue?["image"] == .string("busybox"))
        let after = WorkflowEngine.advance(&state, spec: spec, at: Self.at(1),
                                           observed: [name: .task(.failed("image not found"))], using: &generator)
        #expect(after == [.stopTask(node: name)])
        #expect(state.entry?.phase == .failed)
        #expect(state.entry?.failure == "the task could not run: image not found")
        #expect(state.entry?.children == [])
    }

    @Test func taskDeadlineKillsTheTaskAndItsBranchesNeverStart() throws {
        let spec = try Self.spec(Self.task("entry", command: ["echo", "x"], branches: [("a", nil)], deadline: "5s"),
                                 Self.suspend("a", "5s"))
        let (state, host, end) = Self.run(spec) { host in host.taskSeconds = 60 }
        #expect(host.timeline == ["+entry@0", "-entry@5"])
        #expect(end == 5)
        #expect(state.entry?.phase == .deadlineExceed && state.entry?.taskResult == nil)
    }

    // MARK: Status checks and aborts

    @Test func synchronousStatusCheckEndsWhenItSucceeds() throws {
        let spec = try Self.spec(Self.composite("entry", "Serial", ["check", "a"]), Self.statusCheck("check"),
                                 Self.chaos("a", deadline: "5s"))
        let (state, host, end) = Self.run(spec)
        #expect(host.timeline == ["+check@0", "-check@1", "+a@1", "-a@6"])
        #expect(end == 6)
        let check = try Self.node(state, "check")
        #expect(check.condition(.accomplished)?.reason == "StatusCheckCompleted")
        #expect(check.statusCheckOutcome == StatusCheckOutcome(succeeded: true))
    }

    @Test func startStatusCheckCarriesTheCheck() throws {
        let spec = try Self.spec(Self.statusCheck("entry", mode: "Continuous"))
        var state = WorkflowState(workflowName: "w", namespace: "chaos")
        var generator = SplitMix64(seed: 1)
        let actions = WorkflowEngine.advance(&state, spec: spec, at: Self.start, observed: [:], using: &generator)
        guard case .startStatusCheck(_, let document)? = actions.first else {
            Issue.record("expected startStatusCheck, got \(actions)")
            return
        }
        #expect(document.kind == .statusCheck)
        #expect((document.spec as? StatusCheckSpec)?.mode == .continuous)
        #expect((document.spec as? StatusCheckSpec)?.http?.url == "http://web.local/health")
    }

    @Test func failedCheckWithoutAbortEndsOnlyItsNode() throws {
        let spec = try Self.spec(Self.composite("entry", "Parallel", ["check", "a"]), Self.statusCheck("check"),
                                 Self.chaos("a", deadline: "20s"))
        let (state, host, end) = Self.run(spec) { host in host.statusCheck = { _ in (3, .failed("3 failures")) } }
        #expect(host.timeline == ["+check@0", "+a@0", "-check@3", "-a@20"])
        #expect(end == 20)
        let check = try Self.node(state, "check")
        #expect(check.phase == .failed && !check.hasCondition(.aborted))
        #expect(check.statusCheckOutcome == StatusCheckOutcome(succeeded: false, message: "3 failures"))
        #expect(!state.isAborted && state.phase == .accomplished)
    }

    @Test func failedCheckWithAbortAbortsEveryRunningNodeAndStopsEveryLeaf() throws {
        let spec = try Self.spec(Self.composite("entry", "Serial", ["fan", "after"]),
                                 Self.composite("fan", "Parallel", ["check", "a", "inner", "job"]),
                                 Self.statusCheck("check", abort: true),
                                 Self.chaos("a", deadline: "60s"),
                                 Self.composite("inner", "Serial", ["b", "c"]),
                                 Self.chaos("b", deadline: "60s"), Self.chaos("c", deadline: "5s"),
                                 Self.task("job", command: ["echo", "x"], branches: [("c", nil)]),
                                 Self.chaos("after", deadline: "5s"))
        let (state, host, end) = Self.run(spec) { host in
            host.statusCheck = { _ in (10, .failed("failure threshold exceeded")) }
            host.taskSeconds = 30
        }
        #expect(host.timeline == ["+check@0", "+a@0", "+job@0", "+b@0", "-check@10", "-a@10", "-job@10", "-b@10"])
        #expect(end == 10)
        #expect(state.isAborted && state.phase == .aborted)
        #expect(state.abort?.reason.contains("failure threshold exceeded") == true)
        #expect(state.isFinished && state.endTime == Self.at(10))
        let check = try Self.node(state, "check")
        #expect(check.condition(.aborted)?.reason == "StatusCheckNotExceedSuccessThreshold")
        #expect(check.condition(.accomplished)?.reason == "StatusCheckCompleted")
        #expect(state.entry?.condition(.aborted)?.reason == "WorkflowAborted")
        for template in ["fan", "a", "inner", "b", "job"] {
            #expect(try Self.node(state, template).condition(.aborted)?.reason == "ParentNodeAborted", "\(template)")
            #expect(try Self.node(state, template).phase == .aborted)
        }
        #expect(Self.nodes(state, template: "after").isEmpty && Self.nodes(state, template: "c").isEmpty)
        // Nothing more happens later.
        var copy = state
        var generator = SplitMix64(seed: 9)
        #expect(WorkflowEngine.advance(&copy, spec: spec, at: Self.at(100), observed: [:], using: &generator) == [])
        #expect(copy == state)
    }

    @Test func continuousCheckRunsUntilItsDeadline() throws {
        let spec = try Self.spec(Self.statusCheck("entry", mode: "Continuous", deadline: "20s", abort: true))
        let (state, host, end) = Self.run(spec)
        #expect(host.timeline == ["+entry@0", "-entry@20"])
        #expect(end == 20)
        #expect(state.entry?.phase == .deadlineExceed && !state.isAborted)
    }

    @Test func abortStopsEveryLeafAndIsKeptOnceFinished() throws {
        let spec = try Self.spec(Self.composite("entry", "Parallel", ["a", "s"]), Self.chaos("a", deadline: "60s"),
                                 Self.suspend("s", "60s"))
        var (state, host, _) = Self.run(spec, until: 5)
        var generator = SplitMix64(seed: 2)
        let actions = WorkflowEngine.abort(&state, spec: spec, reason: "annotation", at: Self.at(5),
                                           observed: host.observed, using: &generator)
        let a = try Self.node(state, "a")
        #expect(actions == [.deleteChaos(node: a.name, uid: "uid-1")])
        host.perform(actions, at: Self.at(5))
        #expect(WorkflowEngine.isSettled(state, observed: host.observed))
        #expect(state.phase == .aborted && state.entry?.condition(.aborted)?.reason == "WorkflowAborted")
        #expect(try Self.node(state, "s").condition(.aborted)?.reason == "ParentNodeAborted")
        // A finished workflow has nothing to abort.
        let short = try Self.spec(Self.suspend("entry", "1s"))
        let (finished, _, _) = Self.run(short)
        var copy = finished
        _ = WorkflowEngine.abort(&copy, spec: short, reason: "late", at: Self.at(9), observed: [:], using: &generator)
        #expect(copy == finished)
        #expect(WorkflowEngine.isAbortRequested(ObjectMeta(annotations: ["workflow.chaos-mesh.org/abort": "true"])))
    }

    // MARK: Delete, pause, resume

    @Test func deleteStopsEveryRunningLeafAndStartsNothing() throws {
        let spec = try Self.spec(Self.composite("entry", "Parallel", ["a", "t", "check", "sched"]),
                                 Self.chaos("a", deadline: "60s"),
                                 Self.task("t", command: ["echo", "x"]),
                                 Self.statusCheck("check", mode: "Continuous"),
                                 """
                                 - name: sched
                                   templateType: Schedule
                                   schedule:
                                     schedule: "@every 5s"
                                     type: PodChaos
                                     podChaos:
                                       action: pod-kill
                                       mode: one
                                       selector:
                                         labelSelectors:
                                           app: web
                                 """)
        var (state, host, _) = Self.run(spec, until: 0.5) { host in host.taskSeconds = 30 }
        #expect(host.observed.count == 4)
        let actions = WorkflowEngine.delete(&state, at: Self.at(0.5), observed: host.observed)
        #expect(actions.count == 4 && actions.allSatisfy { $0.isStop })
        #expect(actions.map { WorkflowHost.template(of: $0.node ?? "") } == ["a", "t", "check", "sched"])
        #expect(state.phase == .deleting)
        #expect(!WorkflowEngine.isSettled(state, observed: host.observed))
        host.perform(actions, at: Self.at(0.5))
        #expect(WorkflowEngine.isSettled(state, observed: host.observed))
        var generator = SplitMix64(seed: 1)
        #expect(WorkflowEngine.advance(&state, spec: spec, at: Self.at(100), observed: host.observed,
                                       using: &generator) == [])
    }

    @Test func pauseIsRefusedWithOneMessage() {
        let message = WorkflowEngine.pauseRefusal(workflow: "nightly")
        #expect(message.hasPrefix("Workflow nightly cannot be paused"))
        #expect(message.contains("workflow.chaos-mesh.org/abort"))
    }

    /// A controller restarted mid-way carries on from the stored JSON alone.
    @Test func resumesFromAnEncodedStateInTheMiddle() throws {
        let spec = try Self.spec(Self.composite("entry", "Serial", ["t", "fan", "z"], deadline: "200s"),
                                 Self.task("t", command: ["echo", "go"], branches: [("x", "stdout == \"go\"")]),
                                 Self.chaos("x", deadline: "10s"),
                                 Self.composite("fan", "Parallel", ["p", "q"]),
                                 Self.chaos("p", deadline: "20s"), Self.suspend("q", "30s"),
                                 Self.chaos("z", deadline: "5s"))
        let (whole, wholeHost, wholeEnd) = Self.run(spec, seed: 42)
        #expect(wholeHost.timeline == ["+t@0", "-t@1", "+x@1", "-x@11", "+p@11", "-p@31", "+z@41", "-z@46"])

        var state = WorkflowState(workflowName: "test-workflow", namespace: "chaos")
        var host = WorkflowHost(origin: Self.start)
        var generator = SplitMix64(seed: 42)
        let paused = drive(&state, spec, host: &host, from: Self.start, until: Self.at(20), generator: &generator)
        #expect(paused == Self.at(20))
        let stored = try JSONEncoder().encode(state)
        var restored = try JSONDecoder().decode(WorkflowState.self, from: stored)
        #expect(restored == state)
        let end = drive(&restored, spec, host: &host, from: paused, generator: &generator)
        #expect(end.timeIntervalSince(Self.start) == wholeEnd)
        #expect(host.timeline == wholeHost.timeline)
        #expect(restored == whole)
    }

    @Test func namesComeFromTheInjectedGenerator() throws {
        let spec = try Self.spec(Self.composite("entry", "Serial", ["a"]), Self.chaos("a", deadline: "1s"))
        let (first, _, _) = Self.run(spec, seed: 5)
        let (second, _, _) = Self.run(spec, seed: 5)
        let (other, _, _) = Self.run(spec, seed: 6)
        #expect(first.nodes.map(\.name) == second.nodes.map(\.name))
        #expect(first.nodes.map(\.name) != other.nodes.map(\.name))
        #expect(first.nodes.allSatisfy { $0.name.range(of: "^[a-z]+-[bcdfghjklmnpqrstvwxz2456789]{5}$",
                                                        options: .regularExpression) != nil })
    }

    @Test func anEntryThatIsNoTemplateFailsTheWorkflow() throws {
        var spec = try Self.spec(Self.suspend("entry", "1s"))
        spec.entry = "missing"
        var state = WorkflowState(workflowName: "w", namespace: "chaos")
        #expect(WorkflowEngine.advance(&state, spec: spec, at: Self.start, observed: [:]) == [])
        #expect(state.phase == .failed && state.conditions.allSatisfy { !$0.status })
        #expect(state.failure == "the entry \"missing\" is not the name of a template")
    }
}
