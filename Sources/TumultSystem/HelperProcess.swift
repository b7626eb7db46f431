import Foundation

/// Starts a long-running helper (the userspace packet engine) and waits for
/// it to say it is ready: the read-back of a helper is its own word that it
/// has bound what it needed.
public enum HelperProcess {
    public struct Started: Sendable, Hashable, Codable {
        public var pid: Int32
        public var startTime: UInt64?
        /// The line the helper printed to say it was ready.
        public var readyLine: String
    }

    /// Runs `command` with `environment` added, in a session of its own when
    /// `detached` (so that a Ctrl-C to this terminal does not reach it),
    /// and returns once it prints a line starting with `readyPrefix`.
    /// Throws, after stopping it, if it exits or stays silent for `timeout`.
    public static func start(_ command: Command, environment: [String: String], readyPrefix: String,
                             detached: Bool, timeout: TimeInterval = 5) throws -> Started {
        let child = try Spawn.start(command.arguments, environment: environment, newSession: detached)
        let pid = child.pid
        defer {
            close(child.stdout)
            close(child.stderr)
        }
        let descriptor = child.stdout
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = Data()
        while Date() < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 50)
            if ready > 0 {
                var chunk = [UInt8](repeating: 0, count: 512)
                let count = read(descriptor, &chunk, chunk.count)
                if count <= 0 { break }
                buffer.append(contentsOf: chunk[0..<count])
                let text = String(decoding: buffer, as: UTF8.self)
                if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(readyPrefix) }) {
                    return Started(pid: pid, startTime: Processes.startTime(of: pid), readyLine: String(line))
                }
            } else if !Processes.isAlive(pid) {
                break
            }
        }
        Processes.stop(pid, grace: 1)
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = max(0, read(child.stderr, &chunk, chunk.count))
        let stderr = String(decoding: chunk[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        throw SystemError.processFailed(
            "`\(command)` did not report ready within \(Int(timeout)) s" + (stderr.isEmpty ? "" : ": \(stderr)"))
    }
}
