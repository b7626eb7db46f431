import Foundation
import TumultModel
import TumultSystem

/// Applies a `TimeFault` and undoes it.
///
/// Each process gets `ClockPatcher`'s patch: one page mapped into it with
/// replacements of the vDSO's `clock_gettime`, `gettimeofday` and `time`
/// (the system call, then the offset for the chosen clocks), and the
/// vDSO's entries turned into jumps to them. Threads share the patched
/// code; children forked during the fault copy it, so they read the same
/// skewed clocks, and recovery finds them by the attack's marker in their
/// vDSO. Programs a target *executes* during the fault get a fresh vDSO and
/// read real time (Chaos Mesh does the same).
public struct TimeFaultInjector: FaultInjector {
    public typealias Fault = TimeFault
    public typealias UndoStep = TimeUndoStep
    public static let family = "time"

    public init() {}

    public func apply(_ fault: TimeFault, attack: String, recorder: ChangeRecorder) throws {
        if let reason = ClockPatcher.unsupportedReason { throw FaultError(.unsupported, reason) }
        guard fault.offsetNanoseconds != 0 else {
            throw FaultError(.invalidFault, "a time offset of 0 shifts nothing")
        }
        let processes = try Self.processes(of: fault)
        let skew = ClockSkew(offsetNanoseconds: fault.offsetNanoseconds, clockIDs: fault.clocks.map(\.kernelID))
        var done: [TimeUndoStep] = []
        do {
            // First the sweep for forked children: undone last, after every target.
            let sweep = TimeUndoStep.restoreForked(attack: attack)
            let swept = try recorder.willApply("restore the clocks of children forked during the fault", undo: Self.encodeStep(sweep))
            done.append(sweep)
            try recorder.didApply(swept, undo: nil)
            for process in processes {
                let step = TimeUndoStep.restoreProcess(pid: process.pid, startTime: process.startTime, attack: attack)
                let sequence = try recorder.willApply("shift the clocks of pid \(process.pid) (\(process.command)) by \(fault.summary)",
                                                      undo: Self.encodeStep(step))
                done.append(step)
                do {
                    _ = try ClockPatcher.patch(pid: process.pid, skew: skew, marker: attack)
                } catch where !ProcessTable.isSame(process.pid, startTime: process.startTime) {
                    // It exited meanwhile: nothing to shift, nothing to undo.
                    try recorder.didApply(sequence, undo: nil)
                    continue
                }
                guard ClockPatcher.isPatched(pid: process.pid, marker: attack)
                        || !ProcessTable.isSame(process.pid, startTime: process.startTime) else {
                    throw FaultError(.readBackFailed, "the clocks of pid \(process.pid) were patched but read back unpatched")
                }
                try recorder.didApply(sequence, undo: nil)
            }
        } catch {
            try? recover(done, attack: attack)
            if error is FaultError { throw error }
            throw FaultError(.applyFailed, "could not shift the clocks of \(fault.target) by \(fault.summary)", cause: error)
        }
    }

    /// The processes the fault shifts: the target's, and with
    /// `includeDescendants` every descendant they have now.
    static func processes(of fault: TimeFault) throws -> [ProcessTarget.Process] {
        var found = try fault.target.resolve()
        guard fault.includeDescendants else { return found }
        var known = Set(found.map(\.pid))
        let ourselves = ProcessTarget.ourselves
        var added = true
        let entries = ProcessTable.pids().compactMap(ProcessTable.entry)
        while added {
            added = false
            for entry in entries where !known.contains(entry.pid) && known.contains(entry.parent) {
                guard !entry.isGone, ProcessTarget.protection(of: entry, ourselves: ourselves) == nil else { continue }
                known.insert(entry.pid)
                found.append(ProcessTarget.Process(pid: entry.pid, startTime: entry.startTime, command: entry.command))
                added = true
            }
        }
        return found
    }

    public func recover(_ steps: [TimeUndoStep], attack: String) throws {
        try undoEach(steps) { try undo($0) }
    }

    func undo(_ step: TimeUndoStep) throws {
        switch step {
        case .restoreProcess(let pid, let startTime, let attack):
            // Another process with the recycled pid is not ours to touch.
            guard ProcessTable.isSame(pid, startTime: startTime) else { return }
            do {
                try ClockPatcher.restore(pid: pid, marker: attack)
            } catch where !ProcessTable.isSame(pid, startTime: startTime) {
                return  // it exited while being restored
            }
        case .restoreForked(let attack):
            var failures: [String] = []
            for patch in ClockPatcher.patchedProcesses(marker: attack) {
                do {
                    try ClockPatcher.restore(pid: patch.pid, marker: attack)
                } catch where Processes.isAlive(patch.pid) {
                    failures.append("pid \(patch.pid): \(error)")
                }
            }
            if !failures.isEmpty {
                throw FaultError(.recoverFailed, "could not restore the clocks of " + failures.joined(separator: "; "))
            }
        }
    }
}
