import Foundation
import TumultSystem

/// `swift run -c release tumult-bench network [--tumult PATH] [--anchor FILE]` (as root)
///
/// Builds two network namespaces of its own, `tmt-bench-<tag>-a` and `-b`,
/// joined by a veth pair with addresses in a random 10.2xx.x.0/24 (traffic
/// stays inside them), and prints, in one run:
///
/// 1. what injecting and recovering a bandwidth fault through `tumult`
///    costs, against the same qdisc added and removed with bare `tc`;
/// 2. the userspace engine's throughput (iperf3 TCP) and packet rate (iperf3
///    UDP, 64-byte datagrams) against no queue and against the cheapest
///    NFQUEUE consumer (`nfq-passthrough.c`, compiled into a temporary
///    directory);
/// 3. how faithful a 100 ms ± 20 ms delay is, over 5,000 pings;
/// 4. how faithful 30 % loss is, over 10,000 pings, plain and with
///    correlation 75.
///
/// Every attack is recovered, every process stopped and both namespaces
/// deleted at the end, also on an error or SIGINT/SIGTERM/SIGHUP.
struct NetworkBenchmark {
    var tumult: String
    var anchorSource: String
    var rounds = 30
    var seconds = 4
    var passes = 2

    func run() throws {
        guard getuid() == 0 else { throw BenchmarkError("the network benchmark needs root (network namespaces)") }
        guard FileManager.default.isExecutableFile(atPath: tumult) else {
            throw BenchmarkError("no tumult executable at \(tumult) (build it, or pass --tumult PATH)")
        }
        let engine = URL(fileURLWithPath: tumult).deletingLastPathComponent().appendingPathComponent("tumult-netem").path
        guard FileManager.default.isExecutableFile(atPath: engine) else {
            throw BenchmarkError("no tumult-netem beside \(tumult) (swift build --product tumult-netem)")
        }
        guard FileManager.default.fileExists(atPath: anchorSource) else {
            throw BenchmarkError("no anchor source at \(anchorSource) (pass --anchor FILE)")
        }
        for tool in ["ip", "tc", "iptables", "iperf3", "ping", "gcc"] { _ = try ProcessCommandRunner.locate(tool) }

        let started = Clock.now
        let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        let cleanup = NetworkCleanup.shared
        cleanup.installSignalHandlers()
        defer {
            cleanup.perform()
            // After a signal, the handler exits once it has cleaned up: no
            // error report for the commands the signal interrupted.
            while cleanup.interrupted { pause() }
        }

        let work = "/tmp/tmt-bench-\(tag)"
        cleanup.addDirectory(work)
        try FileManager.default.createDirectory(atPath: work + "/home", withIntermediateDirectories: true)
        let anchor = work + "/nfq-passthrough"
        try ProcessCommandRunner().check(Command(["gcc", "-O2", "-o", anchor, anchorSource, "-lnetfilter_queue"]),
                                         doing: "compiling the NFQUEUE anchor")
        let cli = TumultCLI(path: tumult, home: work + "/home", cleanup: cleanup)
        cleanup.tumult = cli
        let network = try BenchNetwork(tag: tag, cleanup: cleanup)
        let kernelNetem = KernelSupport.hasQdisc("netem", runner: ProcessCommandRunner())
        let kernel = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"

        print("network benchmark: \(ProcessInfo.processInfo.activeProcessorCount) cores, Linux \(kernel), "
              + "sch_netem \(kernelNetem ? "available" : "absent"); delay/loss forced to the userspace engine")
        print("namespaces \(network.a) / \(network.b), \(network.subnet).0/24, veth \(network.deviceA) -> \(network.deviceB)")
        print("tumult: \(tumult)")
        print("")

        try injectRecover(network, cli)
        print("")
        try engineThroughput(network, cli, engine: engine, anchor: anchor)
        print("")
        try delayFidelity(network, cli)
        print("")
        try lossFidelity(network, cli)
        print("")
        print(String(format: "total run time %.0f s (before cleanup)", Clock.now - started))
    }

