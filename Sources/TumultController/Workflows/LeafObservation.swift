/// What the controller tells the workflow engine about the thing it runs for
/// one leaf node, keyed by node name in `WorkflowEngine.advance`'s `observed`.
///
/// The controller reports a leaf for as long as the thing exists (an
/// experiment not yet deleted, a task's process or its result, a status
/// check, a Schedule) and stops once it carried out the engine's stop action
/// for it. A leaf absent from `observed` has nothing running for it.
public enum LeafObservation: Sendable, Hashable {
    /// The experiment created for a chaos leaf.
    case chaos(uid: String, ChaosProgress)
    /// The task run for a Task leaf.
    case task(TaskProgress)
    /// The status check started for a StatusCheck leaf.
    case statusCheck(StatusCheckProgress)
    /// The Schedule created for a Schedule leaf.
    case schedule(uid: String)

    public enum ChaosProgress: Sendable, Hashable {
        /// Targets are being chosen or injected.
        case injecting
        /// Every target is injected.
        case injected
        /// Over: a one-shot action done (pod-kill), or recovered.
        case finished
        /// The experiment failed as a whole ("no target selected").
        case failed(String)
    }

    public enum TaskProgress: Codable, Sendable, Hashable {
        case running
        /// The container exited; `stdout` as printed (the engine trims it).
        case exited(exitCode: Int, stdout: String)
        /// It could not be run at all (no image, no host to run it on).
        case failed(String)
    }

    public enum StatusCheckProgress: Sendable, Hashable {
        case running
        /// Completed with its success threshold met (Synchronous), or its
        /// duration passed with the latest probes succeeding.
        case succeeded
        /// Completed without its success threshold met: the failure
        /// threshold was exceeded, or the duration ended on failures
        /// (Chaos Mesh's `needToAbort`).
        case failed(String)
    }
}
