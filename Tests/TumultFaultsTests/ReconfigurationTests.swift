import Foundation
import Testing
import TumultAgent
import TumultDaemon
import TumultFaults
import TumultModel

/// What a fake proxy injector was asked, shared with the test.
final class ProxyLog: @unchecked Sendable {
    private let lock = NSLock()
    private var appliedFaults: [ProxyTestFault] = []
    private var reconfigurations: [(steps: [ProxyTestStep], fault: ProxyTestFault)] = []
    private var recoveries = 0
    private var isLost = false

    var applied: [ProxyTestFault] { lock.withLock { appliedFaults } }
    var reconfigured: [(steps: [ProxyTestStep], fault: ProxyTestFault)] { lock.withLock { reconfigurations } }
    var recovered: Int { lock.withLock { recoveries } }
    var lost: Bool {
        get { lock.withLock { isLost } }
        set { lock.withLock { isLost = newValue } }
    }

    func apply(_ fault: ProxyTestFault) { lock.withLock { appliedFaults.append(fault) } }
    func reconfigure(_ steps: [ProxyTestStep], _ fault: ProxyTestFault) { lock.withLock { reconfigurations.append((steps, fault)) } }
    func recover() { lock.withLock { recoveries += 1 } }
}

/// A TCP fault as a proxy would take it: the port and its toxics.
struct ProxyTestFault: Codable, Sendable, Equatable {
    var port: Int32
    var toxics: [String]
}

/// The proxy it started (what its recovery would stop).
struct ProxyTestStep: Codable, Sendable, Equatable {
    var proxy: String
}

/// An injector whose fault changes in place, touching nothing on the
/// host: the daemon's side of reconfiguration is checked with it; the
/// real proxy's traffic is in the TCP fault's own tests.
struct ProxyTestInjector: ReconfigurableInjector {
    static let family = "test-proxy"
    let log: ProxyLog

    func apply(_ fault: ProxyTestFault, attack: String, recorder: ChangeRecorder) throws {
        let sequence = try recorder.willApply("start proxy", undo: try Self.encodeStep(ProxyTestStep(proxy: "proxy-\(attack)")))
        log.apply(fault)
        log.lost = false
        try recorder.didApply(sequence, undo: nil)
    }

    func recover(_ steps: [ProxyTestStep], attack: String) throws { log.recover() }

    func check(_ steps: [ProxyTestStep], attack: String) -> [String] { log.lost ? ["proxy gone"] : [] }

    func reconfigure(_ steps: [ProxyTestStep], to fault: ProxyTestFault, attack: String) throws {
        guard fault.port == log.applied.last?.port else {
            throw FaultError(.invalidFault, "the port cannot change in place")
        }
        log.reconfigure(steps, fault)
    }
}

/// The same fault made by an injector that can only recover and inject again.
struct FixedTestInjector: FaultInjector {
    static let family = "test-fixed"

    func apply(_ fault: ProxyTestFault, attack: String, recorder: ChangeRecorder) throws {
        let sequence = try recorder.willApply("start", undo: try Self.encodeStep(ProxyTestStep(proxy: attack)))
        try recorder.didApply(sequence, undo: nil)
    }

    func recover(_ steps: [ProxyTestStep], attack: String) throws {}
    func check(_ steps: [ProxyTestStep], attack: String) -> [String] { [] }
}

/// TCPChaos as the fake proxy's faults: one per target.
struct ProxyTestTranslator: FaultTranslator {
    let injector: ProxyTestInjector

    func faults(for spec: TCPChaosSpec, target: Pod, peers: [Pod], options: TranslationOptions) throws -> [PlannedFault] {
        let fault = ProxyTestFault(port: spec.port ?? 0, toxics: (spec.toxics ?? []).map(\.summary))
        return [PlannedFault(fault, injector: injector, action: "tcp toxics", summary: "toxics on \(target.id)")]
    }
}

/// The daemon's side of changing a running fault in place: the journal
/// keeps the new fault (a restore applies it), attacks it does not hold as
/// injected and families that cannot are refused, the fault unchanged.
/// Nothing here touches the host (the injectors are fakes); no root needed.
@Suite struct ReconfigurationTests {
    struct Host {
        let agent: LocalHostAgent
        let log: ProxyLog
        let directory: URL
    }

    static func host() throws -> Host {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-reconfigure-\(UUID().uuidString)")
        let log = ProxyLog()
        var families = FamilyRegistry(options: TranslationOptions(detachHelpers: false))
        let injector = ProxyTestInjector(log: log)
        families.register(injector: injector)
        families.register(injector: FixedTestInjector())
        families.register(translator: ProxyTestTranslator(injector: injector))
        let agent = LocalHostAgent(machine: "test-host", journal: try Journal(directory: directory), families: families,
                                   inventory: LocalPodInventory(inventoryPath: nil), engineStatisticsDirectory: nil)
        return Host(agent: agent, log: log, directory: directory)
    }

    static func toxics(_ toxics: String, port: Int = 6379) throws -> ChaosDocument {
        let reports = try DocumentLoader().load("""
            apiVersion: tumult.dev/v1alpha1
            kind: TCPChaos
            metadata: {name: redis-slow, namespace: default}
            spec:
              mode: all
              selector: {namespaces: [default]}
              port: \(port)
              toxics: \(toxics)
            """)
        return try #require(reports.first?.document, "invalid: \(String(describing: reports.first?.diagnostics.errors))")
    }

    static let pod = Pod(name: "redis", namespace: "default", netns: "tmt-not-touched")

