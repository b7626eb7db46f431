import Foundation
import TumultAgent
import TumultModel

// Injections, recoveries, watches and in-place changes as work items, run
// on the hosts with bounded concurrency, and their outcomes applied to the
// records.
extension Controller {
    // MARK: Work

    struct Work: Sendable {
        /// `reconfigure`: the target's running faults changed in place to
        /// the experiment's current document (`Controller.reconfigure`).
        enum Operation: Sendable { case inject, recover, watch, reconfigure }
        var experiment: String
        var index: Int
        var operation: Operation
        var attacks: [AttackID]
        var request: InjectionRequest?
    }

    struct Outcome: Sendable {
        var work: Work
        var attacks: [AttackID]
        var error: String?
        /// What a watch found lost.
        var lost: [LostFault] = []
    }

    func perform(_ work: [Work]) async -> [Outcome] {
        var prepared = work
        for position in prepared.indices where prepared[position].operation == .inject || prepared[position].operation == .reconfigure {
            let item = prepared[position]
            guard let record = experiments[item.experiment] else { continue }
            let target = record.records[item.index]
            prepared[position].request = InjectionRequest(
                owner: AttackOwner(controller: configuration.controllerID, experiment: item.experiment, target: target.id),
                document: record.document, target: target.pod, peers: record.peers, endsAt: record.endsAt)
        }
        let hosts = self.hosts
        let observer = configuration.observer
        var kinds: [String: String] = [:]
        for item in prepared { kinds[item.experiment] = experiments[item.experiment]?.kind.rawValue }
        let kindOf = kinds
        let width = max(1, configuration.concurrency)
        return await withTaskGroup(of: Outcome.self) { group in
            var outcomes: [Outcome] = []
            outcomes.reserveCapacity(prepared.count)
            var iterator = prepared.makeIterator()
            func add(_ item: Work) {
                group.addTask {
                    let started = ContinuousClock.now
                    var outcome: Outcome
                    do {
                        switch item.operation {
                        case .inject:
                            guard let request = item.request else { return Outcome(work: item, attacks: [], error: "experiment gone") }
                            outcome = Outcome(work: item, attacks: try await hosts.inject(request), error: nil)
                        case .recover:
                            try await hosts.recover(item.attacks)
                            outcome = Outcome(work: item, attacks: [], error: nil)
                        case .watch:
                            return Outcome(work: item, attacks: item.attacks, error: nil, lost: await hosts.heal(item.attacks))
                        case .reconfigure:
                            guard let request = item.request else { return Outcome(work: item, attacks: item.attacks, error: "experiment gone") }
                            try await hosts.reconfigure(item.attacks, request)
                            return Outcome(work: item, attacks: item.attacks, error: nil)
                        }
                    } catch {
                        outcome = Outcome(work: item, attacks: item.attacks, error: String(describing: error))
                    }
                    if let observer {
                        let elapsed = ContinuousClock.now - started
                        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                        observer.didFinish(item.operation == .inject ? .inject : .recover, kind: kindOf[item.experiment] ?? "",
                                           seconds: seconds, succeeded: outcome.error == nil)
                    }
                    return outcome
                }
            }
            for _ in 0..<width {
                guard let item = iterator.next() else { break }
                add(item)
            }
            while let outcome = await group.next() {
                outcomes.append(outcome)
                if let item = iterator.next() { add(item) }
            }
            return outcomes
        }
    }

