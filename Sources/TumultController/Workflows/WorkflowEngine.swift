import Foundation
import TumultModel

/// Runs Chaos Mesh Workflows as a pure step function: given the stored
/// `WorkflowState`, the spec, the time and what the controller observes of
/// each leaf, it moves the nodes on and says what the controller must do.
/// No I/O, no clock, no tasks: the controller calls `advance` when something
/// it observes changes and at the `.wake` moment it returns.
///
/// The semantics are those of Chaos Mesh's workflow controllers
/// (pkg/workflow/controllers): the entry node is created first; Serial runs
/// its children one after another and Parallel all at once, each
/// accomplished when all its children finished; a node finishes when it is
/// Accomplished, DeadlineExceed or Aborted; a deadline that passes ends the
/// node and every unfinished node below it (`ParentNodeDeadlineExceed`);
/// Suspend, chaos and Schedule leaves end only at their deadline; a Task's
/// result picks its conditional branches, whose targets run as its children
/// at once; a StatusCheck ends when its check completes, and a failed check
/// with `abortWithStatusCheck` aborts the whole workflow. Where Tumult
/// chooses otherwise, the function that does it says why.
public enum WorkflowEngine {
    /// Chaos Mesh's labels on what a node creates.
    public static let controlledByLabel = "chaos-mesh.org/controlled-by"
    public static let workflowLabel = "chaos-mesh.org/workflow"
    /// The annotation that aborts a Workflow in Chaos Mesh (set by a failed
    /// status check with `abortWithStatusCheck`, or by a user).
    public static let abortAnnotation = "workflow.chaos-mesh.org/abort"
    /// More nodes than this means templates that spawn each other without
    /// end (validation refuses such cycles; a stored state may predate it).
    public static let nodeLimit = 10_000

    /// One step: finishes what is due at `now`, takes in `observed` (what the
    /// controller runs for each leaf, by node name), creates the nodes that
    /// become due, and returns what the controller must do: stops first (so
    /// faults leave before the next ones arrive), then starts, then at most
    /// one `.wake` at the earliest deadline still ahead.
    ///
    /// The controller carries out the actions and reports the leaves they
    /// started in `observed` before calling again; actions repeat until it does.
    public static func advance(_ state: inout WorkflowState, spec: WorkflowSpec, at now: Date,
                               observed: [String: LeafObservation],
                               using generator: inout some RandomNumberGenerator) -> [WorkflowAction] {
        if state.startTime == nil { state.startTime = now }
        guard state.deletedAt == nil else { return leafActions(state, spec: nil, observed: observed) }
        if state.entryNode == nil && state.failure == nil {
            if let template = spec.template(named: spec.entry) {
                let entry = makeNode(template, parent: nil, in: state, at: now, using: &generator)
                state.nodes.append(entry)
                state.entryNode = entry.name
            } else {
                state.failure = "the entry \"\(spec.entry)\" is not the name of a template"
            }
        }
        // Each pass finishes or creates at least one node, or is the last.
        for _ in 0..<(nodeLimit * 2) {
            var changed = expireDeadlines(&state, at: now)
            changed = applyAbort(&state, at: now) || changed
            changed = observeLeaves(&state, spec: spec, at: now, observed: observed, using: &generator) || changed
            changed = progressComposites(&state, spec: spec, at: now, using: &generator) || changed
            if !changed { break }
        }
        if state.isFinished && state.endTime == nil { state.endTime = now }
        var actions = leafActions(state, spec: spec, observed: observed)
        let deadlines = state.nodes.filter { !$0.isFinished }.compactMap(\.deadline)
        if let earliest = deadlines.min() { actions.append(.wake(at: earliest)) }
        return actions
    }

    /// `advance` naming nodes with the system's random generator.
    public static func advance(_ state: inout WorkflowState, spec: WorkflowSpec, at now: Date,
                               observed: [String: LeafObservation]) -> [WorkflowAction] {
        var generator = SystemRandomNumberGenerator()
        return advance(&state, spec: spec, at: now, observed: observed, using: &generator)
    }

