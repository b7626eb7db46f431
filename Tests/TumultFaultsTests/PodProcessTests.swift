import Foundation
import Testing
@testable import TumultDaemon
import TumultModel
import TumultSystem

/// Tumult's own helpers are never a pod's processes: a named namespace
/// whose only process is the userspace packet engine of a delay on it is a
/// pod with no process (as `tumult get pods -o wide` and the dashboard show
/// it), PodChaos finds nothing there to kill or freeze, and a process of the
/// pod's own is listed even when the engine started first.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root to make network namespaces"))
struct PodProcessTests {
    @Test func theUserspaceEngineIsNeverListedAsThePodsProcess() async throws {
        let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        let name = "tmt-\(tag)-proc"
        let runner = ProcessCommandRunner()
        let cli = TumultCLI()
        var app: Int32?
        defer {
            if let app {
                kill(app, SIGKILL)
                Spawn.wait(for: app)
            }
            _ = try? cli.run(["recover", "--all"])
            _ = try? runner.run(Command(["ip", "netns", "del", name]))
            cli.removeHome()
        }
        try runner.check(Command(["ip", "netns", "add", name]), doing: "making \(name)")
        // A veth pair with both ends inside, so the delay has a device.
        for command in [["link", "add", "d0", "type", "veth", "peer", "name", "d1"],
                        ["addr", "add", "10.78.\(Int.random(in: 0...255)).1/24", "dev", "d0"],
                        ["link", "set", "d1", "up"], ["link", "set", "d0", "up"], ["link", "set", "lo", "up"]] {
            try runner.check(Command(["ip", "-n", name] + command), doing: "setting up \(name)")
        }
        let namespace = NetworkNamespace.named(name)
        let inode = try #require(namespace.inode)

        // The engine of a real delay is the namespace's first and only process.
        let attack = try await offPool {
            try cli.run(["attack", "network", "delay", "--netns", name, "--latency", "20ms", "--network-backend", "userspace"])
        }
        #expect(attack.succeeded, "\(attack.stdout)\(attack.stderr)")
        let uid = attack.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let engines = Processes.withEnvironment("TUMULT_ATTACK", equalTo: uid)
            .filter { ProcessTable.networkNamespaceInode(of: $0) == inode }
        #expect(!engines.isEmpty, "no helper of attack \(uid) runs in \(name)")

        let alone = try #require(try LocalInventory(engines: []).pods().first { $0.netns == name })
        #expect(alone.pid == nil, "pid \(alone.pid.map(String.init) ?? "") is listed as the pod's process")
        #expect(try PodChaosTranslator.processes(in: namespace).isEmpty)

        // A process of the pod's own, started after the engine (a higher pid), is the pod's.
        let child = try Spawn.start(["ip", "netns", "exec", name, "sleep", "30"], captureOutput: false)
        app = child.pid
        // `ip netns exec` enters the namespace, then execs sleep with the same pid.
        for _ in 0..<100 where ProcessTable.networkNamespaceInode(of: child.pid) != inode { usleep(20_000) }
        let withApp = try #require(try LocalInventory(engines: []).pods().first { $0.netns == name })
        #expect(withApp.pid == child.pid)
        #expect(try PodChaosTranslator.processes(in: namespace).map(\.pid) == [child.pid])
        #expect(engines.allSatisfy { $0 < child.pid })

        let recovered = try await offPool { try cli.run(["recover", uid]) }
        #expect(recovered.succeeded, "\(recovered.stdout)\(recovered.stderr)")
    }
}
