import Foundation
import Testing
import TumultAgent
@testable import TumultController
import TumultModel

/// A host that records what the controller asks of it. The real host agent
/// is exercised by the root tests (`tumult run`, the server's restart and
/// halt tests); here the controller's own rules are checked, fast.
actor RecordingDaemon: HostAgent {
    nonisolated let machine = "test-host"
    var injected: [String: (experiment: String, target: String)] = [:]
    var recovered: [String] = []
    var failingTargets: Set<String> = []
    var halted = false
    private var counter = 0

    func status() async throws -> AgentStatus {
        AgentStatus(machine: machine, kinds: [], families: [], machineActions: [], halted: halted,
                    activeAttacks: injected.count, leases: [])
    }

    func pods() async throws -> [Pod] { [] }

    func inject(_ request: InjectionRequest) async throws -> [AttackID] {
        if halted { throw ControllerError(.halted, "halted") }
        if failingTargets.contains(request.target.id) {
            throw ControllerError(.internalError, "cannot reach \(request.target.id)")
        }
        counter += 1
        let uid = "attack-\(counter)"
        injected[uid] = (request.experiment, request.target.id)
        return [AttackID(machine: machine, uid: uid)]
    }

    func recover(_ attacks: [AttackID]) async throws {
        for uid in attacks.map(\.uid) where injected[uid] != nil {
            injected[uid] = nil
            recovered.append(uid)
        }
    }

    func attacks(_ query: AttackQuery) async throws -> [HostAttack] {
        injected.filter { query.experiment == nil || $0.value.experiment == query.experiment }.map {
            HostAttack(id: AttackID(machine: machine, uid: $0.key),
                       owner: AttackOwner(controller: "local", experiment: $0.value.experiment, target: $0.value.target),
                       family: "test", action: "test", target: $0.value.target, injected: true, state: "success",
                       createdAt: Date(), updatedAt: Date())
        }
    }

    func setHalted(_ halted: Bool) async throws -> Int {
        self.halted = halted
        return 0
    }

    /// Attacks the next liveness check finds lost, and whether it restores them.
    var losing: [String: Bool] = [:]

    func heal(_ attacks: [AttackID]) async throws -> [LostFault] {
        attacks.compactMap { id in
            guard let restorable = losing.removeValue(forKey: id.uid) else { return nil }
            if !restorable { injected[id.uid] = nil }
            return LostFault(attack: id, detail: "engine gone", restored: restorable, error: restorable ? nil : "cannot start it")
        }
    }

    func lose(_ attack: String, restorable: Bool) { losing[attack] = restorable }
    func lose(_ attack: AttackID, restorable: Bool) { losing[attack.uid] = restorable }

    func recoverOrphans(controller: String, keeping experiments: Set<String>) async throws -> Int {
        let orphans = injected.filter { !experiments.contains($0.value.experiment) }.map(\.key)
        for uid in orphans {
            injected[uid] = nil
            recovered.append(uid)
        }
        return orphans.count
    }

    func census() async throws -> AgentCensus { AgentCensus(machine: machine, samples: []) }
    func renewLease(_ lease: Lease) async throws -> LeaseGrant {
        LeaseGrant(controller: lease.controller, seconds: lease.seconds, renewedAt: Date(), expiresAt: Date())
    }
    func attack(_ request: DirectAttack) async throws -> AttackID { throw AgentError(.unsupported, "not here") }
    func directAttacks() async throws -> [HostAttack] { [] }

    /// Workflow Tasks asked for, and cancelled, in order.
    var tasks: [TaskRequest] = []
    var cancelledTasks: [String] = []

    /// Answers like the command would: `echo words` prints them, `sh -c
    /// "exit N"` exits with N, anything else succeeds silently.
    func runTask(_ request: TaskRequest) async throws -> TaskOutcome {
        tasks.append(request)
        let words = request.command
        if words.first == "echo" { return TaskOutcome(exitCode: 0, stdout: words.dropFirst().joined(separator: " ") + "\n") }
        if words.count == 3, words[0] == "sh", words[1] == "-c", words[2].hasPrefix("exit ") {
            return TaskOutcome(exitCode: Int(words[2].dropFirst(5)) ?? 1, stdout: "")
        }
        return TaskOutcome(exitCode: 0, stdout: "")
    }

    func cancelTask(_ id: String) async throws { cancelledTasks.append(id) }

    func fail(_ target: String) { failingTargets.insert(target) }
    func heal(_ target: String) { failingTargets.remove(target) }
    var activeCount: Int { injected.count }
    func forget() { injected = [:] }
}