    static func injection(_ document: ChaosDocument) -> InjectionRequest {
        InjectionRequest(owner: AttackOwner(controller: "local", experiment: "exp-1", target: pod.id), document: document, target: pod)
    }

    @Test func theRunningFaultChangesInPlaceAndTheJournalKeepsTheNewOne() async throws {
        let host = try Self.host()
        defer { try? FileManager.default.removeItem(at: host.directory) }
        let first = try Self.toxics("[{type: latency, attributes: {latency: 100}}]")
        let ids = try await host.agent.inject(Self.injection(first))
        #expect(ids.count == 1)
        let uid = try #require(ids.first?.uid)
        let before = try #require(try host.agent.journal.attack(uid))

        let second = try Self.toxics("[{type: latency, attributes: {latency: 300}}, {type: bandwidth, attributes: {rate: 10}}]")
        try await host.agent.reconfigure(ReconfigureRequest(attacks: ids, injection: Self.injection(second)))

        let wanted = ProxyTestFault(port: 6379, toxics: ["latency downstream latency=300", "bandwidth downstream rate=10"])
        // Told in place, with the steps apply recorded; never recovered.
        #expect(host.log.reconfigured.map(\.fault) == [wanted])
        #expect(host.log.reconfigured.first?.steps == [ProxyTestStep(proxy: "proxy-\(uid)")])
        #expect(host.log.recovered == 0)
        let after = try #require(try host.agent.journal.attack(uid))
        #expect(after.state == .injected)
        #expect(try JSONDecoder().decode(ProxyTestFault.self, from: Data(after.fault.utf8)) == wanted)
        #expect(try JSONDecoder().decode(ProxyTestFault.self, from: Data(before.fault.utf8)).toxics == ["latency downstream latency=100"])
        #expect(try host.agent.journal.steps(of: uid).count == 1)

        // A loss found later is restored with the new toxics, not the first ones.
        host.log.lost = true
        let lost = try await host.agent.heal(ids)
        #expect(lost.map(\.restored) == [true])
        #expect(host.log.applied.last == wanted)
    }

    @Test func unknownAndRecoveredAttacksAreRefused() async throws {
        let host = try Self.host()
        defer { try? FileManager.default.removeItem(at: host.directory) }
        let document = try Self.toxics("[{type: timeout}]")
        let unknown = AttackID(machine: "test-host", uid: "no-such-attack")
        await #expect(throws: AgentError(.notFound, "no attack no-such-attack on machine test-host")) {
            try await host.agent.reconfigure(ReconfigureRequest(attacks: [unknown], injection: Self.injection(document)))
        }
        #expect(throws: FaultError.self) { try host.agent.agent.runner.reconfigure("no-such-attack", to: "{}") }

        let ids = try await host.agent.inject(Self.injection(document))
        try await host.agent.recover(ids)
        do {
            try await host.agent.reconfigure(ReconfigureRequest(attacks: ids, injection: Self.injection(document)))
            Issue.record("a recovered attack was reconfigured")
        } catch let error as AgentError {
            #expect(error.code == .invalid)
            #expect(error.message.contains("recovered, not injected"))
        }
        #expect(host.log.reconfigured.isEmpty)
    }

    @Test func aFamilyThatCannotChangeInPlaceIsRefusedAndItsFaultKept() throws {
        let host = try Self.host()
        defer { try? FileManager.default.removeItem(at: host.directory) }
        let runner = host.agent.agent.runner
        let fault = ProxyTestFault(port: 80, toxics: [])
        let uid = try runner.inject(fault, with: FixedTestInjector(), action: "fixed", target: "default/web")
        let journaled = try #require(try host.agent.journal.attack(uid)).fault
        let changed = String(decoding: try JSONEncoder().encode(ProxyTestFault(port: 80, toxics: ["timeout downstream"])), as: UTF8.self)
        do {
            try runner.reconfigure(uid, to: changed)
            Issue.record("a family without reconfiguration changed in place")
        } catch let error as FaultError {
            #expect(error.code == .unsupported)
            #expect(error.message.contains("cannot change while it runs"))
        }
        #expect(try host.agent.journal.attack(uid)?.fault == journaled)
        #expect(try host.agent.journal.attack(uid)?.state == .injected)
        #expect(host.agent.families.injectors.family(FixedTestInjector.family)?.reconfigure == nil)
        #expect(host.agent.families.injectors.family(ProxyTestInjector.family)?.reconfigure != nil)
    }

    /// What cannot change in place (another port) leaves the fault and its
    /// journal as they were, and says so as the request's fault.
    @Test func aChangeTheInjectorRefusesLeavesTheFaultAsItWas() async throws {
        let host = try Self.host()
        defer { try? FileManager.default.removeItem(at: host.directory) }
        let ids = try await host.agent.inject(Self.injection(try Self.toxics("[{type: latency, attributes: {latency: 5}}]")))
        let journaled = try host.agent.journal.attack(try #require(ids.first?.uid))?.fault
        let otherPort = try Self.toxics("[{type: latency, attributes: {latency: 5}}]", port: 6380)
        do {
            try await host.agent.reconfigure(ReconfigureRequest(attacks: ids, injection: Self.injection(otherPort)))
            Issue.record("another port changed in place")
        } catch let error as AgentError {
            #expect(error.code == .invalid)
            #expect(error.message.contains("port cannot change in place"))
        }
        #expect(try host.agent.journal.attack(try #require(ids.first?.uid))?.fault == journaled)
        #expect(host.log.recovered == 0)
    }
}