    /// Aborts the workflow, as Chaos Mesh's abort annotation does: the
    /// entry node and every unfinished node below it become Aborted, every
    /// leaf is stopped, nothing new starts. A finished workflow has nothing
    /// to abort and stays as it is (Chaos Mesh would mark its finished entry
    /// Aborted too, which only changes how it reads).
    public static func abort(_ state: inout WorkflowState, spec: WorkflowSpec, reason: String, at now: Date,
                             observed: [String: LeafObservation],
                             using generator: inout some RandomNumberGenerator) -> [WorkflowAction] {
        if state.abort == nil && state.deletedAt == nil && !state.isFinished {
            state.abort = WorkflowState.Abort(at: now, reason: reason)
        }
        return advance(&state, spec: spec, at: now, observed: observed, using: &generator)
    }

    /// Deletes the workflow: nothing starts any more, and the returned
    /// actions stop every leaf the controller still runs. Nodes keep their
    /// conditions (in Chaos Mesh they go with the Workflow); call again
    /// with fresh observations until `isSettled`, then forget the state.
    public static func delete(_ state: inout WorkflowState, at now: Date,
                              observed: [String: LeafObservation]) -> [WorkflowAction] {
        if state.deletedAt == nil { state.deletedAt = now }
        return leafActions(state, spec: nil, observed: observed)
    }

    /// Over (finished, failed or deleted) and nothing left running for any leaf.
    public static func isSettled(_ state: WorkflowState, observed: [String: LeafObservation]) -> Bool {
        (state.deletedAt != nil || state.isFinished || state.failure != nil)
            && state.nodes.allSatisfy { !$0.isLeaf || observed[$0.name] == nil }
    }

    /// Whether a Workflow's metadata asks for an abort (Chaos Mesh's annotation).
    public static func isAbortRequested(_ metadata: ObjectMeta) -> Bool {
        metadata.annotations?[abortAnnotation] == "true"
    }

    /// Chaos Mesh cannot pause a Workflow: its workflow controllers read no
    /// pause annotation and the dashboard's pause is for experiments only,
    /// while node deadlines are absolute times that keep running. Tumult
    /// refuses the same way, with this message for the API to return.
    public static func pauseRefusal(workflow name: String) -> String {
        "Workflow \(name) cannot be paused: Chaos Mesh workflows have no pause and their deadlines keep running; "
            + "abort it (annotation \(abortAnnotation): \"true\") or delete it"
    }

    // MARK: Deadlines and abort

    /// A node whose deadline passed is DeadlineExceed, and so is every
    /// unfinished node below it (Chaos Mesh's deadline reconciler).
    /// Nodes are visited oldest first, so a parent is seen before its children.
    private static func expireDeadlines(_ state: inout WorkflowState, at now: Date) -> Bool {
        var changed = false
        for index in state.nodes.indices where !state.nodes[index].isFinished {
            guard let deadline = state.nodes[index].deadline, deadline <= now else { continue }
            let name = state.nodes[index].name
            state.nodes[index].setCondition(.deadlineExceed, true, reason: WorkflowNodeCondition.Reason.nodeDeadlineExceed)
            state.nodes[index].finishedAt = now
            finishDescendants(of: name, in: &state, as: .deadlineExceed,
                              reason: WorkflowNodeCondition.Reason.parentNodeDeadlineExceed, at: now)
            changed = true
        }
        return changed
    }

    /// Chaos Mesh's abort: the entry node is Aborted (`WorkflowAborted`),
    /// then every unfinished node below it (`ParentNodeAborted`).
    private static func applyAbort(_ state: inout WorkflowState, at now: Date) -> Bool {
        guard state.abort != nil, let entry = state.entry, !entry.isFinished else { return false }
        state.update(entry.name) { node in
            node.setCondition(.aborted, true, reason: WorkflowNodeCondition.Reason.workflowAborted)
            node.finishedAt = now
        }
        finishDescendants(of: entry.name, in: &state, as: .aborted,
                          reason: WorkflowNodeCondition.Reason.parentNodeAborted, at: now)
        return true
    }

