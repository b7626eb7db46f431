import Foundation
import TumultSystem

/// `swift run -c release tumult-bench time` (root, x86_64): how long
/// injecting and recovering TimeChaos takes on a process with 50 threads:
/// `ClockPatcher` alone (stop every thread, map the page, patch, read back,
/// detach), and whole `tumult attack time` + `tumult recover` processes,
/// beside a process that only starts and exits (`tumult --version`), the
/// floor any CLI pays.
struct ClockBenchmark {
    var tumult: String
    var rounds: Int

    func run() throws {
        let target = try Spawn.start(["python3", "-c", """
            import threading, time
            for _ in range(49): threading.Thread(target=time.sleep, args=(1e6,), daemon=True).start()
            print("ready", flush=True)
            time.sleep(1e6)
            """])
        defer {
            kill(target.pid, SIGKILL)
            Spawn.wait(for: target.pid)
        }
        var ready = [UInt8](repeating: 0, count: 16)
        _ = read(target.stdout, &ready, ready.count)
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(target.pid)/task").count) ?? 0
        print("time benchmark: a process with \(threads) threads, \(rounds) rounds, medians")
        print("")
        print(row("step", "median", "p90", "goal"))
        print(row("----", "------", "---", "----"))
        var patch: [Double] = [], restore: [Double] = []
        let skew = ClockSkew(offsetNanoseconds: -600_000_000_000, clockIDs: [0])
        for _ in 0..<rounds {
            var start = Date()
            _ = try ClockPatcher.patch(pid: target.pid, skew: skew, marker: "bench")
            patch.append(Date().timeIntervalSince(start) * 1000)
            start = Date()
            try ClockPatcher.restore(pid: target.pid, marker: "bench")
            restore.append(Date().timeIntervalSince(start) * 1000)
        }
        print(row("ClockPatcher.patch", ms(median(patch)), ms(percentile(patch, 0.9)), "<= 50 ms"))
        print(row("ClockPatcher.restore", ms(median(restore)), ms(percentile(restore, 0.9)), "<= 50 ms"))

        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-timebench-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: home) }
        var attack: [Double] = [], recover: [Double] = [], version: [Double] = []
        for _ in 0..<rounds {
            var start = Date()
            let injected = try Spawn.run([tumult, "attack", "time", "--pid", String(target.pid), "--offset", "-10m", "--state-dir", home])
            attack.append(Date().timeIntervalSince(start) * 1000)
            guard injected.status == 0 else { throw BenchmarkError("tumult attack time failed: \(injected.stderr)") }
            start = Date()
            let recovered = try Spawn.run([tumult, "recover", injected.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "--state-dir", home])
            recover.append(Date().timeIntervalSince(start) * 1000)
            guard recovered.status == 0 else { throw BenchmarkError("tumult recover failed: \(recovered.stderr)") }
            start = Date()
            _ = try Spawn.run([tumult, "--version"])
            version.append(Date().timeIntervalSince(start) * 1000)
        }
        print(row("tumult attack time (process)", ms(median(attack)), ms(percentile(attack, 0.9)), "<= 50 ms"))
        print(row("tumult recover (process)", ms(median(recover)), ms(percentile(recover, 0.9)), "<= 50 ms"))
        print(row("tumult --version (floor)", ms(median(version)), ms(percentile(version, 0.9)), ""))
    }

    func median(_ values: [Double]) -> Double { percentile(values, 0.5) }

    func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction))]
    }

    func ms(_ value: Double) -> String { String(format: "%.2f ms", value) }

    func row(_ columns: String...) -> String {
        zip(columns, [30, 12, 12, 10]).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: " ")
    }
}