    func apply(_ outcomes: [Outcome], at moment: Date) {
        var touched: [String: ExperimentRecord] = [:]
        var lateRecoveries: [Work] = []
        var needsPass = false
        for outcome in outcomes {
            let item = outcome.work
            markDone(item.experiment, item.index)
            // A watch that found everything in place changes nothing: the
            // record is not rewritten (10,000 experiments every 2 s would be).
            // But a pass skipped the target while it was busy (a halt, pause
            // or delete that came during the check): the loop looks again.
            if item.operation == .watch && outcome.lost.isEmpty {
                if let record = experiments[item.experiment], record.records.indices.contains(item.index),
                   record.records[item.index].phase == .injected,
                   halted || record.desiredPhase(at: moment) == .stop {
                    needsPass = true
                }
                continue
            }
            guard var record = touched[item.experiment] ?? experiments[item.experiment],
                  record.records.indices.contains(item.index) else { continue }
            var target = record.records[item.index]
            switch (item.operation, outcome.error) {
            case (.inject, nil):
                target.phase = .injected
                target.injectedCount += 1
                target.attacks = outcome.attacks
                target.retryAfter = nil
                target.record(RecordEvent(type: .succeeded, operation: .apply, message: "injected", timestamp: moment))
                emit(record, reason: "Applied", message: "injected into \(target.id)")
                // Paused, deleted or halted while injecting: undo at once.
                if halted || record.desiredPhase(at: moment) == .stop && !record.document.spec.isOneShot {
                    lateRecoveries.append(Work(experiment: item.experiment, index: item.index, operation: .recover,
                                               attacks: outcome.attacks))
                }
            case (.inject, let error?):
                target.retryAfter = moment.addingTimeInterval(configuration.retryDelay)
                target.record(RecordEvent(type: .failed, operation: .apply, message: error, timestamp: moment))
                emit(record, reason: "Failed", message: "inject into \(target.id): \(error)", type: .warning)
            case (.recover, nil):
                target.phase = .notInjected
                target.recoveredCount += 1
                target.attacks = []
                target.record(RecordEvent(type: .succeeded, operation: .recover, message: "recovered", timestamp: moment))
                emit(record, reason: "Recovered", message: "recovered \(target.id)")
            case (.recover, let error?):
                // Tried again after the retry delay, not at once: every
                // outcome wakes the loop, and a host that keeps refusing
                // must not be asked in a tight loop.
                target.retryAfter = moment.addingTimeInterval(configuration.retryDelay)
                target.record(RecordEvent(type: .failed, operation: .recover, message: error, timestamp: moment))
                emit(record, reason: "Failed", message: "recover \(target.id): \(error)", type: .warning)
            case (.reconfigure, nil):
                target.record(RecordEvent(type: .succeeded, operation: .apply, message: "changed in place", timestamp: moment))
                emit(record, reason: "Reconfigured", message: "changed the faults on \(target.id) in place")
            case (.reconfigure, let error?):
                // The caller (`reconfigure`) recovers and injects it afresh.
                target.record(RecordEvent(type: .failed, operation: .apply, message: "not changed in place: \(error)", timestamp: moment))
                emit(record, reason: "NotReconfigured", message: "could not change the faults on \(target.id) in place: \(error)",
                     type: .warning)
            case (.watch, _):
                for lost in outcome.lost {
                    target.faultsLost = (target.faultsLost ?? 0) + 1
                    target.record(RecordEvent(type: .failed, operation: .apply, message: "fault lost: \(lost.detail)", timestamp: moment))
                    emit(record, reason: "FaultLost", message: "fault lost on \(target.id): \(lost.detail)", type: .warning)
                    configuration.observer?.didLoseFault(kind: record.kind.rawValue, restored: lost.restored)
                    if lost.restored {
                        target.faultsRestored = (target.faultsRestored ?? 0) + 1
                        target.record(RecordEvent(type: .succeeded, operation: .apply, message: "fault restored", timestamp: moment))
                        emit(record, reason: "FaultRestored", message: "fault restored on \(target.id)")
                    } else {
                        target.record(RecordEvent(type: .failed, operation: .apply, message: "not restored: \(lost.error ?? "")", timestamp: moment))
                        emit(record, reason: "FaultNotRestored", message: "could not restore the fault on \(target.id): \(lost.error ?? "")",
                             type: .warning)
                    }
                }
                if outcome.lost.contains(where: { !$0.restored }) {
                    // Whatever is left of the target's faults (the lost one
                    // included, should its undo have failed half-way) is
                    // recovered, then the target injected afresh after the
                    // retry delay.
                    target.retryAfter = moment.addingTimeInterval(configuration.retryDelay)
                    lateRecoveries.append(Work(experiment: item.experiment, index: item.index, operation: .recover,
                                               attacks: target.attacks))
                }
            }
            record.records[item.index] = target
            touched[item.experiment] = record
        }
        for record in touched.values { store(record) }
        // Recoveries these outcomes call for are carried out by whoever
        // carries out this work (`carryOut`), before it returns: no task
        // is left running on its own.
        for item in lateRecoveries { markBusy(item.experiment, item.index) }
        pendingRecoveries += lateRecoveries
        // A record changed: the loop looks again (a deleted experiment may
        // now be archived). A watch that found everything in place changed
        // nothing and wakes nobody, unless its targets now have work.
        if !touched.isEmpty || !lateRecoveries.isEmpty || needsPass { wake() }
    }

    /// Runs `work` on the hosts, applies the outcomes to the records, then
    /// the recoveries those outcomes called for (an injection that landed
    /// after a pause or delete, what is left of a fault found lost).
    @discardableResult
    func carryOut(_ work: [Work]) async -> [Outcome] {
        let outcomes = await perform(work)
        apply(outcomes, at: now)
        while !pendingRecoveries.isEmpty {
            let late = pendingRecoveries
            pendingRecoveries = []
            apply(await perform(late), at: now)
        }
        return outcomes
    }
}
