import Foundation
import TumultAgent
import TumultModel

// Workflows: apply, delete, abort; each pass advances every workflow's
// engine (`WorkflowEngine`, pure) with what its leaves' experiments,
// Schedules, status checks and tasks are doing, and carries out what it
// asks for. The faults themselves are ordinary experiments, so they are
// injected, watched, recovered and restored like any other.
extension Controller {
    /// A task run handed to the background loop: `id` is `<workflow uid>/<node>`.
    struct TaskJob: Sendable {
        var id: String
        var workflow: String
        var node: String
        var request: TaskRequest
    }

    /// Why this host cannot run a Workflow (checked before anything is
    /// changed): a leaf of a kind it does not run, a status check without
    /// a prober. Each problem names the template's field path.
    func workflowAdmissionProblem(_ spec: WorkflowSpec, name: String) -> ControllerError? {
        guard configuration.runsWorkflows else {
            return ControllerError(.unsupported, "Workflow \(name): workflows are not run here yet (use tumult server or tumult run)")
        }
        for (index, template) in spec.templates.enumerated() {
            let path = "spec.templates[\(index)] (\(template.name))"
            switch template.templateType {
            case .chaos(let kind):
                guard configuration.supportedKinds.contains(kind) else {
                    return ControllerError(.unsupported, "Workflow \(name): \(path): \(kind.rawValue) is not supported on this host yet")
                }
                if let embedded = template.embedded[kind],
                   let reason = configuration.refusal?(ChaosDocument(kind: kind, metadata: ObjectMeta(name: template.name), spec: embedded)) {
                    return ControllerError(.unsupported, "Workflow \(name): \(path): \(reason)")
                }
            case .statusCheck:
                if configuration.statusProber == nil {
                    return ControllerError(.unsupported, "Workflow \(name): \(path): status checks are not run by this controller")
                }
            case .schedule:
                if let schedule = template.schedule, case .chaos(let kind) = schedule.type,
                   !configuration.supportedKinds.contains(kind) {
                    return ControllerError(.unsupported, "Workflow \(name): \(path).schedule: \(kind.rawValue) is not supported on this host yet")
                }
            case .task:
                if !configuration.runsTasks {
                    return ControllerError(.unsupported, "Workflow \(name): \(path): a Task runs its command on this host as root; "
                                           + "start tumult server with --allow-tasks to accept Task templates")
                }
            case .serial, .parallel, .suspend:
                continue
            }
        }
        return nil
    }

    /// A new spec is a new run: the old one is stopped and archived; a
    /// metadata change (labels, the abort annotation the next pass acts on)
    /// keeps the run.
    func applyWorkflow(_ document: ChaosDocument) throws -> (uid: String, result: ApplyResult) {
        try applyByName(document, in: workflows, store: { store($0) }, delete: { try deleteWorkflow($0) },
                        create: { createWorkflow($0, scheduleUID: nil) })
    }

    /// `kubectl apply` of a document kept whole under its name (a
    /// Workflow, a StatusCheck): unchanged, its metadata changed in place,
    /// or, for a new spec, the live one deleted and a new one created.
    func applyByName<Record: NamedDocumentRecord>(
        _ document: ChaosDocument, in records: [String: Record], store: (Record) -> Void,
        delete: (String) throws -> Void, create: (ChaosDocument) -> String
    ) throws -> (uid: String, result: ApplyResult) {
        guard let existing = records.values.first(where: {
            $0.document.namespace == document.namespace && $0.document.name == document.name && !$0.isDeleted
        }) else {
            let uid = create(document)
            try commit()
            return (uid, .created)
        }
        if Self.sameIntent(existing.document, document) { return (existing.uid, .unchanged) }
        if existing.document.spec.isEqual(to: document.spec) {
            var record = existing
            record.document.metadata.annotations = document.metadata.annotations
            record.document.metadata.labels = document.metadata.labels
            store(record)
            try commit()
            wake()
            return (record.uid, .configured)
        }
        try delete(existing.uid)
        let uid = create(document)
        try commit()
        return (uid, .configured)
    }

