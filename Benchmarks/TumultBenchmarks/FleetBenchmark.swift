import Foundation
import TumultSystem

/// `swift run -c release tumult-bench fleet [--tumult PATH] [--sizes 1,3,10] [--rounds 3]` (root)
///
/// Issue 12's fleet: for each size N, N network namespaces on a bridge,
/// each with its own `tumult daemon` inside (mutual TLS, `--join`), and one
/// `tumult server` outside. Times a PhysicalMachineChaos `network-delay`
/// on every machine from `POST /api/experiments` to every record
/// `Injected` (and from `DELETE` to every record recovered), and reads each
/// daemon's resident memory after it has idled. In the same run, the raw
/// floor: `tc qdisc add` + `del` of a tbf in each namespace, side by side.
struct FleetBenchmark {
    var tumult: String
    var sizes = [1, 3, 10]
    var rounds = 3

    init(tumult: String, arguments: [String]) {
        self.tumult = tumult
        func value(_ flag: String) -> String? {
            guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
            return arguments[index + 1]
        }
        if let text = value("--sizes") { sizes = text.split(separator: ",").compactMap { Int($0) } }
        if let text = value("--rounds"), let count = Int(text) { rounds = max(1, count) }
    }

    struct Result {
        var machines: Int
        var inject: [Double]
        var recover: [Double]
        var rawTC: [Double]
        /// Per daemon: VmRSS, RssAnon (its own memory) and Pss (shared pages split among their users).
        var idleRSS: [Int]
        var idleAnon: [Int]
        var idlePSS: [Int]
    }

    func run() throws {
        guard getuid() == 0 else { throw BenchmarkError("the fleet benchmark needs root (network namespaces)") }
        print("fleet benchmark: \(tumult), \(rounds) rounds per size, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        var results: [Result] = []
        for size in sizes {
            let testbed = try FleetTestbed(tumult: tumult, machines: size)
            defer { testbed.tearDown() }
            results.append(try measure(testbed))
        }
        print("")
        print(row(["daemons", "apply→injected p50", "max", "delete→recovered p50", "raw tc add+del (all)", "ratio",
                   "idle RSS p50", "anon", "PSS"]))
        print(row(["-------", "------------------", "---", "--------------------", "--------------------", "-----",
                   "------------", "----", "---"]))
        for result in results {
            let injected = median(result.inject), raw = median(result.rawTC)
            func p50(_ values: [Int]) -> String { values.isEmpty ? "-" : mib(values.sorted()[values.count / 2]) }
            print(row(["\(result.machines)", ms(injected), ms(result.inject.max() ?? 0), ms(median(result.recover)), ms(raw),
                       String(format: "%.1fx", raw > 0 ? injected / raw : 0),
                       p50(result.idleRSS), p50(result.idleAnon), p50(result.idlePSS)]))
        }
        print("")
        print("inject: POST of a PhysicalMachineChaos network-delay (mode all) until every record reads Injected, polled every 10 ms;")
        print("each daemon starts the userspace engine (no sch_netem here). Idle memory of each daemon 5 s after it joined, no faults:")
        print("VmRSS (with the shared pages of the binary and Swift's libraries), RssAnon (its own), Pss (shared pages split among users).")
    }

    func measure(_ testbed: FleetTestbed) throws -> Result {
        var result = Result(machines: testbed.machines.count, inject: [], recover: [], rawTC: [], idleRSS: [], idleAnon: [], idlePSS: [])
        sleep(5)
        result.idleRSS = testbed.daemonPIDs.map { Self.memory($0, "VmRSS:", in: "status") }
        result.idleAnon = testbed.daemonPIDs.map { Self.memory($0, "RssAnon:", in: "status") }
        result.idlePSS = testbed.daemonPIDs.map { Self.memory($0, "Pss:", in: "smaps_rollup") }
        for round in 0..<rounds {
            let name = "bench-\(round)"
            let started = Date()
            let uid = try testbed.apply("""
                apiVersion: chaos-mesh.org/v1alpha1
                kind: PhysicalMachineChaos
                metadata: {name: \(name), namespace: default}
                spec:
                  action: network-delay
                  mode: all
                  selector: {labelSelectors: {bench: "yes"}}
                  network-delay: {device: eth0, latency: 20ms}
                  duration: 10m
                """)
            try testbed.waitRecords(uid, count: testbed.machines.count, phase: "Injected")
            result.inject.append(Date().timeIntervalSince(started))
            let deleting = Date()
            _ = try testbed.server("DELETE", "/api/experiments/\(uid)")
            try testbed.waitArchived(uid)
            result.recover.append(Date().timeIntervalSince(deleting))
            result.rawTC.append(try testbed.rawTC())
            print("  \(testbed.machines.count) daemons, round \(round + 1): injected in \(ms(result.inject.last!)), "
                  + "recovered in \(ms(result.recover.last!)), raw tc \(ms(result.rawTC.last!))")
        }
        return result
    }

    /// A `KEY:  N kB` line of /proc/PID/FILE, in bytes.
    static func memory(_ pid: Int32, _ key: String, in file: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/\(file)", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            return (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0) * 1024
        }
        return 0
    }

