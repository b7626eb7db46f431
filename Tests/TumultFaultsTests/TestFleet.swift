import Foundation
import TumultSystem

/// Three (or more) test hosts for the fleet tests: network namespaces
/// `tmt-TAG-m1...` on one bridge (in a hub namespace), each running its
/// own `tumult daemon` inside it (`ip netns exec`), and `tumult server`
/// outside, reaching them through a veth from this namespace to the
/// bridge. Certificates from `tumult certs`. Everything is made here and
/// removed by `tearDown()`: namespaces, links, homes, processes, faults.
final class TestFleet: @unchecked Sendable {
    let tag: String
    let hub: String
    let machines: [String]
    /// `10.X.0` : machine i is `.11+i`, the server's side `.1`, the hub's bridge `.254`.
    let subnet: String
    let cli: TumultCLI
    let certificates: String
    let fleetToken = "fleet-\(UUID().uuidString)"
    let serverToken = "server-\(UUID().uuidString)"
    let runner = ProcessCommandRunner()
    /// The daemons, by machine index; nil while one is down.
    private(set) var daemons: [RunningTumult?]
    private(set) var server: RunningTumult?
    private(set) var serverPort = 0
    /// The machine names (`m1`...) by index.
    var names: [String] { machines.indices.map { "m\($0 + 1)-\(tag)" } }
    var serverAddress: String { "\(subnet).1" }
    var serverURL: String { "http://\(serverAddress):\(serverPort)" }

    init(machines count: Int = 3) throws {
        let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        self.tag = tag
        hub = "tmt-\(tag)-hub"
        machines = (1...count).map { "tmt-\(tag)-m\($0)" }
        subnet = try Self.freeSubnet()
        cli = TumultCLI()
        certificates = cli.home + "/certs"
        daemons = Array(repeating: nil, count: count)
        do {
            try sh("ip", "netns", "add", hub)
            try sh("ip", "-n", hub, "link", "set", "lo", "up")
            try sh("ip", "-n", hub, "link", "add", "br0", "type", "bridge")
            try sh("ip", "-n", hub, "addr", "add", "\(subnet).254/24", "dev", "br0")
            try sh("ip", "-n", hub, "link", "set", "br0", "up")
            for (index, machine) in machines.enumerated() {
                try sh("ip", "netns", "add", machine)
                try sh("ip", "link", "add", "tmt\(tag)b\(index)", "type", "veth", "peer", "name", "tmt\(tag)m\(index)")
                try sh("ip", "link", "set", "tmt\(tag)b\(index)", "netns", hub)
                try sh("ip", "-n", hub, "link", "set", "tmt\(tag)b\(index)", "master", "br0", "up")
                try sh("ip", "link", "set", "tmt\(tag)m\(index)", "netns", machine, "name", "eth0")
                try sh("ip", "-n", machine, "addr", "add", "\(address(of: index))/24", "dev", "eth0")
                try sh("ip", "-n", machine, "link", "set", "eth0", "up")
                try sh("ip", "-n", machine, "link", "set", "lo", "up")
            }
            // The server's way in: this namespace on the bridge, on the test's own subnet.
            try sh("ip", "link", "add", "tmt\(tag)s", "type", "veth", "peer", "name", "tmt\(tag)sb")
            try sh("ip", "link", "set", "tmt\(tag)sb", "netns", hub)
            try sh("ip", "-n", hub, "link", "set", "tmt\(tag)sb", "master", "br0", "up")
            try sh("ip", "addr", "add", "\(serverAddress)/24", "dev", "tmt\(tag)s")
            try sh("ip", "link", "set", "tmt\(tag)s", "up")
            try makeCertificates()
        } catch {
            tearDown()
            throw error
        }
    }

    func address(of index: Int) -> String { "\(subnet).\(11 + index)" }
    func agentURL(_ index: Int) -> String { "https://\(address(of: index)):31768" }
    func home(of index: Int) -> String { cli.home + "/daemon-\(index + 1)" }

