import Foundation
import TumultSystem

extension ProcessFaultInjector {
    /// Stopped processes still stopped (state `T`), frozen cgroups still
    /// FROZEN, moved processes still in the frozen cgroup. A process that
    /// exited is gone, not lost; a kill has nothing that holds.
    public func check(_ steps: [ProcessUndoStep], attack: String) -> [String] {
        var problems: [String] = []
        for step in steps {
            switch step {
            case .signalled, .removeCgroup:
                continue
            case .resume(let pid, let startTime):
                guard let entry = ProcessTable.entry(pid), entry.startTime == startTime, !entry.isGone else { continue }
                if !entry.isStopped { problems.append("pid \(pid) (\(entry.command)) runs again (state \(entry.state))") }
            case .thaw(let cgroup):
                guard cgroup.exists, let state = cgroup.freezerState else { continue }
                if state == .thawed { problems.append("cgroup \(cgroup) is thawed") }
            case .moveBack(let pid, let startTime, let moved, _):
                guard ProcessTable.isSame(pid, startTime: startTime) else { continue }
                if moved.hierarchy.cgroup(of: pid) != moved { problems.append("pid \(pid) left the frozen cgroup \(moved)") }
            }
        }
        return problems
    }
}
