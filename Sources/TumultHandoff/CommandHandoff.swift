#if canImport(Glibc)
import Glibc
#endif

/// How `tumult` hands a whole command line to the host's running agent:
/// the agent parses it with its warm parser, does the work with its journal
/// and answers with what the command would have printed and its exit status.
/// A new process then costs what a small program costs to start, not what
/// loading every model, SQLite and the fault families does.
///
/// Only `tumult attack` and `tumult recover` are offered; the agent declines
/// (HTTP 409, or 404 from an agent without the route) whatever it does not
/// take: foreground attacks, help, errors found before the host is touched.
/// Then the front runs the full program, which does it in process.
public enum CommandHandoff {
    /// The route, served on the local socket only (`$TUMULT_HOME/agent.sock`).
    public static let target = "/agent/v1/command"

    /// The commands the front offers to the agent.
    public static let commands: Set<String> = ["attack", "recover"]

    /// The status by which the agent declines a command line, untouched.
    public static let declined = 409

    /// The answer's fields: the exit status in one, and where the standard
    /// error ends in the body in the other.
    public static let exitStatusField = "Tumult-Exit-Status"
    public static let standardErrorLengthField = "Tumult-Standard-Error-Length"

    /// The request body: `{"arguments":["attack","network",...]}`
    /// (without the program's name), written by hand: the front links no
    /// JSON encoder.
    public static func requestBody(arguments: [String]) -> [UInt8] {
        var text = "{\"arguments\":["
        for (index, argument) in arguments.enumerated() {
            if index > 0 { text += "," }
            text += jsonString(argument)
        }
        text += "]}"
        return Array(text.utf8)
    }

    /// `text` as a JSON string literal.
    public static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// What a handed-off command printed and how it exited.
    public struct Reply: Equatable, Sendable {
        public var status: Int32
        public var standardOutput: [UInt8]
        public var standardError: [UInt8]

        public init(status: Int32, standardOutput: String = "", standardError: String = "") {
            self.status = status
            self.standardOutput = Array(standardOutput.utf8)
            self.standardError = Array(standardError.utf8)
        }

        /// The answer's fields and body: the standard error, then the standard output.
        public var fields: [(String, String)] {
            [(CommandHandoff.exitStatusField, String(status)), (CommandHandoff.standardErrorLengthField, String(standardError.count))]
        }

        public var body: [UInt8] { standardError + standardOutput }

        /// The reply in a 200 answer; nil when the answer is not one.
        public init?(answer: UnixSocketExchange.Answer) {
            // Read without Int(String): see `UnixSocketExchange.complete`.
            func number(_ name: String) -> Int? { answer.field(name).flatMap(UnixSocketExchange.decimal) }
            guard answer.status == 200, let code = number(CommandHandoff.exitStatusField), code <= Int(Int32.max),
                  let errorLength = number(CommandHandoff.standardErrorLengthField),
                  errorLength >= 0, errorLength <= answer.body.count else { return nil }
            status = Int32(code)
            standardError = Array(answer.body[..<errorLength])
            standardOutput = Array(answer.body[errorLength...])
        }
    }

    /// The home a command line works on, as the full program resolves it:
    /// `--state-dir` (relative to `directory`), else `$TUMULT_HOME`, else
    /// /var/lib/tumult for root and ~/.tumult for others.
    public static func home(arguments: [String], environment: (String) -> String?, directory: String, isRoot: Bool) -> String? {
        var stated: String?
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { break }
            if argument == "--state-dir", index + 1 < arguments.count {
                stated = arguments[index + 1]
                index += 1
            } else if argument.hasPrefix("--state-dir=") {
                stated = String(argument.dropFirst("--state-dir=".count))
            }
            index += 1
        }
        if let stated {
            return stated.hasPrefix("/") ? stated : directory + "/" + stated
        }
        if let configured = environment("TUMULT_HOME"), !configured.isEmpty {
            return configured.hasPrefix("/") ? configured : directory + "/" + configured
        }
        if isRoot { return "/var/lib/tumult" }
        return environment("HOME").map { $0 + "/.tumult" }
    }

    /// The agent's socket's name in its home.
    public static let socketName = "agent.sock"

    /// The agent's socket in `home`; nil when the path would not fit in a
    /// `sockaddr_un` (108 bytes).
    public static func socketPath(home: String) -> String? {
        let path = (home.hasSuffix("/") ? home : home + "/") + socketName
        return path.utf8.count < 108 ? path : nil
    }

    /// Whether `path` is a socket owned by this user. In a home others can
    /// write to, a socket someone else made would otherwise receive the
    /// attacks and answer for them.
    public static func isOwnSocket(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK && info.st_uid == geteuid()
    }
}