    // MARK: 1. Inject + recover

    func injectRecover(_ network: BenchNetwork, _ cli: TumultCLI) throws {
        let attack = ["attack", "network", "bandwidth", "--netns", network.a,
                      "--rate", "10mbit", "--limit", "20000", "--buffer", "10000"]
        let add = ["tc", "qdisc", "add", "dev", network.deviceA, "root", "handle", "746d:",
                   "tbf", "rate", "10000000bit", "burst", "10000", "limit", "20000"]
        let del = ["tc", "qdisc", "del", "dev", network.deviceA, "root"]
        var inject: [Double] = [], recover: [Double] = [], tcAdd: [Double] = [], tcDel: [Double] = []
        // One untimed round of each first (page cache, the journal's creation).
        for round in 0...rounds {
            var t0 = Clock.now
            let uid = try cli.attack(attack)
            var t1 = Clock.now
            try cli.recover(uid)
            var t2 = Clock.now
            if round > 0 { inject.append(t1 - t0); recover.append(t2 - t1) }

            t0 = Clock.now
            try network.check(in: network.a, add)
            t1 = Clock.now
            try network.check(in: network.a, del)
            t2 = Clock.now
            if round > 0 { tcAdd.append(t1 - t0); tcDel.append(t2 - t1) }
        }
        let left = try network.check(in: network.a, ["tc", "qdisc", "show", "dev", network.deviceA]).stdout
        guard !left.contains("746d:") else { throw BenchmarkError("a tbf qdisc is left on \(network.deviceA): \(left)") }

        let total = zip(inject, recover).map(+), tcTotal = zip(tcAdd, tcDel).map(+)
        let widths = [44, 9, 9, 9]
        print("1. inject + recover a bandwidth fault (tbf 10mbit on \(network.deviceA)), \(rounds) rounds, wall ms")
        print("")
        print(row(widths, "command", "p50", "p99", "mean"))
        print(row(widths, "-------", "---", "---", "----"))
        func line(_ name: String, _ samples: [Double]) {
            let sorted = samples.sorted()
            print(row(widths, name, ms(percentile(sorted, 0.5)), ms(percentile(sorted, 0.99)), ms(mean(sorted))))
        }
        line("tumult attack network bandwidth", inject)
        line("tumult recover UID", recover)
        line("tumult, inject + recover", total)
        line("ip netns exec A tc qdisc add ... tbf", tcAdd)
        line("ip netns exec A tc qdisc del ... root", tcDel)
        line("tc, add + del", tcTotal)
        let (a, b) = (total.sorted(), tcTotal.sorted())
        print(row(widths, "ratio tumult / tc (inject + recover)",
                  times(percentile(a, 0.5) / percentile(b, 0.5)),
                  times(percentile(a, 0.99) / percentile(b, 0.99)), times(mean(a) / mean(b))))
    }

    // MARK: 2. Engine throughput and packet rate

    struct Traffic {
        var tcpBitsPerSecond: Double
        var udp: BenchNetwork.Datagrams
        var queued: Int?
    }

