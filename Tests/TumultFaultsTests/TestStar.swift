import Foundation
import TumultSystem

/// A hub namespace joined to N pod namespaces by one veth pair each, for
/// tests that need several targets: pod i is `10.X.i.2/24` on its `eth0`,
/// the hub `10.X.i.1/24` facing it. Everything is inside namespaces made
/// here and removed by `tearDown()` (call it in `defer`).
final class TestStar: @unchecked Sendable {
    let tag: String
    let hub: String
    let pods: [String]
    let base: String
    let runner = ProcessCommandRunner()

    init(pods count: Int) throws {
        let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        self.tag = tag
        hub = "tmt-\(tag)-hub"
        pods = (1...count).map { "tmt-\(tag)-p\($0)" }
        base = "10.\(Int.random(in: 150...199))"
        do {
            try sh("ip", "netns", "add", hub)
            try sh("ip", "-n", hub, "link", "set", "lo", "up")
            for (index, pod) in pods.enumerated() {
                let number = index + 1
                try sh("ip", "netns", "add", pod)
                try sh("ip", "link", "add", "tmt\(tag)h\(number)", "type", "veth", "peer", "name", "tmt\(tag)p\(number)")
                try sh("ip", "link", "set", "tmt\(tag)h\(number)", "netns", hub)
                try sh("ip", "link", "set", "tmt\(tag)p\(number)", "netns", pod, "name", "eth0")
                try sh("ip", "-n", hub, "addr", "add", "\(base).\(number).1/24", "dev", "tmt\(tag)h\(number)")
                try sh("ip", "-n", pod, "addr", "add", "\(address(of: index))/24", "dev", "eth0")
                try sh("ip", "-n", hub, "link", "set", "tmt\(tag)h\(number)", "up")
                try sh("ip", "-n", pod, "link", "set", "eth0", "up")
                try sh("ip", "-n", pod, "link", "set", "lo", "up")
            }
        } catch {
            tearDown()
            throw error
        }
    }

    /// The address of pod `index` (0-based).
    func address(of index: Int) -> String { "\(base).\(index + 1).2" }

    func tearDown() {
        for namespace in pods + [hub] {
            _ = try? runner.run(Command(["ip", "netns", "del", namespace]))
        }
    }

    @discardableResult
    func sh(_ arguments: String...) throws -> CommandResult {
        try runner.check(Command(arguments), doing: "setting up the test star")
    }

    /// Mean RTT in ms of `count` pings from the hub to pod `index`.
    func rtt(to index: Int, count: Int = 10) throws -> Double {
        try Self.meanRTT(from: hub, to: address(of: index), count: count, runner: runner)
    }

    /// Mean RTT in ms of `count` pings (50 ms apart) from namespace `from`
    /// to `address`; infinity when none came back.
    static func meanRTT(from namespace: String, to address: String, count: Int, runner: any CommandRunner) throws -> Double {
        let result = try runner.run(Command(["ip", "netns", "exec", namespace, "ping", "-n", "-c", String(count), "-i", "0.05",
                                             "-W", "1", address]))
        let rtts = result.stdout.split(separator: "\n").compactMap { line -> Double? in
            line.split(separator: " ").first { $0.hasPrefix("time=") }.flatMap { Double($0.dropFirst(5)) }
        }
        return rtts.isEmpty ? .infinity : rtts.reduce(0, +) / Double(rtts.count)
    }

    /// tc qdiscs, filters and iptables of a pod: what must be as before after recovery.
    func snapshot(_ index: Int) throws -> String {
        let pod = pods[index]
        var text = ""
        for arguments in [["tc", "-n", pod, "qdisc", "show"], ["tc", "-n", pod, "filter", "show", "dev", "eth0"],
                          ["ip", "netns", "exec", pod, "iptables-save"], ["ip", "-n", pod, "link", "show"]] {
            let result = try runner.run(Command(arguments))
            text += result.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n") + "\n"
        }
        return text
    }

    /// An inventory file labelling the pods: `labels[i]` for pod i.
    func inventory(namespace: String = "default", labels: [[String: String]]) throws -> String {
        var text = "pods:\n"
        for (index, pod) in pods.enumerated() {
            let pairs = labels[index].sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            text += "  - {name: \(pod), namespace: \(namespace), netns: \(pod), labels: {\(pairs)}}\n"
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-inventory-\(tag).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
