import Foundation

extension Spawn {
    /// How a bounded run ended.
    public struct BoundedResult: Sendable {
        public var result: CommandResult
        /// Killed at its deadline.
        public var timedOut: Bool
        /// Output beyond the limit was dropped.
        public var truncated: Bool
    }

    /// Runs a command in a session of its own, keeping at most
    /// `outputLimit` bytes of each output, and kills its whole process
    /// group at `deadline` (a Workflow Task's node deadline). `started`
    /// gets the pid as soon as it runs, so that a caller can kill it early
    /// (`kill(-pid, SIGKILL)`). Blocks the calling thread: call it from a
    /// thread of its own, never from Swift's cooperative pool.
    public static func runBounded(_ arguments: [String], environment: [String: String] = [:],
                                  workingDirectory: String? = nil, outputLimit: Int, deadline: Date?,
                                  started: (Int32) -> Void) throws -> BoundedResult {
        let child = try start(arguments, environment: environment, newSession: true, workingDirectory: workingDirectory)
        started(child.pid)
        var output = Data(), errors = Data()
        var truncated = false, timedOut = false
        var open: [Int32: Bool] = [child.stdout: true, child.stderr: true]
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while open.values.contains(true) {
            var timeout: Int32 = -1
            if let deadline {
                let left = deadline.timeIntervalSinceNow
                if left <= 0 {
                    kill(-child.pid, SIGKILL)
                    timedOut = true
                    break
                }
                timeout = Int32(min(left * 1000, 60_000).rounded(.up))
            }
            var descriptors = open.filter(\.value).map { pollfd(fd: $0.key, events: Int16(POLLIN), revents: 0) }
            if poll(&descriptors, nfds_t(descriptors.count), timeout) < 0 {
                if errno == EINTR { continue }
                break
            }
            for descriptor in descriptors where descriptor.revents != 0 {
                let count = read(descriptor.fd, &buffer, buffer.count)
                if count > 0 {
                    let isOut = descriptor.fd == child.stdout
                    let kept = isOut ? output.count : errors.count
                    let room = max(0, outputLimit - kept)
                    if count > room { truncated = true }
                    if room > 0 {
                        if isOut { output.append(contentsOf: buffer[0..<min(count, room)]) }
                        else { errors.append(contentsOf: buffer[0..<min(count, room)]) }
                    }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    open[descriptor.fd] = false
                }
            }
        }
        close(child.stdout)
        close(child.stderr)
        let status = wait(for: child.pid)
        // What the command left behind in its session goes with it.
        kill(-child.pid, SIGKILL)
        return BoundedResult(result: CommandResult(status: status, stdout: String(decoding: output, as: UTF8.self),
                                                   stderr: String(decoding: errors, as: UTF8.self)),
                             timedOut: timedOut, truncated: truncated)
    }
}
