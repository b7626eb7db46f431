import Foundation
import TumultSystem

/// Two network namespaces joined by a veth pair, made for one test and
/// removed by `tearDown()` (call it in `defer`). Addresses are in a /24
/// picked at random from 10.200-249.x.0, inside these namespaces only.
final class TestNetwork {
    let a: String
    let b: String
    let subnet: String
    let runner = ProcessCommandRunner()
    private var background: [Int32] = []

    var addressA: String { "\(subnet).1" }
    var addressB: String { "\(subnet).2" }
    /// A second address on B, for tests that cut one peer and not another.
    var otherAddressB: String { "\(subnet).3" }
    let deviceA = "veth-a"
    let deviceB = "veth-b"

    init() throws {
        let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        a = "tmt-\(tag)-a"
        b = "tmt-\(tag)-b"
        subnet = "10.\(Int.random(in: 200...249)).\(Int.random(in: 0...255))"
        do {
            try sh("ip", "netns", "add", a)
            try sh("ip", "netns", "add", b)
            try sh("ip", "link", "add", "tmt\(tag)a", "type", "veth", "peer", "name", "tmt\(tag)b")
            try sh("ip", "link", "set", "tmt\(tag)a", "netns", a, "name", deviceA)
            try sh("ip", "link", "set", "tmt\(tag)b", "netns", b, "name", deviceB)
            try inA("ip", "addr", "add", "\(addressA)/24", "dev", deviceA)
            try inB("ip", "addr", "add", "\(addressB)/24", "dev", deviceB)
            try inB("ip", "addr", "add", "\(otherAddressB)/24", "dev", deviceB)
            for (ns, device) in [(a, deviceA), (b, deviceB)] {
                try sh("ip", "-n", ns, "link", "set", device, "up")
                try sh("ip", "-n", ns, "link", "set", "lo", "up")
            }
        } catch {
            tearDown()
            throw error
        }
    }

    func tearDown() {
        for pid in background {
            kill(pid, SIGKILL)
            Spawn.wait(for: pid)
        }
        _ = try? runner.run(Command(["ip", "netns", "del", a]))
        _ = try? runner.run(Command(["ip", "netns", "del", b]))
    }

    @discardableResult
    func sh(_ arguments: String...) throws -> CommandResult {
        try runner.check(Command(arguments), doing: "setting up the test network")
    }

    @discardableResult
    func inA(_ arguments: String...) throws -> CommandResult {
        try runner.check(NetworkNamespace.named(a).wrap(Command(arguments)), doing: "in \(a)")
    }

    @discardableResult
    func inB(_ arguments: String...) throws -> CommandResult {
        try runner.check(NetworkNamespace.named(b).wrap(Command(arguments)), doing: "in \(b)")
    }

    func run(in namespace: String, _ arguments: [String]) throws -> CommandResult {
        try runner.run(NetworkNamespace.named(namespace).wrap(Command(arguments)))
    }

    /// Starts a long-running process in `namespace`, stopped by `tearDown`.
    func start(in namespace: String, _ arguments: [String]) throws {
        _ = try startProcess(in: namespace, arguments)
    }

    /// The same, returning its pid (`ip netns exec` execs the command, so
    /// the pid is the command's).
    func startProcess(in namespace: String, _ arguments: [String]) throws -> Int32 {
        let child = try Spawn.start(["ip", "netns", "exec", namespace] + arguments, captureOutput: false)
        background.append(child.pid)
        usleep(200_000)
        return child.pid
    }

