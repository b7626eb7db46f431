import Foundation
import Testing
import TumultSystem

/// `tumult attack` and `tumult recover` with a `tumult server` running on
/// the same home: the work goes to the server's agent over the home's
/// socket, and the fault is as real, for as long, as when made in process.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct AgentHandoffTests {
    @Test func attackAndRecoverGoThroughTheRunningAgent() async throws {
        let network = try TestNetwork()
        defer { network.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let inventory = cli.home + "-inventory.yaml"
        try "pods: []\n".write(toFile: inventory, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        let server = try await offPool { try TestServer(cli, inventory: inventory) }
        defer { server.stop() }
        #expect(FileManager.default.fileExists(atPath: cli.home + "/agent.sock"))
        let baseline = try network.ping(from: network.a, to: network.addressB, count: 5).mean

        // This CLI cannot start the userspace engine itself (its TUMULT_NETEM
        // names nothing): the attack holds only if the server's agent made it.
        var withoutEngine = cli
        withoutEngine.environment["TUMULT_NETEM"] = "/nonexistent/tumult-netem"
        let attacker = withoutEngine
        let attack = try await offPool {
            try attacker.run(["attack", "network", "delay", "--netns", network.a, "--latency", "60ms", "--network-backend", "userspace"])
        }
        #expect(attack.succeeded, "\(attack.stderr)")
        let uid = attack.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(uid.count == 36)
        // Early, middle and late over 3 s: +60 ms each time.
        for moment in 0..<3 {
            let rtt = try await offPool { try network.ping(from: network.a, to: network.addressB, count: 5, interval: 0.2).mean }
            #expect(rtt - baseline > 55 && rtt - baseline < 90, "at \(moment) s: \(rtt) ms")
            await pause(0.5)
        }
        // The attack is the agent's: journaled in its home, listed as a chaosd attack.
        let listed = try await offPool { try cli.run(["attack", "list"]) }
        #expect(listed.stdout.contains(uid) && listed.stdout.contains("injected"))

        let recovered = try await offPool { try cli.run(["recover", String(uid.prefix(8))]) }
        #expect(recovered.succeeded, "\(recovered.stderr)")
        #expect(recovered.stdout == "recovered \(uid)\n")
        let after = try await offPool { try network.ping(from: network.a, to: network.addressB, count: 5).mean }
        #expect(after - baseline < 10)
        #expect(try network.run(in: network.a, ["iptables-save"]).stdout.contains("NFQUEUE") == false)
        // A uid the agent does not know is refused by it, with its words.
        let unknown = try await offPool { try cli.run(["recover", "ffffffff"]) }
        #expect(unknown.status == 1 && unknown.stderr.contains("no attack ffffffff in the journal"))
    }

    @Test func withoutAnAgentTheCLIWorksInProcess() async throws {
        let network = try TestNetwork()
        defer { network.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let attack = try await offPool {
            try cli.run(["attack", "network", "bandwidth", "--netns", network.a, "--rate", "10mbit", "--limit", "100000", "--buffer", "10000"])
        }
        #expect(attack.succeeded, "\(attack.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cli.home + "/agent.sock"))
        #expect(try network.run(in: network.a, ["tc", "qdisc", "show", "dev", network.deviceA]).stdout.contains("qdisc tbf 746d: root"))
        let uid = attack.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await offPool { try cli.run(["recover", uid]) }.succeeded)
        #expect(try network.run(in: network.a, ["tc", "qdisc", "show", "dev", network.deviceA]).stdout.contains("tbf") == false)
    }
}

/// One test uses a network at a time; its blocking work runs off the cooperative pool.
extension TestNetwork: @unchecked Sendable {}
