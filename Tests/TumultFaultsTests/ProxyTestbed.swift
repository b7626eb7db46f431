import Foundation
import Testing
import TumultSystem

/// Two namespaces: B serves HTTP (python3's http.server, keep-alive) and
/// a line-driven TCP server; A is the client. Faults target B's ports;
/// every measurement is made by a client process in A, through the veth.
final class ProxyTestbed {
    static let httpPort = 8080
    static let tcpPort = 9000

    let network: TestNetwork
    let script: String
    /// B's IPv6 address (a unique local one, inside these namespaces only).
    let addressB6: String

    init() throws {
        network = try TestNetwork()
        script = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-proxy-\(UUID().uuidString).py").path
        let prefix = String(format: "fd%02x:%x", Int.random(in: 0...255), Int.random(in: 1...0xffff))
        addressB6 = "\(prefix)::2"
        do {
            try network.inA("ip", "-6", "addr", "add", "\(prefix)::1/64", "dev", network.deviceA, "nodad")
            try network.inB("ip", "-6", "addr", "add", "\(addressB6)/64", "dev", network.deviceB, "nodad")
            try ProxyPeers.source.write(toFile: script, atomically: true, encoding: .utf8)
            try network.start(in: network.b, ["python3", script, "server", String(Self.httpPort), String(Self.tcpPort)])
            var up = false
            for _ in 0..<50 where !up {
                up = (try? http("GET", "/health"))?["status"] as? Int == 200
                if !up { usleep(100_000) }
            }
            guard up else { throw SystemError.processFailed("the test server in \(network.b) does not answer") }
        } catch {
            tearDown()
            throw error
        }
    }

    func tearDown() {
        network.tearDown()
        try? FileManager.default.removeItem(atPath: script)
    }

    /// A testbed for `body`, removed after it with the CLI's home.
    static func with(_ cli: TumultCLI, _ body: (ProxyTestbed) throws -> Void) throws {
        let bed = try ProxyTestbed()
        defer {
            bed.tearDown()
            cli.removeHome()
        }
        try body(bed)
    }

    /// An inventory file naming B as one pod, `app: LABEL`.
    func inventory(app: String) throws -> String {
        try writeTemporary("pods:\n  - {name: \(app), namespace: default, netns: \(network.b), labels: {app: \(app)}}\n",
                           "inventory.yaml")
    }

    /// What B's namespace holds that a fault could leave behind.
    func snapshot() throws -> String { try network.snapshot(network.b) }

    /// Runs the client in A; its JSON answer.
    func client(_ arguments: [String]) throws -> [String: Any] {
        let result = try network.run(in: network.a, ["python3", script] + arguments)
        guard result.succeeded, let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw SystemError.processFailed("client \(arguments): \(result.stdout) \(result.stderr)")
        }
        return object
    }

    func tcp(_ mode: String, _ extra: [String] = [], ipv6: Bool = false) throws -> [String: Any] {
        try client([mode, ipv6 ? addressB6 : network.addressB, String(Self.tcpPort)] + extra)
    }

    func http(_ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil) throws -> [String: Any] {
        var arguments = ["http", network.addressB, String(Self.httpPort), method, path]
        arguments += headers.map { "\($0.key):\($0.value)" }
        if let body { arguments += ["--body", body] }
        return try client(arguments)
    }

    /// The raw bytes B's HTTP server answers to `request` (hex in, bytes out).
    func raw(_ request: [UInt8]) throws -> [UInt8] {
        let hex = request.map { String(format: "%02x", $0) }.joined()
        let answer = try client(["raw", network.addressB, String(Self.httpPort), hex])["hex"] as? String ?? ""
        var bytes: [UInt8] = []
        var index = answer.startIndex
        while index < answer.endIndex, let next = answer.index(index, offsetBy: 2, limitedBy: answer.endIndex) {
            bytes.append(UInt8(answer[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }

    /// The median of one-byte round trips to B's echo server, in ms.
    func medianRTT(_ count: Int = 15, ipv6: Bool = false) throws -> Double {
        let rtts = (try tcp("rtt", [String(count)], ipv6: ipv6)["rtts"] as? [Double] ?? []).sorted()
        return rtts.isEmpty ? .infinity : rtts[rtts.count / 2]
    }

    static func waitUntil(_ timeout: TimeInterval = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// Tumult's proxies still running for any attack.
    static var proxies: [Int32] {
        ProcessTable.pids().filter { Processes.isTumultHelper($0) && ProcessTable.arguments(of: $0).contains("proxy") }
    }
}
