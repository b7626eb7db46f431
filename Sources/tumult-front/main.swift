#if canImport(Glibc)
import Glibc
#endif
import TumultHandoff

// `tumult`: the program users run. It is small on purpose (the Swift
// standard library and the socket, no Foundation): it answers `--version`,
// hands `tumult attack` and `tumult recover` to the host's running agent
// when one serves the home, and otherwise becomes `tumult-cli` (the whole
// program, installed beside it) with the same arguments and process id.
// A 70 MB program with Foundation statically linked spends ~10 ms relocating
// itself before `main`; this one starts like `tc`.

let arguments = Array(CommandLine.arguments.dropFirst())

/// Writes all of `bytes` to `descriptor`.
func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        if written <= 0 { return }
        offset += written
    }
}

func fail(_ message: String, status: Int32) -> Never {
    writeAll(STDERR_FILENO, Array(("tumult: " + message + "\n").utf8))
    exit(status)
}

/// The agent's answer for this command line; nil when there is no agent
/// or it declined, and the whole program must do the work.
func handOff(_ arguments: [String]) -> CommandHandoff.Reply? {
    var directory = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&directory, directory.count) != nil,
          let home = CommandHandoff.home(arguments: arguments, environment: { getenv($0).map { String(cString: $0) } },
                                         directory: String(cString: directory), isRoot: geteuid() == 0),
          let path = CommandHandoff.socketPath(home: home), CommandHandoff.isOwnSocket(path) else { return nil }
    do {
        // Generous: an injection with a userspace engine waits for it to be ready.
        let exchange = try UnixSocketExchange(path: path, timeout: 60)
        let answer = try exchange.post(CommandHandoff.target, fields: [("Content-Type", "application/json")],
                                       body: CommandHandoff.requestBody(arguments: arguments))
        if answer.status == CommandHandoff.declined || answer.status == 404 { return nil }
        guard let reply = CommandHandoff.Reply(answer: answer) else {
            fail("the agent on \(path) answered HTTP \(answer.status) to \(arguments.first ?? ""); "
                 + "it may have acted on it (tumult attack list shows what it holds)", status: 1)
        }
        return reply
    } catch UnixSocketExchange.Failure.unreachable {
        // A socket left by an agent that died: the whole program works in process.
        return nil
    } catch {
        fail("\(error); the agent may have acted on it (tumult attack list shows what it holds)", status: 1)
    }
}

/// Becomes `tumult-cli` beside this program (symlinks resolved), keeping
/// the arguments (its own name included, as the user typed it).
func becomeWholeProgram() -> Never {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { fail("cannot read /proc/self/exe: \(String(cString: strerror(errno)))", status: 127) }
    let own = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let directory = own.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    let whole = directory + "/tumult-cli"
    execv(whole, CommandLine.unsafeArgv)
    fail("cannot run \(whole): \(String(cString: strerror(errno)))", status: 127)
}

if arguments == ["--version"] {
    writeAll(STDOUT_FILENO, Array((TumultVersion.text + "\n").utf8))
    exit(0)
}
if let command = arguments.first, CommandHandoff.commands.contains(command), let reply = handOff(arguments) {
    writeAll(STDERR_FILENO, reply.standardError)
    writeAll(STDOUT_FILENO, reply.standardOutput)
    exit(reply.status)
}
becomeWholeProgram()
