import Foundation
import Testing
import TumultSystem

/// Root integration tests: a target (`sleep 60`) in cgroups made for the
/// test, the real `tumult` binary stressing it, the load and memory measured.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for cgroups"))
struct StressFaultTests {
    let cli = TumultCLI()

    func run(_ arguments: [String]) throws -> CommandResult { try cli.run(arguments) }

    /// Injects a detached stress attack and returns its uid and worker pids.
    func inject(_ arguments: [String]) throws -> (uid: String, workers: [Int32]) {
        let injected = try run(["attack", "stress"] + arguments)
        try #require(injected.status == 0, "inject failed: \(injected.stderr)")
        let uid = injected.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return (uid, Processes.withEnvironment("TUMULT_ATTACK", equalTo: uid))
    }

    func recover(_ uid: String) {
        let recovered = try? run(["recover", uid])
        #expect(recovered?.status == 0, "recover failed: \(recovered?.stderr ?? "")")
        #expect(Processes.withEnvironment("TUMULT_ATTACK", equalTo: uid).isEmpty, "a worker is left running")
    }

    @Test func cpuWorkerHoldsItsLoadInsideTheTargetCgroups() throws {
        let target = try TestCgroup()
        defer { target.tearDown(); cli.removeHome() }
        let (uid, workers) = try inject(["cpu", "--pid", String(target.process), "--load", "50", "--workers", "1"])
        defer { recover(uid) }
        try #require(workers.count == 1, "workers: \(workers)")
        let worker = workers[0]
        for cgroup in target.cgroups {
            #expect(cgroup.hierarchy.cgroup(of: worker) == cgroup, "worker not in \(cgroup)")
        }
        #expect(CgroupHierarchy.cgroups(of: worker) == CgroupHierarchy.cgroups(of: target.process))
        usleep(300_000)
        let before = try #require(Self.cpuSeconds(worker))
        let start = Date()
        usleep(3_000_000)
        let used = try #require(Self.cpuSeconds(worker)) - before
        let load = used / Date().timeIntervalSince(start) * 100
        #expect((45...55).contains(load), "measured load \(load)%")
    }

    @Test func memoryWorkerTakesItsSizeInTheNamespaceTargetsCgroup() throws {
        let namespace = "tmt-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        _ = try Spawn.run(["ip", "netns", "add", namespace])
        defer { _ = try? Spawn.run(["ip", "netns", "del", namespace]) }
        let target = try TestCgroup(command: ["ip", "netns", "exec", namespace, "sleep", "60"])
        defer { target.tearDown(); cli.removeHome() }
        let memory = try #require(target.cgroups.first { $0.hierarchy.controllers.contains("memory") || $0.hierarchy.version == 2 })
        let usageBefore = try #require(Self.memoryUsage(memory))

        let (uid, workers) = try inject(["mem", "--netns", namespace, "--size", "200MB", "--oom-score-adj", "500"])
        var recovered = false
        defer { if !recovered { recover(uid) } }
        try #require(workers.count == 1, "workers: \(workers)")
        let worker = workers[0]
        #expect(memory.hierarchy.cgroup(of: worker) == memory)
        #expect((try? String(contentsOfFile: "/proc/\(worker)/oom_score_adj", encoding: .utf8))?.hasPrefix("500") == true)
        let deadline = Date().addingTimeInterval(10)
        var rss: UInt64 = 0
        while Date() < deadline {
            rss = Self.residentBytes(worker) ?? 0
            if rss >= 190_000_000 { break }
            usleep(50_000)
        }
        #expect(rss >= 190_000_000, "VmRSS \(rss)")
        // The cgroup's accounting trails the worker's own count a little under load.
        var usageDuring: UInt64 = 0
        let accounted = Date().addingTimeInterval(5)
        repeat {
            usageDuring = try #require(Self.memoryUsage(memory))
            if usageDuring >= usageBefore + 190_000_000 { break }
            usleep(50_000)
        } while Date() < accounted
        #expect(usageDuring >= usageBefore + 190_000_000, "usage \(usageBefore) -> \(usageDuring)")

        recover(uid)
        recovered = true
        let usageAfter = try #require(Self.memoryUsage(memory))
        #expect(usageAfter < usageBefore + 20_000_000, "usage after recovery \(usageAfter), before \(usageBefore)")
    }

