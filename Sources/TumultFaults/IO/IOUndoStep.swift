/// One change an IO fault made, recorded as how to undo it: safe to run
/// twice, and done when the target or its mount namespace is gone.
public enum IOUndoStep: Codable, Sendable, Hashable {
    /// Unmounts Tumult's file system from `volumePath` in the target's mount
    /// namespace, lazily, while its server still answers; moves every
    /// descriptor the namespace's processes hold on it (`mountID`, and any
    /// Tumult mount still there) back to the original files by path; then
    /// stops the server of `attack` (found by pid and start time, or by its
    /// TUMULT_ATTACK environment when the pid was never recorded).
    case unmount(pid: Int32, startTime: UInt64, volumePath: String, attack: String,
                 helper: Int32?, helperStartTime: UInt64?, mountID: Int?)
}