    func engineThroughput(_ network: BenchNetwork, _ cli: TumultCLI, engine: String, anchor: String) throws {
        let port = Int.random(in: 20_000...40_000)
        let server = try network.startBackground(in: network.b, ["iperf3", "-s", "-p", String(port)])
        defer { network.stop(server) }
        try network.waitForListener(in: network.b, port: port)

        func traffic() throws -> Traffic {
            Traffic(tcpBitsPerSecond: try network.tcp(port: port, seconds: seconds),
                    udp: try network.udp(port: port, seconds: seconds), queued: nil)
        }
        /// Traffic with `consumer` bound to queue 0 behind an OUTPUT rule on A's veth.
        func behindQueue(_ consumer: () throws -> Int32) throws -> Traffic {
            let pid = try consumer()
            defer { network.stop(pid) }
            let rule = ["OUTPUT", "-o", network.deviceA, "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass"]
            try network.check(in: network.a, ["iptables", "-w", "-t", "mangle", "-A"] + rule)
            defer { _ = try? network.check(in: network.a, ["iptables", "-w", "-t", "mangle", "-D"] + rule) }
            let before = network.queueSequence(in: network.a)
            var result = try traffic()
            result.queued = network.queueSequence(in: network.a) - before
            guard (result.queued ?? 0) > 0 else { throw BenchmarkError("no packet reached the queue") }
            return result
        }

        // The three cheap paths twice, interleaved, so that a burst of load
        // elsewhere on the machine does not land on one path only.
        var plain: [Traffic] = [], floor: [Traffic] = [], bare: [Traffic] = []
        for _ in 0..<passes {
            plain.append(try traffic())
            floor.append(try behindQueue {
                let pid = try network.startBackground(in: network.a, [anchor, "0", "gso"])
                try network.waitForQueue(in: network.a, number: 0, pid: pid)
                return pid
            })
            bare.append(try behindQueue {
                let command = NetworkNamespace.named(network.a).wrap(Command([engine, "--queue", "0"]))
                let started = try HelperProcess.start(command, environment: [:], readyPrefix: "ready", detached: false)
                network.cleanup.addProcess(started.pid)
                return started.pid
            })
        }
        let uid = try cli.attack(["attack", "network", "delay", "--netns", network.a, "--latency", "20ms",
                                  "--network-backend", "userspace"])
        let before = network.queueSequence(in: network.a)
        var delayed = try traffic()
        delayed.queued = network.queueSequence(in: network.a) - before
        try cli.recover(uid)
        guard (delayed.queued ?? 0) > 0 else { throw BenchmarkError("no packet reached the engine started by tumult") }

        let rows: [(String, [Traffic])] = [
            ("no queue", plain),
            ("anchor nfq-passthrough (meta, gso)", floor),
            ("tumult-netem --queue 0, no fault", bare),
            ("tumult attack ... delay --latency 20ms", [delayed]),
        ]
        func tcp(_ runs: [Traffic]) -> Double { mean(runs.map(\.tcpBitsPerSecond)) }
        func pps(_ runs: [Traffic]) -> Double { mean(runs.map(\.udp.deliveredPerSecond)) }
        var widths = [40, 8, 13, 9, 10]
        print("2a. throughput: iperf3 TCP A -> B, \(seconds) s, one stream; queue rule: mangle OUTPUT -o \(network.deviceA);")
        print("    mean of \(passes) interleaved runs (the CLI row: one run)")
        print("")
        print(row(widths, "path", "Gbit/s", "runs", "vs none", "vs anchor"))
        print(row(widths, "----", "------", "----", "-------", "---------"))
        for (name, runs) in rows {
            print(row(widths, name, String(format: "%.2f", tcp(runs) / 1e9),
                      runs.map { String(format: "%.2f", $0.tcpBitsPerSecond / 1e9) }.joined(separator: " "),
                      percent(tcp(runs) / tcp(plain)), percent(tcp(runs) / tcp(floor))))
        }
        print("")
        widths = [40, 8, 8, 15, 7, 9, 10]
        print("2b. packet rate: iperf3 UDP A -> B, 64-byte datagrams, -b 0, \(seconds) s; kpps delivered to B")
        print("")
        print(row(widths, "path", "sent", "kpps", "runs", "lost", "vs none", "vs anchor"))
        print(row(widths, "----", "----", "----", "----", "----", "-------", "---------"))
        for (name, runs) in rows {
            let sent = mean(runs.map(\.udp.sentPerSecond))
            let lost = 1 - pps(runs) / sent
            print(row(widths, name, String(format: "%.1f", sent / 1e3), String(format: "%.1f", pps(runs) / 1e3),
                      runs.map { String(format: "%.1f", $0.udp.deliveredPerSecond / 1e3) }.joined(separator: " "),
                      String(format: "%.1f%%", lost * 100), percent(pps(runs) / pps(plain)), percent(pps(runs) / pps(floor))))
        }
    }