/// A clock the test moves.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }

    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
}

func document(_ yaml: String) throws -> ChaosDocument {
    let reports = try DocumentLoader().load(yaml)
    guard let document = reports.first?.document else {
        Issue.record("invalid test document: \(reports.first?.diagnostics.errors ?? [])")
        throw ControllerError(.invalidDocument, "invalid test document")
    }
    return document
}

let webPods = (1...3).map { Pod(name: "web-\($0)", namespace: "shop", labels: ["app": "web"], netns: "web-\($0)") }
    + [Pod(name: "db-1", namespace: "shop", labels: ["app": "db"], netns: "db-1")]

func makeController(_ daemon: RecordingDaemon, clock: ManualClock, pods: [Pod] = webPods,
                    store: any ExperimentStore = InMemoryExperimentStore()) throws -> Controller {
    var configuration = Controller.Configuration(supportedKinds: [.networkChaos, .podChaos, .stressChaos])
    configuration.clock = { clock.now }
    configuration.retryDelay = 5
    // The liveness check runs in a task of its own and keeps targets busy
    // meanwhile; these tests step the loop by hand, so it is off here and
    // ControllerWatchTests checks it.
    configuration.watchInterval = nil
    return try Controller(agent: daemon, inventory: StaticInventory(pods), store: store, configuration: configuration)
}

let delayYAML = """
    apiVersion: chaos-mesh.org/v1alpha1
    kind: NetworkChaos
    metadata: {name: web-delay, namespace: shop}
    spec:
      action: delay
      mode: all
      selector: {labelSelectors: {app: web}}
      delay: {latency: 100ms}
      duration: 30s
    """

@Suite struct ControllerTests {
    @Test func desiredPhaseFollowsChaosMeshOrder() throws {
        let created = Date(timeIntervalSince1970: 1000)
        var record = ExperimentRecord(uid: "u", document: try document(delayYAML), createdAt: created)
        #expect(record.desiredPhase(at: created) == .run)
        #expect(record.desiredPhase(at: created.addingTimeInterval(30)) == .stop)
        record.document.metadata.setPaused(true)
        #expect(record.desiredPhase(at: created.addingTimeInterval(1)) == .stop)
        record.document.metadata.setPaused(false)
        record.deletedAt = created
        #expect(record.desiredPhase(at: created.addingTimeInterval(1)) == .stop)

        let kill = ExperimentRecord(uid: "k", document: try document("""
            apiVersion: chaos-mesh.org/v1alpha1
            kind: PodChaos
            metadata: {name: kill, annotations: {experiment.chaos-mesh.org/pause: "true"}}
            spec: {action: pod-kill, mode: one, selector: {}, duration: 1s}
            """), createdAt: created)
        // One-shot wins over duration and pause.
        #expect(kill.desiredPhase(at: created.addingTimeInterval(100)) == .run)
    }

    @Test func injectsEveryTargetThenRecoversWhenTheDurationEnds() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let (uid, result) = try await controller.apply(try document(delayYAML))
        #expect(result == .created)
        await controller.reconcile()
        var record = try #require(await controller.experiment(uid))
        #expect(record.records.map(\.id) == ["shop/web-1", "shop/web-2", "shop/web-3"])
        #expect(record.records.allSatisfy { $0.phase == .injected && $0.injectedCount == 1 })
        #expect(record.status(at: clock.now) == .running)
        #expect(record.conditions(at: clock.now).first { $0.type == "AllInjected" }?.status == true)
        #expect(await daemon.activeCount == 3)

