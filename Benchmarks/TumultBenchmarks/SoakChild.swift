import Foundation
import TumultSystem

/// A process the crash soak started and will kill: its pid, what it has
/// printed so far (read by a thread of its own, so a chatty child never
/// blocks on a full pipe), and its end, reaped exactly once.
final class SoakChild: @unchecked Sendable {
    let pid: Int32
    let name: String
    private let lock = NSLock()
    private var standardOutput = Data()
    private var everything = Data()
    private var status: Int32?
    private var firstOutput: Double?
    /// When it was started (`Clock.now`).
    let startedAt = Clock.now

    /// The most kept of each stream: enough for a uid, a ready line and a
    /// failure's last words.
    static let keep = 64 * 1024

    private init(pid: Int32, name: String) {
        self.pid = pid
        self.name = name
    }

    static func start(_ arguments: [String], environment: [String: String]) throws -> SoakChild {
        let spawned = try Relaunch.retrying { try Spawn.start(arguments, environment: environment) }
        let child = SoakChild(pid: spawned.pid, name: arguments.prefix(2).map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: " "))
        let (out, err) = (spawned.stdout, spawned.stderr)
        Thread.detachNewThread { child.drain(out: out, err: err) }
        return child
    }

    /// Reads both pipes until every writer has closed them (a helper that
    /// inherited one keeps this thread alive: harmless, and itself a finding
    /// elsewhere).
    private func drain(out: Int32, err: Int32) {
        PipeDrain.run([out, err]) { descriptor, bytes in
            lock.withLock {
                if descriptor == out {
                    if firstOutput == nil { firstOutput = Clock.now }
                    Self.append(bytes, to: &standardOutput)
                }
                Self.append(bytes, to: &everything)
            }
        }
    }

    private static func append(_ bytes: ArraySlice<UInt8>, to data: inout Data) {
        data.append(contentsOf: bytes)
        if data.count > keep { data = data.suffix(keep) }
    }

    /// Seconds from the start to its first output on standard output, if any yet.
    var secondsToFirstOutput: Double? { lock.withLock { firstOutput.map { $0 - startedAt } } }

    /// Standard output so far.
    var stdout: String { lock.withLock { String(decoding: standardOutput, as: UTF8.self) } }

    /// Both streams as they came.
    var output: String { lock.withLock { String(decoding: everything, as: UTF8.self) } }

    /// The last `count` non-empty lines of both streams, for a report.
    func tail(_ count: Int = 6) -> [String] {
        output.split(separator: "\n").suffix(count).map { String($0.prefix(240)) }
    }

    /// The exit status (128 + signal when killed) if it has ended; never blocks.
    func exitStatus() -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let status { return status }
        var raw: Int32 = 0
        let result = waitpid(pid, &raw, WNOHANG)
        guard result == pid else {
            if result < 0 && errno == ECHILD { status = -1 }
            return status
        }
        let signal = raw & 0x7f
        status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
        return status
    }

    var hasEnded: Bool { exitStatus() != nil }

    /// Waits up to `timeout` seconds for the end; nil if it is still running.
    @discardableResult
    func wait(timeout: Double) -> Int32? {
        let deadline = Clock.now + timeout
        while Clock.now < deadline {
            if let status = exitStatus() { return status }
            usleep(5_000)
        }
        return exitStatus()
    }

    /// Waits until standard output holds a whole line containing `text`
    /// (or any whole line, for nil), the child ends, or `timeout` passes.
    func waitForLine(containing text: String? = nil, timeout: Double) -> String? {
        let deadline = Clock.now + timeout
        while true {
            let lines = stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            if let line = lines.first(where: { text == nil ? !$0.isEmpty : $0.contains(text!) }) { return String(line) }
            if hasEnded || Clock.now >= deadline {
                // One last look: the end may have come with its last line.
                let last = stdout.split(separator: "\n").map(String.init)
                return last.first { text == nil ? !$0.isEmpty : $0.contains(text!) }.flatMap { stdout.hasSuffix("\n") ? $0 : nil }
            }
            usleep(5_000)
        }
    }

    func send(_ signal: Int32) {
        if !hasEnded { kill(pid, signal) }
    }

    /// kill -9, then reap.
    @discardableResult
    func killNow() -> Int32 {
        send(SIGKILL)
        return wait(timeout: 10) ?? -1
    }
}

/// Starting `tumult` while someone's build rewrites it fails for a moment
/// (ETXTBSY, a missing or half-written file); such a start is tried again
/// for up to 10 s rather than counted against Tumult.
enum Relaunch {
    static func retrying<T>(_ body: () throws -> T) throws -> T {
        let deadline = Clock.now + 10
        while true {
            do {
                return try body()
            } catch {
                let text = String(describing: error)
                let transient = ["Text file busy", "No such file", "Exec format error"].contains { text.contains($0) }
                guard transient, Clock.now < deadline else { throw error }
                usleep(100_000)
            }
        }
    }

    /// `Spawn.run`, tried again while the executable is being rewritten.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
        try retrying { try Spawn.run(arguments, environment: environment) }
    }
}
