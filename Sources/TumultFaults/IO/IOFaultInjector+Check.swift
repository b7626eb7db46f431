import TumultSystem

extension IOFaultInjector {
    /// The file system still serves the volume: its helper runs and its
    /// mount is in the target's mount table. A target that exited is not a
    /// lost fault.
    public func check(_ steps: [IOUndoStep], attack: String) -> [String] {
        steps.compactMap { step in
            guard case .unmount(let pid, let startTime, let volumePath, _, let helper, let helperStartTime, _) = step,
                  ProcessTable.isSame(pid, startTime: startTime) else { return nil }
            if let helper, let helperStartTime, !ProcessTable.isSame(helper, startTime: helperStartTime) {
                return "the file system over \(volumePath) of pid \(pid) exited"
            }
            if Self.tumultMounts(pid: pid, volumePath: volumePath) == 0 {
                return "Tumult's mount over \(volumePath) of pid \(pid) is gone"
            }
            return nil
        }
    }
}
