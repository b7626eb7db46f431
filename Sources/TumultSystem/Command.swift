import Foundation

/// A command as an argument array, never a shell string: nothing a document
/// or a flag contains can be read as shell syntax.
public struct Command: Sendable, Hashable, Codable, CustomStringConvertible {
    public var arguments: [String]

    public init(_ arguments: [String]) {
        self.arguments = arguments
    }

    public init(_ arguments: String...) {
        self.arguments = arguments
    }

    /// Shell-quoted, for messages and logs only.
    public var description: String {
        arguments.map { argument in
            let safe = !argument.isEmpty && argument.allSatisfy {
                $0.isLetter || $0.isNumber || "-_./:=,@%+".contains($0)
            }
            return safe ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }
}

/// How a command ended.
public struct CommandResult: Sendable, Hashable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String = "", stderr: String = "") {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    public var succeeded: Bool { status == 0 }
}

/// A command that failed, with what Tumult was doing when it ran it.
public struct CommandError: Error, Sendable, CustomStringConvertible {
    public var doing: String
    public var command: Command
    public var result: CommandResult

    public init(doing: String, command: Command, result: CommandResult) {
        self.doing = doing
        self.command = command
        self.result = result
    }

    public var description: String {
        let detail = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        return "\(doing): `\(command)` exited \(result.status)\(detail.isEmpty ? "" : ": \(detail)")"
    }
}

/// Runs commands. The only way Tumult's code touches the kernel through
/// tools (`tc`, `iptables`, `ipset`, `ip`), so tests of the builders can
/// record commands instead of running them.
public protocol CommandRunner: Sendable {
    func run(_ command: Command) throws -> CommandResult
}

extension CommandRunner {
    /// Runs `command` and throws a `CommandError` naming `doing` unless it succeeds.
    @discardableResult
    public func check(_ command: Command, doing: String) throws -> CommandResult {
        let result = try run(command)
        guard result.succeeded else { throw CommandError(doing: doing, command: command, result: result) }
        return result
    }
}
