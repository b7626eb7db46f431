/// What an agent refuses or fails, with the HTTP status it travels as and,
/// for bad input, the field it names. Thrown the same in process and remote.
public struct AgentError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        /// The request names something wrong (a field, a missing device): 400.
        case invalid
        /// This host cannot do it (a kind or action it does not run): 400.
        case unsupported
        /// No such attack: 404.
        case notFound
        /// Halted (emergency stop): 409.
        case halted
        /// The caller speaks another protocol version: 400.
        case version
        /// Injecting or recovering failed on the host: 500.
        case failed
        /// The host could not be reached or answered nonsense: 502.
        case unreachable
        /// Refused: no client certificate, or a wrong token: 401.
        case unauthorized
    }

    /// One field a bad request names.
    public struct FieldProblem: Sendable, Hashable, Codable {
        public var path: String
        public var message: String
        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }
    }

    public var code: Code
    public var message: String
    public var fields: [FieldProblem]

    public init(_ code: Code, _ message: String, fields: [FieldProblem] = []) {
        self.code = code
        self.message = message
        self.fields = fields
    }

    /// A bad request naming `path`.
    public static func field(_ path: String, _ message: String) -> AgentError {
        AgentError(.invalid, "\(path): \(message)", fields: [FieldProblem(path: path, message: message)])
    }

    public var httpStatus: Int {
        switch code {
        case .invalid, .unsupported, .version: 400
        case .unauthorized: 401
        case .notFound: 404
        case .halted: 409
        case .failed: 500
        case .unreachable: 502
        }
    }

    public var description: String { message }
}
