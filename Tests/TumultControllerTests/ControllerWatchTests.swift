import Foundation
import Testing
import TumultAgent
@testable import TumultController
import TumultModel

/// The controller's side of the liveness check: every injected target of a
/// running experiment is read back on its host every `watchInterval`; a
/// lost fault becomes events, record entries and an observer call, and one
/// the host could not restore is injected afresh.
@Suite struct ControllerWatchTests {
    final class LossObserver: ControllerObserver, @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [(String, Bool)] = []
        func didEmit(_ event: EventRecord) {}
        func didFinish(_ operation: ControllerOperation, kind: String, seconds: Double, succeeded: Bool) {}
        func didLoseFault(kind: String, restored: Bool) { lock.withLock { seen.append((kind, restored)) } }
        var losses: [(String, Bool)] { lock.withLock { seen } }
    }

    func makeWatched(_ daemon: RecordingDaemon, clock: ManualClock, observer: LossObserver) throws -> Controller {
        var configuration = Controller.Configuration(supportedKinds: [.networkChaos])
        configuration.clock = { clock.now }
        configuration.retryDelay = 5
        configuration.watchInterval = 2
        configuration.observer = observer
        return try Controller(agent: daemon, inventory: StaticInventory(webPods), store: InMemoryExperimentStore(),
                              configuration: configuration)
    }

    /// Reconciles until `reason` has been emitted `count` times (the watch runs in a task of its own).
    func waitForEvents(_ controller: Controller, _ uid: String, _ reason: String, count: Int = 1) async throws -> [EventRecord] {
        for _ in 0..<200 {
            let events = try await controller.events(EventFilter(objectID: uid)).filter { $0.reason == reason }
            if events.count >= count { return events }
            try await Task.sleep(for: .milliseconds(10))
        }
        return try await controller.events(EventFilter(objectID: uid)).filter { $0.reason == reason }
    }

    @Test func aRestoredFaultIsRecordedAndTheTargetStaysInjected() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock(), observer = LossObserver()
        let controller = try makeWatched(daemon, clock: clock, observer: observer)
        let uid = try await controller.apply(try document(delayYAML)).uid
        await controller.reconcile()
        let attack = try #require(await controller.experiment(uid)?.records.first?.attacks.first)
        await daemon.lose(attack, restorable: true)
        clock.advance(2)
        await controller.reconcile()
        let lost = try await waitForEvents(controller, uid, "FaultLost")
        #expect(lost.count == 1 && lost[0].type == .warning && lost[0].message.contains("engine gone"))
        #expect(try await waitForEvents(controller, uid, "FaultRestored").count == 1)
        let target = try #require(await controller.experiment(uid)?.records.first)
        #expect(target.phase == .injected && target.attacks == [attack])
        #expect(target.faultsLost == 1 && target.faultsRestored == 1)
        #expect(target.events.suffix(2).map(\.message) == ["fault lost: engine gone", "fault restored"])
        #expect(observer.losses.count == 1 && observer.losses[0] == ("NetworkChaos", true))
        #expect(await daemon.activeCount == 3)
    }

    @Test func aFaultThatCannotBeRestoredIsInjectedAfresh() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock(), observer = LossObserver()
        let controller = try makeWatched(daemon, clock: clock, observer: observer)
        let uid = try await controller.apply(try document(delayYAML)).uid
        await controller.reconcile()
        let attack = try #require(await controller.experiment(uid)?.records.first?.attacks.first)
        await daemon.lose(attack, restorable: false)
        clock.advance(2)
        await controller.reconcile()
        #expect(try await waitForEvents(controller, uid, "FaultNotRestored").count == 1)
        // What is left of the target's faults is recovered first (in a task of its own).
        #expect(try await waitForEvents(controller, uid, "Recovered").count == 1)
        var target = try #require(await controller.experiment(uid)?.records.first)
        #expect(target.phase == .notInjected && target.faultsLost == 1 && (target.faultsRestored ?? 0) == 0)
        #expect(observer.losses.count == 1 && observer.losses[0] == ("NetworkChaos", false))
        // Injected again after the retry delay, like any failed injection.
        clock.advance(5)
        await controller.reconcile()
        target = try #require(await controller.experiment(uid)?.records.first)
        #expect(target.phase == .injected && target.injectedCount == 2 && target.attacks != [attack])
    }

    @Test func pausedExperimentsAndWatchIntervalNilAreNotWatched() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock(), observer = LossObserver()
        let controller = try makeWatched(daemon, clock: clock, observer: observer)
        let uid = try await controller.apply(try document(delayYAML)).uid
        await controller.reconcile()
        try await controller.setPaused(uid, true)
        await controller.reconcile()
        for attack in await daemon.recovered { await daemon.lose(attack, restorable: true) }
        clock.advance(2)
        await controller.reconcile()
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await controller.events(EventFilter(objectID: uid)).filter { $0.reason == "FaultLost" }.isEmpty)
        #expect(observer.losses.isEmpty)
    }
}
