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

    /// `tumult` (the front program) alone in a directory, without the
    /// whole program beside it: what it does there, the agent did. It
    /// answers what the agent takes and tries (and fails) to become
    /// `tumult-cli` for what the agent declines, which then changes nothing.
    @Test func theFrontHandsWholeCommandLinesToTheAgent() async throws {
        let network = try TestNetwork()
        defer { network.tearDown() }
        let cli = TumultCLI()
        defer { cli.removeHome() }
        let alone = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-front-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: alone, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: alone) }
        let front = alone.appendingPathComponent("tumult").path
        try FileManager.default.copyItem(atPath: TumultCLI.executable.path, toPath: front)
        let environment = ["TUMULT_HOME": cli.home]
        func run(_ arguments: [String]) async throws -> CommandResult {
            try await offPool { try Spawn.run([front] + arguments, environment: environment) }
        }
        let version = try await run(["--version"])
        #expect(version.succeeded && version.stdout.split(separator: ".").count == 3)

        let inventory = cli.home + "-inventory.yaml"
        try "pods: []\n".write(toFile: inventory, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: inventory) }
        // No agent yet: the front needs the whole program, and it is not there.
        let bandwidth = ["attack", "network", "bandwidth", "--netns", network.a, "--rate", "10mbit", "--limit", "100000", "--buffer", "10000"]
        let early = try await run(bandwidth)
        #expect(early.status == 127 && early.stderr.contains("tumult-cli"), "\(early.stderr)")
        let server = try await offPool { try TestServer(cli, inventory: inventory) }
        defer { server.stop() }

        let attack = try await run(bandwidth)
        #expect(attack.succeeded, "\(attack.stderr)")
        let uid = attack.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(uid.count == 36 && attack.stderr.isEmpty)
        let qdiscs = { try network.run(in: network.a, ["tc", "qdisc", "show", "dev", network.deviceA]).stdout }
        #expect(try qdiscs().contains("qdisc tbf 746d: root"))

        // Declined, untouched: help, a bad value, a foreground attack, the journal's list.
        for declined in [["attack", "network", "--help"],
                         ["attack", "network", "delay", "--netns", network.a, "--latency", "90xs"],
                         ["attack", "network", "delay", "--netns", network.a, "--latency", "50ms", "--duration", "5s"],
                         ["attack", "list"]] {
            let result = try await run(declined)
            #expect(result.status == 127 && result.stderr.contains("tumult-cli"), "\(declined): \(result)")
        }
        #expect(try qdiscs().contains("netem") == false)
        #expect(try network.run(in: network.a, ["iptables-save"]).stdout.contains("NFQUEUE") == false)

        let recovered = try await run(["recover", uid])
        #expect(recovered.succeeded && recovered.stdout == "recovered \(uid)\n", "\(recovered)")
        #expect(try qdiscs().contains("tbf") == false)
        let unknown = try await run(["recover", "ffffffff"])
        #expect(unknown.status == 1 && unknown.stderr == "no attack ffffffff in the journal\n", "\(unknown)")
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