    func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    func ms(_ seconds: Double) -> String { String(format: "%.0f ms", seconds * 1000) }
    func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
    func row(_ columns: [String]) -> String {
        zip(columns, [8, 20, 9, 22, 22, 7, 13, 9, 9]).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: " ")
    }
}

/// The benchmark's fleet: namespaces on a bridge, daemons inside, a server
/// outside on the test subnet; all removed by `tearDown()`.
final class FleetTestbed {
    let tumult: String
    let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    let machines: [String]
    let subnet: String
    let home: String
    let serverToken = UUID().uuidString
    let fleetToken = UUID().uuidString
    var serverPort = 0
    private var processes: [Spawn.Child] = []
    private(set) var daemonPIDs: [Int32] = []
    let runner = ProcessCommandRunner()

    init(tumult: String, machines count: Int) throws {
        self.tumult = tumult
        machines = (1...count).map { "tmt-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))-f\($0)" }
        subnet = "10.\(Int.random(in: 200...250)).\(Int.random(in: 1...250))"
        home = NSTemporaryDirectory() + "tmt-fleet-bench-\(tag)"
        do { try build() } catch {
            tearDown()
            throw error
        }
    }

    var hub: String { "tmt-\(tag)-hub" }
    var serverURL: String { "http://\(subnet).1:\(serverPort)" }
    func address(_ index: Int) -> String { "\(subnet).\(11 + index)" }

    @discardableResult
    func sh(_ arguments: String...) throws -> CommandResult {
        try runner.check(Command(arguments), doing: "setting up the fleet benchmark")
    }

