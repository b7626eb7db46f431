import Foundation
import TumultModel

/// A Workflow Task to run on a host: the command of its Kubernetes
/// container (`command` then `args`), its environment and working
/// directory. The image is not pulled: the command runs on the host as it
/// is, so it must exist there.
public struct TaskRequest: Codable, Sendable, Hashable {
    /// `<workflow uid>/<node>`: what `cancelTask` names.
    public var id: String
    /// The container's name (for logs and errors).
    public var name: String
    public var command: [String]
    public var environment: [String: String]
    public var workingDirectory: String?
    /// The image the container names, reported only: nothing is pulled.
    public var image: String?
    /// Killed after this long (the node's deadline); nil: no limit.
    public var timeoutSeconds: Double?

    public init(id: String, name: String, command: [String], environment: [String: String] = [:],
                workingDirectory: String? = nil, image: String? = nil, timeoutSeconds: Double? = nil) {
        self.id = id
        self.name = name
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.image = image
        self.timeoutSeconds = timeoutSeconds
    }

    /// From a Kubernetes `Container` object as a Workflow's Task holds it:
    /// `command` and `args` joined, `env` entries with a literal `value`,
    /// `workingDir`, `image`.
    public init(id: String, name: String, container: Value, timeoutSeconds: Double? = nil) {
        let object = container.objectValue
        func strings(_ key: String) -> [String] {
            guard case .array(let items)? = object?[key] else { return [] }
            return items.compactMap(\.stringValue)
        }
        var environment: [String: String] = [:]
        if case .array(let entries)? = object?["env"] {
            for entry in entries {
                guard let key = entry.objectValue?["name"]?.stringValue,
                      let value = entry.objectValue?["value"]?.stringValue else { continue }
                environment[key] = value
            }
        }
        self.init(id: id, name: object?["name"]?.stringValue ?? name, command: strings("command") + strings("args"),
                  environment: environment, workingDirectory: object?["workingDir"]?.stringValue,
                  image: object?["image"]?.stringValue, timeoutSeconds: timeoutSeconds)
    }
}

/// How a task ended: Chaos Mesh's Task branches read `exitCode` and `stdout`.
public struct TaskOutcome: Codable, Sendable, Hashable {
    public var exitCode: Int
    /// What it printed on standard output, at most `TaskOutcome.outputLimit` bytes.
    public var stdout: String
    /// The end of standard error, for the node's message when it failed.
    public var stderr: String

    /// Chaos Mesh reads the pod's log; a task printing more than this is cut.
    public static let outputLimit = 1 << 20

    public init(exitCode: Int, stdout: String, stderr: String = "") {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
    }
}
