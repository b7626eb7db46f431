/// One change a stress fault made, recorded as how to undo it: the workers
/// to stop. Recorded before any worker starts, with the pids filled in once
/// they run; recovery also stops every process carrying the attack's
/// TUMULT_ATTACK mark, so workers whose pid never reached the journal are
/// found too.
public enum StressUndoStep: Codable, Sendable, Hashable {
    public struct Worker: Codable, Sendable, Hashable {
        public var pid: Int32
        /// With the pid, names the process for ever (`/proc/PID/stat` field 22).
        public var startTime: UInt64?

        public init(pid: Int32, startTime: UInt64?) {
            self.pid = pid
            self.startTime = startTime
        }
    }

    case stopWorkers(attack: String, workers: [Worker])
}