    private static func finishDescendants(of name: String, in state: inout WorkflowState,
                                          as kind: WorkflowNodeCondition.Kind, reason: String, at now: Date) {
        for descendant in state.descendants(of: name) {
            state.update(descendant) { node in
                guard !node.isFinished else { return }
                node.setCondition(kind, true, reason: reason)
                node.finishedAt = now
            }
        }
    }

    private static func finish(_ name: String, in state: inout WorkflowState, reason: String, at now: Date,
                               failure: String? = nil) {
        state.update(name) { node in
            node.setCondition(.accomplished, true, reason: reason)
            node.finishedAt = now
            if let failure, node.failure == nil { node.failure = failure }
        }
    }

    // MARK: Leaves

    /// Takes in what the controller reports of each leaf.
    private static func observeLeaves(_ state: inout WorkflowState, spec: WorkflowSpec, at now: Date,
                                      observed: [String: LeafObservation],
                                      using generator: inout some RandomNumberGenerator) -> Bool {
        var changed = false
        for index in state.nodes.indices where state.nodes[index].isLeaf {
            let node = state.nodes[index]
            let observation = observed[node.name]
            let running = !node.isFinished
            switch (node.type, observation) {
            case (.chaos, .chaos(let uid, let progress)?):
                markCreated(&state.nodes[index], uid: uid, at: now)
                if case .failed(let message) = progress, node.failure == nil { state.nodes[index].failure = message }
                // A leaf with a deadline waits for it even when its experiment
                // is over, as in Chaos Mesh (a pod-kill node lasts its whole
                // deadline). Without one, Chaos Mesh would wait for ever; Tumult
                // ends the node when the experiment is over, since nothing else could.
                if running && node.deadline == nil, progress.isOver {
                    finish(node.name, in: &state, reason: WorkflowNodeCondition.Reason.nodeAccomplished, at: now)
                    changed = true
                }
            case (.schedule, .schedule(let uid)?):
                markCreated(&state.nodes[index], uid: uid, at: now)
            case (.chaos, nil), (.schedule, nil):
                if node.hasCondition(.chaosInjected) {
                    state.nodes[index].setCondition(.chaosInjected, false,
                                                    reason: WorkflowNodeCondition.Reason.chaosCRNotExists)
                }
                // Gone while the node runs (deleted by someone else): Tumult
                // does not recreate it (Chaos Mesh would); a chaos leaf with no
                // deadline then has nothing left to wait for.
                if running, node.observedAt != nil, node.deadline == nil, case .chaos = node.type {
                    finish(node.name, in: &state, reason: WorkflowNodeCondition.Reason.nodeAccomplished, at: now,
                           failure: "the experiment was deleted before the node ended")
                    changed = true
                }
            case (.task, .task(let progress)?):
                if state.nodes[index].observedAt == nil { state.nodes[index].observedAt = now }
                guard running, node.taskResult == nil else { break }
                switch progress {
                case .running:
                    break
                case .exited(let exitCode, let stdout):
                    let result = TaskResult(exitCode: exitCode,
                                            stdout: stdout.trimmingCharacters(in: .whitespacesAndNewlines))
                    takeTaskResult(result, node: node.name, in: &state, spec: spec, at: now, using: &generator)
                    changed = true
                case .failed(let message):
                    // Chaos Mesh would wait for a pod that never runs; Tumult ends
                    // the node with no branch taken, and says why.
                    finish(node.name, in: &state, reason: WorkflowNodeCondition.Reason.nodeAccomplished, at: now,
                           failure: "the task could not run: \(message)")
                    changed = true
                }
            case (.task, nil):
                if running, node.observedAt != nil, node.taskResult == nil {
                    finish(node.name, in: &state, reason: WorkflowNodeCondition.Reason.nodeAccomplished, at: now,
                           failure: "the task stopped without a result")
                    changed = true
                }
            case (.statusCheck, .statusCheck(let progress)?):
                if state.nodes[index].observedAt == nil { state.nodes[index].observedAt = now }
                guard running else { break }
                switch progress {
                case .running:
                    break
                case .succeeded:
                    state.nodes[index].statusCheckOutcome = StatusCheckOutcome(succeeded: true)
                    finish(node.name, in: &state, reason: WorkflowNodeCondition.Reason.statusCheckCompleted, at: now)
                    changed = true
                case .failed(let message):
                    failStatusCheck(node.name, message: message, in: &state, spec: spec, at: now)
                    changed = true
                }
            case (.statusCheck, nil):
                if running, node.observedAt != nil {
                    finish(node.name, in: &state, reason: WorkflowNodeCondition.Reason.nodeAccomplished, at: now,
                           failure: "the status check stopped without an outcome")
                    changed = true
                }
            default:
                break  // an observation of another kind than the node: not its own
            }
        }
        return changed
    }