    // MARK: 3. Delay fidelity

    func delayFidelity(_ network: BenchNetwork, _ cli: TumultCLI) throws {
        let baseline = try network.ping(count: 1000, interval: "0.001")
        let uid = try cli.attack(["attack", "network", "delay", "--netns", network.a, "--latency", "100ms",
                                  "--jitter", "20ms", "--network-backend", "userspace"])
        let delayed = try network.ping(count: 5000, interval: "0.002", preload: 100)
        try cli.recover(uid)

        let widths = [30, 6, 6, 9, 8, 8, 8, 8, 8, 8]
        print("3. delay fidelity: tumult attack network delay --latency 100ms --jitter 20ms, ping A -> B, RTT ms")
        print("")
        print(row(widths, "", "sent", "recv", "mean", "stdev", "min", "p1", "p50", "p99", "max"))
        print(row(widths, "", "----", "----", "----", "-----", "---", "--", "---", "---", "---"))
        for (name, result) in [("no fault (1000, -i 0.001)", baseline), ("100ms ±20ms (5000, -i 0.002)", delayed)] {
            let sorted = result.rtts.sorted()
            print(row(widths, name, "\(result.sent)", "\(result.received)", String(format: "%.3f", mean(sorted)),
                      String(format: "%.2f", standardDeviation(sorted)), String(format: "%.2f", sorted.first ?? .nan),
                      String(format: "%.2f", percentile(sorted, 0.01)), String(format: "%.2f", percentile(sorted, 0.5)),
                      String(format: "%.2f", percentile(sorted, 0.99)), String(format: "%.2f", sorted.last ?? .nan)))
        }
        print(row(widths, "expected (uniform 80-120)", "", "", "100.000", "11.55", "80.00", "80.40", "100.00", "119.60", "120.00"))
        let sorted = delayed.rtts.sorted()
        let error = mean(sorted) - 100
        print("")
        print(String(format: "mean error vs 100 ms: %+.3f ms (%+.2f%%); less the no-fault RTT: %+.3f ms",
                     error, error, error - mean(baseline.rtts)))
        print(String(format: "stdev %.2f ms vs 11.55 expected (%+.1f%%); %d of %d RTTs (%.2f%%) above 120 ms, %d below 80 ms",
                     standardDeviation(sorted), (standardDeviation(sorted) / 11.547 - 1) * 100,
                     sorted.filter { $0 > 120.5 }.count, sorted.count,
                     Double(sorted.filter { $0 > 120.5 }.count) / Double(sorted.count) * 100,
                     sorted.filter { $0 < 79.5 }.count))
        // Kolmogorov-Smirnov distance from uniform 80-120 ms, at the whole-ms
        // steps ping rounds to (RTT k ms printed means k-0.5 <= RTT < k+0.5).
        var distance = 0.0
        for k in 80...120 {
            let empirical = Double(sorted.filter { $0 < Double(k) + 0.5 }.count) / Double(sorted.count)
            distance = max(distance, abs(empirical - min(1, (Double(k) + 0.5 - 80) / 40)))
        }
        print(String(format: "Kolmogorov-Smirnov distance from uniform 80-120 ms: %.4f (5%% critical value at n=%d: %.4f)",
                     distance, sorted.count, 1.358 / Double(sorted.count).squareRoot()))
        print("(ping prints RTTs of 100 ms and more in whole ms)")
    }

    // MARK: 4. Loss fidelity

