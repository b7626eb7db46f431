import Foundation
import TumultSystem

/// `tumult-bench fastpath [--tumult PATH] [--before DIR] [--anchor FILE] [--rounds N] [--seconds N]` (as root)
///
/// Issue 17's table in one run, each figure beside its anchor measured in
/// the same run and, with `--before DIR` (a directory holding an older
/// `tumult` and `tumult-netem`), beside the same figure for that build:
///
/// 1. the start of the CLI: `tumult --version` against `tc -V`, whole processes;
/// 2. injecting and recovering a bandwidth fault: `tumult attack` + `tumult
///    recover` in process and handed to a running agent, against `tc qdisc
///    add` + `del` and against the same two changes as netlink messages;
/// 3. TCP through the userspace engine at 0, 1, 20 and 100 ms of delay,
///    against the cheapest NFQUEUE consumer (`nfq-passthrough.c`);
/// 4. the resident memory of an idle host agent (`tumult daemon`) against
///    Gremlin's agent (16 MiB, its published figure).
///
/// The controller's memory at 10,000 experiments is `tumult-bench controller`.
/// Namespaces, processes, attacks and directories are removed at the end,
/// also on an error or a signal.
struct FastPathBenchmark {
    var tumult: String
    var before: String?
    var anchorSource: String
    var rounds = 30
    var seconds = 4
    var starts = 60

    var engine: String { URL(fileURLWithPath: tumult).deletingLastPathComponent().appendingPathComponent("tumult-netem").path }

    init(tumult: String, anchorSource: String, arguments: [String]) {
        self.tumult = tumult
        self.anchorSource = anchorSource
        func value(_ flag: String) -> String? {
            arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
        }
        before = value("--before")
        rounds = value("--rounds").flatMap(Int.init) ?? rounds
        seconds = value("--seconds").flatMap(Int.init) ?? seconds
    }

