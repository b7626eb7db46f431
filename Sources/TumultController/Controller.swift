import Foundation
import TumultAgent
import TumultModel

/// The experiment controller: holds every experiment and schedule, and in a
/// loop woken by changes and by due moments (`Controller+Loop.swift`)
/// brings the host to what their documents and Chaos Mesh's lifecycle
/// rules ask for — choosing targets once per run, injecting, recovering at
/// the end of the duration, on pause and on delete, spawning schedule runs.
///
/// It never names a fault kind: hosts are reached through their agents
/// (`HostAgent`, in process or remote), each target routed to the host it
/// is on; pods and machines come from the fleet; and everything it learns
/// goes to the store before it is forgotten.
public actor Controller {
    public struct Configuration: Sendable {
        /// The longest the loop sleeps when nothing wakes it and nothing
        /// falls due: a safety net only. The loop is woken by every change
        /// (apply, delete, pause, an outcome) and sleeps until the next
        /// moment something falls due (an experiment's end, a retry, a
        /// schedule's run), so an idle controller does no pass at all.
        public var tick: Duration = .seconds(30)
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
        /// Runs StatusCheck probes (HTTP); nil: StatusCheck documents, and
        /// Workflows with a StatusCheck template, are refused at apply.
        public var statusProber: (any StatusProber)?
        /// False where workflows cannot be shown or stored (the Kubernetes
        /// operator writes no Workflow status yet): Workflows, Schedules of
        /// type Workflow and StatusChecks are refused at apply.
        public var runsWorkflows = true
        /// Whether Workflow Task templates are accepted: each runs its
        /// command on the host (`tumult server --allow-tasks`).
        public var runsTasks = true

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

    var experiments: [String: ExperimentRecord] = [:] {
        didSet { experimentsRevision &+= 1 }
    }
    /// Counts changes to `experiments` (every store and archive), so that a
    /// view kept of them (the API's list) knows with one comparison whether
    /// it is still current.
    public private(set) var experimentsRevision: UInt64 = 0
    var schedules: [String: ScheduleRecord] = [:]
    var workflows: [String: WorkflowRecord] = [:]
    var statusChecks: [String: StatusCheckRecord] = [:]
    var dirtyWorkflows: Set<String> = []
    var dirtyStatusChecks: Set<String> = []
    /// Status checks with a probe under way.
    var probing: Set<String> = []
    /// Task runs asked for and not yet handed to the background loop, and
    /// task runs to cancel on their host.
    var pendingTasks: [TaskJob] = []
    var pendingTaskCancels: [String] = []
    /// Live (not deleted) experiments by kind/namespace/name, for apply.
    var liveByName: [String: String] = [:]
    static func nameKey(_ kind: ChaosKind, _ namespace: String, _ name: String) -> String { "\(kind.rawValue)/\(namespace)/\(name)" }
    public internal(set) var halted: Bool
    var batch = StoreBatch()
    /// Set while a bulk apply or delete runs: its steps write once, together.
    var deferringCommits = false
    var dirtyExperiments: Set<String> = []
    var dirtySchedules: Set<String> = []
    /// `uid#index` of targets with an injection or recovery under way.
    var inFlight: Set<TargetKey> = []
    /// Targets under way per experiment, so that "is it busy" is one lookup.
    var busyCount: [String: Int] = [:]
    /// Callers waiting for an experiment to have no target under way (`reconfigure`).
    var idleWaiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    struct TargetKey: Hashable { var experiment: String; var index: Int }
    enum AlarmName: Hashable { case loop, background }
    /// A loop's wake-up: rung (`pending`) by changes, cleared by the loop
    /// as it starts a round, resuming the loop if it sleeps.
    struct Alarm {
        var pending = false
        var sleeper: CheckedContinuation<Void, Never>?
    }
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
    /// The loop when `start()` runs it (a service runs it in `run()`).
    var loop: Task<Void, Never>?
    /// What wakes the loop (every change) and the background loop (probes
    /// and tasks asked for): each sleeps until rung or its next due moment.
    var alarms: [AlarmName: Alarm] = [:]
    /// The next liveness check `reconcile()` makes (the loop's own
    /// liveness checks keep their own time), and whether one is under way.
    var nextWatch: Date = .distantPast
    var watching = false
    /// Recoveries outcomes called for, carried out before `carryOut` returns.
    var pendingRecoveries: [Work] = []
    /// How long the last pass spent walking the records (its waits for the
    /// hosts left out): the loop leaves the actor free as long before the next.
    var lastWalk: Duration = .zero
    var subscribers: [UUID: AsyncStream<Update>.Continuation] = [:]

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
        for record in try store.loadWorkflows() { workflows[record.uid] = record }
        for record in try store.loadStatusChecks() { statusChecks[record.uid] = record }
        for record in experiments.values where record.kind == .physicalMachine && !record.isDeleted { Self.syncMachine(record, into: fleet) }
        halted = try store.isHalted()
    }

    var now: Date { configuration.clock() }

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

    func unsubscribe(_ id: UUID) { subscribers[id] = nil }

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
    public func workflow(_ uid: String) -> WorkflowRecord? { workflows[uid] }
    /// Oldest first.
    public func allWorkflows() -> [WorkflowRecord] {
        workflows.values.sorted { ($0.createdAt, $0.uid) < ($1.createdAt, $1.uid) }
    }
    public func statusCheck(_ uid: String) -> StatusCheckRecord? { statusChecks[uid] }
    /// Oldest first.
    public func allStatusChecks() -> [StatusCheckRecord] {
        statusChecks.values.sorted { ($0.createdAt, $0.uid) < ($1.createdAt, $1.uid) }
    }

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
    static func syncMachine(_ record: ExperimentRecord, into fleet: AgentFleet) {
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

    func store(_ record: ScheduleRecord) {
        schedules[record.uid] = record
        dirtySchedules.insert(record.uid)
    }

    func store(_ record: WorkflowRecord) {
        workflows[record.uid] = record
        dirtyWorkflows.insert(record.uid)
    }

    func store(_ record: StatusCheckRecord) {
        statusChecks[record.uid] = record
        dirtyStatusChecks.insert(record.uid)
    }

    func emit(_ record: ExperimentRecord, reason: String, message: String, type: EventRecord.EventType = .normal) {
        emit(kind: record.kind.rawValue, uid: record.uid, namespace: record.namespace, name: record.name,
             reason: reason, message: message, type: type)
    }

    func emit(kind: String, uid: String, namespace: String, name: String, reason: String, message: String,
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
        for uid in dirtyWorkflows {
            if let record = workflows[uid] { batch.workflows.append(record) }
        }
        for uid in dirtyStatusChecks {
            if let record = statusChecks[uid] { batch.statusChecks.append(record) }
        }
        guard !batch.isEmpty else { return }
        do {
            try store.write(batch)
        } catch {
            // Keep the changes for the next flush rather than lose them.
            batch.experiments = []
            batch.schedules = []
            batch.workflows = []
            batch.statusChecks = []
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
            for uid in dirtyWorkflows {
                if let record = workflows[uid] { updates.append(Update(uid: uid, kind: "Workflow", status: record.phase.rawValue)) }
            }
            for uid in dirtyStatusChecks {
                if let record = statusChecks[uid] { updates.append(Update(uid: uid, kind: "StatusCheck", status: record.state.outcome.rawValue)) }
            }
            for uid in batch.removedExperiments + batch.removedSchedules + batch.removedWorkflows + batch.removedStatusChecks {
                updates.append(Update(uid: uid, kind: "", status: "archived"))
            }
            for continuation in subscribers.values {
                for update in updates { continuation.yield(update) }
            }
        }
        dirtyExperiments = []
        dirtySchedules = []
        dirtyWorkflows = []
        dirtyStatusChecks = []
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