    /// Everything a fault could leave behind in a namespace.
    func snapshot(_ namespace: String) throws -> String {
        var parts: [String] = []
        for command in [["tc", "qdisc", "show"], ["tc", "filter", "show"], ["iptables-save"], ["ipset", "list"],
                        ["nft", "list", "ruleset"], ["ip", "-o", "link", "show"]] {
            let result = try run(in: namespace, command)
            // iptables-save stamps the time; counters change with traffic.
            let lines = result.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
                .map { $0.replacingOccurrences(of: #"\[\d+:\d+\]"#, with: "[]", options: .regularExpression) }
            parts.append("$ \(command.joined(separator: " "))\n" + lines.joined(separator: "\n"))
        }
        return parts.joined(separator: "\n")
    }

    func snapshots() throws -> [String] { [try snapshot(a), try snapshot(b)] }

    // MARK: Measurements

    struct PingResult {
        var sent: Int
        var received: Int
        var duplicates: Int
        var rtts: [Double]
        /// Sequence numbers that got a reply.
        var answered: Set<Int>
        var lossRate: Double { sent == 0 ? 0 : 1 - Double(received) / Double(sent) }
        var mean: Double { rtts.isEmpty ? .nan : rtts.reduce(0, +) / Double(rtts.count) }
        var standardDeviation: Double {
            guard rtts.count > 1 else { return 0 }
            let mean = self.mean
            return (rtts.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rtts.count - 1)).squareRoot()
        }
    }

    func ping(from namespace: String, to address: String, count: Int, interval: Double = 0.01,
              wait: Int = 1) throws -> PingResult {
        let result = try run(in: namespace, ["ping", "-n", "-c", String(count), "-i", String(interval),
                                             "-W", String(wait), address])
        var ping = PingResult(sent: 0, received: 0, duplicates: 0, rtts: [], answered: [])
        for line in result.stdout.split(separator: "\n") {
            if line.contains("icmp_seq=") {
                if line.contains("DUP!") { ping.duplicates += 1; continue }
                if let seq = line.split(separator: " ").first(where: { $0.hasPrefix("icmp_seq=") })?.dropFirst(9),
                   let number = Int(seq) {
                    ping.answered.insert(number)
                }
                if let time = line.split(separator: " ").first(where: { $0.hasPrefix("time=") })?.dropFirst(5),
                   let value = Double(time) {
                    ping.rtts.append(value)
                }
            } else if line.contains("packets transmitted") {
                let numbers = line.split(separator: " ").compactMap { Int($0) }
                if numbers.count >= 2 { ping.sent = numbers[0]; ping.received = numbers[1] }
            }
        }
        return ping
    }

    /// Whether a TCP connection from `namespace` to `address:port` opens within 1.5 s.
    func connects(from namespace: String, to address: String, port: Int) throws -> Bool {
        let script = "import socket,sys\ntry:\n socket.create_connection(('\(address)', \(port)), timeout=1.5).close()\nexcept Exception:\n sys.exit(1)"
        return try run(in: namespace, ["python3", "-c", script]).succeeded
    }

    /// A TCP listener on `port` in `namespace` (all its addresses).
    func listen(in namespace: String, port: Int) throws {
        let script = "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('0.0.0.0', \(port)))\ns.listen(64)\nwhile True:\n c,_=s.accept()\n c.close()"
        try start(in: namespace, ["python3", "-c", script])
        usleep(300_000)
    }

    /// `Ip InHdrErrors` of a namespace: packets whose IP header failed its checks.
    func ipHeaderErrors(_ namespace: String) throws -> Int {
        let snmp = try run(in: namespace, ["cat", "/proc/net/snmp"]).stdout.split(separator: "\n")
        guard snmp.count >= 2 else { return 0 }
        let names = snmp[0].split(separator: " "), values = snmp[1].split(separator: " ")
        guard let position = names.firstIndex(of: "InHdrErrors") else { return 0 }
        return Int(values[position]) ?? 0
    }

    /// iperf3 throughput from A to B in Mbit/s, the first second (TCP slow
    /// start) left out of the average.
    func throughput(seconds: Int = 3) throws -> Double {
        let port = Int.random(in: 20_000...40_000)
        try start(in: b, ["iperf3", "-s", "-1", "-p", String(port)])
        usleep(400_000)
        let result = try run(in: a, ["iperf3", "-c", addressB, "-p", String(port), "-t", String(seconds), "-O", "1", "-J"])
        guard let data = result.stdout.data(using: .utf8),
              let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let end = json["end"] as? [String: Any],
              let received = end["sum_received"] as? [String: Any],
              let bits = received["bits_per_second"] as? Double else {
            throw CommandError(doing: "measuring throughput", command: Command(["iperf3"]), result: result)
        }
        return bits / 1e6
    }
}