    @Test func recoverAllStopsTheWorkersOfAKilledForegroundAttack() throws {
        let target = try TestCgroup()
        defer { target.tearDown(); cli.removeHome() }
        let child = try cli.start(["attack", "stress", "cpu", "--pid", String(target.process),
                                   "--load", "20", "--workers", "2", "--duration", "60s"])
        defer {
            close(child.stdout)
            close(child.stderr)
        }
        let uid = try #require(Self.firstLine(child.stdout, timeout: 10), "no uid printed")
        let workers = Processes.withEnvironment("TUMULT_ATTACK", equalTo: uid)
        #expect(workers.count == 2, "workers: \(workers)")
        kill(child.pid, SIGKILL)
        Spawn.wait(for: child.pid)

        let recovered = try run(["recover", "--all"])
        #expect(recovered.status == 0, "recover --all: \(recovered.stderr)")
        #expect(recovered.stdout.contains(uid))
        #expect(Processes.withEnvironment("TUMULT_ATTACK", equalTo: uid).isEmpty, "a worker is left running")
        #expect(workers.allSatisfy { !Processes.isAlive($0) })
    }

    @Test func rawOptionsNeedStressNG() throws {
        guard (try? ProcessCommandRunner.locate("stress-ng")) == nil else { return }
        defer { cli.removeHome() }
        let result = try run(["attack", "stress", "cpu", "--options", "--cpu-method all"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("stress-ng"), "stderr: \(result.stderr)")
    }

    // MARK: Measuring

    /// utime + stime of `pid`, in seconds.
    static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func residentBytes(_ pid: Int32) -> UInt64? {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line?.split(separator: " ").dropFirst().first.flatMap { UInt64($0) }.map { $0 * 1024 }
    }

    static func memoryUsage(_ cgroup: Cgroup) -> UInt64? {
        let text = cgroup.read(cgroup.hierarchy.version == 2 ? "memory.current" : "memory.usage_in_bytes")
        return text.flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    static func firstLine(_ descriptor: Int32, timeout: TimeInterval) -> String? {
        var buffer = Data()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) >= 0 else { return nil }
            guard poller.revents != 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 256)
            let count = read(descriptor, &chunk, chunk.count)
            if count <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<count])
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                return String(decoding: buffer[..<newline], as: UTF8.self)
            }
        }
        return nil
    }
}

/// A target process (`sleep 60` unless told) in a cgroup `tmt-<random>` of
/// its own in the cpu, cpuacct, memory and pids hierarchies (v1) or the v2
/// tree; `tearDown()` kills it and removes the cgroups.
final class TestCgroup {
    let cgroups: [Cgroup]
    let process: Int32

    init(command: [String] = ["sleep", "60"]) throws {
        let name = "tmt-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        let hierarchies = CgroupHierarchy.mounted().filter { hierarchy in
            CgroupHierarchy.isUnifiedOnly ? hierarchy.version == 2
                : hierarchy.version == 1 && !Set(hierarchy.controllers).isDisjoint(with: ["cpu", "cpuacct", "memory", "pids"])
        }
        cgroups = hierarchies.map { $0.cgroup("/" + name) }
        process = try Spawn.start(command, captureOutput: false).pid
        do {
            for cgroup in cgroups {
                try cgroup.create()
                try cgroup.move(process)
            }
        } catch {
            tearDown()
            throw error
        }
    }

    func tearDown() {
        kill(process, SIGKILL)
        Spawn.wait(for: process)
        for cgroup in cgroups {
            let deadline = Date().addingTimeInterval(3)
            while (try? cgroup.remove()) == nil && Date() < deadline { usleep(20_000) }
        }
    }
}
