import Foundation
import TumultSystem

extension DiskFaultInjector {
    /// The fill or payload files still there, and the payload workers alive.
    public func check(_ steps: [DiskUndoStep], attack: String) -> [String] {
        var problems: [String] = []
        for step in steps {
            switch step {
            case .removeFiles(let paths):
                for path in paths where !FileManager.default.fileExists(atPath: path) && !path.contains("tumult-payload-") {
                    problems.append("\(path) was deleted")
                }
            case .stopWorkers(_, let workers):
                for worker in workers where !HostReadBack.helperAlive(worker.pid, startTime: worker.startTime) {
                    problems.append("I/O worker \(worker.pid) is no longer running")
                }
            }
        }
        return problems
    }
}
