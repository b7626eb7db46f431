import Foundation
import TumultAgent
import TumultModel

// Experiments: apply, delete, pause; choosing targets, planning the work
// of a pass, finishing and archiving.
extension Controller {
    // MARK: API

    /// Applies every document or none: all are checked first (the
    /// emergency stop, kinds this host runs), then applied and written in
    /// one transaction, so that an error answer never hides a document
    /// that was applied anyway.
    public func apply(all documents: [ChaosDocument]) throws -> [(uid: String, result: ApplyResult)] {
        for (index, document) in documents.enumerated() {
            if let problem = admissionProblem(document) {
                guard documents.count > 1 else { throw problem }
                throw ControllerError(problem.code, "document \(index + 1) (\(document.kind.rawValue) \(document.name)): \(problem.message); "
                                      + "nothing was applied", diagnostics: problem.diagnostics)
            }
        }
        deferringCommits = true
        defer { deferringCommits = false }
        var results: [(uid: String, result: ApplyResult)] = []
        for document in documents { results.append(try apply(document)) }
        deferringCommits = false
        try commit()
        return results
    }

    /// Why this host refuses `document` before anything is changed, if it does.
    func admissionProblem(_ document: ChaosDocument) -> ControllerError? {
        if halted {
            return ControllerError(.halted, "Tumult is halted (emergency stop): new experiments are refused until `tumult unhalt`")
        }
        if document.kind == .schedule {
            guard let spec = document.spec as? ScheduleSpec else {
                return ControllerError(.invalidDocument, "a Schedule without a schedule spec")
            }
            if case .chaos(let kind) = spec.type, !configuration.supportedKinds.contains(kind) {
                return ControllerError(.unsupported, "Schedule of \(kind.rawValue): \(kind.rawValue) is not supported on this host yet")
            }
            if case .workflow = spec.type {
                guard let workflow = spec.workflow else {
                    return ControllerError(.invalidDocument, "spec.workflow: required when type is Workflow")
                }
                return workflowAdmissionProblem(workflow, name: document.name)
            }
            return nil
        }
        if document.kind == .workflow {
            guard let spec = document.spec as? WorkflowSpec else {
                return ControllerError(.invalidDocument, "a Workflow without a workflow spec")
            }
            return workflowAdmissionProblem(spec, name: document.name)
        }
        if document.kind == .statusCheck {
            return configuration.statusProber == nil || !configuration.runsWorkflows
                ? ControllerError(.unsupported, "StatusCheck: status checks are not run by this controller") : nil
        }
        guard configuration.supportedKinds.contains(document.kind) else {
            return ControllerError(.unsupported, "\(document.kind.rawValue) is not supported on this host yet (supported: "
                                   + configuration.supportedKinds.map(\.rawValue).sorted().joined(separator: ", ") + ")")
        }
        if let reason = configuration.refusal?(document) { return ControllerError(.unsupported, reason) }
        return nil
    }

    /// Creates or replaces an experiment or schedule (`kubectl apply`).
    /// The document must be valid; unsupported kinds are refused.
    @discardableResult
    public func apply(_ document: ChaosDocument) throws -> (uid: String, result: ApplyResult) {
        if let problem = admissionProblem(document) { throw problem }
        var document = document.normalized()
        if (document.metadata.name ?? "").isEmpty, let prefix = document.metadata.generateName {
            document.metadata.name = prefix + Self.suffix()
        }
        switch document.kind {
        case .schedule: return try applySchedule(document)
        case .workflow: return try applyWorkflow(document)
        case .statusCheck: return try applyStatusCheck(document)
        default: break
        }
        if let existingUID = liveByName[Self.nameKey(document.kind, document.namespace, document.name)],
           let existing = experiments[existingUID], !existing.isDeleted {
            if Self.sameIntent(existing.document, document) { return (existing.uid, .unchanged) }
            if existing.document.spec.isEqual(to: document.spec) {
                // Only metadata changed (a pause annotation, labels): keep the run.
                var record = existing
                record.document.metadata.annotations = document.metadata.annotations
                record.document.metadata.labels = document.metadata.labels
                if record.isPaused != existing.isPaused {
                    emit(record, reason: record.isPaused ? "Paused" : "Started",
                         message: record.isPaused ? "experiment paused" : "experiment resumed")
                }
                store(record)
                try commit()
                wake()
                return (record.uid, .configured)
            }
            try delete(existing.uid)
            let uid = create(document, scheduleUID: nil)
            try commit()
            return (uid, .configured)
        }
        let uid = create(document, scheduleUID: nil)
        try commit()
        return (uid, .created)
    }

