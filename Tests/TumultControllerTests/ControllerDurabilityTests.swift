import Foundation
import Testing
@testable import TumultController
import TumultModel

/// What a controller acknowledges is in the store before it answers, a
/// restart's restore never overwrites what the API changed meanwhile, and
/// faults of experiments nobody knows are recovered by the host's server.
@Suite struct ControllerDurabilityTests {
    /// A host whose restore look-ups take a while, so an API call lands in the middle.
    struct SlowRestoreDaemon: ChaosDaemon {
        let inner: RecordingDaemon
        func inject(_ request: InjectionRequest) async throws -> [String] { try await inner.inject(request) }
        func recover(_ attacks: [String]) async throws { try await inner.recover(attacks) }
        func stillInjected(_ attacks: [String]) async -> Set<String> { await inner.stillInjected(attacks) }
        func attacks(ofExperiment experiment: String) async -> [HostAttack] {
            try? await Task.sleep(for: .milliseconds(300))
            return await inner.attacks(ofExperiment: experiment)
        }
        func recoverOrphans(keeping experiments: Set<String>) async -> Int { await inner.recoverOrphans(keeping: experiments) }
        func heal(_ attacks: [String]) async -> [LostFault] { await inner.heal(attacks) }
        func setHalted(_ halted: Bool) async throws -> Int { try await inner.setHalted(halted) }
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
        let second = try Controller(daemon: SlowRestoreDaemon(inner: daemon), inventory: StaticInventory(webPods),
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
        let server = try Controller(daemon: daemon, inventory: StaticInventory(webPods), store: InMemoryExperimentStore(),
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
        _ = try await daemon.inject(InjectionRequest(experiment: applied.uid, document: record.document, target: webPods[0]))
        #expect(await daemon.activeCount == 1)

        let second = try makeController(daemon, clock: clock, store: try SQLiteExperimentStore(directory: directory))
        await second.restore()
        #expect(await daemon.activeCount == 0, "the half-done injection was left on the host")
    }
}
