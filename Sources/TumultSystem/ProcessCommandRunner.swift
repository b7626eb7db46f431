import Foundation

/// Runs commands as child processes, waiting for each on the calling thread
/// (callers keep long commands off Swift's cooperative pool).
public struct ProcessCommandRunner: CommandRunner {
    public init() {}

    public func run(_ command: Command) throws -> CommandResult {
        guard !command.arguments.isEmpty else { return CommandResult(status: 127, stderr: "empty command") }
        return try Spawn.run(command.arguments)
    }

    /// The executable for a bare name, looked up in PATH and the sbin
    /// directories (`tc` and `iptables` live there and PATH may lack them).
    public static func locate(_ name: String) throws -> URL {
        if name.contains("/") { return URL(fileURLWithPath: name) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        for directory in directories {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        throw SystemError.missingTool(name)
    }
}

/// Problems of the host itself rather than of one command.
public enum SystemError: Error, Sendable, CustomStringConvertible, Equatable {
    case missingTool(String)
    case namespaceMissing(String)
    case processFailed(String)

    public var description: String {
        switch self {
        case .missingTool(let name): "\(name) is not installed (looked in PATH, /usr/sbin and /sbin)"
        case .namespaceMissing(let name): "network namespace \(name) does not exist"
        case .processFailed(let message): message
        }
    }
}
