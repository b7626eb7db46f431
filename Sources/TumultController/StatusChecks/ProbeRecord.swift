import Foundation

/// One probe in a StatusCheck's history: Chaos Mesh's `status.records`
/// entry (`startTime`, `outcome`), with what Tumult also keeps to say why
/// (the status code, or the error).
public struct ProbeRecord: Codable, Sendable, Hashable {
    public enum Outcome: String, Codable, Sendable {
        case success = "Success"
        case failure = "Failure"
    }

    /// When the probe started (Chaos Mesh records the start, not the answer).
    public var startTime: Date
    public var outcome: Outcome
    public var statusCode: Int?
    public var message: String?

    public init(startTime: Date, outcome: Outcome, statusCode: Int? = nil, message: String? = nil) {
        self.startTime = startTime
        self.outcome = outcome
        self.statusCode = statusCode
        self.message = message
    }
}
