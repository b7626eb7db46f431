/// One change an IO fault made, recorded as how to undo it: safe to run
/// twice, and done when the target or its mount namespace is gone.
public enum IOUndoStep: Codable, Sendable, Hashable {
    /// Stops the file-system helper of `attack` (found by pid and start
    /// time, or by its TUMULT_ATTACK environment when the pid was never
    /// recorded; on SIGTERM it unmounts itself), then unmounts whatever
    /// Tumult mount is still over `volumePath` in the target's mount
    /// namespace (a helper killed with SIGKILL leaves a dead one behind).
    case unmount(pid: Int32, startTime: UInt64, volumePath: String, attack: String,
                 helper: Int32?, helperStartTime: UInt64?)
}
