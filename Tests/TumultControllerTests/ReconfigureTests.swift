import Foundation
import Testing
import TumultAgent
@testable import TumultController
import TumultModel

/// A host that injects and changes faults in place, recording both; with
/// `canReconfigure` false it refuses as a host whose family cannot.
actor ReconfiguringDaemon: HostAgent {
    nonisolated let machine = "test-host"
    /// Live attacks: uid → (target, the document's toxics when injected or last changed).
    var attacks: [String: (target: String, toxics: [Toxic])] = [:]
    var injections: [InjectionRequest] = []
    var reconfigurations: [ReconfigureRequest] = []
    var recovered: [String] = []
    var canReconfigure = true
    private var counter = 0

    func refuseReconfiguration() { canReconfigure = false }

    static func toxics(of document: ChaosDocument) -> [Toxic] { (document.spec as? TCPChaosSpec)?.toxics ?? [] }

    func inject(_ request: InjectionRequest) async throws -> [AttackID] {
        counter += 1
        let uid = "attack-\(counter)"
        injections.append(request)
        attacks[uid] = (request.target.id, Self.toxics(of: request.document))
        return [AttackID(machine: machine, uid: uid)]
    }

    func reconfigure(_ request: ReconfigureRequest) async throws {
        guard canReconfigure else { throw AgentError(.unsupported, "a test fault cannot change while it runs") }
        for id in request.attacks {
            guard let attack = attacks[id.uid] else { throw AgentError(.notFound, "no attack \(id.uid)") }
            attacks[id.uid] = (attack.target, Self.toxics(of: request.injection.document))
        }
        reconfigurations.append(request)
    }

    func recover(_ ids: [AttackID]) async throws {
        for uid in ids.map(\.uid) where attacks.removeValue(forKey: uid) != nil { recovered.append(uid) }
    }

    func status() async throws -> AgentStatus {
        AgentStatus(machine: machine, kinds: [], families: [], machineActions: [], halted: false,
                    activeAttacks: attacks.count, leases: [])
    }
    func pods() async throws -> [Pod] { [] }
    func heal(_ ids: [AttackID]) async throws -> [LostFault] { [] }
    func attacks(_ query: AttackQuery) async throws -> [HostAttack] { [] }
    func recoverOrphans(controller: String, keeping: Set<String>) async throws -> Int { 0 }
    func setHalted(_ halted: Bool) async throws -> Int { 0 }
    func census() async throws -> AgentCensus { AgentCensus(machine: machine, samples: []) }
    func renewLease(_ lease: Lease) async throws -> LeaseGrant {
        LeaseGrant(controller: lease.controller, seconds: lease.seconds, renewedAt: Date(), expiresAt: Date())
    }
    func attack(_ request: DirectAttack) async throws -> AttackID { throw AgentError(.unsupported, "not here") }
    func directAttacks() async throws -> [HostAttack] { [] }

    /// The toxics each live attack's target runs, by target.
    var toxicsByTarget: [String: [Toxic]] {
        Dictionary(attacks.values.map { ($0.target, $0.toxics) }, uniquingKeysWith: { first, _ in first })
    }
}

func tcpChaosYAML(toxics: String, name: String = "redis-slow", selector: String = "{labelSelectors: {app: web}}",
                  extra: String = "") -> String {
    """
    apiVersion: tumult.dev/v1alpha1
    kind: TCPChaos
    metadata: {name: \(name), namespace: shop}
    spec:
      mode: all
      selector: \(selector)
      port: 6379
      toxics: \(toxics)
    \(extra)
    """
}

func reconfiguringController(_ daemon: ReconfiguringDaemon, clock: ManualClock) throws -> Controller {
    var configuration = Controller.Configuration(supportedKinds: [.tcpChaos, .networkChaos])
    configuration.clock = { clock.now }
    configuration.watchInterval = nil
    return try Controller(agent: daemon, inventory: StaticInventory(webPods), store: InMemoryExperimentStore(),
                          configuration: configuration)
}

/// `Controller.reconfigure`: a running experiment takes a new spec in
/// place on every injected target's host, kind-agnostically; paused runs
/// only store it; what a host cannot change in place is injected again.
@Suite struct ReconfigureTests {
    static let slow = "[{type: latency, attributes: {latency: 100}}]"
    static let slower = "[{type: latency, attributes: {latency: 400}}, {type: bandwidth, attributes: {rate: 50}}]"

