import TumultModel

/// What one probe found: whether it passed the criteria, the status code
/// if the server answered, and why it failed otherwise.
///
/// Every way of not getting an acceptable answer is a failure, as in Chaos
/// Mesh: a code outside the criteria, a refused or reset connection, a
/// timeout, a URL that does not resolve.
public struct ProbeResult: Codable, Sendable, Hashable {
    public var success: Bool
    public var statusCode: Int?
    /// Why it failed (nil on success).
    public var message: String?

    public init(success: Bool, statusCode: Int? = nil, message: String? = nil) {
        self.success = success
        self.statusCode = statusCode
        self.message = message
    }

    /// The server answered with `statusCode`: success when the criteria
    /// accept it (Chaos Mesh's message otherwise).
    public static func response(statusCode: Int, criteria: HTTPCriteria) -> ProbeResult {
        criteria.statusCode.contains(statusCode)
            ? ProbeResult(success: true, statusCode: statusCode)
            : ProbeResult(success: false, statusCode: statusCode, message: "unexpected status code: \(statusCode)")
    }

    /// No acceptable answer, for `reason` (the server never answered, or
    /// answered badly).
    public static func failure(_ reason: String, statusCode: Int? = nil) -> ProbeResult {
        ProbeResult(success: false, statusCode: statusCode, message: reason)
    }
}