    func run() throws {
        guard getuid() == 0 else { throw BenchmarkError("the fast-path benchmark needs root (network namespaces)") }
        for binary in [tumult, engine] + (before.map { [$0 + "/tumult", $0 + "/tumult-netem"] } ?? [])
        where !FileManager.default.isExecutableFile(atPath: binary) {
            throw BenchmarkError("no executable \(binary)")
        }
        for tool in ["ip", "tc", "iptables", "iperf3", "gcc", "ldd"] { _ = try ProcessCommandRunner.locate(tool) }
        let started = Clock.now
        let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        let cleanup = NetworkCleanup.shared
        cleanup.installSignalHandlers()
        defer {
            cleanup.perform()
            while cleanup.interrupted { pause() }
        }
        let work = "/tmp/tmt-fast-\(tag)"
        cleanup.addDirectory(work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let anchor = work + "/nfq-passthrough"
        try ProcessCommandRunner().check(Command(["gcc", "-O2", "-o", anchor, anchorSource, "-lnetfilter_queue"]),
                                         doing: "compiling the NFQUEUE anchor")
        let network = try BenchNetwork(tag: tag, cleanup: cleanup)
        let kernel = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        print("fast-path benchmark: \(ProcessInfo.processInfo.activeProcessorCount) cores, Linux \(kernel)")
        print("after:  \(tumult)")
        if let before { print("before: \(before)/tumult") }
        print("")
        try startup()
        print("")
        try injectRecover(network, work: work, cleanup: cleanup)
        print("")
        try engineThroughput(network, anchor: anchor)
        print("")
        try agentMemory(work: work, cleanup: cleanup)
        print("")
        print(String(format: "total run time %.0f s (before cleanup)", Clock.now - started))
    }

    // MARK: 1. Start

    /// Wall time of whole processes, spawned and waited for one after another.
    func spawnTimes(_ arguments: [String], count: Int) throws -> [Double] {
        _ = try Spawn.run(arguments)  // page cache
        var samples: [Double] = []
        for _ in 0..<count {
            let t0 = Clock.now
            let result = try Spawn.run(arguments)
            samples.append(Clock.now - t0)
            guard result.succeeded else { throw CommandError(doing: "timing", command: Command(arguments), result: result) }
        }
        return samples.sorted()
    }

    func libraries(_ path: String) -> String {
        let listed = (try? ProcessCommandRunner().run(Command(["ldd", path])))?.stdout ?? ""
        let count = listed.split(separator: "\n").filter { !$0.contains("linux-vdso") }.count
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        return "\(count) libs, \(size / 1_000_000) MB"
    }

    /// `tumult-cli` beside `tumult`: the whole program the front becomes.
    var wholeProgram: String { URL(fileURLWithPath: tumult).deletingLastPathComponent().appendingPathComponent("tumult-cli").path }

    func startup() throws {
        let tc = try spawnTimes(["tc", "-V"], count: starts)
        var rows: [(String, [Double], String)] = [("tc -V (anchor)", tc, libraries(try ProcessCommandRunner.locate("tc").path))]
        if let before { rows.append(("before: tumult --version", try spawnTimes([before + "/tumult", "--version"], count: starts), libraries(before + "/tumult"))) }
        rows.append(("after: tumult --version", try spawnTimes([tumult, "--version"], count: starts), libraries(tumult)))
        // The whole program the front becomes for every other command, started directly.
        rows.append(("after: tumult-cli --version", try spawnTimes([wholeProgram, "--version"], count: starts), libraries(wholeProgram)))
        rows.append(("after: tumult recover --help", try spawnTimes([tumult, "recover", "--help"], count: starts), ""))
        let widths = [32, 8, 8, 10, 20]
        print("1. start of the CLI: whole processes, \(starts) runs each, wall ms")
        print("")
        print(row(widths, "command", "p50", "p90", "vs tc", "binary"))
        print(row(widths, "-------", "---", "---", "-----", "------"))
        for (name, samples, binary) in rows {
            print(row(widths, name, ms(percentile(samples, 0.5)), ms(percentile(samples, 0.9)),
                      times(percentile(samples, 0.5) / percentile(tc, 0.5)), binary))
        }
    }

    // MARK: 2. Inject + recover

    func injectRecover(_ network: BenchNetwork, work: String, cleanup: NetworkCleanup) throws {
        let attack = ["attack", "network", "bandwidth", "--netns", network.a, "--rate", "10mbit", "--limit", "20000",
                      "--buffer", "10000"]
        let tbf = TrafficControl.Request.addQdisc(device: network.deviceA, parent: .root, handle: .init(major: 0x746d),
                                                  .tokenBucket(.init(rateBits: 10_000_000, burst: 10_000, limit: 20_000)))

        /// One inject + recover pair of a path: wall seconds of each half.
        typealias Pair = () throws -> (Double, Double)
        func timed(_ cli: TumultCLI) -> Pair {
            {
                let t0 = Clock.now
                let uid = try cli.attack(attack)
                let t1 = Clock.now
                try cli.recover(uid)
                return (t1 - t0, Clock.now - t1)
            }
        }
        var paths: [(name: String, pair: Pair)] = [
            ("tc qdisc add + del (anchor)", {
                let t0 = Clock.now
                try network.check(in: network.a, tbf.command.arguments)
                let t1 = Clock.now
                try network.check(in: network.a, ["tc", "qdisc", "del", "dev", network.deviceA, "root"])
                return (t1 - t0, Clock.now - t1)
            }),
            ("netlink, the same two messages", {
                let t0 = Clock.now
                try RouteNetlink(.named(network.a)).perform(tbf)
                let t1 = Clock.now
                try RouteNetlink(.named(network.a)).perform(.deleteQdisc(device: network.deviceA, parent: .root,
                                                                         handle: .init(major: 0x746d)))
                return (t1 - t0, Clock.now - t1)
            }),
        ]
        if let before {
            paths.append(("before: tumult, in process", timed(TumultCLI(path: before + "/tumult", home: work + "/home-before", cleanup: cleanup))))
        }
        paths.append(("after: tumult, in process", timed(TumultCLI(path: tumult, home: work + "/home-in-process", cleanup: cleanup))))
        // A warm agent on its own home: `tumult daemon`, whose socket the CLI finds there.
        let home = work + "/home-agent"
        let daemon = try startDaemon(tumult, home: home, cleanup: cleanup)
        defer { stopDaemon(daemon, cleanup: cleanup) }
        paths.append(("after: tumult, handed to the agent", timed(TumultCLI(path: tumult, home: home, cleanup: cleanup))))
        // The whole program's own handoff (a prepared attack): what the front saves is its start.
        paths.append(("after: tumult-cli, prepared to the agent", timed(TumultCLI(path: wholeProgram, home: home, cleanup: cleanup))))

        // Round by round, every path once per round (the first round is a
        // warm-up): a machine that slows down or speeds up while the
        // benchmark runs then weighs on the anchor and on Tumult alike, and
        // the ratio is the same run's. Path by path, the ratio of one run
        // moved between 1.5x and 2.7x.
        var samples = [(inject: [Double], recover: [Double])](repeating: ([], []), count: paths.count)
        for round in 0...rounds {
            for (index, path) in paths.enumerated() {
                let (inject, recover) = try path.pair()
                if round > 0 {
                    samples[index].inject.append(inject)
                    samples[index].recover.append(recover)
                }
            }
        }
        let left = try network.check(in: network.a, ["tc", "qdisc", "show", "dev", network.deviceA]).stdout
        guard !left.contains("746d:") else { throw BenchmarkError("a tbf qdisc is left on \(network.deviceA): \(left)") }
        // Each pair as it was measured (inject and recover of the same round).
        let rows = zip(paths, samples).map { ($0.name, $1) }
        let tc = rows[0].1

        let widths = [36, 10, 10, 10, 10, 10]
        let anchor = percentile(zip(tc.inject, tc.recover).map(+).sorted(), 0.5)
        print("2. inject + recover a bandwidth fault (tbf 10mbit on \(network.deviceA)), \(rounds) rounds, wall ms (p50)")
        print("   rounds interleaved: each round runs every path once, in the order below")
        print("")
        print(row(widths, "path", "inject", "recover", "pair", "pair p90", "vs tc"))
        print(row(widths, "----", "------", "-------", "----", "--------", "-----"))
        for (name, samples) in rows {
            let pair = zip(samples.inject, samples.recover).map(+).sorted()
            print(row(widths, name, ms(percentile(samples.inject.sorted(), 0.5)), ms(percentile(samples.recover.sorted(), 0.5)),
                      ms(percentile(pair, 0.5)), ms(percentile(pair, 0.9)), times(percentile(pair, 0.5) / anchor)))
        }
    }

    /// `tumult daemon` on a free loopback port with `home`, once its socket answers.
    func startDaemon(_ binary: String, home: String, cleanup: NetworkCleanup) throws -> Int32 {
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let port = Int.random(in: 40_000...50_000)
        let child = try Spawn.start([binary, "daemon", "--insecure", "--listen", "127.0.0.1:\(port)", "--home", home],
                                    captureOutput: false)
        cleanup.addProcess(child.pid)
        let deadline = Clock.now + 30
        while Clock.now < deadline {
            // Listening on its port; and, for a build that has one, its socket there too.
            if HostReadBack.listensTCP(child.pid, port: port) == true,
               binary != tumult || FileManager.default.fileExists(atPath: home + "/agent.sock") {
                return child.pid
            }
            usleep(50_000)
        }
        throw BenchmarkError("tumult daemon (\(binary)) did not start")
    }

    func stopDaemon(_ pid: Int32, cleanup: NetworkCleanup) {
        Processes.stop(pid, grace: 5)
        cleanup.removeProcess(pid)
    }

    // MARK: 3. Engine

    func engineThroughput(_ network: BenchNetwork, anchor: String) throws {
        let port = Int.random(in: 20_000...40_000)
        let server = try network.startBackground(in: network.b, ["iperf3", "-s", "-p", String(port)])
        defer { network.stop(server) }
        try network.waitForListener(in: network.b, port: port)
        /// TCP with `command` bound to queue 0 behind the OUTPUT rule Tumult's plan uses.
        func behindQueue(_ command: [String], ready: String?) throws -> Double {
            let pid: Int32
            if let ready {
                let started = try HelperProcess.start(NetworkNamespace.named(network.a).wrap(Command(command)), environment: [:],
                                                      readyPrefix: ready, detached: false)
                pid = started.pid
                network.cleanup.addProcess(pid)
            } else {
                pid = try network.startBackground(in: network.a, command)
                try network.waitForQueue(in: network.a, number: 0, pid: pid)
            }
            defer { network.stop(pid) }
            let rule = ["OUTPUT", "-o", network.deviceA, "-m", "mark", "!", "--mark", "0x746d74",
                        "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass"]
            try network.check(in: network.a, ["iptables", "-w", "-t", "mangle", "-A"] + rule)
            defer { _ = try? network.check(in: network.a, ["iptables", "-w", "-t", "mangle", "-D"] + rule) }
            let before = network.queueSequence(in: network.a)
            let bits = try network.tcp(port: port, seconds: seconds)
            guard network.queueSequence(in: network.a) > before else { throw BenchmarkError("no packet reached the queue") }
            return bits
        }
        let delays = [0, 1, 20, 100]
        var engines = [("after", engine)]
        if let before { engines.insert(("before", before + "/tumult-netem"), at: 0) }
        var floor: [Double] = []
        var results: [String: [Int: Double]] = [:]
        // Interleaved: the floor before each delay, so load elsewhere falls on all rows alike.
        for delay in delays {
            floor.append(try behindQueue([anchor, "0", "gso"], ready: nil))
            for (name, binary) in engines {
                var command = [binary, "--queue", "0", "--limit", "1000"]
                if delay > 0 { command += ["--delay-us", String(delay * 1000)] }
                results[name, default: [:]][delay] = try behindQueue(command, ready: "ready")
            }
        }
        let floorMean = mean(floor)
        let widths = [22, 12, 12, 14, 14]
        print("3. TCP through the userspace engine (iperf3, one stream, \(seconds) s, mangle OUTPUT -> queue 0), Gbit/s")
        print("   floor: nfq-passthrough (meta, gso), \(floor.map { String(format: "%.2f", $0 / 1e9) }.joined(separator: " ")), mean \(String(format: "%.2f", floorMean / 1e9))")
        print("")
        print(row(widths, "delay", "before", "after", "before/floor", "after/floor"))
        print(row(widths, "-----", "------", "-----", "------------", "-----------"))
        for delay in delays {
            let old = results["before"]?[delay], new = results["after"]?[delay] ?? .nan
            print(row(widths, delay == 0 ? "0 (no fault)" : "\(delay) ms", old.map { String(format: "%.2f", $0 / 1e9) } ?? "-",
                      String(format: "%.2f", new / 1e9), old.map { String(format: "%.2f", $0 / floorMean) } ?? "-",
                      String(format: "%.2f", new / floorMean)))
        }
    }

    // MARK: 4. Agent memory

    func agentMemory(work: String, cleanup: NetworkCleanup) throws {
        var binaries = [("after", tumult)]
        if let before { binaries.insert(("before", before + "/tumult"), at: 0) }
        let widths = [28, 10, 10, 10, 12]
        print("4. resident memory of an idle host agent (tumult daemon --insecure, empty home), 5 s after start, MiB")
        print("   anchor: Gremlin's agent, 16 MiB (published)")
        print("")
        print(row(widths, "agent", "VmRSS", "RssAnon", "RssFile", "vs 16 MiB"))
        print(row(widths, "-----", "-----", "-------", "-------", "---------"))
        for (name, binary) in binaries {
            let pid = try startDaemon(binary, home: work + "/idle-\(name)", cleanup: cleanup)
            defer { stopDaemon(pid, cleanup: cleanup) }
            sleep(5)
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            func kib(_ field: String) -> Double {
                let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
                return Double(line.split(separator: " ").dropFirst().first ?? "") ?? .nan
            }
            let rss = kib("VmRSS") / 1024
            print(row(widths, "\(name): tumult daemon", String(format: "%.1f", rss), String(format: "%.1f", kib("RssAnon") / 1024),
                      String(format: "%.1f", kib("RssFile") / 1024), times(rss / 16)))
        }
    }
}
