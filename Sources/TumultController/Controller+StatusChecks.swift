import Foundation
import TumultAgent
import TumultModel

// StatusChecks, applied on their own or started by a Workflow: records,
// events, and the probes the background loop runs when they fall due.
extension Controller {
    func applyStatusCheck(_ document: ChaosDocument) throws -> (uid: String, result: ApplyResult) {
        try applyByName(document, in: statusChecks, store: { store($0) }, delete: { try deleteStatusCheck($0) },
                        create: { createStatusCheck($0, workflowUID: nil) })
    }

    func createStatusCheck(_ document: ChaosDocument, workflowUID: String?) -> String {
        let uid = (workflowUID == nil ? givenUID(of: document) : nil) ?? UUID().uuidString.lowercased()
        var document = document
        let created = now
        document.metadata.uid = uid
        document.metadata.creationTimestamp = Self.timestamp(created)
        let record = StatusCheckRecord(uid: uid, document: document, createdAt: created, workflowUID: workflowUID)
        store(record)
        emit(kind: "StatusCheck", uid: uid, namespace: record.namespace, name: record.name, reason: "Created",
             message: "status check created: \(record.spec?.http?.url ?? "")")
        wakeBackground()
        return uid
    }

    /// A check has nothing on the host to undo: it is archived at once,
    /// with its history.
    func deleteStatusCheck(_ uid: String) throws {
        guard let record = statusChecks[uid] else { return }
        let moment = now
        var object = try? record.document.encoded()
        if case .object(var fields)? = object {
            fields["status"] = record.status
            object = .object(fields)
        }
        batch.removedStatusChecks.append(uid)
        batch.archives.append(ArchiveRecord(uid: uid, kind: "StatusCheck", namespace: record.namespace, name: record.name,
                                            action: record.spec?.type.rawValue ?? "HTTP", startTime: record.createdAt,
                                            finishTime: moment, object: object ?? .null))
        statusChecks[uid] = nil
        dirtyStatusChecks.remove(uid)
        probing.remove(uid)
        emit(kind: "StatusCheck", uid: uid, namespace: record.namespace, name: record.name, reason: "Deleted",
             message: "status check deleted; archived with \(record.state.count) probe\(record.state.count == 1 ? "" : "s")")
    }

    /// Ends the checks whose duration passed (a probe is not needed for
    /// that); the ones that ended wake the loop for their workflows.
    func expireStatusChecks(at moment: Date) {
        for uid in Array(statusChecks.keys) {
            guard var record = statusChecks[uid], !record.state.isOver, let endsAt = record.state.endsAt, moment >= endsAt,
                  !probing.contains(uid) else { continue }
            let events = record.state.expire(at: moment)
            store(record)
            publish(events, of: record)
        }
    }

    /// Takes the checks whose probe is due, marked as probing.
    func dueProbes(at moment: Date) -> [(uid: String, check: HTTPStatusCheck, timeout: Duration, startedAt: Date)] {
        var due: [(uid: String, check: HTTPStatusCheck, timeout: Duration, startedAt: Date)] = []
        for (uid, record) in statusChecks where !record.isDeleted && !probing.contains(uid) && record.state.isProbeDue(at: moment) {
            guard let http = record.spec?.http else { continue }
            probing.insert(uid)
            due.append((uid, http, record.state.policy.timeout, moment))
        }
        return due
    }

    /// A probe's result, recorded at the time it started.
    func recordProbe(_ uid: String, _ result: ProbeResult, startedAt: Date) {
        probing.remove(uid)
        wakeBackground()
        guard var record = statusChecks[uid] else { return }
        let wasOver = record.state.isOver
        let events = record.state.record(result, at: startedAt)
        store(record)
        publish(events, of: record)
        // The loop acts on a check's end (a workflow's node, an abort) at once.
        if record.state.isOver && !wasOver {
            flush()
            wake()
        } else {
            flush()
        }
    }

    func publish(_ events: [StatusCheckEvent], of record: StatusCheckRecord) {
        for event in events {
            emit(kind: "StatusCheck", uid: record.uid, namespace: record.namespace, name: record.name, reason: event.reason,
                 message: event.message, type: event.type == .warning ? .warning : .normal)
        }
    }

    /// When the next probe or a duration's end is due among running checks.
    func statusChecksDue() -> Date? {
        statusChecks.values.filter { !$0.isDeleted && !probing.contains($0.uid) }.compactMap(\.state.wakeAt).min()
    }
}

// The background loop: probes and tasks, which take seconds and must not
// hold up a pass. Each runs as a child task of the loop; their results come
// back through the actor and wake the main loop when a workflow waits.
extension Controller {
    func wakeBackground() { ring(.background) }

    func backgroundLoop() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                alarms[.background]?.pending = false
                for job in startBackgroundWork(at: now) { group.addTask { await job() } }
                await sleep(.background, until: statusChecksDue(), atMost: configuration.tick)
            }
            group.cancelAll()
        }
    }

    /// The probes due and the task runs and cancels asked for, as jobs.
    func startBackgroundWork(at moment: Date) -> [@Sendable () async -> Void] {
        expireStatusChecks(at: moment)
        var jobs: [@Sendable () async -> Void] = []
        if let prober = configuration.statusProber {
            for probe in dueProbes(at: moment) {
                jobs.append {
                    let result = await prober.probe(probe.check, timeout: probe.timeout)
                    await self.recordProbe(probe.uid, result, startedAt: probe.startedAt)
                }
            }
        }
        let agent = fleet.agent(for: fleet.localMachine)
        for job in pendingTasks {
            jobs.append {
                let progress: LeafObservation.TaskProgress
                if let agent {
                    do {
                        let outcome = try await agent.runTask(job.request)
                        progress = .exited(exitCode: outcome.exitCode, stdout: outcome.stdout)
                    } catch {
                        progress = .failed(String(describing: error))
                    }
                } else {
                    progress = .failed("no host to run the task on")
                }
                await self.taskEnded(job, progress)
            }
        }
        for id in pendingTaskCancels {
            jobs.append { try? await agent?.cancelTask(id) }
        }
        pendingTasks = []
        pendingTaskCancels = []
        flush()
        return jobs
    }

    /// For tests with a manual clock: starts what is due and waits for it.
    func backgroundRound() async {
        let jobs = startBackgroundWork(at: now)
        await withDiscardingTaskGroup { group in
            for job in jobs { group.addTask { await job() } }
        }
    }
}