    func lossFidelity(_ network: BenchNetwork, _ cli: TumultCLI) throws {
        let count = 10_000
        var results: [(String, BenchNetwork.PingResult, NetemLossModel)] = []
        for correlation in [0.0, 75.0] {
            var arguments = ["attack", "network", "loss", "--netns", network.a, "--percent", "30",
                             "--network-backend", "userspace"]
            if correlation > 0 { arguments += ["--correlation", "75"] }
            let uid = try cli.attack(arguments)
            let result = try network.ping(count: count, interval: "0.001", preload: 100)
            try cli.recover(uid)
            results.append((correlation > 0 ? "30%, correlation 75" : "30%", result,
                            NetemLossModel(percent: 30, correlation: correlation)))
        }
        let widths = [22, 7, 7, 8, 11, 10, 10, 10]
        print("4. loss fidelity: tumult attack network loss, \(count) pings A -> B at -i 0.001")
        print("")
        print(row(widths, "fault", "sent", "recv", "loss", "vs 30%", "netem", "burst", "netem"))
        print(row(widths, "-----", "----", "----", "----", "------", "model", "-----", "burst"))
        for (name, result, model) in results {
            print(row(widths, name, "\(result.sent)", "\(result.received)", String(format: "%.2f%%", result.lossRate * 100),
                      String(format: "%+.2f pt", (result.lossRate - 0.3) * 100), String(format: "%.2f%%", model.loss * 100),
                      String(format: "%.2f", result.meanBurst(count: count)), String(format: "%.2f", model.meanBurst)))
        }
        print("")
        print(String(format: "binomial standard error of a 30%% loss rate over %d packets: %.2f pt", count,
                     (0.3 * 0.7 / Double(count)).squareRoot() * 100))
        print("burst: mean run of consecutive lost sequence numbers; netem model: Linux netem's get_crandom")
        print("with the same parameters, simulated over 10^6 packets (what sch_netem itself would drop).")
    }
}

// MARK: - The two namespaces

final class BenchNetwork {
    let a: String
    let b: String
    let subnet: String
    let deviceA = "veth-a"
    let deviceB = "veth-b"
    let cleanup: NetworkCleanup
    let runner = ProcessCommandRunner()

    var addressA: String { "\(subnet).1" }
    var addressB: String { "\(subnet).2" }

    init(tag: String, cleanup: NetworkCleanup) throws {
        a = "tmt-bench-\(tag)-a"
        b = "tmt-bench-\(tag)-b"
        subnet = "10.\(Int.random(in: 200...249)).\(Int.random(in: 0...255))"
        self.cleanup = cleanup
        let runner = self.runner
        func host(_ arguments: [String]) throws {
            try runner.check(Command(arguments), doing: "setting up the benchmark network")
        }
        cleanup.addNamespace(a)
        try host(["ip", "netns", "add", a])
        cleanup.addNamespace(b)
        try host(["ip", "netns", "add", b])
        // Made inside the namespaces: no device ever exists on the host.
        try host(["ip", "link", "add", deviceA, "netns", a, "type", "veth", "peer", "name", deviceB, "netns", b])
        try host(["ip", "-n", a, "addr", "add", "\(addressA)/24", "dev", deviceA])
        try host(["ip", "-n", b, "addr", "add", "\(addressB)/24", "dev", deviceB])
        for (namespace, device) in [(a, deviceA), (b, deviceB)] {
            try host(["ip", "-n", namespace, "link", "set", device, "up"])
            try host(["ip", "-n", namespace, "link", "set", "lo", "up"])
        }
    }

    @discardableResult
    func check(in namespace: String, _ arguments: [String]) throws -> CommandResult {
        try runner.check(NetworkNamespace.named(namespace).wrap(Command(arguments)), doing: "in \(namespace)")
    }

    func run(in namespace: String, _ arguments: [String]) throws -> CommandResult {
        try runner.run(NetworkNamespace.named(namespace).wrap(Command(arguments)))
    }

