import Foundation

/// One process fault (chaosd's `attack process`, PodChaos) on the
/// processes one selector names, resolved when the fault is applied.
public struct ProcessFault: Codable, Sendable, Hashable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        /// Send a signal (SIGKILL by default), optionally SIGTERM first and
        /// SIGKILL after a grace period. Nothing to undo.
        case kill
        /// SIGSTOP each process; recovery sends SIGCONT.
        case stop
        /// Freeze the processes' cgroup (pod-failure on a host); recovery thaws it.
        case freeze
    }

    public var action: Action
    public var target: ProcessTarget
    /// The signal `kill` sends.
    public var signal: Int32 = SIGKILL
    /// With it, `kill` sends SIGTERM, waits this many seconds, then SIGKILLs
    /// what is still alive (PodChaos `gracePeriod`).
    public var gracePeriod: Double?

    public init(action: Action, target: ProcessTarget) {
        self.action = action
        self.target = target
    }

    /// A one-line account for lists and logs: `kill SIGTERM, SIGKILL after 5s`.
    public var summary: String {
        switch action {
        case .kill:
            if let gracePeriod { return "kill SIGTERM, SIGKILL after \(gracePeriod.secondsText)s" }
            return "kill \(SignalName.name(of: signal))"
        case .stop: return "stop"
        case .freeze: return "freeze"
        }
    }
}

extension Double {
    /// `5` rather than `5.0`.
    fileprivate var secondsText: String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self)
    }
}
