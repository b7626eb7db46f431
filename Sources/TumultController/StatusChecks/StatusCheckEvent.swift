import Foundation

/// What a StatusCheck tells the world as it runs, in the words of Chaos
/// Mesh's event recorder (`controllers/utils/recorder/statuscheck.go`), so
/// that the controller can publish them as Kubernetes-style events.
public struct StatusCheckEvent: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable {
        case normal = "Normal"
        case warning = "Warning"
    }

    public var type: Kind
    public var reason: String
    public var message: String
    public var time: Date

    public init(type: Kind, reason: String, message: String, time: Date) {
        self.type = type
        self.reason = reason
        self.message = message
        self.time = time
    }

    static func execution(_ result: ProbeResult, checkType: String, at time: Date) -> StatusCheckEvent {
        result.success
            ? StatusCheckEvent(type: .normal, reason: "StatusCheckExecutionSucceed",
                               message: "\(checkType) execution of status check succeed", time: time)
            : StatusCheckEvent(type: .warning, reason: "StatusCheckExecutionFailed",
                               message: "\(checkType) execution of status check failed: \(result.message ?? "")",
                               time: time)
    }

    static func completed(_ reason: StatusCheckCondition.Reason, at time: Date) -> StatusCheckEvent {
        StatusCheckEvent(type: .normal, reason: "StatusCheckCompleted",
                         message: "status check completed: \(reason.rawValue)", time: time)
    }

    /// A condition that turned True.
    static func raised(_ condition: StatusCheckCondition.Kind, at time: Date) -> StatusCheckEvent? {
        switch condition {
        case .completed: nil
        case .durationExceed:
            StatusCheckEvent(type: .warning, reason: "StatusCheckDurationExceed", message: "duration exceed", time: time)
        case .failureThresholdExceed:
            StatusCheckEvent(type: .warning, reason: "StatusCheckFailureThresholdExceed",
                             message: "failure threshold exceed", time: time)
        case .successThresholdExceed:
            StatusCheckEvent(type: .normal, reason: "StatusCheckSuccessThresholdExceed",
                             message: "success threshold exceed", time: time)
        }
    }
}
