import Foundation
import TumultModel

/// The numbers a running StatusCheck goes by: its spec with Chaos Mesh's
/// defaults filled in, so that the state's rules never deal with a missing
/// field, and kept in the state so that a stored check resumes under the
/// rules it started with.
public struct StatusCheckPolicy: Codable, Sendable, Hashable {
    public var mode: StatusCheckSpec.Mode
    public var type: StatusCheckSpec.CheckType
    /// From the start; nil: until a threshold is reached (or for ever, in
    /// Continuous mode with no failures).
    public var duration: GoDuration?
    public var timeoutSeconds: Int
    public var intervalSeconds: Int
    public var failureThreshold: Int
    /// Ends a Synchronous check; a Continuous one only reports it.
    public var successThreshold: Int
    public var recordsHistoryLimit: Int

    /// Defaults as Chaos Mesh's webhook and CRD fill them in (mode
    /// Synchronous, timeout 1 s, interval 10 s, failure threshold 3,
    /// success threshold 1, 100 records); values below 1 (which
    /// validation refuses) are raised to 1 so that no rule divides by zero
    /// or probes in a tight loop.
    public init(_ spec: StatusCheckSpec) {
        mode = spec.mode ?? .synchronous
        type = spec.type
        duration = spec.duration
        timeoutSeconds = max(1, spec.timeoutSeconds ?? 1)
        intervalSeconds = max(1, spec.intervalSeconds ?? 10)
        failureThreshold = max(1, spec.failureThreshold ?? 3)
        successThreshold = max(1, spec.successThreshold ?? 1)
        recordsHistoryLimit = max(1, spec.recordsHistoryLimit ?? 100)
    }

    /// How long one probe may take before it counts as a failure.
    public var timeout: Duration { .seconds(timeoutSeconds) }
    public var interval: TimeInterval { TimeInterval(intervalSeconds) }
}
