import CTumultSystem
import Foundation

/// Starts child processes with posix_spawn: no shell, standard input from
/// /dev/null, and waiting done with waitpid on the calling thread — nothing
/// that needs a run loop or a signal handler of Foundation's.
///
/// Every child gets standard input, output and error and nothing else:
/// the child closes every other descriptor before it runs (closefrom), so a
/// helper never holds the server's listening socket, its SQLite files, an
/// epoll or a pipe of ours, whoever opened them and whether or not they
/// were close-on-exec. And every child is started from one thread that
/// lives as long as the process (`SpawnThread`), so a helper that asks to
/// die with its parent (PR_SET_PDEATHSIG, which follows the thread that
/// started it) dies with this process, not with a pool thread.
public enum Spawn {
    /// A started child: its pid and the read ends of its output pipes.
    public struct Child: Sendable {
        public var pid: Int32
        public var stdout: Int32
        public var stderr: Int32
    }

    /// `POSIX_SPAWN_SETSID` (glibc): the child starts a session of its own.
    static let setSessionFlag: Int32 = 0x80

    public static func start(_ arguments: [String], environment: [String: String] = [:], newSession: Bool = false,
                             captureOutput: Bool = true, workingDirectory: String? = nil) throws -> Child {
        guard let name = arguments.first else { throw SystemError.processFailed("empty command") }
        let path = try ProcessCommandRunner.locate(name).path
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        if captureOutput {
            guard tumult_pipe_cloexec(&outPipe) == 0, tumult_pipe_cloexec(&errPipe) == 0 else {
                throw SystemError.processFailed("cannot create a pipe: \(String(cString: strerror(errno)))")
            }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let workingDirectory { _ = tumult_spawn_addchdir(&actions, workingDirectory) }
        if captureOutput {
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
            posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        // Everything above standard error is closed in the child, after the
        // dup2s above: it is the one place every spawn passes through.
        let closing = tumult_spawn_addclosefrom(&actions, 3)
        guard closing == 0 else {
            if captureOutput { (outPipe + errPipe).forEach { close($0) } }
            throw SystemError.processFailed("cannot ask the child to close inherited descriptors: \(String(cString: strerror(closing)))")
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default signal handling in the child, whatever this process ignores.
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var flags = Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        if newSession { flags |= setSessionFlag }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = SpawnThread.shared.perform { posix_spawn(&pid, path, &actions, &attributes, argv, envp) }
        if captureOutput {
            close(outPipe[1])
            close(errPipe[1])
        }
        guard status == 0 else {
            if captureOutput { close(outPipe[0]); close(errPipe[0]) }
            throw SystemError.processFailed("cannot start \(name): \(String(cString: strerror(status)))")
        }
        return Child(pid: pid, stdout: outPipe[0], stderr: errPipe[0])
    }

    /// Runs a command to its end and returns what it printed.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
        let child = try start(arguments, environment: environment)
        var output = Data(), errors = Data()
        var open: [Int32: Bool] = [child.stdout: true, child.stderr: true]
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while open.values.contains(true) {
            var descriptors = open.filter(\.value).map { pollfd(fd: $0.key, events: Int16(POLLIN), revents: 0) }
            if poll(&descriptors, nfds_t(descriptors.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for descriptor in descriptors where descriptor.revents != 0 {
                let count = read(descriptor.fd, &buffer, buffer.count)
                if count > 0 {
                    if descriptor.fd == child.stdout { output.append(contentsOf: buffer[0..<count]) }
                    else { errors.append(contentsOf: buffer[0..<count]) }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    open[descriptor.fd] = false
                }
            }
        }
        close(child.stdout)
        close(child.stderr)
        return CommandResult(status: wait(for: child.pid), stdout: String(decoding: output, as: UTF8.self),
                             stderr: String(decoding: errors, as: UTF8.self))
    }

    /// Waits for `pid` and returns its exit status (128 + signal if killed).
    @discardableResult
    public static func wait(for pid: Int32) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// The thread every child is started from, for the whole life of the
/// process. Linux sends PR_SET_PDEATHSIG when the *thread* that started the
/// child exits, and Swift's cooperative threads and Dispatch's worker
/// threads retire after a few idle seconds: a helper of `tumult run`
/// started from one of them died with that thread, mid-fault. Starting
/// every child here makes "dies with its parent" mean with this process.
final class SpawnThread: @unchecked Sendable {
    static let shared = SpawnThread()

    /// A job and the semaphore its caller waits on.
    private final class Job {
        var work: (() -> Void)?
        let done = DispatchSemaphore(value: 0)
        init(_ work: @escaping () -> Void) { self.work = work }
    }

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var thread: Thread?

    private init() {
        let thread = Thread { [unowned self] in self.serve() }
        thread.name = "tumult.spawn"
        self.thread = thread
        thread.start()
    }

    /// Runs `body` on the spawn thread and returns its result; the caller
    /// waits (a posix_spawn returns as soon as the child has exec'd).
    func perform<T>(_ body: () -> T) -> T {
        if Thread.current == thread { return body() }
        return withoutActuallyEscaping(body) { escaping in
            var result: T?
            let job = Job { result = escaping() }
            condition.lock()
            jobs.append(job)
            condition.signal()
            condition.unlock()
            job.done.wait()
            return result!
        }
    }

    private func serve() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.work?()
            // The caller's closure must be released before the caller goes on.
            job.work = nil
            job.done.signal()
        }
    }
}
