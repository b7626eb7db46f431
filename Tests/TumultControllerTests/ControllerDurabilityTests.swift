import Foundation
import Testing
import TumultAgent
@testable import TumultController
import TumultModel

/// What a controller acknowledges is in the store before it answers, a
/// restart's restore never overwrites what the API changed meanwhile, and
/// faults of experiments nobody knows are recovered by the host's server.
@Suite struct ControllerDurabilityTests {
    /// A host whose restore look-ups take a while, so an API call lands in the middle.
    struct SlowRestoreDaemon: HostAgent {
        let inner: RecordingDaemon
        var machine: String { inner.machine }
        func status() async throws -> AgentStatus { try await inner.status() }
        func pods() async throws -> [Pod] { try await inner.pods() }
        func inject(_ request: InjectionRequest) async throws -> [AttackID] { try await inner.inject(request) }
        func recover(_ attacks: [AttackID]) async throws { try await inner.recover(attacks) }
        func attacks(_ query: AttackQuery) async throws -> [HostAttack] {
            try? await Task.sleep(for: .milliseconds(300))
            return try await inner.attacks(query)
        }
        func recoverOrphans(controller: String, keeping experiments: Set<String>) async throws -> Int {
            try await inner.recoverOrphans(controller: controller, keeping: experiments)
        }
        func heal(_ attacks: [AttackID]) async throws -> [LostFault] { try await inner.heal(attacks) }
        func setHalted(_ halted: Bool) async throws -> Int { try await inner.setHalted(halted) }
        func census() async throws -> AgentCensus { try await inner.census() }
        func renewLease(_ lease: Lease) async throws -> LeaseGrant { try await inner.renewLease(lease) }
        func attack(_ request: DirectAttack) async throws -> AttackID { try await inner.attack(request) }
        func directAttacks() async throws -> [HostAttack] { try await inner.directAttacks() }
    }

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func anAcknowledgedApplyAndDeleteAreInTheStoreBeforeTheLoopRuns() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let controller = try makeController(RecordingDaemon(), clock: ManualClock(), store: try SQLiteExperimentStore(directory: directory))
        let uid = try await controller.apply(try document(delayYAML)).uid
        // No reconcile: what a kill -9 right after the answer would leave.
        var stored = try SQLiteExperimentStore(directory: directory).loadExperiments()
        #expect(stored.map(\.uid) == [uid])
        try await controller.delete(uid)
        stored = try SQLiteExperimentStore(directory: directory).loadExperiments()
        #expect(stored.first?.isDeleted == true)
    }

    @Test func aDeleteDuringARestartsRestoreIsKept() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = RecordingDaemon(), clock = ManualClock()
        let first = try makeController(daemon, clock: clock, store: try SQLiteExperimentStore(directory: directory))
        let uid = try await first.apply(try document(delayYAML)).uid
        await first.reconcile()
        #expect(await daemon.activeCount == 3)
        // The host lost the faults meanwhile, so the restore has records to change.
        await daemon.forget()

        // A new controller over the same store and host, as after a kill -9.
        var configuration = Controller.Configuration(supportedKinds: [.networkChaos])
        configuration.clock = { clock.now }
        configuration.watchInterval = nil
        let second = try Controller(agent: SlowRestoreDaemon(inner: daemon), inventory: StaticInventory(webPods),
                                    store: try SQLiteExperimentStore(directory: directory), configuration: configuration)
        async let restored: Void = second.restore()
        try await Task.sleep(for: .milliseconds(100))
        try await second.delete(uid)
        await restored
        let record = try #require(await second.experiment(uid))
        #expect(record.isDeleted, "the restore wrote its stale copy over the delete")
        #expect(record.records.allSatisfy { $0.phase == .notInjected })
        await second.reconcile()
        #expect(await daemon.activeCount == 0)
        #expect(await second.experiment(uid) == nil, "a deleted experiment with nothing in place is archived")
    }

    @Test func faultsOfUnknownExperimentsAreRecoveredOnlyWhereAsked() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let lost = try makeController(daemon, clock: clock)
        _ = try await lost.apply(try document(delayYAML))
        await lost.reconcile()
        #expect(await daemon.activeCount == 3)

        // `tumult run` shares the host's journal: it must leave them alone.
        let run = try makeController(daemon, clock: clock)
        await run.restore()
        #expect(await daemon.activeCount == 3)

        var configuration = Controller.Configuration(supportedKinds: [.networkChaos])
        configuration.clock = { clock.now }
        configuration.recoversOrphans = true
        let server = try Controller(agent: daemon, inventory: StaticInventory(webPods), store: InMemoryExperimentStore(),
                                    configuration: configuration)
        await server.restore()
        #expect(await daemon.activeCount == 0)
        let events = try await server.events(EventFilter(limit: 10))
        #expect(events.contains { $0.reason == "Recovered" && $0.message.contains("recovered 3 faults") })
    }

    @Test func aRestartUndoesInjectionsWhoseSelectionWasNeverSaved() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = RecordingDaemon(), clock = ManualClock()
        let first = try makeController(daemon, clock: clock, store: try SQLiteExperimentStore(directory: directory))
        let applied = try await first.apply(try document(delayYAML))
        // Killed while injecting, before the pass that chose the target was saved.
        let record = try #require(await first.experiment(applied.uid))
        _ = try await daemon.inject(InjectionRequest(owner: AttackOwner(controller: "local", experiment: applied.uid, target: webPods[0].id),
                                                     document: record.document, target: webPods[0]))
        #expect(await daemon.activeCount == 1)

        let second = try makeController(daemon, clock: clock, store: try SQLiteExperimentStore(directory: directory))
        await second.restore()
        #expect(await daemon.activeCount == 0, "the half-done injection was left on the host")
    }
}