    /// A `10.X.0` subnet no route of this host uses yet.
    static func freeSubnet() throws -> String {
        let routes = try ProcessCommandRunner().run(Command(["ip", "-4", "route", "show"])).stdout
        for _ in 0..<50 {
            let candidate = "10.\(Int.random(in: 200...250)).\(Int.random(in: 1...250))"
            if !routes.contains(candidate + ".") { return candidate }
        }
        throw SystemError.processFailed("no free 10.x subnet for the test fleet")
    }

    @discardableResult
    func sh(_ arguments: String...) throws -> CommandResult {
        try runner.check(Command(arguments), doing: "setting up the test fleet")
    }

    /// The fleet CA, a server certificate per daemon (its address, and
    /// chaosd's name that Chaos Mesh checks), a client certificate for the
    /// server, and another CA's client certificate for the refusals.
    private func makeCertificates() throws {
        try expectSuccess(cli.run(["certs", "init", "--dir", certificates]))
        for index in machines.indices {
            try expectSuccess(cli.run(["certs", "issue", "server", names[index], "--dir", certificates,
                                       "--ip", address(of: index), "--dns", "chaosd.chaos-mesh.org"]))
        }
        try expectSuccess(cli.run(["certs", "issue", "client", "controller", "--dir", certificates]))
        try expectSuccess(cli.run(["certs", "init", "--dir", certificates + "/other"]))
        try expectSuccess(cli.run(["certs", "issue", "client", "intruder", "--dir", certificates + "/other"]))
    }

    private func expectSuccess(_ result: CommandResult) throws {
        guard result.succeeded else { throw SystemError.processFailed("tumult certs: \(result.stderr)") }
    }