    private static func markCreated(_ node: inout WorkflowNode, uid: String, at now: Date) {
        if node.observedAt == nil { node.observedAt = now }
        node.resourceUID = uid
        if !node.hasCondition(.chaosInjected) {
            node.setCondition(.chaosInjected, true, reason: WorkflowNodeCondition.Reason.chaosCRCreated)
        }
    }

    /// A completed check ends its node (Accomplished, `StatusCheckCompleted`,
    /// whatever the outcome, as Chaos Mesh). A failure aborts the workflow
    /// only with `abortWithStatusCheck`; the node is then Aborted too.
    private static func failStatusCheck(_ name: String, message: String, in state: inout WorkflowState,
                                        spec: WorkflowSpec, at now: Date) {
        state.update(name) { $0.statusCheckOutcome = StatusCheckOutcome(succeeded: false, message: message) }
        finish(name, in: &state, reason: WorkflowNodeCondition.Reason.statusCheckCompleted, at: now,
               failure: "status check failed: \(message)")
        guard let node = state[node: name], spec.template(named: node.templateName)?.abortWithStatusCheck == true else {
            return
        }
        state.update(name) {
            $0.setCondition(.aborted, true, reason: WorkflowNodeCondition.Reason.statusCheckNotExceedSuccessThreshold)
        }
        if state.abort == nil {
            state.abort = WorkflowState.Abort(at: now, reason: "status check \(name) failed: \(message)")
        }
    }

    /// Records a Task's result and evaluates its branches in spec order; the
    /// targets of those that hold start at once as its children (Chaos Mesh
    /// spawns them together). An expression that cannot be evaluated is
    /// Unknown and spawns nothing; Chaos Mesh would then never finish the
    /// node, Tumult goes on with the other branches and keeps the reason.
    private static func takeTaskResult(_ result: TaskResult, node name: String, in state: inout WorkflowState,
                                       spec: WorkflowSpec, at now: Date,
                                       using generator: inout some RandomNumberGenerator) {
        guard let node = state[node: name] else { return }
        let templateIndex = spec.templates.firstIndex { $0.name == node.templateName }
        let templatePath = FieldPath("spec").child("templates").index(templateIndex ?? 0)
        var outcomes: [BranchOutcome] = []
        let branches = templateIndex.flatMap { spec.templates[$0].conditionalBranches } ?? []
        for (position, branch) in branches.enumerated() {
            let branchPath = templatePath.child("conditionalBranches").index(position)
            var outcome = BranchOutcome(target: branch.target, evaluation: .unknown)
            do throws(InvalidValue) {
                let expression = try WorkflowExpression(parsing: branch.expression ?? "")
                outcome.evaluation = try expression.evaluate(exitCode: result.exitCode, stdout: result.stdout)
                    ? .holds : .doesNotHold
            } catch {
                outcome.message = "\(branchPath.child("expression")): \(error.message)"
            }
            if outcome.evaluation == .holds {
                if let target = spec.template(named: branch.target) {
                    outcome.node = spawn(target, under: name, in: &state, at: now, using: &generator)
                } else {
                    outcome.evaluation = .unknown
                    outcome.message = "\(branchPath.child("target")): \"\(branch.target)\" is not the name of a template"
                }
            }
            outcomes.append(outcome)
        }
        state.update(name) { node in
            node.taskResult = result
            node.branches = outcomes
        }
    }

