import TumultSystem

extension TimeFaultInjector {
    /// Every shifted process that still runs still carries the patch. One
    /// that exited is not a lost fault; one whose code was put back (by a
    /// debugger, by hand) is.
    public func check(_ steps: [TimeUndoStep], attack: String) -> [String] {
        steps.compactMap { step in
            guard case .restoreProcess(let pid, let startTime, let attack) = step,
                  ProcessTable.isSame(pid, startTime: startTime),
                  !ClockPatcher.isPatched(pid: pid, marker: attack) else { return nil }
            return "the clocks of pid \(pid) are no longer shifted"
        }
    }
}