    /// Starts `tumult daemon` inside machine `index`, joining the server
    /// when it runs, with `labels` and an inventory of `pods` (YAML lines).
    func startDaemon(_ index: Int, labels: [String: String], inventory: String? = nil) throws {
        try FileManager.default.createDirectory(atPath: home(of: index), withIntermediateDirectories: true)
        var arguments = ["ip", "netns", "exec", machines[index], TumultCLI.executable.path, "daemon",
                         "--listen", "\(address(of: index)):31768", "--machine", names[index],
                         "--CA", certificates + "/ca.pem", "--cert", certificates + "/\(names[index]).pem",
                         "--key", certificates + "/\(names[index])-key.pem", "--token", fleetToken, "--home", home(of: index),
                         "--network-backend", "userspace"]
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) { arguments += ["--label", "\(key)=\(value)"] }
        if let inventory {
            let path = home(of: index) + "/inventory.yaml"
            try inventory.write(toFile: path, atomically: true, encoding: .utf8)
            arguments += ["--inventory", path]
        }
        if serverPort != 0 {
            arguments += ["--join", serverURL, "--join-token", serverToken, "--advertise", agentURL(index)]
        }
        let daemon = RunningTumult(child: try Spawn.start(arguments, environment: ["TUMULT_HOME": home(of: index)]))
        daemons[index] = daemon
        guard daemon.waitForBlocking("listening on", timeout: 20) else {
            throw SystemError.processFailed("daemon \(index + 1) did not start:\n\(daemon.text)")
        }
    }

    /// `tumult server` on the test subnet (a token is required off
    /// loopback), with the fleet's client certificate and `lease`.
    func startServer(lease: Int = 30, port: Int? = nil) throws {
        let port = try port ?? LoopbackHTTP.freePort()
        serverPort = port
        let server = try RunningTumult(cli, ["server", "--listen", "\(serverAddress):\(port)", "--token", serverToken,
                                             "--home", cli.home + "/server", "--machine", "controller-\(tag)",
                                             "--fleet-ca", certificates + "/ca.pem", "--fleet-cert", certificates + "/controller.pem",
                                             "--fleet-key", certificates + "/controller-key.pem", "--fleet-token", fleetToken,
                                             "--lease", String(lease), "--network-backend", "userspace"])
        self.server = server
        guard server.waitForBlocking("listening on", timeout: 30) else {
            throw SystemError.processFailed("the server did not start:\n\(server.text)")
        }
    }

    /// kill -9 of the server, reaped.
    func killServer() {
        guard let server else { return }
        server.signal(SIGKILL)
        _ = server.wait()
        self.server = nil
    }

    /// kill -9 of daemon `index`, reaped.
    func killDaemon(_ index: Int) {
        guard let daemon = daemons[index] else { return }
        daemon.signal(SIGKILL)
        _ = daemon.wait()
        daemons[index] = nil
    }

    /// `curl` to the server's API with its token; returns (status, body).
    func api(_ method: String, _ path: String, body: String? = nil, contentType: String = "application/yaml") throws -> (Int, String) {
        var arguments = ["curl", "-sS", "-m", "20", "-o", "-", "-w", "\n%{http_code}", "-X", method,
                         "-H", "Authorization: Bearer \(serverToken)", serverURL + path]
        if let body { arguments += ["-H", "Content-Type: \(contentType)", "--data-binary", body] }
        let result = try runner.run(Command(arguments))
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// `curl` straight to daemon `index` over mutual TLS; `certificate`:
    /// which client certificate (nil: none). Returns (curl's exit, status, body).
    func agent(_ index: Int, _ method: String, _ path: String, body: String? = nil, certificate: String? = "controller",
               token: String? = nil, scheme: String = "https") throws -> (exit: Int32, status: Int, body: String) {
        var arguments = ["curl", "-sS", "-m", "10", "-o", "-", "-w", "\n%{http_code}", "-X", method,
                         "--cacert", certificates + "/ca.pem", "-H", "Tumult-Agent-Version: 1",
                         "-H", "Authorization: Bearer \(token ?? fleetToken)"]
        if let certificate {
            let directory = certificate == "intruder" ? certificates + "/other" : certificates
            arguments += ["--cert", "\(directory)/\(certificate).pem", "--key", "\(directory)/\(certificate)-key.pem"]
        }
        if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
        arguments.append("\(scheme)://\(address(of: index)):31768\(path)")
        let result = try runner.run(Command(arguments))
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (result.status, Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// Mean RTT in ms of `count` pings from the hub to machine `index`.
    func rtt(to index: Int, count: Int = 6) throws -> Double {
        try TestStar.meanRTT(from: hub, to: address(of: index), count: count, runner: runner)
    }

    /// tc qdiscs and iptables of machine `index`: what must be as before after recovery.
    func snapshot(_ index: Int) throws -> String {
        let machine = machines[index]
        var text = ""
        for arguments in [["tc", "-n", machine, "qdisc", "show"], ["ip", "netns", "exec", machine, "iptables-save"],
                          ["ip", "-n", machine, "link", "show"]] {
            let result = try runner.run(Command(arguments))
            text += result.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n") + "\n"
        }
        return text
    }

    /// Everything down and removed: the server and daemons killed, the
    /// faults their journals hold recovered, namespaces, links and homes gone.
    func tearDown() {
        killServer()
        for index in daemons.indices { killDaemon(index) }
        for index in machines.indices where FileManager.default.fileExists(atPath: home(of: index)) {
            _ = try? Spawn.run(["ip", "netns", "exec", machines[index], TumultCLI.executable.path, "recover", "--all"],
                               environment: ["TUMULT_HOME": home(of: index)])
        }
        if FileManager.default.fileExists(atPath: cli.home + "/server") {
            _ = try? Spawn.run([TumultCLI.executable.path, "recover", "--all"], environment: ["TUMULT_HOME": cli.home + "/server"])
        }
        _ = try? runner.run(Command(["ip", "link", "del", "tmt\(tag)s"]))
        for namespace in machines + [hub] {
            _ = try? runner.run(Command(["ip", "netns", "del", namespace]))
        }
        cli.removeHome()
    }
}
