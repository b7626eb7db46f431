import Foundation
import Testing
import TumultSystem

/// Root integration tests of DNS attacks: namespace A resolves through a
/// dnsmasq in namespace B (A's resolv.conf names B); the real `tumult`
/// binary attacks A, and `dig` in A sees the effect over UDP and TCP.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct DNSFaultTests {
    let cli = TumultCLI()

    static let names = ["web.tmt.test": "10.9.9.9", "db.tmt.test": "10.9.9.8", "other.tmt.test": "10.9.9.7"]

    @discardableResult
    func tumult(_ arguments: [String]) throws -> CommandResult { try cli.run(arguments) }

    /// What `dig` in A made of one query.
    struct Lookup: CustomStringConvertible {
        var status: String
        var addresses: [String]
        var description: String { "\(status) \(addresses)" }
    }

    func dig(_ network: TestNetwork, _ name: String, type: String = "A", tcp: Bool = false) throws -> Lookup {
        var arguments = ["dig", "+tries=1", "+time=2", "+noall", "+comments", "+answer"]
        if tcp { arguments.append("+tcp") }
        let output = try network.run(in: network.a, arguments + [name, type]).stdout
        let status = output.firstMatch(of: /status: ([A-Z]+)/).map { String($0.1) } ?? "no answer"
        let addresses = output.split(separator: "\n").filter { !$0.hasPrefix(";") }.compactMap { line -> String? in
            let fields = line.split(whereSeparator: \.isWhitespace)
            return fields.count >= 5 && ["A", "AAAA"].contains(fields[3]) ? String(fields[4]) : nil
        }
        return Lookup(status: status, addresses: addresses)
    }

    /// Two namespaces, dnsmasq in B answering the test names, A's
    /// resolv.conf naming B; all removed when `body` returns.
    func withResolvingNetwork(_ body: (TestNetwork) throws -> Void) throws {
        let network = try TestNetwork()
        let etc = "/etc/netns/\(network.a)"
        let hadNetnsDirectory = FileManager.default.fileExists(atPath: "/etc/netns")
        defer {
            network.tearDown()
            try? FileManager.default.removeItem(atPath: etc)
            // Only when this test made it and nobody else uses it now (rmdir fails on a non-empty directory).
            if !hadNetnsDirectory { rmdir("/etc/netns") }
            cli.removeHome()
        }
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        try "nameserver \(network.addressB)\n".write(toFile: "\(etc)/resolv.conf", atomically: true, encoding: .utf8)
        try network.start(in: network.b, ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                                          "--listen-address=\(network.addressB)", "--bind-interfaces", "--pid-file=",
                                          "--log-facility=/dev/null"]
                          + Self.names.map { "--address=/\($0.key)/\($0.value)" })
        var ready = false
        for _ in 0..<20 where !ready {
            ready = try dig(network, "web.tmt.test").addresses == ["10.9.9.9"]
            if !ready { usleep(100_000) }
        }
        try #require(ready, "dnsmasq in \(network.b) does not answer")
        try body(network)
    }

    /// Every test name resolves to its real address, over UDP and TCP.
    func expectResolvesNormally(_ network: TestNetwork, _ context: String) throws {
        for tcp in [false, true] {
            for (name, address) in Self.names {
                let lookup = try dig(network, name, tcp: tcp)
                #expect(lookup.status == "NOERROR" && lookup.addresses == [address], "\(context): \(name) tcp=\(tcp): \(lookup)")
            }
        }
    }

    /// Injects (detached), hands over, recovers, and checks A is exactly as before.
    func withAttack(_ network: TestNetwork, _ arguments: [String], _ body: () throws -> Void) throws {
        let before = try network.snapshots()
        let injected = try tumult(["attack", "dns"] + arguments)
        try #require(injected.status == 0, "inject failed: \(injected.stderr)")
        let uid = injected.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer {
            let recovered = try? tumult(["recover", uid])
            #expect(recovered?.status == 0, "recover failed: \(recovered?.stderr ?? "")")
            #expect((try? network.snapshots()) == before, "the namespaces differ after recovery")
            #expect(Processes.withEnvironment("TUMULT_ATTACK", equalTo: uid).isEmpty, "a responder is left running")
            // Recovering again changes nothing and succeeds.
            #expect((try? tumult(["recover", uid]))?.status == 0)
        }
        try body()
    }

    @Test func errorAndRandomAnswerMatchingNamesOnly() throws {
        try withResolvingNetwork { network in
            try expectResolvesNormally(network, "before")
            try withAttack(network, ["error", "--netns", network.a, "--patterns", "web.tmt.test", "--patterns", "db.*"]) {
                for tcp in [false, true] {
                    for name in ["web.tmt.test", "db.tmt.test"] {
                        let lookup = try dig(network, name, tcp: tcp)
                        #expect(lookup.status == "SERVFAIL" && lookup.addresses.isEmpty, "\(name) tcp=\(tcp): \(lookup)")
                    }
                    let other = try dig(network, "other.tmt.test", tcp: tcp)
                    #expect(other.status == "NOERROR" && other.addresses == ["10.9.9.7"], "other tcp=\(tcp): \(other)")
                }
            }
            try expectResolvesNormally(network, "after error")

            try withAttack(network, ["random", "--netns", network.a, "--patterns", "web.tmt.test,db.*"]) {
                for tcp in [false, true] {
                    for (name, real) in [("web.tmt.test", "10.9.9.9"), ("db.tmt.test", "10.9.9.8")] {
                        let lookup = try dig(network, name, tcp: tcp)
                        #expect(lookup.status == "NOERROR" && lookup.addresses.count == 1, "\(name) tcp=\(tcp): \(lookup)")
                        let address = lookup.addresses.first ?? real
                        #expect(address != real && address.split(separator: ".").count == 4, "\(name) tcp=\(tcp): \(lookup)")
                    }
                    let six = try dig(network, "web.tmt.test", type: "AAAA", tcp: tcp)
                    #expect(six.status == "NOERROR" && six.addresses.count == 1 && six.addresses[0].contains(":"), "AAAA: \(six)")
                    let other = try dig(network, "other.tmt.test", tcp: tcp)
                    #expect(other.addresses == ["10.9.9.7"], "other tcp=\(tcp): \(other)")
                }
            }
            try expectResolvesNormally(network, "after random")
        }
    }

    @Test func killedForegroundAttackIsRecoveredFromTheJournal() throws {
        try withResolvingNetwork { network in
            let before = try network.snapshots()
            let child = try cli.start(["attack", "dns", "error", "--netns", network.a,
                                       "--patterns", "web.tmt.test", "--duration", "60s"])
            defer { close(child.stdout); close(child.stderr) }
            let uid = TumultCLI.readUID(child)
            #expect(!uid.isEmpty)
            var failing = false
            for _ in 0..<30 where !failing {
                usleep(100_000)
                failing = try dig(network, "web.tmt.test").status == "SERVFAIL"
            }
            #expect(failing)
            kill(child.pid, SIGKILL)
            Spawn.wait(for: child.pid)
            #expect(try network.snapshots() != before, "the redirect went away with the attack's process")

            let recovered = try tumult(["recover", "--all"])
            #expect(recovered.status == 0, "\(recovered.stderr)")
            #expect(recovered.stdout.contains(uid))
            #expect(try network.snapshots() == before)
            #expect(Processes.withEnvironment("TUMULT_ATTACK", equalTo: uid).isEmpty, "a responder is left running")
            #expect(try dig(network, "web.tmt.test").addresses == ["10.9.9.9"])
        }
    }

    @Test func badPatternsAreRefusedAndChangeNothing() throws {
        defer { cli.removeHome() }
        let result = try tumult(["attack", "dns", "error", "--netns", "tmt-none", "--patterns", "a*b"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("* may only be the last character"), "\(result.stderr)")
    }
}
