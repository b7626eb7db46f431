import Foundation
import Logging
import Testing
import TumultAgent
import TumultAgentHTTP
import TumultModel

/// A host that records the reconfigurations it is asked for, and refuses
/// attacks it was told are unknown, as a real host would.
actor ReconfiguringHost: HostAgent {
    nonisolated let machine = "host-r"
    var requests: [ReconfigureRequest] = []
    var unknown: Set<String> = []

    func refuse(_ uid: String) { unknown.insert(uid) }

    func reconfigure(_ request: ReconfigureRequest) async throws {
        if let missing = request.attacks.first(where: { unknown.contains($0.uid) }) {
            throw AgentError(.notFound, "no attack \(missing.uid) on machine \(machine)")
        }
        requests.append(request)
    }

    func status() async throws -> AgentStatus {
        AgentStatus(machine: machine, kinds: [], families: [], machineActions: [], halted: false, activeAttacks: 0, leases: [])
    }
    func pods() async throws -> [Pod] { [] }
    func inject(_ request: InjectionRequest) async throws -> [AttackID] { [] }
    func recover(_ attacks: [AttackID]) async throws {}
    func heal(_ attacks: [AttackID]) async throws -> [LostFault] { [] }
    func attacks(_ query: AttackQuery) async throws -> [HostAttack] { [] }
    func recoverOrphans(controller: String, keeping: Set<String>) async throws -> Int { 0 }
    func setHalted(_ halted: Bool) async throws -> Int { 0 }
    func census() async throws -> AgentCensus { AgentCensus(machine: machine, samples: []) }
    func renewLease(_ lease: Lease) async throws -> LeaseGrant {
        LeaseGrant(controller: lease.controller, seconds: lease.seconds, renewedAt: Date(), expiresAt: Date())
    }
    func attack(_ request: DirectAttack) async throws -> AttackID { throw AgentError(.unsupported, "not here") }
    func directAttacks() async throws -> [HostAttack] { [] }
}

/// `HostAgent.reconfigure` across the wire: `RemoteHostAgent` to the
/// daemon's route and back, the document and attack ids intact, the
/// host's refusals arriving as they were thrown.
@Suite struct ReconfigureRouteTests {
    static let toxics = """
        apiVersion: tumult.dev/v1alpha1
        kind: TCPChaos
        metadata: {name: redis-slow, namespace: default}
        spec:
          mode: all
          selector: {namespaces: [default]}
          port: 6379
          toxics: [{type: latency, attributes: {latency: 250, jitter: 5}}]
        """

    @Test func reconfigureRoundTripsAndRefusalsArriveIntact() async throws {
        let host = ReconfiguringHost()
        let document = try #require(try DocumentLoader().load(Self.toxics).first?.document)
        let pod = Pod(name: "redis", namespace: "default", netns: "redis", nodeName: "host-r")
        let injection = InjectionRequest(owner: AttackOwner(controller: "c-1", experiment: "exp-1", target: pod.id),
                                         document: document, target: pod)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let application = try buildAgentApplication(
            agent: host, configuration: AgentServerConfiguration(host: "127.0.0.1", port: 0, insecure: true, token: "t"),
            logger: logger, onServerRunning: { continuation.yield($0) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let remote = RemoteHostAgent(machine: "host-r", address: "http://127.0.0.1:\(port)", token: "t", tls: nil)
            defer { Task { try? await remote.shutdown() } }

            try await remote.reconfigure(ReconfigureRequest(attacks: [AttackID(machine: "host-r", uid: "a-1")], injection: injection))
            let received = await host.requests
            #expect(received.count == 1)
            // Ids go bare (the host reads them as its own); the document arrives whole.
            #expect(received.first?.attacks == [AttackID(machine: "", uid: "a-1")])
            #expect(received.first?.injection.document == document)
            #expect(received.first?.injection.owner.controller == "c-1")

            await host.refuse("gone")
            await #expect(throws: AgentError(.notFound, "no attack gone on machine host-r")) {
                try await remote.reconfigure(ReconfigureRequest(attacks: [AttackID(machine: "host-r", uid: "gone")], injection: injection))
            }
            group.cancelAll()
        }
    }

    /// An agent that does not implement it (this module's fake, older hosts) says so.
    @Test func anAgentWithoutReconfigurationRefusesAsUnsupported() async throws {
        let document = try #require(try DocumentLoader().load(Self.toxics).first?.document)
        let pod = Pod(name: "redis", namespace: "default", netns: "redis")
        let request = ReconfigureRequest(attacks: [], injection: InjectionRequest(
            owner: AttackOwner(controller: "c", experiment: "e", target: pod.id), document: document, target: pod))
        do {
            try await FakeHostAgent(machine: "plain").reconfigure(request)
            Issue.record("the default reconfigured")
        } catch let error as AgentError {
            #expect(error.code == .unsupported)
        }
    }
}