    /// Starts a process in `namespace` (output discarded); stopped by `stop` or the cleanup.
    func startBackground(in namespace: String, _ arguments: [String]) throws -> Int32 {
        let child = try Spawn.start(NetworkNamespace.named(namespace).wrap(Command(arguments)).arguments,
                                    captureOutput: false)
        cleanup.addProcess(child.pid)
        return child.pid
    }

    func stop(_ pid: Int32) {
        Processes.stop(pid, grace: 2)
        cleanup.removeProcess(pid)
    }

    func waitForListener(in namespace: String, port: Int) throws {
        for _ in 0..<100 {
            if let out = try? run(in: namespace, ["ss", "-Hltn", "sport = :\(port)"]).stdout, !out.isEmpty { return }
            usleep(20_000)
        }
        throw BenchmarkError("nothing listens on port \(port) in \(namespace)")
    }

    /// `/proc/net/netfilter/nfnetlink_queue` of `namespace`: queue number -> id_sequence (packets queued so far).
    func queues(in namespace: String) -> [Int: Int] {
        let text = (try? run(in: namespace, ["cat", "/proc/net/netfilter/nfnetlink_queue"]).stdout) ?? ""
        var queues: [Int: Int] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ").compactMap { Int($0) }
            if fields.count >= 8 { queues[fields[0]] = fields[7] }
        }
        return queues
    }

    func queueSequence(in namespace: String) -> Int { queues(in: namespace).values.reduce(0, +) }

    func waitForQueue(in namespace: String, number: Int, pid: Int32) throws {
        for _ in 0..<100 {
            if queues(in: namespace)[number] != nil { return }
            guard Processes.isAlive(pid) else { break }
            usleep(20_000)
        }
        throw BenchmarkError("no consumer bound queue \(number) in \(namespace)")
    }

    // MARK: iperf3

    struct Datagrams {
        var sent: Int
        var delivered: Int
        var seconds: Double
        var sentPerSecond: Double { Double(sent) / seconds }
        var deliveredPerSecond: Double { Double(delivered) / seconds }
        var lostShare: Double { sent == 0 ? 0 : 1 - Double(delivered) / Double(sent) }
    }

    func iperf(port: Int, seconds: Int, _ extra: [String]) throws -> [String: Any] {
        let arguments = ["iperf3", "-c", addressB, "-p", String(port), "-t", String(seconds), "-J"] + extra
        var result = try run(in: a, arguments)
        if !result.succeeded {  // the server may still be closing the previous test
            usleep(500_000)
            result = try run(in: a, arguments)
        }
        guard result.succeeded, let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let end = json["end"] as? [String: Any] else {
            throw CommandError(doing: "measuring with iperf3", command: Command(arguments), result: result)
        }
        return end
    }

    /// TCP A -> B, bits per second received.
    func tcp(port: Int, seconds: Int) throws -> Double {
        let end = try iperf(port: port, seconds: seconds, [])
        guard let received = end["sum_received"] as? [String: Any], let bits = received["bits_per_second"] as? Double else {
            throw BenchmarkError("iperf3 reported no TCP result")
        }
        return bits
    }

    /// UDP A -> B with 64-byte datagrams as fast as the sender goes.
    func udp(port: Int, seconds: Int) throws -> Datagrams {
        let end = try iperf(port: port, seconds: seconds, ["-u", "-l", "64", "-b", "0"])
        guard let sent = end["sum_sent"] as? [String: Any], let received = end["sum_received"] as? [String: Any],
              let packets = sent["packets"] as? Int, let total = received["packets"] as? Int,
              let lost = received["lost_packets"] as? Int, let elapsed = received["seconds"] as? Double else {
            throw BenchmarkError("iperf3 reported no UDP result")
        }
        return Datagrams(sent: packets, delivered: total - lost, seconds: elapsed)
    }

    // MARK: ping

    struct PingResult {
        var sent = 0
        var received = 0
        var rtts: [Double] = []
        var answered: Set<Int> = []
        var lossRate: Double { sent == 0 ? 0 : 1 - Double(received) / Double(sent) }

        /// The mean length of runs of consecutive unanswered sequence numbers.
        func meanBurst(count: Int) -> Double {
            var runs = 0, lost = 0, current = 0
            for sequence in 1...count {
                if answered.contains(sequence) {
                    if current > 0 { runs += 1 }
                    current = 0
                } else {
                    current += 1
                    lost += 1
                }
            }
            if current > 0 { runs += 1 }
            return runs == 0 ? 0 : Double(lost) / Double(runs)
        }
    }

    /// `ping` A -> B. A preload lets ping catch up after waiting for lost or
    /// delayed replies (it sleeps up to 10 ms while replies are outstanding).
    func ping(count: Int, interval: String, preload: Int? = nil) throws -> PingResult {
        var arguments = ["ping", "-n", "-c", String(count), "-i", interval, "-W", "1"]
        if let preload { arguments += ["-l", String(preload)] }
        let output = try run(in: a, arguments + [addressB]).stdout
        var ping = PingResult()
        for line in output.split(separator: "\n") {
            if line.contains("icmp_seq=") {
                if line.contains("DUP!") { continue }
                let words = line.split(separator: " ")
                if let seq = words.first(where: { $0.hasPrefix("icmp_seq=") }).flatMap({ Int($0.dropFirst(9)) }) {
                    ping.answered.insert(seq)
                }
                if let time = words.first(where: { $0.hasPrefix("time=") }).flatMap({ Double($0.dropFirst(5)) }) {
                    ping.rtts.append(time)
                }
            } else if line.contains("packets transmitted") {
                let numbers = line.split(separator: " ").compactMap { Int($0) }
                if numbers.count >= 2 { (ping.sent, ping.received) = (numbers[0], numbers[1]) }
            }
        }
        guard ping.sent == count else { throw BenchmarkError("ping sent \(ping.sent) of \(count)") }
        return ping
    }
}