    /// Writes what is pending now, so that an acknowledged apply or delete
    /// survives a kill -9 that comes before the loop's next pass.
    func commit() throws {
        guard !deferringCommits else { return }
        flush()
        guard batch.isEmpty else {
            throw ControllerError(.internalError, "the change is made but could not be saved yet; it is saved at the next pass")
        }
    }

    func create(_ document: ChaosDocument, scheduleUID: String?) -> String {
        let given = givenUID(of: document)
        let uid = given ?? UUID().uuidString.lowercased()
        var document = document
        // An object the API server made keeps its creation time: its
        // duration runs from there, whichever leader picks it up.
        let created = given.flatMap { _ in document.metadata.creationTimestamp.flatMap(Self.parseTimestamp) } ?? now
        document.metadata.uid = uid
        document.metadata.creationTimestamp = Self.timestamp(created)
        var record = ExperimentRecord(uid: uid, document: document, createdAt: created, scheduleUID: scheduleUID)
        // A PhysicalMachine is a machine to reach, not a fault: nothing to select.
        if document.kind == .physicalMachine { record.selected = true }
        store(record)
        emit(record, reason: "Created", message: "experiment created")
        wake()
        return uid
    }

    /// Takes the targets an earlier controller chose (the Kubernetes
    /// operator's last leader wrote them in the object's status), before
    /// `start()`: they are not chosen again, and `restore()` matches them
    /// with what their hosts still hold, so a change of leader leaves
    /// every fault in place. Experiments with a second selector (peers)
    /// choose afresh: their peers are not in the status.
    public func adoptSelection(_ uid: String, targets: [Pod]) {
        guard var record = experiments[uid], !record.selected, !targets.isEmpty, record.failure == nil else { return }
        if let peered = record.document.spec as? any PeerTargetedSpec, peered.peerSelector != nil { return }
        record.records = targets.map { TargetRecord(pod: $0) }
        record.selected = true
        store(record)
        emit(record, reason: "Selected", message: "took the \(targets.count) target\(targets.count == 1 ? "" : "s") the last leader chose")
    }

    static func parseTimestamp(_ text: String) -> Date? {
        (try? Date(text, strategy: .iso8601))
    }

    /// The document's own uid, when the configuration keeps them and no
    /// record (live or being recovered) has it yet.
    func givenUID(of document: ChaosDocument) -> String? {
        guard configuration.keepsDocumentUIDs, let uid = document.metadata.uid, !uid.isEmpty,
              experiments[uid] == nil, schedules[uid] == nil, workflows[uid] == nil, statusChecks[uid] == nil else { return nil }
        return uid
    }

    /// Deletes every one of `uids` or none: an unknown uid is reported
    /// before anything is deleted; the rest is written in one transaction.
    public func delete(all uids: [String]) throws {
        let unknown = uids.filter { experiments[$0] == nil && schedules[$0] == nil && workflows[$0] == nil && statusChecks[$0] == nil }
        guard unknown.isEmpty else {
            throw ControllerError(.notFound, "no experiment or schedule with uid " + unknown.joined(separator: ", ") + "; nothing was deleted")
        }
        deferringCommits = true
        defer { deferringCommits = false }
        for uid in uids { try delete(uid) }
        deferringCommits = false
        try commit()
    }

    /// Deletes an experiment or schedule: it is recovered, then archived.
    public func delete(_ uid: String) throws {
        if var record = experiments[uid] {
            guard !record.isDeleted else { return }
            record.deletedAt = now
            store(record)
            emit(record, reason: "Deleted", message: "experiment deleted; recovering")
            try commit()
            wake()
        } else if var schedule = schedules[uid] {
            guard schedule.deletedAt == nil else { return }
            schedule.deletedAt = now
            for run in schedule.runs { try? delete(run) }
            store(schedule)
            emit(kind: "Schedule", uid: uid, namespace: schedule.namespace, name: schedule.name, reason: "Deleted",
                 message: "schedule deleted with its runs")
            try commit()
            wake()
        } else if workflows[uid] != nil {
            try deleteWorkflow(uid)
        } else if statusChecks[uid] != nil {
            try deleteStatusCheck(uid)
            try commit()
            wake()
        } else {
            throw ControllerError(.notFound, "no experiment or schedule with uid \(uid)")
        }
    }