        clock.advance(29)
        await controller.reconcile()
        #expect(await daemon.activeCount == 3)
        clock.advance(1)
        await controller.reconcile()
        record = try #require(await controller.experiment(uid))
        #expect(await daemon.activeCount == 0)
        #expect(record.records.allSatisfy { $0.phase == .notInjected && $0.recoveredCount == 1 })
        #expect(record.status(at: clock.now) == .finished)
        #expect(StatusView.status(of: record, at: clock.now).objectValue?["experiment"]?.objectValue?["desiredPhase"] == .string("Stop"))
        let reasons = try await controller.events(EventFilter(objectID: uid)).map(\.reason)
        #expect(reasons.contains("Selected") && reasons.contains("Applied") && reasons.contains("Recovered") && reasons.contains("Finished"))
    }

    @Test func pauseRecoversAndResumeInjectsAgainWithinTheSameDuration() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(try document(delayYAML)).uid
        await controller.reconcile()
        try await controller.setPaused(uid, true)
        await controller.reconcile()
        var record = try #require(await controller.experiment(uid))
        #expect(record.status(at: clock.now) == .paused)
        #expect(record.conditions(at: clock.now).first { $0.type == "Paused" }?.status == true)
        #expect(await daemon.activeCount == 0)
        // The same targets come back: chosen once per run.
        try await controller.setPaused(uid, false)
        await controller.reconcile()
        record = try #require(await controller.experiment(uid))
        #expect(record.records.map(\.id) == ["shop/web-1", "shop/web-2", "shop/web-3"])
        #expect(record.records.allSatisfy { $0.injectedCount == 2 && $0.recoveredCount == 1 })
        #expect(await daemon.activeCount == 3)
    }

    @Test func deleteRecoversThenArchivesAndForgetsOnlyWhenRecovered() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(try document(delayYAML)).uid
        await controller.reconcile()
        // Recovery of one target fails: the experiment stays, deleting.
        try await controller.delete(uid)
        #expect(await controller.experiment(uid)?.status(at: clock.now) == .deleting)
        await controller.reconcile()
        #expect(await controller.experiment(uid) == nil)
        #expect(await daemon.activeCount == 0)
        let archive = try #require(try controller.store.archive(uid))
        #expect(archive.name == "web-delay" && archive.action == "delay")
        #expect(archive.object.objectValue?["status"] != nil)
    }

    @Test func noTargetSelectedFailsTheExperiment() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(try document(delayYAML.replacingOccurrences(of: "app: web", with: "app: cache"))).uid
        await controller.reconcile()
        let record = try #require(await controller.experiment(uid))
        #expect(record.status(at: clock.now) == .failed)
        #expect(record.failure?.hasPrefix("no target selected") == true)
        #expect(record.conditions(at: clock.now).first { $0.type == "Selected" }?.status == false)
    }

    @Test func modeFixedChoosesTwoOfThreeOnceAndKeepsThem() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let yaml = delayYAML.replacingOccurrences(of: "mode: all", with: "mode: fixed\n  value: \"2\"")
        let uid = try await controller.apply(try document(yaml)).uid
        await controller.reconcile()
        let first = try #require(await controller.experiment(uid)).records.map(\.id)
        #expect(first.count == 2)
        try await controller.setPaused(uid, true)
        await controller.reconcile()
        try await controller.setPaused(uid, false)
        await controller.reconcile()
        #expect(try #require(await controller.experiment(uid)).records.map(\.id) == first)
    }

    @Test func aFailedInjectionIsRetriedAfterTheDelay() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        await daemon.fail("shop/web-2")
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(try document(delayYAML)).uid
        await controller.reconcile()
        var record = try #require(await controller.experiment(uid))
        #expect(record.status(at: clock.now) == .injecting)
        #expect(record.records[1].events.last?.type == .failed)
        await daemon.heal("shop/web-2")
        await controller.reconcile()
        #expect(try #require(await controller.experiment(uid)).records[1].phase == .notInjected)
        clock.advance(5)
        await controller.reconcile()
        record = try #require(await controller.experiment(uid))
        #expect(record.records[1].phase == .injected)
        #expect(record.status(at: clock.now) == .running)
    }

    @Test func recordEventsAreCappedAtOneHundred() {
        var target = TargetRecord(pod: webPods[0])
        for index in 0..<150 {
            target.record(RecordEvent(type: .succeeded, operation: .apply, message: "\(index)", timestamp: Date()))
        }
        #expect(target.events.count == 100)
        #expect(target.events.first?.message == "50")
    }

    @Test func applyingTheSameDocumentTwiceIsUnchangedAndAChangedSpecReplacesIt() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let first = try await controller.apply(try document(delayYAML))
        #expect(try await controller.apply(try document(delayYAML)).result == .unchanged)
        let changed = try await controller.apply(try document(delayYAML.replacingOccurrences(of: "100ms", with: "200ms")))
        #expect(changed.result == .configured && changed.uid != first.uid)
        #expect(await controller.experiment(first.uid)?.isDeleted == true)
    }

    @Test func unsupportedKindsAreRefusedAtApply() async throws {
        let controller = try makeController(RecordingDaemon(), clock: ManualClock())
        await #expect(throws: ControllerError.self) {
            try await controller.apply(try document("""
                apiVersion: chaos-mesh.org/v1alpha1
                kind: JVMChaos
                metadata: {name: web}
                spec: {mode: all, selector: {}, action: latency, class: Main, method: hello, latency: 1000, port: 9277}
                """))
        }
        #expect(await controller.allExperiments().isEmpty)
    }

    @Test func haltRecoversEverythingPausesAndRefusesUntilUnhalt() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        for index in 1...5 {
            try await controller.apply(try document(delayYAML.replacingOccurrences(of: "web-delay", with: "delay-\(index)")))
        }
        await controller.reconcile()
        #expect(await daemon.activeCount == 15)
        let recovered = await controller.halt()
        #expect(recovered == 15)
        #expect(await daemon.activeCount == 0)
        #expect(await controller.allExperiments().allSatisfy { $0.isPaused })
        await #expect(throws: ControllerError.self) { try await controller.apply(try document(delayYAML)) }
        await controller.reconcile()
        #expect(await daemon.activeCount == 0)
        try await controller.unhalt()
        #expect(try await controller.apply(try document(delayYAML.replacingOccurrences(of: "web-delay", with: "after"))).result == .created)
    }

    @Test func aRestartedControllerKeepsWhatIsInPlaceAndReinjectsWhatIsNot() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let store = InMemoryExperimentStore()
        let first = try makeController(daemon, clock: clock, store: store)
        let uid = try await first.apply(try document(delayYAML)).uid
        await first.reconcile()
        // The first controller dies; one target's fault vanished with it.
        let lost = try #require(await first.experiment(uid)?.records[0].attacks.first)
        try await daemon.recover([lost])
        let second = try makeController(daemon, clock: clock, store: store)
        await second.restore()
        var record = try #require(await second.experiment(uid))
        #expect(record.records[0].phase == .notInjected)
        #expect(record.records[1].phase == .injected && record.records[2].phase == .injected)
        await second.reconcile()
        record = try #require(await second.experiment(uid))
        #expect(record.records.allSatisfy { $0.phase == .injected })
        #expect(record.records[0].injectedCount == 2 && record.records[1].injectedCount == 1)
        // And it ends on time.
        clock.advance(30)
        await second.reconcile()
        #expect(await daemon.activeCount == 0)
    }

    @Test func sqliteStoreKeepsExperimentsSchedulesEventsAndArchives() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = RecordingDaemon(), clock = ManualClock()
        let store = try SQLiteExperimentStore(directory: directory)
        let controller = try makeController(daemon, clock: clock, store: store)
        let uid = try await controller.apply(try document(delayYAML)).uid
        let scheduleUID = try await controller.apply(try document(everyTwoSeconds)).uid
        await controller.reconcile()
        let reopened = try SQLiteExperimentStore(directory: directory)
        let experiments = try reopened.loadExperiments()
        #expect(experiments.map(\.uid).contains(uid))
        #expect(experiments.first { $0.uid == uid }?.records.count == 3)
        #expect(try reopened.loadSchedules().map(\.uid) == [scheduleUID])
        #expect(try reopened.events(EventFilter(objectID: uid)).contains { $0.reason == "Applied" })
        try await controller.delete(uid)
        await controller.reconcile()
        #expect(try reopened.archive(uid)?.name == "web-delay")
        #expect(try !reopened.loadExperiments().map(\.uid).contains(uid))
    }
}

