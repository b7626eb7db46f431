/// One change a disk fault made, recorded as how to undo it. Each is safe
/// to run twice and succeeds when what it removes is already gone.
public enum DiskUndoStep: Codable, Sendable, Hashable {
    /// A process Tumult started, named for ever by its pid and start time.
    public struct Worker: Codable, Sendable, Hashable {
        public var pid: Int32
        public var startTime: UInt64?

        public init(pid: Int32, startTime: UInt64?) {
            self.pid = pid
            self.startTime = startTime
        }
    }

    /// Deletes files Tumult created (`tumult-fill-*`, `tumult-payload-*`).
    case removeFiles(paths: [String])
    /// Stops the I/O workers of `attack`: the recorded ones, and any other
    /// process carrying TUMULT_ATTACK=`attack` (their `dd`s, or workers
    /// whose pids were never recorded).
    case stopWorkers(attack: String, workers: [Worker])
}