    /// Sets or clears Chaos Mesh's pause annotation.
    public func setPaused(_ uid: String, _ paused: Bool) throws {
        if !paused && halted {
            throw ControllerError(.halted, "Tumult is halted (emergency stop): nothing resumes until `tumult unhalt`")
        }
        if var record = experiments[uid] {
            guard record.isPaused != paused else { return }
            record.document.metadata.setPaused(paused)
            store(record)
            emit(record, reason: paused ? "Paused" : "Started", message: paused ? "experiment paused" : "experiment resumed")
        } else if var schedule = schedules[uid] {
            guard schedule.isPaused != paused else { return }
            schedule.document.metadata.setPaused(paused)
            store(schedule)
            propagatePause(of: schedule)
            emit(kind: "Schedule", uid: uid, namespace: schedule.namespace, name: schedule.name,
                 reason: paused ? "Paused" : "Started", message: paused ? "schedule paused" : "schedule resumed")
        } else if let workflow = workflows[uid] {
            guard paused else { return }
            throw ControllerError(.unsupported, WorkflowEngine.pauseRefusal(workflow: workflow.name))
        } else if let check = statusChecks[uid] {
            guard paused else { return }
            throw ControllerError(.unsupported, "StatusCheck \(check.name) cannot be paused (Chaos Mesh's cannot): delete it")
        } else {
            throw ControllerError(.notFound, "no experiment or schedule with uid \(uid)")
        }
        flush()
        wake()
    }

    /// Chooses the targets of experiments that run and have none yet.
    func selectTargets(at moment: Date) async {
        let waiting = experiments.values.filter { !$0.selected && $0.failure == nil && $0.desiredPhase(at: moment) == .run }
        guard !waiting.isEmpty else { return }
        let needsPods = waiting.contains { $0.document.spec is any PodTargetedSpec }
        let (pods, unreachable) = needsPods ? await fleet.pods() : ([], [:])
        if needsPods && pods.isEmpty && !unreachable.isEmpty {
            let reasons = unreachable.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
            for record in waiting where record.document.spec is any PodTargetedSpec {
                emit(record, reason: "Failed", message: "cannot list pods: \(reasons)", type: .warning)
            }
            return
        }
        // Targets that chose the same pod in this pass share its record's box.
        var boxes: [PodBox.PodKey: PodBox] = [:]
        for candidate in waiting {
            if candidate.document.spec is any MachineTargetedSpec {
                selectMachines(for: candidate.uid)
                continue
            }
            guard var record = experiments[candidate.uid], !record.selected,
                  let spec = record.document.spec as? any PodTargetedSpec else { continue }
            switch PodSelection.select(from: pods, selector: spec.selector, mode: spec.mode, value: spec.value,
                                       defaultNamespace: record.namespace) {
            case .failure(let problem):
                record.failure = problem.description
                record.selected = true
                emit(record, reason: "Failed", message: problem.description, type: .warning)
            case .success(let targets):
                record.records = PodBox.boxes(targets, sharing: &boxes).map { TargetRecord(podBox: $0) }
                record.selected = true
                if let peered = spec as? any PeerTargetedSpec, let peer = peered.peerSelector {
                    switch PodSelection.select(from: pods, selector: peer.selector, mode: peer.mode, value: peer.value,
                                               defaultNamespace: record.namespace) {
                    case .success(let peers): record.peers = peers
                    case .failure(let problem):
                        record.failure = "spec.target: \(problem.description)"
                        record.records = []
                        emit(record, reason: "Failed", message: record.failure!, type: .warning)
                    }
                }
                if record.failure == nil {
                    emit(record, reason: "Selected", message: "selected \(targets.count) target\(targets.count == 1 ? "" : "s"): "
                         + targets.prefix(10).map(\.id).joined(separator: ", ") + (targets.count > 10 ? " ..." : ""))
                }
            }
            store(record)
        }
    }