    // MARK: Composite nodes

    /// Serial, Parallel and evaluated Task nodes: start children that are
    /// due, and end the node once every child it should have has finished.
    private static func progressComposites(_ state: inout WorkflowState, spec: WorkflowSpec, at now: Date,
                                           using generator: inout some RandomNumberGenerator) -> Bool {
        var changed = false
        var index = 0
        while index < state.nodes.count {
            let node = state.nodes[index]
            index += 1
            guard !node.isFinished else { continue }
            let children = node.children.compactMap { state[node: $0] }
            let allFinished = children.allSatisfy(\.isFinished)
            switch node.type {
            case .serial, .parallel:
                guard let template = spec.template(named: node.templateName) else {
                    finish(node.name, in: &state, reason: WorkflowNodeCondition.Reason.nodeAccomplished, at: now,
                           failure: "its template \"\(node.templateName)\" is no longer in the spec")
                    changed = true
                    continue
                }
                let wanted = template.children ?? []
                guard allFinished else { continue }
                if children.count < wanted.count {
                    // Serial: the next child; Parallel: all of them at once.
                    let due = node.type == .serial ? [wanted[children.count]] : Array(wanted[children.count...])
                    for childName in due {
                        if let child = spec.template(named: childName) {
                            spawn(child, under: node.name, in: &state, at: now, using: &generator)
                        } else {
                            finish(node.name, in: &state, reason: WorkflowNodeCondition.Reason.nodeAccomplished,
                                   at: now, failure: "its child \"\(childName)\" is not the name of a template")
                            break
                        }
                    }
                } else {
                    finish(node.name, in: &state, reason: WorkflowNodeCondition.Reason.nodeAccomplished, at: now)
                }
                changed = true
            case .task:
                guard node.taskResult != nil, allFinished else { continue }
                finish(node.name, in: &state, reason: WorkflowNodeCondition.Reason.nodeAccomplished, at: now)
                changed = true
            case .suspend, .chaos, .statusCheck, .schedule:
                continue
            }
        }
        return changed
    }

    /// Creates a node for `template` below `parent`. Past `nodeLimit`, the
    /// parent fails instead.
    @discardableResult
    private static func spawn(_ template: WorkflowTemplate, under parent: String, in state: inout WorkflowState,
                              at now: Date, using generator: inout some RandomNumberGenerator) -> String? {
        guard state.nodes.count < nodeLimit else {
            finish(parent, in: &state, reason: WorkflowNodeCondition.Reason.nodeAccomplished, at: now,
                   failure: "the workflow reached \(nodeLimit) nodes: its templates spawn each other without end")
            return nil
        }
        let node = makeNode(template, parent: parent, in: state, at: now, using: &generator)
        state.nodes.append(node)
        state.update(parent) { $0.children.append(node.name) }
        return node.name
    }

