import Foundation
import TumultSystem

/// `swift run -c release tumult-bench stress` (build `tumult-stress` first:
/// `swift build -c release --product tumult-stress`).
///
/// How close `tumult-stress` workers come to what they are asked for: the
/// CPU one worker burns at 10/50/90 % load (its utime+stime over `seconds`),
/// and the anonymous resident memory (RssAnon: VmRSS less the ~5 MB of
/// mapped libraries) of a memory worker against the size it was given.
struct StressBenchmark {
    var worker: String
    var seconds: Double

    func run() throws {
        guard FileManager.default.isExecutableFile(atPath: worker) else {
            throw BenchmarkError("no worker at \(worker): swift build -c release --product tumult-stress")
        }
        print("stress benchmark: one worker each, \(seconds) s per CPU load, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("")
        print(row("cpu load requested", "measured", "error"))
        print(row("------------------", "--------", "-----"))
        for load in [10, 50, 90] {
            let measured = try cpuLoad(load)
            print(row("\(load) %", String(format: "%.1f %%", measured), String(format: "%+.1f points", measured - Double(load))))
        }
        print("")
        print(row("memory requested", "RssAnon", "error"))
        print(row("----------------", "-------", "-----"))
        for megabytes in [64, 256] {
            let requested = UInt64(megabytes) * 1_000_000
            let resident = try residentMemory(requested)
            print(row("\(megabytes)MB (\(requested) B)", "\(resident) B",
                      String(format: "%+.2f %%", (Double(resident) - Double(requested)) / Double(requested) * 100)))
        }
    }

    func start(_ arguments: [String]) throws -> Int32 {
        try HelperProcess.start(Command([worker] + arguments), environment: [:], readyPrefix: "ready", detached: true).pid
    }

    func cpuLoad(_ load: Int) throws -> Double {
        let pid = try start(["cpu", "--load", String(load)])
        defer { Processes.stop(pid, grace: 0) }
        usleep(300_000)
        let before = cpuSeconds(pid), start = Date()
        usleep(UInt32(seconds * 1_000_000))
        return (cpuSeconds(pid) - before) / Date().timeIntervalSince(start) * 100
    }

    func residentMemory(_ bytes: UInt64) throws -> UInt64 {
        let pid = try start(["memory", "--bytes", String(bytes)])
        defer { Processes.stop(pid, grace: 0) }
        var last: UInt64 = 0
        // Resident memory stops growing once every page is written.
        for _ in 0..<100 {
            usleep(100_000)
            let now = resident(pid)
            if now == last && now > bytes / 2 { break }
            last = now
        }
        return last
    }

    func cpuSeconds(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func resident(_ pid: Int32) -> UInt64 {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") }
        return (line?.split(separator: " ").dropFirst().first.flatMap { UInt64($0) } ?? 0) * 1024
    }

    func row(_ columns: String...) -> String {
        zip(columns, [24, 16, 14]).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: " ")
    }
}
