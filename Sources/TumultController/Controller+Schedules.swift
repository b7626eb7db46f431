import Foundation
import TumultAgent
import TumultModel

// Schedules: apply, pause propagated to runs, and spawning runs as Kubernetes CronJob rules say.
extension Controller {
    func applySchedule(_ document: ChaosDocument) throws -> (uid: String, result: ApplyResult) {
        // Checked by `admissionProblem` before.
        guard let spec = document.spec as? ScheduleSpec else {
            throw ControllerError(.invalidDocument, "a Schedule without a schedule spec")
        }
        if let existing = schedules.values.first(where: { $0.namespace == document.namespace && $0.name == document.name && $0.deletedAt == nil }) {
            if Self.sameIntent(existing.document, document) { return (existing.uid, .unchanged) }
            var record = existing
            let pausedBefore = record.isPaused
            var updated = document
            updated.metadata.uid = existing.uid
            updated.metadata.creationTimestamp = existing.document.metadata.creationTimestamp
            record.document = updated
            store(record)
            if pausedBefore != record.isPaused { propagatePause(of: record) }
            try commit()
            wake()
            return (record.uid, .configured)
        }
        let uid = givenUID(of: document) ?? UUID().uuidString.lowercased()
        var stored = document
        let created = now
        stored.metadata.uid = uid
        stored.metadata.creationTimestamp = Self.timestamp(created)
        let record = ScheduleRecord(uid: uid, document: stored, createdAt: created)
        store(record)
        emit(kind: "Schedule", uid: uid, namespace: record.namespace, name: record.name, reason: "Created",
             message: "schedule created: \(spec.schedule.text)")
        try commit()
        wake()
        return (uid, .created)
    }

    /// Pausing a Schedule pauses its runs (and resuming resumes them).
    func propagatePause(of schedule: ScheduleRecord) {
        for run in schedule.runs {
            guard var record = experiments[run], !record.isDeleted, record.isPaused != schedule.isPaused else { continue }
            record.document.metadata.setPaused(schedule.isPaused)
            store(record)
        }
    }

    /// A run (an experiment or a workflow) not yet archived.
    func runExists(_ uid: String) -> Bool { experiments[uid] != nil || workflows[uid] != nil }

    /// Whether a live run is over; nil for a deleted or archived one.
    func runIsOver(_ uid: String, at moment: Date) -> Bool? {
        if let record = experiments[uid] { return record.isDeleted ? nil : record.isOver(at: moment) }
        if let record = workflows[uid] { return record.isDeleted ? nil : record.isOver }
        return nil
    }

    func reconcileSchedules(at moment: Date) {
        for uid in Array(schedules.keys) {
            guard var schedule = schedules[uid], let spec = schedule.spec else { continue }
            if schedule.deletedAt != nil {
                schedule.runs.removeAll { !runExists($0) }
                if schedule.runs.isEmpty {
                    batch.removedSchedules.append(uid)
                    batch.archives.append(ArchiveRecord(
                        uid: uid, kind: "Schedule", namespace: schedule.namespace, name: schedule.name,
                        action: spec.type.rawValue, startTime: schedule.createdAt, finishTime: moment,
                        object: (try? schedule.document.encoded()) ?? .null))
                    schedules[uid] = nil
                } else if schedule.runs.count != schedules[uid]?.runs.count {
                    store(schedule)
                }
                continue
            }
            // Finished runs beyond historyLimit are deleted, oldest first.
            let finished = schedule.runs.filter { run in runIsOver(run, at: moment) == true }
            let limit = max(spec.historyLimit ?? 1, 0)
            if finished.count > limit {
                for run in finished.prefix(finished.count - limit) { try? delete(run) }
            }
            let before = schedule.runs.count
            schedule.runs.removeAll { !runExists($0) }
            if schedule.runs.count != before { store(schedule) }
            guard !schedule.isPaused, !halted, let runSpec = spec.runSpec else { continue }
            let active = schedule.runs.filter { run in runIsOver(run, at: moment) == false }
            switch ScheduleDecision.decide(spec, createdAt: schedule.createdAt, lastScheduleTime: schedule.lastScheduleTime,
                                           activeRuns: active.count, now: moment) {
            case .wait, .forbidden:
                continue
            case .missed(let due):
                schedule.lastScheduleTime = due
                store(schedule)
                emit(kind: "Schedule", uid: uid, namespace: schedule.namespace, name: schedule.name, reason: "Missed",
                     message: "run due at \(Self.timestamp(due)) missed its starting deadline", type: .warning)
            case .spawn(let due):
                var metadata = ObjectMeta(name: "\(schedule.name)-\(Self.suffix())", namespace: schedule.namespace,
                                          labels: schedule.document.metadata.labels)
                metadata.annotations = schedule.document.metadata.annotations?.filter { $0.key != ObjectMeta.pauseAnnotation }
                metadata.ownerReferences = [.object(Value.Object([
                    ("apiVersion", .string(ChaosDocument.apiVersion)), ("kind", .string("Schedule")),
                    ("name", .string(schedule.name)), ("uid", .string(uid)),
                ]))]
                let kind: ChaosKind
                if case .chaos(let chaosKind) = spec.type { kind = chaosKind } else { kind = .workflow }
                let document = ChaosDocument(kind: kind, metadata: metadata, spec: runSpec).normalized()
                let run = kind == .workflow ? createWorkflow(document, scheduleUID: uid) : create(document, scheduleUID: uid)
                schedule.runs.append(run)
                schedule.lastScheduleTime = due
                store(schedule)
                emit(kind: "Schedule", uid: uid, namespace: schedule.namespace, name: schedule.name, reason: "Spawned",
                     message: "spawned \(kind.rawValue) \(metadata.name ?? run)")
            }
        }
    }
}
