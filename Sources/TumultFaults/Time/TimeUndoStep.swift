/// One change a time fault made, recorded as how to undo it. Each is safe
/// to run twice and succeeds when its process is gone.
public enum TimeUndoStep: Codable, Sendable, Hashable {
    /// Puts the original vDSO code back in one process (named by pid and
    /// start time) and unmaps the page the patch lives in.
    case restoreProcess(pid: Int32, startTime: UInt64, attack: String)
    /// Restores every other process on the host that carries this attack's
    /// patch: the children the targets forked while it held (a forked child
    /// inherits the patched vDSO), found by the marker in their vDSO.
    case restoreForked(attack: String)
}
