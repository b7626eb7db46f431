import Foundation
import Testing
import TumultDaemon
import TumultFaults
import TumultModel
import TumultSystem

/// The agent end to end as root: Chaos Mesh documents injected into a pod
/// made of a real network namespace, measured with ping, recovered from the
/// journal, and the namespaces left exactly as before.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct ExperimentAgentTests {
    /// A journal in a fresh temporary directory, removed by the caller.
    static func temporaryJournal() throws -> (Journal, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-journal-\(UUID().uuidString)")
        return (try Journal(directory: directory), directory)
    }

    static func agent(_ journal: Journal) -> ExperimentAgent {
        // Helpers die with the test process if it does; this kernel has no
        // sch_netem, so `auto` picks the userspace engine beside the test bundle.
        ExperimentAgent(journal: journal, options: TranslationOptions(detachHelpers: false, networkBackend: .auto))
    }

    static func document(_ yaml: String) throws -> ChaosDocument {
        let reports = try DocumentLoader().load(yaml)
        return try #require(reports.first?.document, "not a valid document: \(String(describing: reports.first?.diagnostics))")
    }

    static func delay(_ extra: String = "") throws -> ChaosDocument {
        try document("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: NetworkChaos
            metadata: {name: web-delay, namespace: default}
            spec:
              action: delay
              mode: all
              selector: {namespaces: [default]}
              delay: {latency: 100ms}
            \(extra)
            """)
    }

    @Test func delayIsInjectedMeasuredAndRecovered() throws {
        let network = try TestNetwork()
        defer { network.tearDown() }
        let (journal, directory) = try Self.temporaryJournal()
        defer { try? FileManager.default.removeItem(at: directory) }
        let agent = Self.agent(journal)
        let pod = Pod(name: "web", netns: network.a, ips: [network.addressA], source: .netns)
        let before = try network.snapshots()
        let baseline = try network.ping(from: network.a, to: network.addressB, count: 10, interval: 0.05)
        #expect(baseline.received == 10)

        let attacks = try agent.inject(document: try Self.delay(), target: pod, peers: [], experiment: "exp-1",
                                       endsAt: Date().addingTimeInterval(60))
        var recovered = false
        defer { if !recovered { try? agent.recover(attacks) } }
        #expect(attacks.count == 1)
        #expect(agent.stillInjected(attacks) == Set(attacks))
        let record = try #require(try journal.attack(attacks[0]))
        #expect(record.target == "exp-1/default/web")
        #expect(record.action == "network delay")
        #expect(record.state == .injected)

        let delayed = try network.ping(from: network.a, to: network.addressB, count: 10, interval: 0.05)
        #expect(delayed.received == 10)
        #expect(delayed.mean > baseline.mean + 90, "RTT \(delayed.mean) ms with the delay, \(baseline.mean) ms before")
        #expect(delayed.mean < baseline.mean + 150, "RTT \(delayed.mean) ms with the delay, \(baseline.mean) ms before")

        try agent.recover(attacks)
        recovered = true
        #expect(agent.stillInjected(attacks).isEmpty)
        #expect(try journal.attack(attacks[0])?.state == .recovered)
        let after = try network.ping(from: network.a, to: network.addressB, count: 10, interval: 0.05)
        #expect(after.mean < baseline.mean + 10, "RTT \(after.mean) ms after recovery, \(baseline.mean) ms before")
        #expect(try network.snapshots() == before, "the namespaces differ after recovery")
        #expect(Processes.withEnvironment("TUMULT_ATTACK", equalTo: attacks[0]).isEmpty, "an engine is left running")

        // Idempotent, and unknown attacks are done already.
        try agent.recover(attacks + ["no-such-attack"])
    }

    @Test func aFailedTranslationTouchesNothing() throws {
        let network = try TestNetwork()
        defer { network.tearDown() }
        let (journal, directory) = try Self.temporaryJournal()
        defer { try? FileManager.default.removeItem(at: directory) }
        let agent = Self.agent(journal)
        let before = try network.snapshots()
        let pod = Pod(name: "web", netns: network.a, ips: [network.addressA], source: .netns)
        let ipv6Only = Pod(name: "db", netns: network.b, ips: ["fd00::2"], source: .netns)
        let fromDB = try Self.delay("""
              direction: from
              target:
                mode: all
                selector: {namespaces: [default]}
            """)

        #expect(throws: FaultError.self) {
            try agent.inject(document: fromDB, target: pod, peers: [ipv6Only], experiment: "exp-2", endsAt: nil)
        }
        #expect(throws: FaultError.self) {
            try agent.inject(document: try Self.delay(), target: Pod(name: "ghost"), peers: [], experiment: "exp-2", endsAt: nil)
        }
        #expect(try journal.attacks().isEmpty)
        #expect(try network.snapshots() == before)
    }

    /// The second fault (a host name that cannot resolve, on port 80) fails
    /// after the first is in place: the first is recovered and nothing is
    /// left injected. The second failed before it changed anything, so the
    /// journal keeps no row of it (a failed request is not an attack).
    @Test func aFailureHalfwayRecoversWhatWasInjected() throws {
        let network = try TestNetwork()
        defer { network.tearDown() }
        let (journal, directory) = try Self.temporaryJournal()
        defer { try? FileManager.default.removeItem(at: directory) }
        let agent = Self.agent(journal)
        let before = try network.snapshots()
        let pod = Pod(name: "web", netns: network.a, ips: [network.addressA], source: .netns)
        let document = try Self.delay("""
              externalTargets: ["\(network.addressB)", "tmt-no-such-host.invalid:80"]
            """)
        #expect(try agent.plan(document: document, target: pod, peers: []).count == 2)

        #expect(throws: FaultError.self) {
            try agent.inject(document: document, target: pod, peers: [], experiment: "exp-3", endsAt: nil)
        }
        let attacks = try journal.attacks()
        #expect(attacks.map(\.state) == [.recovered])
        #expect(attacks.allSatisfy { $0.target == "exp-3/default/web" })
        #expect(agent.stillInjected(attacks.map(\.uid)).isEmpty)
        #expect(try network.snapshots() == before, "the namespaces differ after the rollback")
    }
}