    func createWorkflow(_ document: ChaosDocument, scheduleUID: String?) -> String {
        let uid = givenUID(of: document) ?? UUID().uuidString.lowercased()
        var document = document
        let created = now
        document.metadata.uid = uid
        document.metadata.creationTimestamp = Self.timestamp(created)
        let record = WorkflowRecord(uid: uid, document: document, createdAt: created, scheduleUID: scheduleUID)
        store(record)
        emit(kind: "Workflow", uid: uid, namespace: record.namespace, name: record.name, reason: "Created",
             message: "workflow created; entry \((document.spec as? WorkflowSpec)?.entry ?? "")")
        wake()
        return uid
    }

    /// Deletes a workflow: every leaf is stopped (its faults recovered),
    /// then it is archived.
    func deleteWorkflow(_ uid: String) throws {
        guard var record = workflows[uid], !record.isDeleted else { return }
        record.deletedAt = now
        store(record)
        emit(kind: "Workflow", uid: uid, namespace: record.namespace, name: record.name, reason: "Deleted",
             message: "workflow deleted; stopping its nodes")
        try commit()
        wake()
    }

    // MARK: The pass

    /// Advances every workflow to `moment`, carrying out what its engine
    /// asks for; archives deleted ones once nothing of theirs runs.
    func reconcileWorkflows(at moment: Date) {
        for uid in Array(workflows.keys) {
            guard var record = workflows[uid] else { continue }
            let before = record
            var told = record
            // A step's actions change what the next step observes (an
            // experiment created, a check stopped): step until they stop changing.
            for _ in 0..<16 {
                let observed = observations(of: record)
                let actions: [WorkflowAction]
                if record.isDeleted {
                    actions = WorkflowEngine.delete(&record.state, at: moment, observed: observed)
                } else if let spec = record.spec {
                    if halted || WorkflowEngine.isAbortRequested(record.document.metadata), !record.state.isAborted {
                        let reason = halted ? "emergency stop" : "annotation \(WorkflowEngine.abortAnnotation)"
                        var generator = SystemRandomNumberGenerator()
                        actions = WorkflowEngine.abort(&record.state, spec: spec, reason: reason, at: moment,
                                                       observed: observed, using: &generator)
                    } else {
                        actions = WorkflowEngine.advance(&record.state, spec: spec, at: moment, observed: observed)
                    }
                } else {
                    actions = []
                }
                record.wakeAt = nil
                // Nodes started and ended are told before what is done for them.
                noteTransitions(from: told, to: record)
                told = record
                var changed = false
                for action in actions { changed = carryOut(action, for: &record) || changed }
                if !changed { break }
            }
            noteTransitions(from: told, to: record)
            if record.isDeleted && WorkflowEngine.isSettled(record.state, observed: observations(of: record)) {
                archiveWorkflow(record, at: moment)
                continue
            }
            if record != before { store(record) }
        }
    }

    /// What each leaf of `record` runs, for the engine.
    func observations(of record: WorkflowRecord) -> [String: LeafObservation] {
        var observed: [String: LeafObservation] = [:]
        for (node, uid) in record.leaves {
            if let experiment = experiments[uid] {
                let progress: LeafObservation.ChaosProgress
                if let failure = experiment.failure {
                    progress = .failed(failure)
                } else if experiment.finishedAt != nil {
                    progress = .finished
                } else if experiment.allInjected {
                    progress = .injected
                } else {
                    progress = .injecting
                }
                observed[node] = .chaos(uid: uid, progress)
            } else if schedules[uid] != nil {
                observed[node] = .schedule(uid: uid)
            } else if let check = statusChecks[uid], !check.isDeleted {
                switch check.state.verdict {
                case .running: observed[node] = .statusCheck(.running)
                case .succeeded: observed[node] = .statusCheck(.succeeded)
                case .failed: observed[node] = .statusCheck(.failed(Self.failureMessage(of: check.state)))
                }
            }
        }
        for (node, progress) in record.taskResults { observed[node] = .task(progress) }
        return observed
    }

