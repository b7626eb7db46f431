import TumultSystem

/// One change a process fault made, recorded as how to undo it. Each is
/// safe to run twice and succeeds when its process or cgroup is gone.
public enum ProcessUndoStep: Codable, Sendable, Hashable {
    /// A signal that cannot be taken back (`kill`): kept so the journal says
    /// what was sent to whom; undoing it does nothing.
    case signalled(pid: Int32, startTime: UInt64, command: String, signal: Int32)
    /// SIGCONT to the process, if it is still the one that was stopped.
    case resume(pid: Int32, startTime: UInt64)
    /// Thaws a cgroup that was frozen where it was.
    case thaw(cgroup: Cgroup)
    /// Moves the process back to `original` if it is still in `moved`.
    case moveBack(pid: Int32, startTime: UInt64, moved: Cgroup, original: Cgroup)
    /// Removes a cgroup Tumult created: thaws it, moves what is left in it
    /// to its parent, and removes the directory.
    case removeCgroup(cgroup: Cgroup)
}
