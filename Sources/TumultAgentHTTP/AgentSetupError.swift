/// Why an agent server or client could not be set up: a certificate file
/// that cannot be read, or options that would expose the agent.
public struct AgentSetupError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// A PEM file that is missing or unreadable.
        case unreadableFile
        /// A file that reads but holds no usable certificate or key.
        case invalidFile
        /// Options that do not go together (plain HTTP off loopback, no TLS files ...).
        case invalidConfiguration
    }

    public var code: Code
    public var message: String
    /// The file it names, for file problems.
    public var path: String?

    public init(_ code: Code, _ message: String, path: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
    }

    public var description: String { message }
}