    /// Why a check failed, from its conditions and last probe.
    static func failureMessage(of state: StatusCheckState) -> String {
        var reasons: [String] = []
        if state.condition(.failureThresholdExceed).status {
            reasons.append("\(state.policy.failureThreshold) failed probes in a row")
        } else if state.outcome == .durationExceeded {
            reasons.append("its duration ended without \(state.policy.successThreshold) successful probes in a row")
        }
        if let last = state.records.last, last.outcome != .success {
            reasons.append("last probe: " + (last.message ?? last.statusCode.map { "status \($0)" } ?? "failed"))
        }
        return reasons.isEmpty ? "failed" : reasons.joined(separator: "; ")
    }

    /// Carries out one engine action; true if it changed what the engine observes.
    func carryOut(_ action: WorkflowAction, for record: inout WorkflowRecord) -> Bool {
        switch action {
        case .createChaos(let node, let document):
            guard record.leaves[node] == nil, !halted else { return false }
            record.leaves[node] = create(document, scheduleUID: nil)
            return true
        case .deleteChaos(let node, let uid), .deleteSchedule(let node, let uid):
            if let experiment = experiments[uid], !experiment.isDeleted {
                try? delete(uid)
            } else if let schedule = schedules[uid], schedule.deletedAt == nil {
                try? delete(uid)
            }
            // The leaf stays observed until its record is archived: a delete
            // is over only once every target is recovered.
            if experiments[uid] == nil && schedules[uid] == nil {
                record.leaves[node] = nil
                return true
            }
            return false
        case .createSchedule(let node, let document):
            guard record.leaves[node] == nil, !halted, let created = try? applySchedule(document) else { return false }
            record.leaves[node] = created.uid
            return true
        case .startStatusCheck(let node, let document):
            guard record.leaves[node] == nil else { return false }
            record.leaves[node] = createStatusCheck(document, workflowUID: record.uid)
            return true
        case .stopStatusCheck(let node):
            if let uid = record.leaves.removeValue(forKey: node) { try? deleteStatusCheck(uid) }
            return true
        case .runTask(let node, let name, let task):
            guard record.taskResults[node] == nil else { return false }
            record.taskResults[node] = .running
            let request = TaskRequest(id: "\(record.uid)/\(node)", name: name, container: task.container ?? .null,
                                      timeoutSeconds: record.state[node: node]?.deadline.map { max(1, $0.timeIntervalSince(now)) })
            pendingTasks.append(TaskJob(id: request.id, workflow: record.uid, node: node, request: request))
            emit(kind: "Workflow", uid: record.uid, namespace: record.namespace, name: record.name, reason: "TaskStarted",
                 message: "node \(node): running \(request.command.joined(separator: " "))")
            wakeBackground()
            return true
        case .stopTask(let node):
            guard let progress = record.taskResults.removeValue(forKey: node) else { return false }
            if progress == .running {
                pendingTaskCancels.append("\(record.uid)/\(node)")
                wakeBackground()
            }
            return true
        case .wake(let at):
            record.wakeAt = at
            return false
        }
    }