    /// Chooses the machines of a machine-targeted experiment
    /// (PhysicalMachineChaos): by selector among the fleet's machines, read
    /// as pods are read, or by their agents' addresses.
    func selectMachines(for uid: String) {
        guard var record = experiments[uid], !record.selected,
              let spec = record.document.spec as? any MachineTargetedSpec else { return }
        let machines = fleet.machines()
        var selector = spec.machineSelector ?? PodSelectorSpec()
        if spec.machineSelector == nil {
            // By address: the machines with those agents, named one by one.
            var named: [String: [String]] = [:]
            for address in spec.machineAddresses {
                guard let machine = machines.first(where: { Self.sameAddress($0.address, address) }) ?? fleet.connect(address: address) else {
                    record.failure = "spec.address: \(address): no machine has this address and none can be reached by it"
                    break
                }
                named[machine.namespace, default: []].append(machine.name)
            }
            selector = PodSelectorSpec(pods: named)
        }
        if record.failure == nil {
            // Read again: `connect(address:)` may have added machines above.
            let all = fleet.machines().map(\.asTarget)
            switch PodSelection.select(from: all, selector: selector, mode: spec.mode, value: spec.value,
                                       defaultNamespace: record.namespace) {
            case .success(let targets):
                record.records = targets.map { TargetRecord(pod: $0) }
                emit(record, reason: "Selected", message: "selected \(targets.count) machine\(targets.count == 1 ? "" : "s"): "
                     + targets.prefix(10).map(\.name).joined(separator: ", ") + (targets.count > 10 ? " ..." : ""))
            case .failure(let problem):
                record.failure = "\(problem.description) (machines: \(machines.map(\.name).joined(separator: ", ")))"
            }
        }
        if let failure = record.failure { emit(record, reason: "Failed", message: failure, type: .warning) }
        record.selected = true
        store(record)
    }

    /// Addresses compared as URLs: `http://h:1` is `http://h:1/`.
    static func sameAddress(_ lhs: String, _ rhs: String) -> Bool {
        func normal(_ text: String) -> String {
            var text = text.lowercased()
            while text.hasSuffix("/") { text.removeLast() }
            return text
        }
        return !lhs.isEmpty && normal(lhs) == normal(rhs)
    }

    func plannedWork(at moment: Date) -> [Work] {
        var work: [Work] = []
        // A finished one-shot (a pod-kill done) still holds its attack on the
        // host until deleted: its delete recovers it, so that it is archived.
        for (uid, record) in experiments where record.selected && (record.finishedAt == nil || record.isDeleted) {
            let desired = halted ? DesiredPhase.stop : record.desiredPhase(at: moment)
            let mayBeBusy = busyCount[uid] != nil
            for index in record.records.indices {
                if mayBeBusy && inFlight.contains(TargetKey(experiment: uid, index: index)) { continue }
                switch (desired, record.records[index].phase) {
                case (.run, .notInjected):
                    if record.document.spec.isOneShot && record.records[index].injectedCount > 0 { continue }
                    if let retry = record.records[index].retryAfter, retry > moment { continue }
                    work.append(Work(experiment: uid, index: index, operation: .inject, attacks: []))
                case (.stop, .injected):
                    if let retry = record.records[index].retryAfter, retry > moment { continue }
                    work.append(Work(experiment: uid, index: index, operation: .recover, attacks: record.records[index].attacks))
                default:
                    continue
                }
                markBusy(uid, index)
            }
        }
        return work
    }

    /// Marks experiments finished and archives deleted ones once every
    /// target is recovered — never before.
    func finishAndArchive(at moment: Date) {
        for uid in Array(experiments.keys) {
            guard var record = experiments[uid] else { continue }
            let busy = busyCount[uid] != nil
            if busy { continue }
            if record.isDeleted && record.allRecovered {
                batch.removedExperiments.append(uid)
                var object = try? record.document.encoded()
                if case .object(var fields)? = object {
                    fields["status"] = StatusView.status(of: record, at: moment)
                    object = .object(fields)
                }
                batch.archives.append(ArchiveRecord(
                    uid: uid, kind: record.kind.rawValue, namespace: record.namespace, name: record.name,
                    action: StatusView.action(of: record.document), startTime: record.createdAt, finishTime: moment,
                    object: object ?? .null))
                experiments[uid] = nil
                emit(record, reason: "Archived", message: "every target recovered; archived")
                continue
            }
            guard record.finishedAt == nil, record.selected, record.failure == nil else { continue }
            let oneShotDone = record.document.spec.isOneShot && !record.records.isEmpty
                && record.records.allSatisfy { $0.injectedCount > 0 }
            let durationOver = record.endsAt.map { moment >= $0 } ?? false
            if oneShotDone || (durationOver && record.allRecovered) {
                record.finishedAt = moment
                store(record)
                emit(record, reason: "Finished", message: oneShotDone ? "done" : "duration over; every target recovered")
            }
        }
    }
}
