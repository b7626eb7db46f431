import Foundation
import TumultAgent

/// Watches what the controller does, for metrics. Called from the
/// controller's tasks: implementations must be thread-safe and quick.
public protocol ControllerObserver: Sendable {
    func didEmit(_ event: EventRecord)
    /// One injection or recovery of one target, and how long the host took.
    func didFinish(_ operation: ControllerOperation, kind: String, seconds: Double, succeeded: Bool)
    /// A fault of an experiment of `kind` was found lost, and was or was not restored.
    func didLoseFault(kind: String, restored: Bool)
}

extension ControllerObserver {
    public func didLoseFault(kind: String, restored: Bool) {}
}

public enum ControllerOperation: String, Sendable {
    case inject, recover
}