    @Test func reconfigureReachesEveryInjectedTargetWithTheNewDocument() async throws {
        let daemon = ReconfiguringDaemon()
        let controller = try reconfiguringController(daemon, clock: ManualClock())
        let (uid, _) = try await controller.apply(try document(tcpChaosYAML(toxics: Self.slow)))
        await controller.reconcile()
        #expect(await daemon.attacks.count == 3)

        let result = try await controller.reconfigure(uid, to: try document(tcpChaosYAML(toxics: Self.slower)))
        #expect(result.reconfigured == ["shop/web-1", "shop/web-2", "shop/web-3"])
        #expect(result.reinjected.isEmpty)
        let requests = await daemon.reconfigurations
        #expect(requests.count == 3)
        let record = try #require(await controller.experiment(uid))
        for request in requests {
            // Each target's own attacks, on its own host, with the new document.
            let target = try #require(record.records.first { $0.id == request.injection.target.id })
            #expect(request.attacks == target.attacks)
            #expect(ReconfiguringDaemon.toxics(of: request.injection.document).map(\.summary)
                    == ["latency downstream latency=400", "bandwidth downstream rate=50"])
            #expect(request.injection.owner.experiment == uid)
        }
        // Nothing was recovered: the connections kept going.
        #expect(await daemon.recovered.isEmpty)
        #expect(record.records.allSatisfy { $0.phase == .injected })
        #expect(ReconfiguringDaemon.toxics(of: record.document).count == 2)
        let events = try await controller.events(EventFilter(objectID: uid))
        #expect(events.filter { $0.reason == "Reconfigured" }.count == 3)

        // The same spec again changes nothing.
        let unchanged = try await controller.reconfigure(uid, to: try document(tcpChaosYAML(toxics: Self.slower)))
        #expect(unchanged.storedOnly)
        #expect(await daemon.reconfigurations.count == 3)
    }

    @Test func aPausedExperimentOnlyStoresTheDocumentAndItsNextInjectionUsesIt() async throws {
        let daemon = ReconfiguringDaemon()
        let controller = try reconfiguringController(daemon, clock: ManualClock())
        let (uid, _) = try await controller.apply(try document(tcpChaosYAML(toxics: Self.slow)))
        await controller.reconcile()
        try await controller.setPaused(uid, true)
        await controller.reconcile()
        #expect(await daemon.attacks.isEmpty)

        let result = try await controller.reconfigure(uid, to: try document(tcpChaosYAML(toxics: Self.slower)))
        #expect(result.storedOnly)
        #expect(await daemon.reconfigurations.isEmpty)
        try await controller.setPaused(uid, false)
        await controller.reconcile()
        let toxics = await daemon.toxicsByTarget
        #expect(toxics.count == 3)
        #expect(toxics.values.allSatisfy { $0.map(\.summary) == ["latency downstream latency=400", "bandwidth downstream rate=50"] })
    }

    @Test func anotherObjectOrSelectionIsRefused() async throws {
        let daemon = ReconfiguringDaemon()
        let controller = try reconfiguringController(daemon, clock: ManualClock())
        let (uid, _) = try await controller.apply(try document(tcpChaosYAML(toxics: Self.slow)))
        await controller.reconcile()
        for other in [tcpChaosYAML(toxics: Self.slower, name: "other"),
                      tcpChaosYAML(toxics: Self.slower, selector: "{labelSelectors: {app: db}}")] {
            do {
                try await controller.reconfigure(uid, to: try document(other))
                Issue.record("reconfigured with another object or selection")
            } catch let error as ControllerError {
                #expect(error.code == .conflict)
            }
        }
        await #expect(throws: ControllerError.self) {
            try await controller.reconfigure("no-such-uid", to: try document(tcpChaosYAML(toxics: Self.slower)))
        }
        #expect(await daemon.reconfigurations.isEmpty)
        #expect(ReconfiguringDaemon.toxics(of: try #require(await controller.experiment(uid)).document).count == 1)
    }

    /// A host whose family cannot change in place: each target is recovered
    /// and injected with the new document before `reconfigure` returns.
    @Test func whatCannotChangeInPlaceIsInjectedAgain() async throws {
        let daemon = ReconfiguringDaemon()
        await daemon.refuseReconfiguration()
        let controller = try reconfiguringController(daemon, clock: ManualClock())
        let (uid, _) = try await controller.apply(try document(tcpChaosYAML(toxics: Self.slow)))
        await controller.reconcile()

        let result = try await controller.reconfigure(uid, to: try document(tcpChaosYAML(toxics: Self.slower)))
        #expect(result.reconfigured.isEmpty)
        #expect(result.reinjected.keys.sorted() == ["shop/web-1", "shop/web-2", "shop/web-3"])
        #expect(result.reinjected.values.allSatisfy { $0.contains("cannot change while it runs") })
        #expect(await daemon.recovered.count == 3)
        let toxics = await daemon.toxicsByTarget
        #expect(toxics.count == 3)
        #expect(toxics.values.allSatisfy { $0.count == 2 })
        let record = try #require(await controller.experiment(uid))
        #expect(record.records.allSatisfy { $0.phase == .injected && $0.injectedCount == 2 })
    }
}