    /// Events for the nodes that started or ended between two states.
    func noteTransitions(from before: WorkflowRecord, to after: WorkflowRecord) {
        let known = Dictionary(before.state.nodes.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        for node in after.state.nodes {
            let old = known[node.name]
            if old == nil {
                emit(kind: "Workflow", uid: after.uid, namespace: after.namespace, name: after.name, reason: "NodeCreated",
                     message: "node \(node.name) (\(node.type.rawValue)) started")
            }
            if node.isFinished && old?.isFinished != true {
                let warning = node.phase == .failed || node.phase == .aborted
                emit(kind: "Workflow", uid: after.uid, namespace: after.namespace, name: after.name,
                     reason: "Node\(node.phase.rawValue)",
                     message: "node \(node.name) ended: \(node.phase.rawValue)" + (node.failure.map { ": \($0)" } ?? ""),
                     type: warning ? .warning : .normal)
            }
        }
        if after.state.isAborted && !before.state.isAborted {
            emit(kind: "Workflow", uid: after.uid, namespace: after.namespace, name: after.name, reason: "Aborted",
                 message: "workflow aborted: \(after.state.abort?.reason ?? "")", type: .warning)
        }
        if after.state.isFinished && !before.state.isFinished {
            emit(kind: "Workflow", uid: after.uid, namespace: after.namespace, name: after.name, reason: "Accomplished",
                 message: "workflow accomplished")
        }
        if let failure = after.state.failure, before.state.failure == nil {
            emit(kind: "Workflow", uid: after.uid, namespace: after.namespace, name: after.name, reason: "Failed",
                 message: failure, type: .warning)
        }
    }

    func archiveWorkflow(_ record: WorkflowRecord, at moment: Date) {
        batch.removedWorkflows.append(record.uid)
        var object = try? record.document.encoded()
        if case .object(var fields)? = object {
            fields["status"] = WorkflowView.status(of: record)
            object = .object(fields)
        }
        batch.archives.append(ArchiveRecord(uid: record.uid, kind: "Workflow", namespace: record.namespace, name: record.name,
                                            action: record.spec?.entry ?? "", startTime: record.createdAt,
                                            finishTime: moment, object: object ?? .null))
        workflows[record.uid] = nil
        dirtyWorkflows.remove(record.uid)
        emit(kind: "Workflow", uid: record.uid, namespace: record.namespace, name: record.name, reason: "Archived",
             message: "every node stopped; archived")
    }

    /// A task's end, from the background loop.
    func taskEnded(_ job: TaskJob, _ progress: LeafObservation.TaskProgress) {
        guard var record = workflows[job.workflow], record.taskResults[job.node] == .running else { return }
        record.taskResults[job.node] = progress
        store(record)
        switch progress {
        case .exited(let code, _):
            emit(kind: "Workflow", uid: record.uid, namespace: record.namespace, name: record.name, reason: "TaskExited",
                 message: "node \(job.node): exited with \(code)")
        case .failed(let message):
            emit(kind: "Workflow", uid: record.uid, namespace: record.namespace, name: record.name, reason: "TaskFailed",
                 message: "node \(job.node): \(message)", type: .warning)
        case .running:
            break
        }
        wake()
    }

    /// Tasks that were running when the controller stopped have no process
    /// any more: their nodes end without a result, and say why.
    func interruptTasks() {
        for uid in Array(workflows.keys) {
            guard var record = workflows[uid] else { continue }
            var changed = false
            for (node, progress) in record.taskResults where progress == .running {
                record.taskResults[node] = .failed("the controller restarted while the task ran")
                changed = true
            }
            if changed { store(record) }
        }
    }

    /// The earliest deadline any workflow waits for.
    func workflowsDue() -> Date? {
        workflows.values.compactMap(\.wakeAt).min()
    }
}

extension Controller {
    /// Whether what `apply` created under `uid` has nothing more to do:
    /// an experiment over, a workflow finished with every leaf stopped, a
    /// status check completed. Unknown (archived) uids are settled.
    public func isSettled(_ uid: String) -> Bool {
        if let record = experiments[uid] { return record.isOver(at: now) }
        if let record = workflows[uid] {
            return record.isOver && WorkflowEngine.isSettled(record.state, observed: observations(of: record))
        }
        if let record = statusChecks[uid] { return record.state.isOver }
        return true
    }
}