    /// A node named `<template>-<suffix>` like Chaos Mesh's generateName,
    /// with its deadline counted from now; a leaf also gets the name of what
    /// it creates (`<node>-<suffix>`).
    static func makeNode(_ template: WorkflowTemplate, parent: String?, in state: WorkflowState, at now: Date,
                         using generator: inout some RandomNumberGenerator) -> WorkflowNode {
        var name = "\(template.name)-\(suffix(using: &generator))"
        while state[node: name] != nil { name = "\(template.name)-\(suffix(using: &generator))" }
        let deadline = template.deadline.map { now.addingTimeInterval(Double($0.nanoseconds) / 1e9) }
        var node = WorkflowNode(name: name, templateName: template.name, type: template.templateType, parent: parent,
                                startedAt: now, deadline: deadline)
        if node.isLeaf { node.resourceName = "\(name)-\(suffix(using: &generator))" }
        return node
    }

    /// Five characters from the alphabet Kubernetes' generated names use.
    static func suffix(using generator: inout some RandomNumberGenerator) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    // MARK: Actions

    /// What the controller must start or stop for the leaves. A leaf is
    /// started until the controller reports it, once: what vanishes later is
    /// not recreated. It is stopped while reported after its node finished
    /// or the workflow was deleted, and a task as soon as its result is in.
    /// Chaos Mesh leaves a finished task's pod to garbage collection; Tumult
    /// kills a task whose node ended, as it owns the process.
    private static func leafActions(_ state: WorkflowState, spec: WorkflowSpec?,
                                    observed: [String: LeafObservation]) -> [WorkflowAction] {
        var stops: [WorkflowAction] = []
        var starts: [WorkflowAction] = []
        for node in state.nodes where node.isLeaf {
            let observation = observed[node.name]
            let releasing = state.deletedAt != nil || node.isFinished
            let startable = !releasing && observation == nil && node.observedAt == nil
            let template = spec?.template(named: node.templateName)
            switch node.type {
            case .chaos(let kind):
                if releasing, case .chaos(let uid, _)? = observation {
                    stops.append(.deleteChaos(node: node.name, uid: uid))
                } else if startable, let embedded = template?.embedded[kind] {
                    starts.append(.createChaos(node: node.name,
                                               document: document(kind, embedded, for: node, in: state)))
                }
            case .schedule:
                if releasing, case .schedule(let uid)? = observation {
                    stops.append(.deleteSchedule(node: node.name, uid: uid))
                } else if startable, let schedule = template?.schedule {
                    starts.append(.createSchedule(node: node.name,
                                                  document: document(.schedule, schedule, for: node, in: state)))
                }
            case .statusCheck:
                if releasing, case .statusCheck? = observation {
                    stops.append(.stopStatusCheck(node: node.name))
                } else if startable, let check = template?.statusCheck {
                    starts.append(.startStatusCheck(node: node.name,
                                                    document: document(.statusCheck, check, for: node, in: state)))
                }
            case .task:
                if releasing || node.taskResult != nil {
                    if case .task? = observation { stops.append(.stopTask(node: node.name)) }
                } else if startable, let task = template?.task {
                    starts.append(.runTask(node: node.name, name: node.resourceName ?? node.name, task: task))
                }
            case .serial, .parallel, .suspend:
                break
            }
        }
        return stops + starts
    }

    /// The document a leaf creates, labelled as Chaos Mesh labels it. It has
    /// no duration: Chaos Mesh forbids one inside a Workflow and deletes the
    /// experiment when the node ends, and so does the engine, so that a
    /// parent's deadline or an abort ends it early too.
    static func document(_ kind: ChaosKind, _ spec: any ChaosSpec, for node: WorkflowNode,
                         in state: WorkflowState) -> ChaosDocument {
        let metadata = ObjectMeta(name: node.resourceName ?? node.name, namespace: state.namespace,
                                  labels: [controlledByLabel: node.name, workflowLabel: state.workflowName])
        return ChaosDocument(kind: kind, metadata: metadata, spec: spec).normalized()
    }
}

extension LeafObservation.ChaosProgress {
    /// The experiment will do nothing more: finished or failed.
    var isOver: Bool {
        switch self {
        case .finished, .failed: true
        case .injecting, .injected: false
        }
    }
}