let everyTwoSeconds = """
    apiVersion: chaos-mesh.org/v1alpha1
    kind: Schedule
    metadata: {name: flaky, namespace: shop}
    spec:
      schedule: "@every 2s"
      historyLimit: 2
      concurrencyPolicy: Allow
      type: NetworkChaos
      networkChaos:
        action: loss
        mode: one
        selector: {labelSelectors: {app: web}}
        loss: {loss: "50"}
        duration: 1s
    """

@Suite struct ScheduleTests {
    @Test func everyTwoSecondsCreatesRunsKeepsTwoAndStopsWhenPaused() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(try document(everyTwoSeconds)).uid
        await controller.reconcile()
        #expect(await controller.allExperiments().isEmpty)
        var spawned: Set<String> = []
        for _ in 0..<10 {
            clock.advance(1)
            await controller.reconcile()
            await controller.reconcile()
            for run in await controller.allExperiments() { spawned.insert(run.uid) }
        }
        #expect(spawned.count == 5)
        let schedule = try #require(await controller.schedule(uid))
        let runs = await controller.allExperiments().filter { !$0.isDeleted }
        #expect(schedule.runs.count <= 3)
        #expect(runs.filter { $0.status(at: clock.now) == .finished }.count <= 2)
        #expect(runs.allSatisfy { $0.name.hasPrefix("flaky-") && $0.scheduleUID == uid && $0.kind == .networkChaos })
        let ownerName = runs.first?.document.metadata.ownerReferences?.first?.objectValue?["name"]
        #expect(ownerName == .string("flaky"))

