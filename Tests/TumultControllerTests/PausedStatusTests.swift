import Foundation
import Testing
@testable import TumultController
import TumultModel
@testable import TumultServer

/// The one-word status follows Chaos Mesh's `GetChaosStatus`: deleting
/// first, then paused (the pause annotation, as its Paused condition),
/// then from the records. An experiment with no target is failed only
/// while it is not paused.
@Suite struct PausedStatusTests {
    /// Selects nothing: `webPods` has no `app: api`.
    static let nothingYAML = delayYAML.replacingOccurrences(of: "{app: web}", with: "{app: api}")

    /// What the API's list and detail answers say.
    static func apiStatus(_ record: ExperimentRecord, at now: Date) -> (item: String, paused: Value?) {
        guard case .array(let conditions)? = StatusView.status(of: record, at: now).objectValue?["conditions"] else {
            return (ExperimentItem(record, at: now).status, nil)
        }
        let paused = conditions.first { $0.objectValue?["type"] == .string("Paused") }?.objectValue?["status"]
        return (ExperimentItem(record, at: now).status, paused)
    }

    @Test func pausingAnExperimentWithNoTargetShowsPausedNotFailed() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(try document(Self.nothingYAML)).uid
        await controller.reconcile()
        var record = try #require(await controller.experiment(uid))
        #expect(record.failure?.hasPrefix("no target selected") == true)
        #expect(Self.apiStatus(record, at: clock.now).item == "failed")

        try await controller.setPaused(uid, true)
        await controller.reconcile()
        record = try #require(await controller.experiment(uid))
        #expect(record.status(at: clock.now) == .paused)
        #expect(Self.apiStatus(record, at: clock.now).item == "paused")
        #expect(Self.apiStatus(record, at: clock.now).paused == .string("True"))

        // Resumed, it is what its records say again.
        try await controller.setPaused(uid, false)
        await controller.reconcile()
        record = try #require(await controller.experiment(uid))
        #expect(record.status(at: clock.now) == .failed)
        #expect(Self.apiStatus(record, at: clock.now).paused == .string("False"))
    }

    @Test func anExperimentCreatedPausedIsPausedWithOrWithoutTargets() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let paused = { (yaml: String) in
            yaml.replacingOccurrences(of: "metadata: {name: web-delay, namespace: shop}",
                                      with: "metadata: {name: web-delay, namespace: shop, annotations: {experiment.chaos-mesh.org/pause: \"true\"}}")
        }
        let none = try await controller.apply(try document(paused(Self.nothingYAML))).uid
        let some = try await controller.apply(try document(paused(delayYAML).replacingOccurrences(of: "name: web-delay", with: "name: web-delay-2"))).uid
        await controller.reconcile()
        for uid in [none, some] {
            let record = try #require(await controller.experiment(uid))
            #expect(record.status(at: clock.now) == .paused, "\(record.name)")
            #expect(Self.apiStatus(record, at: clock.now).paused == .string("True"))
        }
        #expect(await daemon.activeCount == 0)
        // Past its duration a paused experiment still says paused, as in Chaos Mesh.
        clock.advance(60)
        await controller.reconcile()
        #expect(try #require(await controller.experiment(none)).status(at: clock.now) == .paused)
    }

    @Test func deletingComesBeforePaused() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(try document(delayYAML)).uid
        await controller.reconcile()
        try await controller.setPaused(uid, true)
        var record = try #require(await controller.experiment(uid))
        // Paused at once, before the targets are recovered (the annotation is the condition).
        #expect(record.status(at: clock.now) == .paused)
        record.deletedAt = clock.now
        #expect(record.status(at: clock.now) == .deleting)
        #expect(Self.apiStatus(record, at: clock.now).item == "deleting")
    }
}
