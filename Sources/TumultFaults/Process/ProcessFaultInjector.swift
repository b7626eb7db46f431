import Foundation
import TumultSystem

/// Applies a `ProcessFault` to the processes its target names and undoes it.
///
/// `kill` signals (one-shot, nothing to undo); `stop` sends SIGSTOP and
/// recovery SIGCONT; `freeze` freezes the processes' cgroup with the cgroup
/// freezer, or, when they share their cgroup with others (or sit in the root
/// cgroup), moves them into a cgroup `tmt-<attack>` made below theirs and
/// freezes that. Tumult itself, its callers and helpers are never targets.
public struct ProcessFaultInjector: FaultInjector {
    public typealias Fault = ProcessFault
    public typealias UndoStep = ProcessUndoStep
    public static let family = "process"

    /// How long a signal, a freeze or a thaw may take to show in /proc or the cgroup.
    public var settleTimeout: TimeInterval

    public init(settleTimeout: TimeInterval = 5) {
        self.settleTimeout = settleTimeout
    }

    // MARK: Apply

    public func apply(_ fault: ProcessFault, attack: String, recorder: ChangeRecorder) throws {
        try check(fault)
        let targets = try fault.target.resolve()
        var done: [ProcessUndoStep] = []
        do {
            switch fault.action {
            case .kill: try kill(targets, fault: fault, recorder: recorder)
            case .stop: try stop(targets, recorder: recorder, done: &done)
            case .freeze: try freeze(targets, fault: fault, attack: attack, recorder: recorder, done: &done)
            }
        } catch {
            try? recover(done, attack: attack)
            if error is FaultError { throw error }
            throw FaultError(.applyFailed, "could not \(fault.summary) \(fault.target)", cause: error)
        }
    }

    func check(_ fault: ProcessFault) throws {
        guard (1...64).contains(fault.signal) else { throw FaultError(.invalidFault, "\(fault.signal) is not a signal number (1-64)") }
        if let grace = fault.gracePeriod, !(grace >= 0 && grace.isFinite) {
            throw FaultError(.invalidFault, "the grace period must be 0 seconds or more")
        }
    }

    /// Polls `condition` until it holds or `settleTimeout` passes.
    func settles(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(settleTimeout)
        while !condition() {
            if Date() >= deadline { return false }
            usleep(10_000)
        }
        return true
    }

    func label(_ process: ProcessTarget.Process) -> String { "pid \(process.pid) (\(process.command))" }

    /// Sends `signal`; false when the process is already gone.
    func send(_ signal: Int32, to process: ProcessTarget.Process) throws -> Bool {
        guard ProcessTable.isSame(process.pid, startTime: process.startTime) else { return false }
        if Glibc.kill(process.pid, signal) == 0 { return true }
        if errno == ESRCH { return false }
        throw FaultError(.applyFailed, "could not send \(SignalName.name(of: signal)) to \(label(process)): "
                         + String(cString: strerror(errno)))
    }

    // MARK: kill

    /// Signals every target; with a grace period, SIGTERM and then SIGKILL
    /// for whatever is still alive. Read back: a SIGKILLed process is gone.
    func kill(_ targets: [ProcessTarget.Process], fault: ProcessFault, recorder: ChangeRecorder) throws {
        let first = fault.gracePeriod == nil ? fault.signal : SIGTERM
        var signalled: [ProcessTarget.Process] = []
        for target in targets {
            let sequence = try recorder.willApply(
                "\(SignalName.name(of: first)) \(label(target))",
                undo: Self.encodeStep(.signalled(pid: target.pid, startTime: target.startTime, command: target.command, signal: first)))
            if try send(first, to: target) { signalled.append(target) }
            try recorder.didApply(sequence, undo: nil)
        }
        guard !signalled.isEmpty else { throw FaultError(.invalidFault, "every target of \(fault.target) exited before the signal") }
        var killed = first == SIGKILL ? signalled : []
        if let grace = fault.gracePeriod {
            let deadline = Date().addingTimeInterval(grace)
            var alive = signalled
            while true {
                alive = alive.filter { ProcessTable.isSame($0.pid, startTime: $0.startTime) }
                if alive.isEmpty || Date() >= deadline { break }
                usleep(20_000)
            }
            for target in alive {
                let sequence = try recorder.willApply(
                    "SIGKILL \(label(target)) after the grace period",
                    undo: Self.encodeStep(.signalled(pid: target.pid, startTime: target.startTime, command: target.command, signal: SIGKILL)))
                if try send(SIGKILL, to: target) { killed.append(target) }
                try recorder.didApply(sequence, undo: nil)
            }
        }
        let survivors = { killed.filter { ProcessTable.isSame($0.pid, startTime: $0.startTime) } }
        guard settles({ survivors().isEmpty }) else {
            throw FaultError(.readBackFailed, "SIGKILL was sent but " + survivors().map(label).joined(separator: ", ")
                             + " is still running (in uninterruptible sleep?)")
        }
    }

