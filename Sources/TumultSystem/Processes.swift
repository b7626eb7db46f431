import Foundation

/// What `/proc` says about processes: enough to find, verify and stop the
/// helpers Tumult starts, even after Tumult itself was killed.
public enum Processes {
    /// The process's start time in clock ticks since boot (field 22 of
    /// `/proc/PID/stat`): with the pid, it names one process for ever.
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command come state (field 3) ... starttime (field 22).
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// The environment variable `name` of process `pid`.
    public static func environment(of pid: Int32, _ name: String) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
        for entry in data.split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            if text.hasPrefix(name + "=") { return String(text.dropFirst(name.count + 1)) }
        }
        return nil
    }

    /// Whether `pid` is one of Tumult's helpers: the userspace packet
    /// engine, the DNS responder, stress workers, disk payload `dd`s. Each
    /// carries `TUMULT_ATTACK=<uid>` in its environment.
    public static func isTumultHelper(_ pid: Int32) -> Bool {
        environment(of: pid, "TUMULT_ATTACK") != nil
    }

    /// Every pid whose environment has `name=value`.
    public static func withEnvironment(_ name: String, equalTo value: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { environment(of: $0, name) == value }
    }

    public static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }

    /// Sends SIGTERM, then SIGKILL after `grace` seconds, and waits for the end.
    public static func stop(_ pid: Int32, grace: TimeInterval = 2) {
        var status: Int32 = 0
        // A helper of ours that died already is a zombie until reaped.
        guard isAlive(pid) else { _ = waitpid(pid, &status, WNOHANG); return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while isAlive(pid) && Date() < deadline { usleep(10_000) }
        if isAlive(pid) {
            kill(pid, SIGKILL)
            while isAlive(pid) { usleep(5_000) }
        }
        // Reap it if it is our child, so it does not linger as a zombie.
        _ = waitpid(pid, &status, WNOHANG)
    }

    /// Stops the helpers of one attack: the recorded processes that are
    /// still the same ones (pid and start time), then, round after round,
    /// whatever else carries `TUMULT_ATTACK=attack` (helpers started before
    /// their pid reached the journal, their children) until none is left.
    /// Returns the pids that still carry the mark afterwards.
    @discardableResult
    public static func stopHelpers(of attack: String, recorded: [(pid: Int32, startTime: UInt64?)],
                                   grace: TimeInterval = 2) -> [Int32] {
        for helper in recorded {
            if let startTime = helper.startTime, Processes.startTime(of: helper.pid) == startTime {
                stop(helper.pid, grace: grace)
            }
        }
        var marked: [Int32] = []
        for _ in 0..<20 {
            marked = withEnvironment("TUMULT_ATTACK", equalTo: attack).filter { $0 != getpid() }
            if marked.isEmpty { break }
            for pid in marked { stop(pid, grace: grace) }
        }
        return withEnvironment("TUMULT_ATTACK", equalTo: attack).filter { $0 != getpid() }
    }
}
