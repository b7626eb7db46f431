import Foundation
import TumultAgent
import TumultModel

/// The experiment controller: holds every experiment and schedule, and in a
/// loop brings the host to what their documents and Chaos Mesh's lifecycle
/// rules ask for — choosing targets once per run, injecting, recovering at
/// the end of the duration, on pause and on delete, spawning schedule runs.
///
/// It never names a fault kind: hosts are reached through their agents
/// (`HostAgent`, in process or remote), each target routed to the host it
/// is on; pods and machines come from the fleet; and everything it learns
/// goes to the store before it is forgotten.
public actor Controller {
    public struct Configuration: Sendable {
        /// How often the loop looks at every experiment when nothing wakes it.
        public var tick: Duration = .milliseconds(250)
        /// After a failed injection, the target is tried again after this long.
        public var retryDelay: TimeInterval = 5
        /// Injections and recoveries run at once.
        public var concurrency: Int = 32
        /// Kinds the hosts can inject; others are refused at apply.
        public var supportedKinds: Set<ChaosKind>
        /// Why the hosts cannot run a document of a supported kind (an
        /// action no family takes), if they cannot: refused at apply.
        public var refusal: (@Sendable (ChaosDocument) -> String?)?
        public var clock: @Sendable () -> Date = { Date() }
        /// Told of events, injections and recoveries (metrics).
        public var observer: (any ControllerObserver)?
        /// How often every injected target of a running experiment is read
        /// back on its host (`HostAgent.heal`), so that a fault lost in
        /// the middle of its run is noticed and restored; nil: never.
        public var watchInterval: TimeInterval? = 2
        /// At start, recover the host's faults of experiments this
        /// controller does not know: true for the host's one server, false
        /// for `tumult run`, which shares the journal with it and must leave
        /// the server's faults alone.
        public var recoversOrphans = false
        /// This controller's stable id: journaled on every host as the owner
        /// of what it injects, so a dead-man's switch and a restart find them.
        public var controllerID = "local"
        /// The dead-man's switch on remote hosts: each takes this
        /// controller's lease for this long before it injects (the server
        /// renews it); nil: none.
        public var leaseSeconds: Double?
        /// Keep the uid a document comes with (when no live record has it)
        /// instead of making one: the Kubernetes operator's documents carry
        /// the API server's uid, so a new leader owns, by uid, what the
        /// last one injected on the nodes.
        public var keepsDocumentUIDs = false

        public init(supportedKinds: Set<ChaosKind>) {
            self.supportedKinds = supportedKinds
        }
    }

    /// What `apply` did, in kubectl's words.
    public enum ApplyResult: String, Sendable { case created, configured, unchanged }

    /// Something changed (for live views).
    public struct Update: Sendable, Hashable {
        public var uid: String
        public var kind: String
        public var status: String
    }

    let hosts: FleetRouter
    /// The hosts this controller drives.
    public nonisolated let fleet: AgentFleet
    /// Read directly for archives (they never change once written).
    public nonisolated let store: any ExperimentStore
    let configuration: Configuration

    private(set) var experiments: [String: ExperimentRecord] = [:] {
        didSet { experimentsRevision &+= 1 }
    }
    /// Counts changes to `experiments` (every store and archive), so that a
    /// view kept of them (the API's list) knows with one comparison whether
    /// it is still current.
    public private(set) var experimentsRevision: UInt64 = 0
    private(set) var schedules: [String: ScheduleRecord] = [:]
    /// Live (not deleted) experiments by kind/namespace/name, for apply.
    private var liveByName: [String: String] = [:]
    private static func nameKey(_ kind: ChaosKind, _ namespace: String, _ name: String) -> String { "\(kind.rawValue)/\(namespace)/\(name)" }
    public private(set) var halted: Bool
    private var batch = StoreBatch()
    /// Set while a bulk apply or delete runs: its steps write once, together.
    private var deferringCommits = false
    private var dirtyExperiments: Set<String> = []
    private var dirtySchedules: Set<String> = []
    /// `uid#index` of targets with an injection or recovery under way.
    var inFlight: Set<TargetKey> = []
    /// Targets under way per experiment, so that "is it busy" is one lookup.
    var busyCount: [String: Int] = [:]
    /// Callers waiting for an experiment to have no target under way (`reconfigure`).
    var idleWaiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    struct TargetKey: Hashable { var experiment: String; var index: Int }
    func markBusy(_ uid: String, _ index: Int) {
        if inFlight.insert(TargetKey(experiment: uid, index: index)).inserted { busyCount[uid, default: 0] += 1 }
    }
    func markDone(_ uid: String, _ index: Int) {
        if inFlight.remove(TargetKey(experiment: uid, index: index)) != nil {
            let left = (busyCount[uid] ?? 1) - 1
            busyCount[uid] = left > 0 ? left : nil
            if left <= 0, let waiters = idleWaiters.removeValue(forKey: uid) {
                for waiter in waiters { waiter.resume() }
            }
        }
    }
    private var loop: Task<Void, Never>?
    /// The next liveness check, and whether one is under way.
    private var nextWatch: Date = .distantPast
    private var watching = false
    private var wakePending = false
    private var subscribers: [UUID: AsyncStream<Update>.Continuation] = [:]

    /// A controller of one host: `agent`, its pods from `inventory` (tests, benchmarks, `tumult run`).
    public init(agent: any HostAgent, inventory: (any PodInventory)? = nil, store: any ExperimentStore,
                configuration: Configuration) throws {
        try self.init(fleet: AgentFleet(local: agent, inventory: inventory), store: store, configuration: configuration)
    }

    public init(fleet: AgentFleet, store: any ExperimentStore, configuration: Configuration) throws {
        self.fleet = fleet
        self.hosts = FleetRouter(fleet: fleet, controller: configuration.controllerID, leaseSeconds: configuration.leaseSeconds)
        self.store = store
        self.configuration = configuration
        for record in try store.loadExperiments() {
            experiments[record.uid] = record
            if !record.isDeleted { liveByName[Self.nameKey(record.kind, record.namespace, record.name)] = record.uid }
        }
        for record in try store.loadSchedules() { schedules[record.uid] = record }
        for record in experiments.values where record.kind == .physicalMachine && !record.isDeleted { Self.syncMachine(record, into: fleet) }
        halted = try store.isHalted()
    }

    var now: Date { configuration.clock() }

    // MARK: Running

    /// Reconciles what a previous controller left (a crash: faults still in
    /// place, injections cut short), then starts the loop.
    public func start() async {
        await restore()
        guard loop == nil else { return }
        loop = Task { [weak self] in
            var next = ContinuousClock.now
            while !Task.isCancelled {
                guard let self else { return }
                if await self.takeWake() || ContinuousClock.now >= next {
                    await self.reconcile()
                    next = ContinuousClock.now + self.configuration.tick
                } else {
                    try? await Task.sleep(for: .milliseconds(10))
                }
            }
        }
    }

    private func takeWake() -> Bool {
        defer { wakePending = false }
        return wakePending
    }

    /// Asks the loop to look now instead of at the next tick.
    public func wake() { wakePending = true }

    /// Stops the loop; with `recover`, recovers every fault it injected
    /// first (SIGTERM), leaving the experiments to resume on the next start.
    public func shutdown(recover: Bool) async {
        loop?.cancel()
        loop = nil
        if recover {
            var work: [Work] = []
            for (uid, record) in experiments {
                for (index, target) in record.records.enumerated() where target.phase == .injected && !target.attacks.isEmpty {
                    work.append(Work(experiment: uid, index: index, operation: .recover, attacks: target.attacks))
                }
            }
            let results = await perform(work)
            apply(results, at: now)
        }
        flush()
        for continuation in subscribers.values { continuation.finish() }
        subscribers = [:]
    }

    /// A stream of changes for live views; ends at shutdown.
    public func updates() -> AsyncStream<Update> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Update>.makeStream(bufferingPolicy: .bufferingNewest(1000))
        subscribers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return stream
    }

    private func unsubscribe(_ id: UUID) { subscribers[id] = nil }

    // MARK: API

    /// Applies every document or none: all are checked first (the
    /// emergency stop, kinds this host runs), then applied and written in
    /// one transaction, so that an error answer never hides a document
    /// that was applied anyway.
    public func apply(all documents: [ChaosDocument]) throws -> [(uid: String, result: ApplyResult)] {
        for (index, document) in documents.enumerated() {
            if let problem = admissionProblem(document) {
                guard documents.count > 1 else { throw problem }
                throw ControllerError(problem.code, "document \(index + 1) (\(document.kind.rawValue) \(document.name)): \(problem.message); "
                                      + "nothing was applied", diagnostics: problem.diagnostics)
            }
        }
        deferringCommits = true
        defer { deferringCommits = false }
        var results: [(uid: String, result: ApplyResult)] = []
        for document in documents { results.append(try apply(document)) }
        deferringCommits = false
        try commit()
        return results
    }

    /// Why this host refuses `document` before anything is changed, if it does.
    private func admissionProblem(_ document: ChaosDocument) -> ControllerError? {
        if halted {
            return ControllerError(.halted, "Tumult is halted (emergency stop): new experiments are refused until `tumult unhalt`")
        }
        if document.kind == .schedule {
            guard let spec = document.spec as? ScheduleSpec else {
                return ControllerError(.invalidDocument, "a Schedule without a schedule spec")
            }
            if case .chaos(let kind) = spec.type, !configuration.supportedKinds.contains(kind) {
                return ControllerError(.unsupported, "Schedule of \(kind.rawValue): \(kind.rawValue) is not supported on this host yet")
            }
            if case .workflow = spec.type {
                return ControllerError(.unsupported, "Schedule of Workflow: Workflow is not supported on this host yet")
            }
            return nil
        }
        guard configuration.supportedKinds.contains(document.kind) else {
            return ControllerError(.unsupported, "\(document.kind.rawValue) is not supported on this host yet (supported: "
                                   + configuration.supportedKinds.map(\.rawValue).sorted().joined(separator: ", ") + ")")
        }
        if let reason = configuration.refusal?(document) { return ControllerError(.unsupported, reason) }
        return nil
    }

    /// Creates or replaces an experiment or schedule (`kubectl apply`).
    /// The document must be valid; unsupported kinds are refused.
    @discardableResult
    public func apply(_ document: ChaosDocument) throws -> (uid: String, result: ApplyResult) {
        if let problem = admissionProblem(document) { throw problem }
        var document = document.normalized()
        if (document.metadata.name ?? "").isEmpty, let prefix = document.metadata.generateName {
            document.metadata.name = prefix + Self.suffix()
        }
        if document.kind == .schedule {
            return try applySchedule(document)
        }
        if let existingUID = liveByName[Self.nameKey(document.kind, document.namespace, document.name)],
           let existing = experiments[existingUID], !existing.isDeleted {
            if Self.sameIntent(existing.document, document) { return (existing.uid, .unchanged) }
            if existing.document.spec.isEqual(to: document.spec) {
                // Only metadata changed (a pause annotation, labels): keep the run.
                var record = existing
                record.document.metadata.annotations = document.metadata.annotations
                record.document.metadata.labels = document.metadata.labels
                if record.isPaused != existing.isPaused {
                    emit(record, reason: record.isPaused ? "Paused" : "Started",
                         message: record.isPaused ? "experiment paused" : "experiment resumed")
                }
                store(record)
                try commit()
                wake()
                return (record.uid, .configured)
            }
            try delete(existing.uid)
            let uid = create(document, scheduleUID: nil)
            try commit()
            return (uid, .configured)
        }
        let uid = create(document, scheduleUID: nil)
        try commit()
        return (uid, .created)
    }

    /// Writes what is pending now, so that an acknowledged apply or delete
    /// survives a kill -9 that comes before the loop's next pass.
    func commit() throws {
        guard !deferringCommits else { return }
        flush()
        guard batch.isEmpty else {
            throw ControllerError(.internalError, "the change is made but could not be saved yet; it is saved at the next pass")
        }
    }

    private func create(_ document: ChaosDocument, scheduleUID: String?) -> String {
        let given = givenUID(of: document)
        let uid = given ?? UUID().uuidString.lowercased()
        var document = document
        // An object the API server made keeps its creation time: its
        // duration runs from there, whichever leader picks it up.
        let created = given.flatMap { _ in document.metadata.creationTimestamp.flatMap(Self.parseTimestamp) } ?? now
        document.metadata.uid = uid
        document.metadata.creationTimestamp = Self.timestamp(created)
        var record = ExperimentRecord(uid: uid, document: document, createdAt: created, scheduleUID: scheduleUID)
        // A PhysicalMachine is a machine to reach, not a fault: nothing to select.
        if document.kind == .physicalMachine { record.selected = true }
        store(record)
        emit(record, reason: "Created", message: "experiment created")
        wake()
        return uid
    }

    private func applySchedule(_ document: ChaosDocument) throws -> (uid: String, result: ApplyResult) {
        // Checked by `admissionProblem` before.
        guard let spec = document.spec as? ScheduleSpec else {
            throw ControllerError(.invalidDocument, "a Schedule without a schedule spec")
        }
        if let existing = schedules.values.first(where: { $0.namespace == document.namespace && $0.name == document.name && $0.deletedAt == nil }) {
            if Self.sameIntent(existing.document, document) { return (existing.uid, .unchanged) }
            var record = existing
            let pausedBefore = record.isPaused
            var updated = document
            updated.metadata.uid = existing.uid
            updated.metadata.creationTimestamp = existing.document.metadata.creationTimestamp
            record.document = updated
            store(record)
            if pausedBefore != record.isPaused { propagatePause(of: record) }
            try commit()
            wake()
            return (record.uid, .configured)
        }
        let uid = givenUID(of: document) ?? UUID().uuidString.lowercased()
        var stored = document
        let created = now
        stored.metadata.uid = uid
        stored.metadata.creationTimestamp = Self.timestamp(created)
        let record = ScheduleRecord(uid: uid, document: stored, createdAt: created)
        store(record)
        emit(kind: "Schedule", uid: uid, namespace: record.namespace, name: record.name, reason: "Created",
             message: "schedule created: \(spec.schedule.text)")
        try commit()
        wake()
        return (uid, .created)
    }

    /// Takes the targets an earlier controller chose (the Kubernetes
    /// operator's last leader wrote them in the object's status), before
    /// `start()`: they are not chosen again, and `restore()` matches them
    /// with what their hosts still hold, so a change of leader leaves
    /// every fault in place. Experiments with a second selector (peers)
    /// choose afresh: their peers are not in the status.
    public func adoptSelection(_ uid: String, targets: [Pod]) {
        guard var record = experiments[uid], !record.selected, !targets.isEmpty, record.failure == nil else { return }
        if let peered = record.document.spec as? any PeerTargetedSpec, peered.peerSelector != nil { return }
        record.records = targets.map { TargetRecord(pod: $0) }
        record.selected = true
        store(record)
        emit(record, reason: "Selected", message: "took the \(targets.count) target\(targets.count == 1 ? "" : "s") the last leader chose")
    }

    static func parseTimestamp(_ text: String) -> Date? {
        (try? Date(text, strategy: .iso8601))
    }

    /// The document's own uid, when the configuration keeps them and no
    /// record (live or being recovered) has it yet.
    private func givenUID(of document: ChaosDocument) -> String? {
        guard configuration.keepsDocumentUIDs, let uid = document.metadata.uid, !uid.isEmpty,
              experiments[uid] == nil, schedules[uid] == nil else { return nil }
        return uid
    }

    /// Deletes every one of `uids` or none: an unknown uid is reported
    /// before anything is deleted; the rest is written in one transaction.
    public func delete(all uids: [String]) throws {
        let unknown = uids.filter { experiments[$0] == nil && schedules[$0] == nil }
        guard unknown.isEmpty else {
            throw ControllerError(.notFound, "no experiment or schedule with uid " + unknown.joined(separator: ", ") + "; nothing was deleted")
        }
        deferringCommits = true
        defer { deferringCommits = false }
        for uid in uids { try delete(uid) }
        deferringCommits = false
        try commit()
    }

    /// Deletes an experiment or schedule: it is recovered, then archived.
    public func delete(_ uid: String) throws {
        if var record = experiments[uid] {
            guard !record.isDeleted else { return }
            record.deletedAt = now
            store(record)
            emit(record, reason: "Deleted", message: "experiment deleted; recovering")
            try commit()
            wake()
        } else if var schedule = schedules[uid] {
            guard schedule.deletedAt == nil else { return }
            schedule.deletedAt = now
            for run in schedule.runs { try? delete(run) }
            store(schedule)
            emit(kind: "Schedule", uid: uid, namespace: schedule.namespace, name: schedule.name, reason: "Deleted",
                 message: "schedule deleted with its runs")
            try commit()
            wake()
        } else {
            throw ControllerError(.notFound, "no experiment or schedule with uid \(uid)")
        }
    }

    /// Sets or clears Chaos Mesh's pause annotation.
    public func setPaused(_ uid: String, _ paused: Bool) throws {
        if !paused && halted {
            throw ControllerError(.halted, "Tumult is halted (emergency stop): nothing resumes until `tumult unhalt`")
        }
        if var record = experiments[uid] {
            guard record.isPaused != paused else { return }
            record.document.metadata.setPaused(paused)
            store(record)
            emit(record, reason: paused ? "Paused" : "Started", message: paused ? "experiment paused" : "experiment resumed")
        } else if var schedule = schedules[uid] {
            guard schedule.isPaused != paused else { return }
            schedule.document.metadata.setPaused(paused)
            store(schedule)
            propagatePause(of: schedule)
            emit(kind: "Schedule", uid: uid, namespace: schedule.namespace, name: schedule.name,
                 reason: paused ? "Paused" : "Started", message: paused ? "schedule paused" : "schedule resumed")
        } else {
            throw ControllerError(.notFound, "no experiment or schedule with uid \(uid)")
        }
        flush()
        wake()
    }

    /// Pausing a Schedule pauses its runs (and resuming resumes them).
    private func propagatePause(of schedule: ScheduleRecord) {
        for run in schedule.runs {
            guard var record = experiments[run], !record.isDeleted, record.isPaused != schedule.isPaused else { continue }
            record.document.metadata.setPaused(schedule.isPaused)
            store(record)
        }
    }

    /// Emergency stop: every experiment and schedule is paused and every
    /// fault recovered at once, without waiting for the loop; new
    /// experiments are refused until `unhalt`. Returns the faults recovered.
    public func halt() async -> Int {
        halted = true
        batch.halted = true
        for uid in experiments.keys {
            guard var record = experiments[uid], !record.isPaused else { continue }
            record.document.metadata.setPaused(true)
            store(record)
        }
        for uid in schedules.keys {
            guard var record = schedules[uid], !record.isPaused else { continue }
            record.document.metadata.setPaused(true)
            store(record)
        }
        var work: [Work] = []
        for (uid, record) in experiments {
            for (index, target) in record.records.enumerated()
            where target.phase == .injected && !inFlight.contains(TargetKey(experiment: uid, index: index)) {
                markBusy(uid, index)
                work.append(Work(experiment: uid, index: index, operation: .recover, attacks: target.attacks))
            }
        }
        emit(kind: "Tumult", uid: "halt", namespace: "default", name: "halt", reason: "Halted",
             message: "emergency stop: recovering \(work.count) targets", type: .warning)
        async let host = try? hosts.setHalted(true)
        let results = await perform(work)
        apply(results, at: now)
        let others = await host ?? 0
        flush()
        wake()
        return results.filter { $0.error == nil }.count + others
    }

    /// Ends the emergency stop. Experiments stay paused until resumed.
    public func unhalt() async throws {
        _ = try await hosts.setHalted(false)
        halted = false
        batch.halted = false
        emit(kind: "Tumult", uid: "halt", namespace: "default", name: "halt", reason: "Unhalted",
             message: "emergency stop lifted")
        flush()
    }

    public func experiment(_ uid: String) -> ExperimentRecord? { experiments[uid] }
    public func schedule(_ uid: String) -> ScheduleRecord? { schedules[uid] }
    /// Oldest first; the uid orders those created at the same moment, so
    /// that two calls over the same state agree.
    public func allExperiments() -> [ExperimentRecord] {
        experiments.values.sorted { ($0.createdAt, $0.uid) < ($1.createdAt, $1.uid) }
    }
    /// `allExperiments()` only when they changed since `revision` (nil when
    /// they did not), with the revision they are at and the clock's now: a
    /// view that keeps them copies nothing while nothing changes.
    public func experimentsSnapshot(changedSince revision: UInt64?) -> (revision: UInt64, now: Date, records: [ExperimentRecord]?) {
        (experimentsRevision, now, revision == experimentsRevision ? nil : allExperiments())
    }
    public func allSchedules() -> [ScheduleRecord] { schedules.values.sorted { $0.createdAt < $1.createdAt } }

    public func events(_ filter: EventFilter) throws -> [EventRecord] {
        flush()
        return try store.events(filter)
    }

    public func currentDate() -> Date { now }

    /// Records an event about something the host did outside experiments
    /// (a chaosd attack found lost and restored), so it shows with the
    /// others in the API, the dashboard and the metrics.
    public func recordHostEvent(kind: String, uid: String, name: String, reason: String, message: String, warning: Bool) {
        emit(kind: kind, uid: uid, namespace: "default", name: name, reason: reason, message: message,
             type: warning ? .warning : .normal)
        flush()
    }

    // MARK: The loop

    /// One look at everything: schedules spawn, experiments select, inject,
    /// recover, finish and are archived.
    public func reconcile() async {
        let moment = now
        reconcileSchedules(at: moment)
        await selectTargets(at: moment)
        let work = plannedWork(at: moment)
        if !work.isEmpty {
            // The chosen targets are saved before the host changes, so a
            // restart knows whom a half-done injection was for.
            flush()
            let results = await perform(work)
            apply(results, at: now)
        }
        finishAndArchive(at: now)
        watchFaults(at: now)
        flush()
    }

    /// Every `watchInterval`, reads back the faults of every target that
    /// should be injected now, in a task of its own so the loop goes on;
    /// the targets are busy meanwhile, so no recovery races a restore.
    private func watchFaults(at moment: Date) {
        guard let interval = configuration.watchInterval, !watching, !halted, moment >= nextWatch else { return }
        nextWatch = moment.addingTimeInterval(interval)
        var work: [Work] = []
        for (uid, record) in experiments where record.selected && record.finishedAt == nil && record.failure == nil {
            guard !record.document.spec.isOneShot, record.desiredPhase(at: moment) == .run else { continue }
            for (index, target) in record.records.enumerated() where target.phase == .injected && !target.attacks.isEmpty {
                if inFlight.contains(TargetKey(experiment: uid, index: index)) { continue }
                markBusy(uid, index)
                work.append(Work(experiment: uid, index: index, operation: .watch, attacks: target.attacks))
            }
        }
        guard !work.isEmpty else { return }
        watching = true
        // One call for the whole round: a host reads back all its faults at
        // once, however many targets they belong to.
        let hosts = self.hosts
        Task { [weak self] in
            let lost = await hosts.heal(work.flatMap(\.attacks))
            await self?.finishWatch(work, lost: lost)
        }
    }

    private func finishWatch(_ work: [Work], lost: [LostFault]) {
        let byAttack = Dictionary(grouping: lost, by: \.attack)
        apply(work.map { item in
            Outcome(work: item, attacks: item.attacks, error: nil, lost: item.attacks.flatMap { byAttack[$0] ?? [] })
        }, at: now)
        watching = false
        flush()
    }

    private func reconcileSchedules(at moment: Date) {
        for uid in Array(schedules.keys) {
            guard var schedule = schedules[uid], let spec = schedule.spec else { continue }
            if schedule.deletedAt != nil {
                schedule.runs.removeAll { experiments[$0] == nil }
                if schedule.runs.isEmpty {
                    batch.removedSchedules.append(uid)
                    batch.archives.append(ArchiveRecord(
                        uid: uid, kind: "Schedule", namespace: schedule.namespace, name: schedule.name,
                        action: spec.type.rawValue, startTime: schedule.createdAt, finishTime: moment,
                        object: (try? schedule.document.encoded()) ?? .null))
                    schedules[uid] = nil
                } else if schedule.runs.count != schedules[uid]?.runs.count {
                    store(schedule)
                }
                continue
            }
            // Finished runs beyond historyLimit are deleted, oldest first.
            let finished = schedule.runs.filter { run in
                guard let record = experiments[run] else { return false }
                return !record.isDeleted && record.isOver(at: moment)
            }
            let limit = max(spec.historyLimit ?? 1, 0)
            if finished.count > limit {
                for run in finished.prefix(finished.count - limit) { try? delete(run) }
            }
            let before = schedule.runs.count
            schedule.runs.removeAll { experiments[$0] == nil }
            if schedule.runs.count != before { store(schedule) }
            guard !schedule.isPaused, !halted, let runSpec = spec.runSpec, case .chaos(let kind) = spec.type else { continue }
            let active = schedule.runs.filter { run in
                guard let record = experiments[run], !record.isDeleted else { return false }
                return !record.isOver(at: moment)
            }
            switch ScheduleDecision.decide(spec, createdAt: schedule.createdAt, lastScheduleTime: schedule.lastScheduleTime,
                                           activeRuns: active.count, now: moment) {
            case .wait, .forbidden:
                continue
            case .missed(let due):
                schedule.lastScheduleTime = due
                store(schedule)
                emit(kind: "Schedule", uid: uid, namespace: schedule.namespace, name: schedule.name, reason: "Missed",
                     message: "run due at \(Self.timestamp(due)) missed its starting deadline", type: .warning)
            case .spawn(let due):
                var metadata = ObjectMeta(name: "\(schedule.name)-\(Self.suffix())", namespace: schedule.namespace,
                                          labels: schedule.document.metadata.labels)
                metadata.annotations = schedule.document.metadata.annotations?.filter { $0.key != ObjectMeta.pauseAnnotation }
                metadata.ownerReferences = [.object(Value.Object([
                    ("apiVersion", .string(ChaosDocument.apiVersion)), ("kind", .string("Schedule")),
                    ("name", .string(schedule.name)), ("uid", .string(uid)),
                ]))]
                let run = create(ChaosDocument(kind: kind, metadata: metadata, spec: runSpec).normalized(), scheduleUID: uid)
                schedule.runs.append(run)
                schedule.lastScheduleTime = due
                store(schedule)
                emit(kind: "Schedule", uid: uid, namespace: schedule.namespace, name: schedule.name, reason: "Spawned",
                     message: "spawned \(kind.rawValue) \(experiments[run]?.name ?? run)")
            }
        }
    }

    /// Chooses the targets of experiments that run and have none yet.
    private func selectTargets(at moment: Date) async {
        let waiting = experiments.values.filter { !$0.selected && $0.failure == nil && $0.desiredPhase(at: moment) == .run }
        guard !waiting.isEmpty else { return }
        let needsPods = waiting.contains { $0.document.spec is any PodTargetedSpec }
        let (pods, unreachable) = needsPods ? await fleet.pods() : ([], [:])
        if needsPods && pods.isEmpty && !unreachable.isEmpty {
            let reasons = unreachable.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
            for record in waiting where record.document.spec is any PodTargetedSpec {
                emit(record, reason: "Failed", message: "cannot list pods: \(reasons)", type: .warning)
            }
            return
        }
        for candidate in waiting {
            if candidate.document.spec is any MachineTargetedSpec {
                selectMachines(for: candidate.uid)
                continue
            }
            guard var record = experiments[candidate.uid], !record.selected,
                  let spec = record.document.spec as? any PodTargetedSpec else { continue }
            switch PodSelection.select(from: pods, selector: spec.selector, mode: spec.mode, value: spec.value,
                                       defaultNamespace: record.namespace) {
            case .failure(let problem):
                record.failure = problem.description
                record.selected = true
                emit(record, reason: "Failed", message: problem.description, type: .warning)
            case .success(let targets):
                record.records = targets.map { TargetRecord(pod: $0) }
                record.selected = true
                if let peered = spec as? any PeerTargetedSpec, let peer = peered.peerSelector {
                    switch PodSelection.select(from: pods, selector: peer.selector, mode: peer.mode, value: peer.value,
                                               defaultNamespace: record.namespace) {
                    case .success(let peers): record.peers = peers
                    case .failure(let problem):
                        record.failure = "spec.target: \(problem.description)"
                        record.records = []
                        emit(record, reason: "Failed", message: record.failure!, type: .warning)
                    }
                }
                if record.failure == nil {
                    emit(record, reason: "Selected", message: "selected \(targets.count) target\(targets.count == 1 ? "" : "s"): "
                         + targets.prefix(10).map(\.id).joined(separator: ", ") + (targets.count > 10 ? " ..." : ""))
                }
            }
            store(record)
        }
    }

    /// Chooses the machines of a machine-targeted experiment
    /// (PhysicalMachineChaos): by selector among the fleet's machines, read
    /// as pods are read, or by their agents' addresses.
    private func selectMachines(for uid: String) {
        guard var record = experiments[uid], !record.selected,
              let spec = record.document.spec as? any MachineTargetedSpec else { return }
        let machines = fleet.machines()
        var selector = spec.machineSelector ?? PodSelectorSpec()
        if spec.machineSelector == nil {
            // By address: the machines with those agents, named one by one.
            var named: [String: [String]] = [:]
            for address in spec.machineAddresses {
                guard let machine = machines.first(where: { Self.sameAddress($0.address, address) }) ?? fleet.connect(address: address) else {
                    record.failure = "spec.address: \(address): no machine has this address and none can be reached by it"
                    break
                }
                named[machine.namespace, default: []].append(machine.name)
            }
            selector = PodSelectorSpec(pods: named)
        }
        if record.failure == nil {
            // Read again: `connect(address:)` may have added machines above.
            let all = fleet.machines().map(\.asTarget)
            switch PodSelection.select(from: all, selector: selector, mode: spec.mode, value: spec.value,
                                       defaultNamespace: record.namespace) {
            case .success(let targets):
                record.records = targets.map { TargetRecord(pod: $0) }
                emit(record, reason: "Selected", message: "selected \(targets.count) machine\(targets.count == 1 ? "" : "s"): "
                     + targets.prefix(10).map(\.name).joined(separator: ", ") + (targets.count > 10 ? " ..." : ""))
            case .failure(let problem):
                record.failure = "\(problem.description) (machines: \(machines.map(\.name).joined(separator: ", ")))"
            }
        }
        if let failure = record.failure { emit(record, reason: "Failed", message: failure, type: .warning) }
        record.selected = true
        store(record)
    }

    /// Addresses compared as URLs: `http://h:1` is `http://h:1/`.
    static func sameAddress(_ lhs: String, _ rhs: String) -> Bool {
        func normal(_ text: String) -> String {
            var text = text.lowercased()
            while text.hasSuffix("/") { text.removeLast() }
            return text
        }
        return !lhs.isEmpty && normal(lhs) == normal(rhs)
    }

    private func plannedWork(at moment: Date) -> [Work] {
        var work: [Work] = []
        for (uid, record) in experiments where record.selected && record.finishedAt == nil {
            let desired = halted ? DesiredPhase.stop : record.desiredPhase(at: moment)
            let mayBeBusy = busyCount[uid] != nil
            for index in record.records.indices {
                if mayBeBusy && inFlight.contains(TargetKey(experiment: uid, index: index)) { continue }
                switch (desired, record.records[index].phase) {
                case (.run, .notInjected):
                    if record.document.spec.isOneShot && record.records[index].injectedCount > 0 { continue }
                    if let retry = record.records[index].retryAfter, retry > moment { continue }
                    work.append(Work(experiment: uid, index: index, operation: .inject, attacks: []))
                case (.stop, .injected):
                    work.append(Work(experiment: uid, index: index, operation: .recover, attacks: record.records[index].attacks))
                default:
                    continue
                }
                markBusy(uid, index)
            }
        }
        return work
    }

    /// Marks experiments finished and archives deleted ones once every
    /// target is recovered — never before.
    private func finishAndArchive(at moment: Date) {
        for uid in Array(experiments.keys) {
            guard var record = experiments[uid] else { continue }
            let busy = busyCount[uid] != nil
            if busy { continue }
            if record.isDeleted && record.allRecovered {
                batch.removedExperiments.append(uid)
                var object = try? record.document.encoded()
                if case .object(var fields)? = object {
                    fields["status"] = StatusView.status(of: record, at: moment)
                    object = .object(fields)
                }
                batch.archives.append(ArchiveRecord(
                    uid: uid, kind: record.kind.rawValue, namespace: record.namespace, name: record.name,
                    action: StatusView.action(of: record.document), startTime: record.createdAt, finishTime: moment,
                    object: object ?? .null))
                experiments[uid] = nil
                emit(record, reason: "Archived", message: "every target recovered; archived")
                continue
            }
            guard record.finishedAt == nil, record.selected, record.failure == nil else { continue }
            let oneShotDone = record.document.spec.isOneShot && !record.records.isEmpty
                && record.records.allSatisfy { $0.injectedCount > 0 }
            let durationOver = record.endsAt.map { moment >= $0 } ?? false
            if oneShotDone || (durationOver && record.allRecovered) {
                record.finishedAt = moment
                store(record)
                emit(record, reason: "Finished", message: oneShotDone ? "done" : "duration over; every target recovered")
            }
        }
    }

    /// Puts right what a crashed controller left: records are matched with
    /// what the host still holds; half-done injections are undone so the
    /// loop injects them again while the experiment should run.
    public func restore() async {
        // Every host asked once, for every experiment's attacks: a host that
        // does not answer costs one timeout, not one per experiment.
        let (everything, unreachable) = await hosts.attacks()
        let heldByExperiment = Dictionary(grouping: everything) { $0.owner?.experiment ?? "" }
        for uid in Array(experiments.keys) {
            guard var record = experiments[uid] else { continue }
            let held = heldByExperiment[uid] ?? []
            func machine(of attack: HostAttack) -> String { attack.id.machine.isEmpty ? fleet.localMachine : attack.id.machine }
            func holds(_ target: TargetRecord, _ attack: HostAttack) -> Bool {
                attack.owner?.target == target.id && machine(of: attack) == (fleet.agent(for: target.pod.nodeName) == nil
                    ? fleet.localMachine : target.pod.nodeName)
            }
            // Faults for targets the record does not name (injected before
            // the selection was saved) are half-done work: undone.
            let strays = held.filter { attack in !record.records.contains { holds($0, attack) } }.map(\.id)
            if !strays.isEmpty { try? await hosts.recover(strays) }
            guard record.selected else { continue }
            var changed = false
            for index in record.records.indices {
                let target = record.records[index]
                // A host that did not answer keeps its targets' records as
                // they are: it may well still hold the faults.
                if unreachable.contains(target.pod.nodeName) { continue }
                let present = held.filter { holds(target, $0) }
                let complete = !present.isEmpty && present.allSatisfy(\.injected)
                    && Set(target.attacks.map(\.uid)).isSubset(of: Set(present.map(\.id.uid)))
                if complete {
                    if target.phase != .injected || Set(target.attacks) != Set(present.map(\.id)) {
                        record.records[index].phase = .injected
                        record.records[index].attacks = present.map(\.id)
                        changed = true
                    }
                    continue
                }
                let leftovers = Set(present.map(\.id)).union(target.attacks)
                if !leftovers.isEmpty {
                    do {
                        try await hosts.recover(Array(leftovers))
                    } catch {
                        record.records[index].record(RecordEvent(type: .failed, operation: .recover,
                                                                 message: "after restart: \(error)", timestamp: now))
                    }
                }
                if target.phase == .injected || !leftovers.isEmpty {
                    record.records[index].phase = .notInjected
                    record.records[index].attacks = []
                    changed = true
                }
            }
            // The API answers while this runs: a delete or pause that came
            // meanwhile is kept; only the targets' records are this pass's.
            if changed, var current = experiments[uid] {
                current.records = record.records
                store(current)
                emit(current, reason: "Restored", message: "controller restarted: records matched with the host")
            }
        }
        // Faults of experiments this controller does not know (a store lost
        // or written too late by an older build) are nobody's to end: recovered now.
        let orphans = configuration.recoversOrphans ? await hosts.recoverOrphans(keeping: Set(experiments.keys)) : 0
        if orphans > 0 {
            emit(kind: "Tumult", uid: "restore", namespace: "default", name: "restore", reason: "Recovered",
                 message: "recovered \(orphans) fault\(orphans == 1 ? "" : "s") of experiments this controller does not know",
                 type: .warning)
        }
        flush()
    }

    // MARK: Work

    struct Work: Sendable {
        /// `reconfigure`: the target's running faults changed in place to
        /// the experiment's current document (`Controller.reconfigure`).
        enum Operation: Sendable { case inject, recover, watch, reconfigure }
        var experiment: String
        var index: Int
        var operation: Operation
        var attacks: [AttackID]
        var request: InjectionRequest?
    }

    struct Outcome: Sendable {
        var work: Work
        var attacks: [AttackID]
        var error: String?
        /// What a watch found lost.
        var lost: [LostFault] = []
    }

    func perform(_ work: [Work]) async -> [Outcome] {
        var prepared = work
        for position in prepared.indices where prepared[position].operation == .inject || prepared[position].operation == .reconfigure {
            let item = prepared[position]
            guard let record = experiments[item.experiment] else { continue }
            let target = record.records[item.index]
            prepared[position].request = InjectionRequest(
                owner: AttackOwner(controller: configuration.controllerID, experiment: item.experiment, target: target.id),
                document: record.document, target: target.pod, peers: record.peers, endsAt: record.endsAt)
        }
        let hosts = self.hosts
        let observer = configuration.observer
        var kinds: [String: String] = [:]
        for item in prepared { kinds[item.experiment] = experiments[item.experiment]?.kind.rawValue }
        let kindOf = kinds
        let width = max(1, configuration.concurrency)
        return await withTaskGroup(of: Outcome.self) { group in
            var outcomes: [Outcome] = []
            outcomes.reserveCapacity(prepared.count)
            var iterator = prepared.makeIterator()
            func add(_ item: Work) {
                group.addTask {
                    let started = ContinuousClock.now
                    var outcome: Outcome
                    do {
                        switch item.operation {
                        case .inject:
                            guard let request = item.request else { return Outcome(work: item, attacks: [], error: "experiment gone") }
                            outcome = Outcome(work: item, attacks: try await hosts.inject(request), error: nil)
                        case .recover:
                            try await hosts.recover(item.attacks)
                            outcome = Outcome(work: item, attacks: [], error: nil)
                        case .watch:
                            return Outcome(work: item, attacks: item.attacks, error: nil, lost: await hosts.heal(item.attacks))
                        case .reconfigure:
                            guard let request = item.request else { return Outcome(work: item, attacks: item.attacks, error: "experiment gone") }
                            try await hosts.reconfigure(item.attacks, request)
                            return Outcome(work: item, attacks: item.attacks, error: nil)
                        }
                    } catch {
                        outcome = Outcome(work: item, attacks: item.attacks, error: String(describing: error))
                    }
                    if let observer {
                        let elapsed = ContinuousClock.now - started
                        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                        observer.didFinish(item.operation == .inject ? .inject : .recover, kind: kindOf[item.experiment] ?? "",
                                           seconds: seconds, succeeded: outcome.error == nil)
                    }
                    return outcome
                }
            }
            for _ in 0..<width {
                guard let item = iterator.next() else { break }
                add(item)
            }
            while let outcome = await group.next() {
                outcomes.append(outcome)
                if let item = iterator.next() { add(item) }
            }
            return outcomes
        }
    }

    func apply(_ outcomes: [Outcome], at moment: Date) {
        var touched: [String: ExperimentRecord] = [:]
        var lateRecoveries: [Work] = []
        for outcome in outcomes {
            let item = outcome.work
            markDone(item.experiment, item.index)
            // A watch that found everything in place changes nothing: the
            // record is not rewritten (10,000 experiments every 2 s would be).
            if item.operation == .watch && outcome.lost.isEmpty { continue }
            guard var record = touched[item.experiment] ?? experiments[item.experiment],
                  record.records.indices.contains(item.index) else { continue }
            var target = record.records[item.index]
            switch (item.operation, outcome.error) {
            case (.inject, nil):
                target.phase = .injected
                target.injectedCount += 1
                target.attacks = outcome.attacks
                target.retryAfter = nil
                target.record(RecordEvent(type: .succeeded, operation: .apply, message: "injected", timestamp: moment))
                emit(record, reason: "Applied", message: "injected into \(target.id)")
                // Paused, deleted or halted while injecting: undo at once.
                if halted || record.desiredPhase(at: moment) == .stop && !record.document.spec.isOneShot {
                    lateRecoveries.append(Work(experiment: item.experiment, index: item.index, operation: .recover,
                                               attacks: outcome.attacks))
                }
            case (.inject, let error?):
                target.retryAfter = moment.addingTimeInterval(configuration.retryDelay)
                target.record(RecordEvent(type: .failed, operation: .apply, message: error, timestamp: moment))
                emit(record, reason: "Failed", message: "inject into \(target.id): \(error)", type: .warning)
            case (.recover, nil):
                target.phase = .notInjected
                target.recoveredCount += 1
                target.attacks = []
                target.record(RecordEvent(type: .succeeded, operation: .recover, message: "recovered", timestamp: moment))
                emit(record, reason: "Recovered", message: "recovered \(target.id)")
            case (.recover, let error?):
                target.record(RecordEvent(type: .failed, operation: .recover, message: error, timestamp: moment))
                emit(record, reason: "Failed", message: "recover \(target.id): \(error)", type: .warning)
            case (.reconfigure, nil):
                target.record(RecordEvent(type: .succeeded, operation: .apply, message: "changed in place", timestamp: moment))
                emit(record, reason: "Reconfigured", message: "changed the faults on \(target.id) in place")
            case (.reconfigure, let error?):
                // The caller (`reconfigure`) recovers and injects it afresh.
                target.record(RecordEvent(type: .failed, operation: .apply, message: "not changed in place: \(error)", timestamp: moment))
                emit(record, reason: "NotReconfigured", message: "could not change the faults on \(target.id) in place: \(error)",
                     type: .warning)
            case (.watch, _):
                for lost in outcome.lost {
                    target.faultsLost = (target.faultsLost ?? 0) + 1
                    target.record(RecordEvent(type: .failed, operation: .apply, message: "fault lost: \(lost.detail)", timestamp: moment))
                    emit(record, reason: "FaultLost", message: "fault lost on \(target.id): \(lost.detail)", type: .warning)
                    configuration.observer?.didLoseFault(kind: record.kind.rawValue, restored: lost.restored)
                    if lost.restored {
                        target.faultsRestored = (target.faultsRestored ?? 0) + 1
                        target.record(RecordEvent(type: .succeeded, operation: .apply, message: "fault restored", timestamp: moment))
                        emit(record, reason: "FaultRestored", message: "fault restored on \(target.id)")
                    } else {
                        target.record(RecordEvent(type: .failed, operation: .apply, message: "not restored: \(lost.error ?? "")", timestamp: moment))
                        emit(record, reason: "FaultNotRestored", message: "could not restore the fault on \(target.id): \(lost.error ?? "")",
                             type: .warning)
                    }
                }
                if outcome.lost.contains(where: { !$0.restored }) {
                    // Whatever is left of the target's faults (the lost one
                    // included, should its undo have failed half-way) is
                    // recovered, then the target injected afresh after the
                    // retry delay.
                    target.retryAfter = moment.addingTimeInterval(configuration.retryDelay)
                    lateRecoveries.append(Work(experiment: item.experiment, index: item.index, operation: .recover,
                                               attacks: target.attacks))
                }
            }
            record.records[item.index] = target
            touched[item.experiment] = record
        }
        for record in touched.values { store(record) }
        if !lateRecoveries.isEmpty {
            for item in lateRecoveries { markBusy(item.experiment, item.index) }
            Task { [weak self] in
                guard let self else { return }
                let outcomes = await self.perform(lateRecoveries)
                await self.apply(outcomes, at: self.currentDate())
            }
        }
    }

    // MARK: Bookkeeping

    func store(_ record: ExperimentRecord) {
        let key = Self.nameKey(record.kind, record.namespace, record.name)
        if record.isDeleted {
            if liveByName[key] == record.uid { liveByName[key] = nil }
        } else {
            liveByName[key] = record.uid
        }
        experiments[record.uid] = record
        dirtyExperiments.insert(record.uid)
        if record.kind == .physicalMachine { Self.syncMachine(record, into: fleet) }
    }

    /// A PhysicalMachine document is a machine of the fleet while it lives.
    private static func syncMachine(_ record: ExperimentRecord, into fleet: AgentFleet) {
        guard let spec = record.document.spec as? PhysicalMachineSpec else { return }
        if record.isDeleted {
            fleet.remove(record.name)
            return
        }
        let joined = record.document.metadata.annotations?[Machine.joinedAnnotation] != nil
        fleet.register(Machine(name: record.name, namespace: record.namespace, labels: record.document.metadata.labels ?? [:],
                               annotations: record.document.metadata.annotations ?? [:], address: spec.address,
                               source: joined ? .joined : .document))
    }

    private func store(_ record: ScheduleRecord) {
        schedules[record.uid] = record
        dirtySchedules.insert(record.uid)
    }

    func emit(_ record: ExperimentRecord, reason: String, message: String, type: EventRecord.EventType = .normal) {
        emit(kind: record.kind.rawValue, uid: record.uid, namespace: record.namespace, name: record.name,
             reason: reason, message: message, type: type)
    }

    private func emit(kind: String, uid: String, namespace: String, name: String, reason: String, message: String,
                      type: EventRecord.EventType = .normal) {
        let event = EventRecord(objectID: uid, namespace: namespace, name: name, kind: kind, type: type,
                                reason: reason, message: message, createdAt: now)
        batch.events.append(event)
        configuration.observer?.didEmit(event)
    }

    /// Writes what changed in one transaction and tells live views.
    func flush() {
        let moment = now
        for uid in dirtyExperiments {
            if let record = experiments[uid] { batch.experiments.append(record) }
        }
        for uid in dirtySchedules {
            if let record = schedules[uid] { batch.schedules.append(record) }
        }
        guard !batch.isEmpty else { return }
        do {
            try store.write(batch)
        } catch {
            // Keep the changes for the next flush rather than lose them.
            batch.experiments = []
            batch.schedules = []
            return
        }
        if !subscribers.isEmpty {
            var updates: [Update] = []
            for uid in dirtyExperiments {
                if let record = experiments[uid] {
                    updates.append(Update(uid: uid, kind: record.kind.rawValue, status: record.status(at: moment).rawValue))
                }
            }
            for uid in dirtySchedules { updates.append(Update(uid: uid, kind: "Schedule", status: schedules[uid]?.isPaused == true ? "paused" : "running")) }
            for uid in batch.removedExperiments + batch.removedSchedules { updates.append(Update(uid: uid, kind: "", status: "archived")) }
            for continuation in subscribers.values {
                for update in updates { continuation.yield(update) }
            }
        }
        dirtyExperiments = []
        dirtySchedules = []
        batch = StoreBatch()
    }

    /// Two documents asking for the same thing (status and server-set
    /// metadata aside).
    static func sameIntent(_ lhs: ChaosDocument, _ rhs: ChaosDocument) -> Bool {
        lhs.spec.isEqual(to: rhs.spec) && (lhs.metadata.annotations ?? [:]) == (rhs.metadata.annotations ?? [:])
            && (lhs.metadata.labels ?? [:]) == (rhs.metadata.labels ?? [:])
    }

    /// Five characters like Kubernetes' generated names.
    static func suffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}

extension ObjectMeta {
    mutating func setPaused(_ paused: Bool) {
        var annotations = self.annotations ?? [:]
        annotations[Self.pauseAnnotation] = paused ? "true" : nil
        self.annotations = annotations.isEmpty ? nil : annotations
    }
}