// MARK: - The CLI

struct TumultCLI {
    var path: String
    var home: String
    var cleanup: NetworkCleanup

    /// Runs `tumult ARGUMENTS` and returns the attack uid it prints.
    func attack(_ arguments: [String]) throws -> String {
        let result = try Spawn.run([path] + arguments, environment: ["TUMULT_HOME": home])
        let uid = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.succeeded, !uid.isEmpty else {
            throw CommandError(doing: "injecting", command: Command([path] + arguments), result: result)
        }
        cleanup.addAttack(uid)
        return uid
    }

    func recover(_ uid: String) throws {
        let result = try Spawn.run([path, "recover", uid], environment: ["TUMULT_HOME": home])
        guard result.succeeded else {
            throw CommandError(doing: "recovering", command: Command([path, "recover", uid]), result: result)
        }
        cleanup.removeAttack(uid)
    }

    /// Best effort, for the cleanup: every attack the journal still holds.
    func recoverAll(_ uids: [String]) {
        for uid in uids { _ = try? Spawn.run([path, "recover", uid], environment: ["TUMULT_HOME": home]) }
        _ = try? Spawn.run([path, "recover", "--all"], environment: ["TUMULT_HOME": home])
    }
}

// MARK: - Cleanup

/// What the benchmark must undo however it ends: attacks, processes,
/// namespaces, temporary directories. `perform()` runs once.
final class NetworkCleanup: @unchecked Sendable {
    static let shared = NetworkCleanup()

    private let lock = NSLock()
    private var done = false
    private var attacks: [String] = []
    private var processes: [Int32] = []
    private var namespaces: [String] = []
    private var directories: [String] = []
    var tumult: TumultCLI? {
        get { lock.withLock { _tumult } }
        set { lock.withLock { _tumult = newValue } }
    }
    private var _tumult: TumultCLI?
    var interrupted: Bool {
        get { lock.withLock { _interrupted } }
        set { lock.withLock { _interrupted = newValue } }
    }
    private var _interrupted = false

