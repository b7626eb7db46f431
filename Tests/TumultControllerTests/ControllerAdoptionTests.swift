import Foundation
import Testing
import TumultAgent
@testable import TumultController
import TumultModel

/// What the Kubernetes operator needs of the controller when its leader
/// changes: documents keep the API server's uid and creation time, and a
/// new controller takes the targets the last one chose, so that its
/// restore matches them with the faults in place instead of recovering and
/// choosing afresh.
@Suite struct ControllerAdoptionTests {
    static func operatorController(_ daemon: RecordingDaemon, clock: ManualClock) throws -> Controller {
        var configuration = Controller.Configuration(supportedKinds: [.networkChaos])
        configuration.clock = { clock.now }
        configuration.watchInterval = nil
        configuration.keepsDocumentUIDs = true
        configuration.recoversOrphans = true
        return try Controller(agent: daemon, inventory: StaticInventory(webPods), store: InMemoryExperimentStore(),
                              configuration: configuration)
    }

    static func object(created: Date) throws -> ChaosDocument {
        var document = try document(delayYAML)
        document.metadata.uid = "5c1d69ec-0000-4000-8000-000000000001"
        document.metadata.creationTimestamp = created.formatted(.iso8601)
        return document
    }

    @Test func aNewControllerAdoptsTheTargetsTheLastOneChoseAndLeavesTheirFaultsInPlace() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let created = Date(timeIntervalSince1970: (clock.now.timeIntervalSince1970 - 10).rounded(.down))
        let first = try Self.operatorController(daemon, clock: clock)
        let applied = try await first.apply(try Self.object(created: created))
        #expect(applied.uid == "5c1d69ec-0000-4000-8000-000000000001", "the API server's uid is kept")
        let record = try #require(await first.experiment(applied.uid))
        #expect(record.createdAt == created, "the duration runs from the object's creation")
        await first.reconcile()
        let injected = await daemon.injected
        #expect(injected.count == 3)
        let chosen = try #require(await first.experiment(applied.uid)).records.map(\.pod)

        // The next leader: a fresh store, the same object, the last leader's targets.
        let second = try Self.operatorController(daemon, clock: clock)
        _ = try await second.apply(try Self.object(created: created))
        await second.adoptSelection(applied.uid, targets: chosen)
        await second.restore()
        await second.reconcile()
        let taken = try #require(await second.experiment(applied.uid))
        #expect(taken.records.allSatisfy { $0.phase == .injected }, "\(taken.records.map(\.phase))")
        #expect(Set(taken.records.flatMap(\.attacks).map(\.uid)) == Set(injected.keys))
        #expect(await daemon.recovered.isEmpty, "nothing recovered")
        #expect(Set(await daemon.injected.keys) == Set(injected.keys), "nothing injected again")
    }

    @Test func withoutAdoptionTheFaultsAreRecoveredAndChosenAfresh() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let first = try Self.operatorController(daemon, clock: clock)
        let applied = try await first.apply(try Self.object(created: clock.now))
        await first.reconcile()
        let injected = await daemon.injected
        let second = try Self.operatorController(daemon, clock: clock)
        _ = try await second.apply(try Self.object(created: clock.now))
        await second.restore()
        #expect(Set(await daemon.recovered) == Set(injected.keys), "strays of an unselected record are undone")
        await second.reconcile()
        #expect(try #require(await second.experiment(applied.uid)).records.allSatisfy { $0.phase == .injected })
    }
}
