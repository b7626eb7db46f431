import Foundation
import TumultAgent
import TumultModel

// The run loop: a pass when something changed or fell due, then sleep
// until the next change or due moment. No polling: an idle controller
// holding 62,000 target records does nothing until one of them is due.
extension Controller {
    /// The service's body: puts right what a crashed controller left, then
    /// runs the loop and the liveness checks until cancelled.
    public func run() async {
        await restore()
        await runLoop()
    }

    /// For callers that are not a service (tests, `tumult run`, the
    /// operator's leader): restores, then runs the loop in a task of its
    /// own, ended by `shutdown`.
    public func start() async {
        guard loop == nil else { return }
        await restore()
        loop = Task { await self.runLoop() }
    }

    /// Passes and sleeps; the liveness checks beside them, as a child task.
    func runLoop() async {
        await withDiscardingTaskGroup { group in
            if let interval = configuration.watchInterval {
                group.addTask { await self.watchLoop(every: interval) }
            }
            group.addTask { await self.backgroundLoop() }
            while !Task.isCancelled {
                alarms[.loop]?.pending = false
                let due = await pass()
                // A pass walks every record (tens of ms at 60,000 targets).
                // Changes that arrive one by one (10,000 deletes, each
                // committed and waking the loop) would each cost a whole
                // walk if the next pass began as soon as the actor was
                // free; left free as long as the walk took, it takes them
                // many to a pass. Small controllers walk in microseconds
                // and do not wait.
                if lastWalk > .milliseconds(2) { try? await Task.sleep(for: lastWalk) }
                await sleep(.loop, until: due, atMost: configuration.tick)
            }
            group.cancelAll()
        }
    }

    /// Asks the loop for a pass now instead of at its next due moment.
    public func wake() { ring(.loop) }

    /// Wakes the loop named, or has its next sleep return at once.
    func ring(_ name: AlarmName) {
        alarms[name, default: Alarm()].pending = true
        if let sleeper = alarms[name]?.sleeper {
            alarms[name]?.sleeper = nil
            sleeper.resume()
        }
    }

    /// Until the alarm rings, `due` or `limit`, whichever comes first.
    func sleep(_ name: AlarmName, until due: Date?, atMost limit: Duration) async {
        guard alarms[name]?.pending != true, !Task.isCancelled else { return }
        let cap = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
        let seconds = min(due.map { $0.timeIntervalSince(now) } ?? .infinity, cap)
        guard seconds > 0 else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                guard (try? await Task.sleep(for: .seconds(seconds))) != nil else { return }
                await self.ring(name)
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    if alarms[name]?.pending == true { continuation.resume() } else { alarms[name, default: Alarm()].sleeper = continuation }
                }
            } onCancel: {
                Task { await self.ring(name) }
            }
            group.cancelAll()
        }
    }

    /// Stops the loop; with `recover`, recovers every fault it injected
    /// first (SIGTERM), leaving the experiments to resume on the next start.
    public func shutdown(recover: Bool) async {
        loop?.cancel()
        await loop?.value
        loop = nil
        if recover {
            var work: [Work] = []
            for (uid, record) in experiments {
                for (index, target) in record.records.enumerated() where target.phase == .injected && !target.attacks.isEmpty {
                    work.append(Work(experiment: uid, index: index, operation: .recover, attacks: target.attacks))
                }
            }
            await carryOut(work, keepingOutcomes: false)
        }
        flush()
        for continuation in subscribers.values { continuation.finish() }
        subscribers = [:]
    }

    /// One pass and, when one is due, a liveness check, both finished when
    /// it returns: what tests with a manual clock call instead of the loop.
    public func reconcile() async {
        await backgroundRound()
        _ = await pass()
        if let interval = configuration.watchInterval, now >= nextWatch {
            nextWatch = now.addingTimeInterval(interval)
            await watchRound()
        }
    }

    /// One look at everything: schedules spawn, experiments select, inject,
    /// recover, finish and are archived. Returns when the next look is due
    /// if nothing changes before.
    func pass() async -> Date? {
        let started = ContinuousClock.now
        var waited: Duration = .zero
        let moment = now
        reconcileSchedules(at: moment)
        reconcileWorkflows(at: moment)
        await selectTargets(at: moment)
        let work = plannedWork(at: moment)
        if !work.isEmpty {
            // The chosen targets are saved before the host changes, so a
            // restart knows whom a half-done injection was for.
            flush()
            // Faults leave before the next ones arrive: a Serial workflow's
            // next node, or an experiment replacing another, starts on a
            // host the last one has left.
            let carrying = ContinuousClock.now
            let recoveries = work.filter { $0.operation == .recover }
            if !recoveries.isEmpty && recoveries.count < work.count {
                await carryOut(recoveries, keepingOutcomes: false)
                await carryOut(work.filter { $0.operation != .recover }, keepingOutcomes: false)
            } else {
                await carryOut(work, keepingOutcomes: false)
            }
            waited = ContinuousClock.now - carrying
        }
        finishAndArchive(at: now)
        // Workflows see at once what this pass finished (a pod-kill done,
        // a leaf's experiment archived); what they start wakes the loop.
        if !workflows.isEmpty { reconcileWorkflows(at: now) }
        flush()
        let due = nextDue(after: now)
        lastWalk = ContinuousClock.now - started - waited
        return due
    }

    /// The earliest moment a pass would find something to do that no
    /// change will announce: an experiment's end, a retry after a failed
    /// injection or recovery, a selection that could not list pods, a schedule's run.
    func nextDue(after moment: Date) -> Date? {
        var due: Date?
        func consider(_ date: Date?) {
            guard let date else { return }
            if due.map({ date < $0 }) ?? true { due = date }
        }
        for record in experiments.values where record.finishedAt == nil && record.failure == nil {
            if !record.selected {
                // Still unchosen while it should run: its pods could not be listed.
                if record.desiredPhase(at: moment) == .run { consider(moment.addingTimeInterval(configuration.retryDelay)) }
                continue
            }
            if let endsAt = record.endsAt, endsAt > moment { consider(endsAt) }
            for target in record.records {
                if let retry = target.retryAfter, retry > moment { consider(retry) }
            }
        }
        consider(workflowsDue())
        if !halted {
            for schedule in schedules.values where schedule.deletedAt == nil && !schedule.isPaused {
                guard let spec = schedule.spec else { continue }
                if case .wait(let until) = ScheduleDecision.decide(spec, createdAt: schedule.createdAt,
                                                                  lastScheduleTime: schedule.lastScheduleTime,
                                                                  activeRuns: 0, now: moment) {
                    consider(until)
                }
            }
        }
        return due
    }
}
