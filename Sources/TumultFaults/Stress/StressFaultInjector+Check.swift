import Foundation
import TumultSystem

extension StressFaultInjector {
    /// Every worker alive (the same process that was started) and still in
    /// the cgroups it was told to join (its `--cgroup` arguments).
    public func check(_ steps: [StressUndoStep], attack: String) -> [String] {
        var problems: [String] = []
        let hierarchies = CgroupHierarchy.mounted()
        for case .stopWorkers(_, let workers) in steps {
            for worker in workers {
                guard HostReadBack.helperAlive(worker.pid, startTime: worker.startTime) else {
                    problems.append("stress worker \(worker.pid) is no longer running")
                    continue
                }
                for directory in Self.joinedCgroups(of: worker.pid) {
                    // The hierarchy mounted where the directory is (the longest mount point
                    // that is the directory or a parent of it: /sys/fs/cgroup/cpu is not one of /sys/fs/cgroup/cpuacct).
                    let hierarchy = hierarchies.filter { directory == $0.mountPoint || directory.hasPrefix($0.mountPoint + "/") }
                        .max { $0.mountPoint.count < $1.mountPoint.count }
                    let current = hierarchy?.cgroup(of: worker.pid)
                    if let current, current.directory != directory {
                        problems.append("stress worker \(worker.pid) left its cgroup \(directory) (now in \(current.directory))")
                    }
                }
            }
        }
        return problems
    }

    /// The `--cgroup DIR` arguments a worker was started with.
    static func joinedCgroups(of pid: Int32) -> [String] {
        let arguments = ProcessTable.arguments(of: pid)
        if arguments.contains("--") { return [] } // stress-ng under `exec`: its own arguments follow
        return zip(arguments, arguments.dropFirst()).compactMap { $0.0 == "--cgroup" ? $0.1 : nil }
    }
}