        try await controller.setPaused(uid, true)
        let before = spawned.count
        for _ in 0..<6 {
            clock.advance(1)
            await controller.reconcile()
            for run in await controller.allExperiments() { spawned.insert(run.uid) }
        }
        #expect(spawned.count == before)
        #expect(await controller.allExperiments().allSatisfy { $0.isPaused || $0.status(at: clock.now) == .finished })
    }

    @Test func deletingAScheduleDeletesItsRunsAndArchivesIt() async throws {
        let daemon = RecordingDaemon(), clock = ManualClock()
        let controller = try makeController(daemon, clock: clock)
        let uid = try await controller.apply(try document(everyTwoSeconds)).uid
        clock.advance(2)
        await controller.reconcile()
        #expect(await controller.allExperiments().count == 1)
        try await controller.delete(uid)
        await controller.reconcile()
        await controller.reconcile()
        #expect(await controller.allExperiments().isEmpty)
        #expect(await controller.schedule(uid) == nil)
        #expect(try controller.store.archive(uid)?.kind == "Schedule")
        #expect(await daemon.activeCount == 0)
    }

    func spec(_ yaml: String) throws -> ScheduleSpec {
        try #require(try document(yaml).spec as? ScheduleSpec)
    }

    @Test func forbidWaitsForTheActiveRunAndAllowDoesNot() throws {
        let created = Date(timeIntervalSince1970: 1_800_000_000)
        let forbid = try spec(everyTwoSeconds.replacingOccurrences(of: "Allow", with: "Forbid"))
        let allow = try spec(everyTwoSeconds)
        let due = created.addingTimeInterval(2)
        #expect(ScheduleDecision.decide(forbid, createdAt: created, lastScheduleTime: nil, activeRuns: 1, now: due) == .forbidden(due))
        #expect(ScheduleDecision.decide(allow, createdAt: created, lastScheduleTime: nil, activeRuns: 1, now: due) == .spawn(due))
        #expect(ScheduleDecision.decide(allow, createdAt: created, lastScheduleTime: nil, activeRuns: 0,
                                        now: created.addingTimeInterval(1)) == .wait(until: due))
    }

    @Test func runsMissedBeyondTheStartingDeadlineAreSkippedAndOnlyTheNewestCounts() throws {
        let created = Date(timeIntervalSince1970: 1_800_000_000)
        let deadline = try spec(everyTwoSeconds.replacingOccurrences(of: "historyLimit: 2", with: "historyLimit: 2\n  startingDeadlineSeconds: 1"))
        // Down for 9 s: due times 2, 4, 6, 8; only 8 counts, 1 s late: in time.
        #expect(ScheduleDecision.decide(deadline, createdAt: created, lastScheduleTime: nil, activeRuns: 0,
                                        now: created.addingTimeInterval(9)) == .spawn(created.addingTimeInterval(8)))
        // 1.5 s late: missed.
        #expect(ScheduleDecision.decide(deadline, createdAt: created, lastScheduleTime: nil, activeRuns: 0,
                                        now: created.addingTimeInterval(9.5)) == .missed(created.addingTimeInterval(8)))
    }

    @Test func cronWithSecondsAndDescriptorsSchedule() throws {
        let created = Date(timeIntervalSince1970: 1_800_000_000) // 2027-01-15T08:00:00Z
        let hourly = try spec(everyTwoSeconds.replacingOccurrences(of: "\"@every 2s\"", with: "\"@hourly\""))
        let next = try #require(hourly.schedule.next(after: created))
        #expect(ScheduleDecision.decide(hourly, createdAt: created, lastScheduleTime: nil, activeRuns: 0, now: next) == .spawn(next))
        let seconds = try spec(everyTwoSeconds.replacingOccurrences(of: "\"@every 2s\"", with: "\"*/15 * * * * *\""))
        let due = try #require(seconds.schedule.next(after: created))
        #expect(due.timeIntervalSince(created) <= 15)
    }
}