    private func build() throws {
        try sh("ip", "netns", "add", hub)
        try sh("ip", "-n", hub, "link", "add", "br0", "type", "bridge")
        try sh("ip", "-n", hub, "link", "set", "br0", "up")
        for (index, machine) in machines.enumerated() {
            try sh("ip", "netns", "add", machine)
            try sh("ip", "link", "add", "tmt\(tag)b\(index)", "type", "veth", "peer", "name", "tmt\(tag)m\(index)")
            try sh("ip", "link", "set", "tmt\(tag)b\(index)", "netns", hub)
            try sh("ip", "-n", hub, "link", "set", "tmt\(tag)b\(index)", "master", "br0", "up")
            try sh("ip", "link", "set", "tmt\(tag)m\(index)", "netns", machine, "name", "eth0")
            try sh("ip", "-n", machine, "addr", "add", "\(address(index))/24", "dev", "eth0")
            try sh("ip", "-n", machine, "link", "set", "eth0", "up")
            try sh("ip", "-n", machine, "link", "set", "lo", "up")
        }
        try sh("ip", "link", "add", "tmt\(tag)s", "type", "veth", "peer", "name", "tmt\(tag)sb")
        try sh("ip", "link", "set", "tmt\(tag)sb", "netns", hub)
        try sh("ip", "-n", hub, "link", "set", "tmt\(tag)sb", "master", "br0", "up")
        try sh("ip", "addr", "add", "\(subnet).1/24", "dev", "tmt\(tag)s")
        try sh("ip", "link", "set", "tmt\(tag)s", "up")

        let certs = home + "/certs"
        try sh(tumult, "certs", "init", "--dir", certs)
        try sh(tumult, "certs", "issue", "client", "controller", "--dir", certs)
        for index in machines.indices {
            try sh(tumult, "certs", "issue", "server", "m\(index)", "--dir", certs, "--ip", address(index))
        }
        serverPort = Int.random(in: 42_000...48_000)
        processes.append(try Spawn.start([tumult, "server", "--listen", "\(subnet).1:\(serverPort)", "--token", serverToken,
                                          "--home", home + "/server", "--fleet-ca", certs + "/ca.pem",
                                          "--fleet-cert", certs + "/controller.pem", "--fleet-key", certs + "/controller-key.pem",
                                          "--fleet-token", fleetToken, "--network-backend", "userspace"],
                                         environment: ["LOG_LEVEL": "error"], captureOutput: false))
        try waitFor { (try? self.server("GET", "/api/machines"))?.0 == 200 }
        for (index, machine) in machines.enumerated() {
            let daemonHome = home + "/daemon-\(index)"
            let child = try Spawn.start(["ip", "netns", "exec", machine, tumult, "daemon", "--listen", "\(address(index)):31768",
                                         "--machine", "m\(index)-\(tag)", "--CA", certs + "/ca.pem", "--cert", certs + "/m\(index).pem",
                                         "--key", certs + "/m\(index)-key.pem", "--token", fleetToken, "--home", daemonHome,
                                         "--network-backend", "userspace", "--label", "bench=yes",
                                         "--join", serverURL, "--join-token", serverToken,
                                         "--advertise", "https://\(address(index)):31768"],
                                        environment: ["TUMULT_HOME": daemonHome, "LOG_LEVEL": "error"], captureOutput: false)
            processes.append(child)
            daemonPIDs.append(child.pid)
        }
        try waitFor(timeout: 60) {
            guard let (status, body) = try? self.server("GET", "/api/machines"), status == 200,
                  let list = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]] else { return false }
            return list.filter { $0["reachable"] as? Bool == true }.count == self.machines.count + 1
        }
    }

    func waitFor(timeout: TimeInterval = 30, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            usleep(10_000)
        }
        throw BenchmarkError("the fleet did not come up within \(Int(timeout)) s")
    }

    func server(_ method: String, _ path: String, body: String? = nil) throws -> (Int, String) {
        var arguments = ["curl", "-sS", "-m", "30", "-o", "-", "-w", "\n%{http_code}", "-X", method,
                         "-H", "Authorization: Bearer \(serverToken)", serverURL + path]
        if let body { arguments += ["-H", "Content-Type: application/yaml", "--data-binary", body] }
        let result = try runner.run(Command(arguments))
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    func apply(_ yaml: String) throws -> String {
        let (status, body) = try server("POST", "/api/experiments", body: yaml)
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let uid = object["uid"] as? String else { throw BenchmarkError("apply failed (\(status)): \(body)") }
        return uid
    }

    func waitRecords(_ uid: String, count: Int, phase: String) throws {
        try waitFor(timeout: 60) {
            let (_, body) = try self.server("GET", "/api/experiments/\(uid)")
            let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            let status = (object?["kube_object"] as? [String: Any])?["status"] as? [String: Any]
            let records = ((status?["experiment"] as? [String: Any])?["containerRecords"] as? [[String: Any]]) ?? []
            return records.count == count && records.allSatisfy { $0["phase"] as? String == phase }
        }
    }

    func waitArchived(_ uid: String) throws {
        try waitFor(timeout: 60) { try self.server("GET", "/api/experiments/\(uid)").0 == 404 }
    }

    /// `tc qdisc add` + `del` of a tbf on every machine's eth0, side by side: the raw floor.
    func rawTC() throws -> Double {
        let started = Date()
        let machines = self.machines
        let failures = Concurrently.map(machines) { machine -> Bool in
            let add = try? ProcessCommandRunner().run(Command(["tc", "-n", machine, "qdisc", "add", "dev", "eth0", "root",
                                                               "tbf", "rate", "100mbit", "burst", "32kbit", "latency", "20ms"]))
            let del = try? ProcessCommandRunner().run(Command(["tc", "-n", machine, "qdisc", "del", "dev", "eth0", "root"]))
            return add?.succeeded != true || del?.succeeded != true
        }
        guard !failures.contains(true) else { throw BenchmarkError("raw tc failed") }
        return Date().timeIntervalSince(started)
    }

    func tearDown() {
        for child in processes.reversed() {
            kill(child.pid, SIGKILL)
            Spawn.wait(for: child.pid)
        }
        for (index, machine) in machines.enumerated() {
            _ = try? Spawn.run(["ip", "netns", "exec", machine, tumult, "recover", "--all"],
                               environment: ["TUMULT_HOME": home + "/daemon-\(index)"])
        }
        _ = try? Spawn.run([tumult, "recover", "--all"], environment: ["TUMULT_HOME": home + "/server"])
        _ = try? runner.run(Command(["ip", "link", "del", "tmt\(tag)s"]))
        for namespace in machines + [hub] { _ = try? runner.run(Command(["ip", "netns", "del", namespace])) }
        try? FileManager.default.removeItem(atPath: home)
    }
}
