import Foundation

/// One of a StatusCheck's four conditions, as Chaos Mesh writes them in
/// `status.conditions`: `type`, `status` ("True"/"False"), `reason`
/// (empty but for Completed), `lastProbeTime` (the last evaluation),
/// `lastTransitionTime` (the last change of status). Encoded in that shape
/// so that the API can show it as Chaos Mesh does.
public struct StatusCheckCondition: Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// True once the check is over, with the reason why.
        case completed = "Completed"
        case durationExceed = "DurationExceed"
        case failureThresholdExceed = "FailureThresholdExceed"
        case successThresholdExceed = "SuccessThresholdExceed"
    }

    /// Why Completed is True (Chaos Mesh's `StatusCheckReason`).
    public enum Reason: String, Codable, Sendable {
        case durationExceed = "StatusCheckDurationExceed"
        case failureThresholdExceed = "StatusCheckFailureThresholdExceed"
        case successThresholdExceed = "StatusCheckSuccessThresholdExceed"
    }

    public var type: Kind
    public var status: Bool
    public var reason: Reason?
    public var lastProbeTime: Date
    public var lastTransitionTime: Date

    public init(type: Kind, status: Bool, reason: Reason? = nil, lastProbeTime: Date, lastTransitionTime: Date) {
        self.type = type
        self.status = status
        self.reason = reason
        self.lastProbeTime = lastProbeTime
        self.lastTransitionTime = lastTransitionTime
    }

    /// Chaos Mesh's `setCondition`: the probe time and reason always
    /// change, the transition time only when the status does.
    mutating func set(_ status: Bool, reason: Reason?, at time: Date) {
        if status != self.status {
            self.status = status
            lastTransitionTime = time
        }
        self.reason = reason
        lastProbeTime = time
    }
}

extension StatusCheckCondition: Codable {
    enum CodingKeys: String, CodingKey { case type, status, reason, lastProbeTime, lastTransitionTime }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(Kind.self, forKey: .type)
        let status = try container.decode(String.self, forKey: .status)
        guard status == "True" || status == "False" else {
            throw DecodingError.dataCorruptedError(forKey: .status, in: container,
                                                   debugDescription: "\"\(status)\" is neither \"True\" nor \"False\"")
        }
        self.status = status == "True"
        let reason = try container.decodeIfPresent(String.self, forKey: .reason) ?? ""
        if reason.isEmpty {
            self.reason = nil
        } else if let known = Reason(rawValue: reason) {
            self.reason = known
        } else {
            throw DecodingError.dataCorruptedError(forKey: .reason, in: container,
                                                   debugDescription: "\"\(reason)\" is not a StatusCheck reason")
        }
        lastProbeTime = try container.decode(Date.self, forKey: .lastProbeTime)
        lastTransitionTime = try container.decode(Date.self, forKey: .lastTransitionTime)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(status ? "True" : "False", forKey: .status)
        try container.encode(reason?.rawValue ?? "", forKey: .reason)
        try container.encode(lastProbeTime, forKey: .lastProbeTime)
        try container.encode(lastTransitionTime, forKey: .lastTransitionTime)
    }
}