    // MARK: stop

    /// SIGSTOP to every target not stopped already, each journaled first.
    /// Read back: the process's state is `T`.
    func stop(_ targets: [ProcessTarget.Process], recorder: ChangeRecorder, done: inout [ProcessUndoStep]) throws {
        var stopped = 0
        for target in targets {
            // Stopped by someone else: resuming it on recovery would not be ours to do.
            guard let entry = ProcessTable.entry(target.pid), entry.startTime == target.startTime,
                  !entry.isGone, !entry.isStopped else { continue }
            let undo = ProcessUndoStep.resume(pid: target.pid, startTime: target.startTime)
            let sequence = try recorder.willApply("SIGSTOP \(label(target))", undo: Self.encodeStep(undo))
            done.append(undo)
            guard try send(SIGSTOP, to: target) else { continue }
            guard settles({ ProcessTable.entry(target.pid).map { $0.isStopped || $0.isGone } ?? true }) else {
                throw FaultError(.readBackFailed, "SIGSTOP was sent but \(label(target)) is not stopped")
            }
            try recorder.didApply(sequence, undo: nil)
            stopped += 1
        }
        guard stopped > 0 else { throw FaultError(.invalidFault, "every target was already stopped or gone") }
    }

    // MARK: freeze

    /// Freezes the targets' cgroups: in place when a cgroup holds targets
    /// only (or `--cgroup` named it), else by moving the targets into a
    /// cgroup of their own below theirs.
    func freeze(_ targets: [ProcessTarget.Process], fault: ProcessFault, attack: String, recorder: ChangeRecorder,
                done: inout [ProcessUndoStep]) throws {
        guard let hierarchy = CgroupHierarchy.freezer() else {
            throw FaultError(.unsupported, "this host has no cgroup freezer (neither cgroup v2 nor a v1 freezer hierarchy is mounted)")
        }
        let ourselves = ProcessTarget.ourselves
        var inPlace: [Cgroup] = []
        var moves: [(source: Cgroup, processes: [ProcessTarget.Process])] = []
        if case .cgroup(let text) = fault.target, let named = try? ProcessTarget.namedCgroup(text), named.hierarchy == hierarchy {
            guard !named.isRoot else { throw FaultError(.invalidFault, "Tumult never freezes the root cgroup") }
            guard Set(named.processesIncludingDescendants()).isDisjoint(with: ourselves) else {
                throw FaultError(.invalidFault, "cgroup \(named.path) contains Tumult itself or the shell that runs it")
            }
            inPlace = [named]
        } else {
            let targetPids = Set(targets.map(\.pid))
            var bySource: [Cgroup: [ProcessTarget.Process]] = [:]
            for target in targets {
                guard let source = hierarchy.cgroup(of: target.pid) else { continue }
                bySource[source, default: []].append(target)
            }
            for (source, processes) in bySource.sorted(by: { $0.key.path < $1.key.path }) {
                let members = Set(source.processesIncludingDescendants())
                if !source.isRoot, members.isSubset(of: targetPids), members.isDisjoint(with: ourselves) {
                    inPlace.append(source)
                } else {
                    moves.append((source, processes))
                }
            }
        }
        for cgroup in inPlace where cgroup.isFreezeRequested {
            throw FaultError(.invalidFault, "cgroup \(cgroup.path) is frozen already")
        }

        for cgroup in inPlace {
            try freeze(cgroup, summary: "freeze cgroup \(cgroup)", recorder: recorder, done: &done)
        }
        for (source, processes) in moves {
            let own = source.child("tmt-\(attack.prefix(8))")
            let remove = ProcessUndoStep.removeCgroup(cgroup: own)
            let created = try recorder.willApply("create cgroup \(own)", undo: Self.encodeStep(remove))
            done.append(remove)
            try own.create()
            try recorder.didApply(created, undo: nil)
            for target in processes {
                let back = ProcessUndoStep.moveBack(pid: target.pid, startTime: target.startTime, moved: own, original: source)
                let sequence = try recorder.willApply("move \(label(target)) from cgroup \(source) to \(own)",
                                                      undo: Self.encodeStep(back))
                done.append(back)
                guard ProcessTable.isSame(target.pid, startTime: target.startTime) else { continue }
                do { try own.move(target.pid) } catch let error as CgroupError where error.errno == ESRCH { continue }
                guard hierarchy.cgroup(of: target.pid) == own || !ProcessTable.isSame(target.pid, startTime: target.startTime) else {
                    throw FaultError(.readBackFailed, "\(label(target)) was moved to cgroup \(own) but is not in it")
                }
                try recorder.didApply(sequence, undo: nil)
            }
            try freeze(own, summary: "freeze cgroup \(own)", recorder: recorder, done: &done)
        }
    }