    func addAttack(_ uid: String) { lock.withLock { attacks.append(uid) } }
    func removeAttack(_ uid: String) { lock.withLock { attacks.removeAll { $0 == uid } } }
    func addProcess(_ pid: Int32) { lock.withLock { processes.append(pid) } }
    func removeProcess(_ pid: Int32) { lock.withLock { processes.removeAll { $0 == pid } } }
    func addNamespace(_ name: String) { lock.withLock { namespaces.append(name) } }
    func addDirectory(_ path: String) { lock.withLock { directories.append(path) } }

    /// SIGINT, SIGTERM and SIGHUP (unless ignored, as under nohup) clean up,
    /// then exit (`CleanupSignals`).
    func installSignalHandlers() {
        CleanupSignals.install(
            program: "tumult-bench",
            interrupted: { NetworkCleanup.shared.interrupted = true },
            cleanUp: { NetworkCleanup.shared.perform() })
    }

    func perform() {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return }
        done = true
        for pid in processes.reversed() { Processes.stop(pid, grace: 2) }
        _tumult?.recoverAll(attacks)
        let runner = ProcessCommandRunner()
        for namespace in namespaces {
            // Anything still running inside (a detached engine) would keep the namespace alive.
            let pids = (try? runner.run(Command(["ip", "netns", "pids", namespace])))?.stdout ?? ""
            for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { Processes.stop(pid, grace: 2) }
            _ = try? runner.run(Command(["ip", "netns", "del", namespace]))
        }
        for directory in directories { try? FileManager.default.removeItem(atPath: directory) }
    }
}

// MARK: - Numbers

/// netem's correlated loss (`get_crandom`, loss when `loss >= draw`),
/// simulated: what sch_netem itself would drop with these parameters.
struct NetemLossModel {
    var loss: Double
    var meanBurst: Double

    init(percent: Double, correlation: Double, packets: Int = 1_000_000) {
        var state: UInt64 = 0x746d_7474_6d74_746d
        func next() -> UInt32 {  // splitmix64, as tumult-netem
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return UInt32(truncatingIfNeeded: (z ^ (z >> 31)) >> 32)
        }
        let threshold = UInt32((percent / 100 * Double(UInt32.max)).rounded())
        let rho = UInt64((correlation / 100 * Double(UInt32.max)).rounded())
        var last = UInt64(next())
        var lost = 0, runs = 0, inRun = false
        for _ in 0..<packets {
            var value = UInt64(next())
            if rho != 0 {
                value = (value * ((1 << 32) - (rho + 1)) + last * (rho + 1)) >> 32
                last = value
            }
            if threshold >= UInt32(truncatingIfNeeded: value) {
                lost += 1
                if !inRun { runs += 1 }
                inRun = true
            } else {
                inRun = false
            }
        }
        loss = Double(lost) / Double(packets)
        meanBurst = runs == 0 ? 0 : Double(lost) / Double(runs)
    }
}

enum Clock {
    static var now: Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

/// Nearest-rank percentile of sorted samples.
func percentile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
}

func mean(_ samples: [Double]) -> Double { samples.isEmpty ? .nan : samples.reduce(0, +) / Double(samples.count) }

func standardDeviation(_ samples: [Double]) -> Double {
    guard samples.count > 1 else { return 0 }
    let average = mean(samples)
    return (samples.map { ($0 - average) * ($0 - average) }.reduce(0, +) / Double(samples.count - 1)).squareRoot()
}

func ms(_ seconds: Double) -> String { String(format: "%.2f", seconds * 1000) }
func times(_ ratio: Double) -> String { String(format: "%.1fx", ratio) }
func percent(_ ratio: Double) -> String { String(format: "%.0f%%", ratio * 100) }

func row(_ widths: [Int], _ columns: String...) -> String {
    zip(columns, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: " ")
}
