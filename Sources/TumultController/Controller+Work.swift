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
    }

    struct Outcome: Sendable {
        var work: Work
        var attacks: [AttackID]
        var error: String?
        /// What a watch found lost.
        var lost: [LostFault] = []
    }

    /// How many items a large round runs, applies and saves at a time
    /// rather than all before the first outcome is applied: a first pass
    /// over 62,000 targets held every outcome, every changed record twice
    /// and every event until the last injection returned (about 40 MB at once).
    static let outcomeStep = 4096

    /// Runs `work` on the hosts, at most `concurrency` at once; every
    /// outcome once all are in.
    func perform(_ work: [Work]) async -> [Outcome] {
        // The records as they are now, one per experiment: each injection's
        // request is made from them as its task starts, not all up front (a
        // request carries the document and the pod: 62,000 of them at once
        // were 40 MB for the first pass alone).
        var snapshot: [String: ExperimentRecord] = [:]
        for item in work where snapshot[item.experiment] == nil {
            snapshot[item.experiment] = experiments[item.experiment]
        }
        let records = snapshot
        let controllerID = configuration.controllerID
        func request(for item: Work) -> InjectionRequest? {
            guard item.operation == .inject || item.operation == .reconfigure, let record = records[item.experiment],
                  record.records.indices.contains(item.index) else { return nil }
            let target = record.records[item.index]
            return InjectionRequest(
                owner: AttackOwner(controller: controllerID, experiment: item.experiment, target: target.id),
                document: record.document, target: target.pod, peers: record.peers, endsAt: record.endsAt)
        }
        let hosts = self.hosts
        let observer = configuration.observer
        let width = max(1, configuration.concurrency)
        return await withTaskGroup(of: Outcome.self) { group in
            var outcomes: [Outcome] = []
            outcomes.reserveCapacity(work.count)
            var iterator = work.makeIterator()
            func add(_ item: Work) {
                let request = request(for: item)
                let kind = records[item.experiment]?.kind.rawValue ?? ""
                group.addTask {
                    let started = ContinuousClock.now
                    var outcome: Outcome
                    do {
                        switch item.operation {
                        case .inject:
                            guard let request else { return Outcome(work: item, attacks: [], error: "experiment gone") }
                            outcome = Outcome(work: item, attacks: try await hosts.inject(request), error: nil)
                        case .recover:
                            try await hosts.recover(item.attacks)
                            outcome = Outcome(work: item, attacks: [], error: nil)
                        case .watch:
                            return Outcome(work: item, attacks: item.attacks, error: nil, lost: await hosts.heal(item.attacks))
                        case .reconfigure:
                            guard let request else { return Outcome(work: item, attacks: item.attacks, error: "experiment gone") }
                            try await hosts.reconfigure(item.attacks, request)
                            return Outcome(work: item, attacks: item.attacks, error: nil)
                        }
                    } catch {
                        outcome = Outcome(work: item, attacks: item.attacks, error: String(describing: error))
                    }
                    if let observer {
                        let elapsed = ContinuousClock.now - started
                        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                        observer.didFinish(item.operation == .inject ? .inject : .recover, kind: kind,
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
        // Experiments whose records changed, changed in place: a copy of
        // each (a dictionary of 10,000 records, each target array copied
        // again) would be made for nothing.
        var touched: Set<String> = []
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
            guard var target = experiments[item.experiment].flatMap({ record in
                record.records.indices.contains(item.index) ? record.records[item.index] : nil
            }) else { continue }
            // The record read in a scope of its own, so that it no longer
            // shares the target array when the target is written back.
            if let record = experiments[item.experiment] {
                update(&target, with: outcome, of: record, at: moment, lateRecoveries: &lateRecoveries)
            }
            experiments[item.experiment]?.records[item.index] = target
            touched.insert(item.experiment)
        }
        for uid in touched {
            if let record = experiments[uid] { store(record) }
        }
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

    /// What one outcome does to its target's record, and the events it emits.
    private func update(_ target: inout TargetRecord, with outcome: Outcome, of record: ExperimentRecord, at moment: Date,
                        lateRecoveries: inout [Work]) {
        let item = outcome.work
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
    }

    /// Runs `work` on the hosts, applies the outcomes to the records, then
    /// the recoveries those outcomes called for (an injection that landed
    /// after a pause or delete, what is left of a fault found lost).
    ///
    /// A round of more than `outcomeStep` items runs in steps of
    /// `outcomeStep`, each applied and saved (`flush`) before the next
    /// starts, so that what it changed is not all held at once (every
    /// target of a step stays marked busy until its own outcome);
    /// `keepingOutcomes`: false when the caller does not read them.
    @discardableResult
    func carryOut(_ work: [Work], keepingOutcomes: Bool = true) async -> [Outcome] {
        var kept: [Outcome] = []
        let stepped = work.count > Self.outcomeStep
        var start = work.startIndex
        repeat {
            let end = stepped ? min(start + Self.outcomeStep, work.endIndex) : work.endIndex
            let outcomes = await perform(Array(work[start..<end]))
            apply(outcomes, at: now)
            if stepped { flush() }
            if keepingOutcomes { kept += outcomes }
            start = end
        } while start < work.endIndex
        while !pendingRecoveries.isEmpty {
            let late = pendingRecoveries
            pendingRecoveries = []
            apply(await perform(late), at: now)
        }
        return kept
    }
}