    /// Freezes one cgroup, journaled first. Read back: the freezer reads FROZEN.
    func freeze(_ cgroup: Cgroup, summary: String, recorder: ChangeRecorder, done: inout [ProcessUndoStep]) throws {
        let thaw = ProcessUndoStep.thaw(cgroup: cgroup)
        let sequence = try recorder.willApply(summary, undo: Self.encodeStep(thaw))
        done.append(thaw)
        try cgroup.setFrozen(true)
        guard settles({ cgroup.freezerState == .frozen }) else {
            throw FaultError(.readBackFailed, "cgroup \(cgroup) was told to freeze but its freezer reads "
                             + (cgroup.freezerState?.rawValue ?? "nothing"))
        }
        try recorder.didApply(sequence, undo: nil)
    }

    // MARK: Recover

    public func recover(_ steps: [ProcessUndoStep], attack: String) throws {
        try undoEach(steps) { try undo($0) }
    }

    func undo(_ step: ProcessUndoStep) throws {
        switch step {
        case .signalled:
            break
        case .resume(let pid, let startTime):
            guard ProcessTable.isSame(pid, startTime: startTime) else { return }
            guard Glibc.kill(pid, SIGCONT) == 0 || errno == ESRCH else {
                throw FaultError(.recoverFailed, "could not send SIGCONT to pid \(pid): \(String(cString: strerror(errno)))")
            }
        case .thaw(let cgroup):
            try thaw(cgroup)
        case .moveBack(let pid, let startTime, let moved, let original):
            guard ProcessTable.isSame(pid, startTime: startTime), moved.hierarchy.cgroup(of: pid) == moved else { return }
            var destination = original
            while !destination.exists, let parent = destination.parent { destination = parent }
            do { try destination.move(pid) } catch let error as CgroupError where error.errno == ESRCH {}
        case .removeCgroup(let cgroup):
            guard cgroup.exists, let parent = cgroup.parent else { return }
            let all = [cgroup] + cgroup.descendants()
            for member in all { try thaw(member) }
            var lastError: Error?
            let removed = settles {
                for member in all.reversed() where member.exists {
                    for pid in member.processes() { try? parent.move(pid) }
                    do { try member.remove() } catch { lastError = error; return false }
                }
                return true
            }
            if !removed { throw FaultError(.recoverFailed, "could not remove cgroup \(cgroup)", cause: lastError) }
        }
    }

    /// Thaws a cgroup that is still there and was frozen itself.
    func thaw(_ cgroup: Cgroup) throws {
        guard cgroup.exists, cgroup.isFreezeRequested else { return }
        try cgroup.setFrozen(false)
        guard settles({ !cgroup.isFreezeRequested }) else {
            throw FaultError(.recoverFailed, "cgroup \(cgroup) was told to thaw but is still frozen")
        }
    }
}
