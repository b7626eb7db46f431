/// A request the API server refused, or one that never got an answer.
/// Carries what the server's `Status` said so that callers branch on the
/// reason (`isConflict` → re-read and retry) rather than on message text.
public struct KubernetesError: Error, CustomStringConvertible, Sendable {
    /// The HTTP status; nil when no reply came (connection refused, timeout,
    /// a configuration that cannot make requests).
    public var statusCode: Int?
    /// The `Status` object's reason: `NotFound`, `AlreadyExists`, `Conflict`,
    /// `Gone`, `Expired`, `Invalid`, `Forbidden` ...
    public var reason: String?
    public var message: String
    /// `get`, `list`, `create`, `update`, `patch`, `delete`, `watch`.
    public var verb: String
    public var path: String

    public init(statusCode: Int?, reason: String?, message: String, verb: String, path: String) {
        self.statusCode = statusCode
        self.reason = reason
        self.message = message
        self.verb = verb
        self.path = path
    }

    public var description: String {
        var text = "\(verb) \(path): "
        if let statusCode { text += "HTTP \(statusCode)" + (reason.map { " \($0)" } ?? "") + ": " }
        return text + message
    }

    public var isNotFound: Bool { reason == "NotFound" || (reason == nil && statusCode == 404) }
    /// A stale resourceVersion (409 Conflict); an existing name is `isAlreadyExists` instead.
    public var isConflict: Bool { reason == "Conflict" || (reason == nil && statusCode == 409) }
    public var isAlreadyExists: Bool { reason == "AlreadyExists" }
    /// The resource version asked for is no longer in the server's history
    /// (410, or an expired continue token): relist.
    public var isGone: Bool { statusCode == 410 || reason == "Gone" || reason == "Expired" }
    public var isForbidden: Bool { reason == "Forbidden" || (reason == nil && statusCode == 403) }
    public var isInvalid: Bool { reason == "Invalid" || (reason == nil && statusCode == 422) }
}

/// The `Status` object the server sends with a failure (and in watch ERROR events).
struct StatusObject: Codable, Sendable {
    var kind: String?
    var apiVersion: String?
    var status: String?
    var message: String?
    var reason: String?
    var code: Int?
}
