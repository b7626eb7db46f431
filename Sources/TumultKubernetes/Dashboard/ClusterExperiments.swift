import Foundation
import Logging
import Synchronization
import TumultAgent
import TumultController
import TumultModel

/// The experiments of a cluster as `tumult server`'s API and dashboard see
/// them: the chaos objects of the API server (every kind, and Schedules)
/// read from informer caches, their `status` (which the operator writes)
/// turned back into records, their events.k8s.io Events, and the pods.
/// Changes go to the API server as `kubectl` would send them; the operator
/// runs the experiments, this never injects anything.
public final class ClusterExperiments: ExperimentService {
    /// The kinds the dashboard offers: every fault kind with a CRD.
    public static let kinds: Set<ChaosKind> = Set(ChaosOperator.resources(for: Set(ChaosKind.allCases)).map(\.kind)).subtracting([.schedule])

    let client: KubernetesClient
    let logger: Logger
    /// Where documents without a namespace go (kubectl: the context's).
    let defaultNamespace: String
    /// Every chaos resource's cache, with the kind it holds.
    let chaos: [(kind: ChaosKind, resource: ResourceType, informer: Informer<UnstructuredObject>)]
    let eventCache: Informer<EventObject>
    let podCache: Informer<PodObject>
    public let fleet: AgentFleet
    /// Archives are the single-host server's: deleted objects leave the
    /// cluster (and their events expire with them), so this store stays empty.
    public let store: any ExperimentStore = InMemoryExperimentStore()

    private let state = Mutex(State())

    private struct State {
        /// Every chaos object by its uid, converted once per resourceVersion.
        var objects: [String: Entry] = [:]
        /// Counts changes to `objects`, so that the API's list knows with one
        /// comparison whether its encoded items are current.
        var revision: UInt64 = 0
        var subscribers: [UUID: AsyncStream<Controller.Update>.Continuation] = [:]
        /// Events about this server itself (none come from a host agent here).
        var ownEvents: [EventRecord] = []
        var running: Task<Void, Never>?
    }

    private struct Entry {
        var resource: ResourceType
        var namespace: String
        var name: String
        var resourceVersion: String?
        var converted: ClusterRecords.Converted
    }

    /// `namespace` nil: every namespace (the chart's ClusterRole).
    public init(client: KubernetesClient, namespace: String? = nil, defaultNamespace: String = "default", logger: Logger) {
        self.client = client
        self.logger = logger
        self.defaultNamespace = defaultNamespace
        chaos = ChaosOperator.resources(for: Set(ChaosKind.allCases)).map { kind, resource in
            (kind, resource, Informer<UnstructuredObject>(client: client, resource: resource, namespace: namespace, logger: logger))
        }
        eventCache = Informer<EventObject>(client: client, resource: .events, namespace: namespace, logger: logger)
        podCache = Informer<PodObject>(client: client, resource: .pods, namespace: namespace, logger: logger)
        fleet = AgentFleet(cluster: ClusterInventory(pods: [podCache], nodes: nil))
    }

    // MARK: Running

    /// Starts every cache (list, then watch) and returns; `waitForSync()`
    /// waits for their first lists.
    public func start() async {
        let streams = chaos.map { entry in (entry.resource, entry.informer.events()) }
        let informers: [any InformerRunning] = chaos.map(\.informer) + [eventCache, podCache]
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for informer in informers { group.addTask { try? await informer.run() } }
                for (resource, stream) in streams {
                    group.addTask {
                        for await event in stream { self.absorb(event, resource: resource) }
                    }
                }
            }
        }
        let previous = state.withLock { state in
            defer { state.running = task }
            return state.running
        }
        previous?.cancel()
        logger.info("watching the cluster's chaos objects", metadata: ["resources": "\(chaos.count)"])
    }

    /// Returns once every cache holds its first list (or the task is
    /// cancelled), and the records are made of it: the caches' events reach
    /// the records a moment later, which a command reading once must not race.
    public func waitForSync() async {
        for entry in chaos {
            await entry.informer.waitForSync()
            for object in entry.informer.list() { absorb(object, resource: entry.resource) }
        }
        await eventCache.waitForSync()
        await podCache.waitForSync()
    }

    /// Stops the caches; the objects stay as they are in the cluster
    /// (`recover` is the single-host controller's: nothing here injects).
    public func shutdown(recover: Bool) async {
        let (task, subscribers) = state.withLock { state in
            defer {
                state.running = nil
                state.subscribers = [:]
            }
            return (state.running, Array(state.subscribers.values))
        }
        task?.cancel()
        await task?.value
        for subscriber in subscribers { subscriber.finish() }
    }

    public func updates() -> AsyncStream<Controller.Update> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Controller.Update>.makeStream(bufferingPolicy: .bufferingNewest(1000))
        state.withLock { $0.subscribers[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    // MARK: Reading

    public func experiment(_ uid: String) -> ExperimentRecord? {
        state.withLock { state in
            if case .experiment(let record)? = state.objects[uid]?.converted { return record }
            return nil
        }
    }

    public func schedule(_ uid: String) -> ScheduleRecord? {
        state.withLock { state in
            if case .schedule(let record)? = state.objects[uid]?.converted { return record }
            return nil
        }
    }

    public func allExperiments() -> [ExperimentRecord] {
        state.withLock { Self.experiments(in: $0) }
    }

    public func experimentsSnapshot(changedSince revision: UInt64?) -> (revision: UInt64, now: Date, records: [ExperimentRecord]?) {
        state.withLock { state in
            (state.revision, Date(), revision == state.revision ? nil : Self.experiments(in: state))
        }
    }

    private static func experiments(in state: State) -> [ExperimentRecord] {
        state.objects.values.compactMap { entry -> ExperimentRecord? in
            if case .experiment(let record) = entry.converted { return record }
            return nil
        }.sorted { ($0.createdAt, $0.uid) < ($1.createdAt, $1.uid) }
    }

    public func allSchedules() -> [ScheduleRecord] {
        state.withLock { state in
            state.objects.values.compactMap { entry -> ScheduleRecord? in
                if case .schedule(let record) = entry.converted { return record }
                return nil
            }.sorted { ($0.createdAt, $0.uid) < ($1.createdAt, $1.uid) }
        }
    }

    /// The operator runs no Workflows or StatusChecks yet: none to show.
    public func allWorkflows() -> [WorkflowRecord] { [] }
    public func workflow(_ uid: String) -> WorkflowRecord? { nil }
    public func allStatusChecks() -> [StatusCheckRecord] { [] }
    public func statusCheck(_ uid: String) -> StatusCheckRecord? { nil }

    /// The Events about chaos objects (the operator's, Chaos Mesh's, anyone's), newest first.
    public func events(_ filter: EventFilter) -> [EventRecord] {
        let own = state.withLock { $0.ownEvents }
        let all = (eventCache.list().compactMap(ClusterRecords.event) + own).filter(filter.matches)
            .sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
        return Array(all.prefix(filter.limit ?? all.count))
    }

    public func currentDate() -> Date { Date() }

    /// Kept with the cluster's events; nothing on this server reports host
    /// events (it has no agent), but the API may be given them all the same.
    public func recordHostEvent(kind: String, uid: String, name: String, reason: String, message: String, warning: Bool) {
        let event = EventRecord(id: ClusterRecords.number(UUID().uuidString), objectID: uid, namespace: defaultNamespace, name: name,
                                kind: kind, type: warning ? .warning : .normal, reason: reason, message: message, createdAt: Date())
        state.withLock { state in
            state.ownEvents.append(event)
            if state.ownEvents.count > 1000 { state.ownEvents.removeFirst(state.ownEvents.count - 1000) }
        }
    }

    /// The emergency stop is the single-host server's: a cluster's
    /// experiments belong to its operator.
    public var halted: Bool { false }

    public func halt() throws -> Int { throw Self.noEmergencyStop }

    public func unhalt() throws { throw Self.noEmergencyStop }

    static let noEmergencyStop = ControllerError(
        .conflict, "the emergency stop is not available over a cluster, where the operator runs the experiments: "
            + "pause them (`tumult pause`, the experiment.chaos-mesh.org/pause annotation) or delete them")

    // MARK: Writing

    /// `kubectl apply` of every document: each object is created, or its
    /// spec, labels and annotations patched to the document's (`configured`),
    /// or left alone when they already match (`unchanged`). Every document
    /// is checked before anything is written.
    public func apply(all documents: [ChaosDocument]) async throws -> [(uid: String, result: Controller.ApplyResult)] {
        var planned: [(document: ChaosDocument, resource: ResourceType, namespace: String)] = []
        for (index, document) in documents.enumerated() {
            let label = documents.count > 1 ? "document \(index + 1) (\(document.kind.rawValue) \(document.name)): " : ""
            guard let resource = chaos.first(where: { $0.kind == document.kind })?.resource else {
                throw ControllerError(.unsupported, label + "\(document.kind.rawValue) has no custom resource in the cluster"
                                      + (documents.count > 1 ? "; nothing was applied" : ""))
            }
            guard !(document.metadata.name ?? "").isEmpty || !(document.metadata.generateName ?? "").isEmpty else {
                throw ControllerError(.invalidDocument, label + "metadata.name is required" + (documents.count > 1 ? "; nothing was applied" : ""))
            }
            let namespace = document.metadata.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? defaultNamespace
            planned.append((document, resource, namespace))
        }
        var results: [(uid: String, result: Controller.ApplyResult)] = []
        for (document, resource, namespace) in planned {
            results.append(try await apply(document, resource: resource, namespace: namespace))
        }
        return results
    }

    private func apply(_ document: ChaosDocument, resource: ResourceType, namespace: String) async throws
        -> (uid: String, result: Controller.ApplyResult) {
        var document = document
        document.apiVersion = document.kind.apiVersion
        document.metadata.namespace = namespace
        document.metadata.uid = nil
        let desired = try document.encoded()
        let name = document.metadata.name ?? ""
        var existing: UnstructuredObject?
        if !name.isEmpty {
            do {
                existing = try await client.get(resource, namespace: namespace, name: name)
            } catch let error as KubernetesError where error.isNotFound {
                existing = nil
            } catch {
                throw Self.failure(error, doing: "reading \(resource.plural)/\(name)")
            }
        }
        guard let existing else {
            do {
                let created: UnstructuredObject = try await client.create(resource, namespace: namespace, UnstructuredObject(desired))
                absorb(created, resource: resource)
                return (created.metadata.uid ?? "", .created)
            } catch {
                throw Self.failure(error, doing: "creating \(resource.plural)/\(name)")
            }
        }
        // Labels and annotations the document names are set; others stay
        // (the pause annotation the dashboard set, the API server's own).
        var metadataPatch: [(String, Value)] = []
        for (field, wanted, current) in [("labels", document.metadata.labels ?? [:], existing.metadata.labels),
                                         ("annotations", document.metadata.annotations ?? [:], existing.metadata.annotations) as (String, [String: String], [String: String])] {
            let changed = wanted.filter { current[$0.key] != $0.value }
            if !changed.isEmpty {
                metadataPatch.append((field, .object(Value.Object(changed.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))))
            }
        }
        var patch: [(String, Value)] = []
        if !metadataPatch.isEmpty { patch.append(("metadata", .object(Value.Object(metadataPatch)))) }
        if let spec = ClusterRecords.mergePatch(from: existing.spec, to: desired.objectValue?["spec"] ?? .object(Value.Object())) {
            patch.append(("spec", spec))
        }
        guard !patch.isEmpty else { return (existing.metadata.uid ?? "", .unchanged) }
        do {
            let patched: UnstructuredObject = try await client.patch(resource, namespace: namespace, name: name,
                                                                     .merge(.object(Value.Object(patch))))
            absorb(patched, resource: resource)
            return (patched.metadata.uid ?? "", .configured)
        } catch {
            throw Self.failure(error, doing: "patching \(resource.plural)/\(name)")
        }
    }

    /// Deletes every object or, when one of `uids` is unknown, none.
    public func delete(all uids: [String]) async throws {
        let unknown = state.withLock { state in uids.filter { state.objects[$0] == nil } }
        guard unknown.isEmpty else {
            throw ControllerError(.notFound, "no experiment or schedule with uid " + unknown.joined(separator: ", ") + "; nothing was deleted")
        }
        for uid in uids { try await delete(uid) }
    }

    /// Deletes the object: the operator recovers what it injected, then
    /// removes its finalizer, and the object leaves the cluster.
    public func delete(_ uid: String) async throws {
        let (resource, namespace, name) = try place(of: uid)
        do {
            try await client.delete(resource, namespace: namespace, name: name)
        } catch let error as KubernetesError where error.isNotFound {
            // Gone already: what was asked for.
        } catch {
            throw Self.failure(error, doing: "deleting \(resource.plural)/\(name)")
        }
    }

    /// Sets or removes Chaos Mesh's pause annotation, which the operator follows.
    public func setPaused(_ uid: String, _ paused: Bool) async throws {
        let (resource, namespace, name) = try place(of: uid)
        let annotation: Value = paused ? .string("true") : .null
        let patch = Value.object(Value.Object([("metadata", .object(Value.Object([
            ("annotations", .object(Value.Object([(TumultModel.ObjectMeta.pauseAnnotation, annotation)]))),
        ])))]))
        do {
            let patched: UnstructuredObject = try await client.patch(resource, namespace: namespace, name: name, .merge(patch))
            absorb(patched, resource: resource)
        } catch {
            throw Self.failure(error, doing: "\(paused ? "pausing" : "resuming") \(resource.plural)/\(name)")
        }
    }

    private func place(of uid: String) throws -> (ResourceType, String, String) {
        guard let entry = state.withLock({ $0.objects[uid] }) else {
            throw ControllerError(.notFound, "no experiment or schedule with uid \(uid)")
        }
        return (entry.resource, entry.namespace, entry.name)
    }

    /// The API server's refusal as the server's error: its reason picks the HTTP status.
    static func failure(_ error: any Error, doing: String) -> ControllerError {
        guard let error = error as? KubernetesError else {
            return ControllerError(.internalError, "\(doing): \(error)")
        }
        let code: ControllerError.Code = if error.isNotFound {
            .notFound
        } else if error.isConflict || error.isAlreadyExists {
            .conflict
        } else if error.isInvalid || error.statusCode == 400 {
            .invalidDocument
        } else {
            .internalError
        }
        return ControllerError(code, "\(doing): \(error.message)")
    }

    // MARK: Caches → records

    private func absorb(_ event: InformerEvent<UnstructuredObject>, resource: ResourceType) {
        switch event {
        case .added(let object), .updated(_, let object): absorb(object, resource: resource)
        case .deleted(let object): forget(object)
        case .synced: break
        }
    }

    /// Takes one version of an object: converted unless this version
    /// already was, and every live view told.
    func absorb(_ object: UnstructuredObject, resource: ResourceType) {
        guard let uid = object.metadata.uid, !uid.isEmpty else { return }
        let version = object.metadata.resourceVersion
        let known = state.withLock { state in version != nil && state.objects[uid]?.resourceVersion == version }
        if known { return }
        let converted = ClusterRecords.convert(object)
        if case .unreadable(let reason) = converted {
            logger.warning("chaos object not shown", metadata: ["object": "\(resource.plural)/\(object.metadata.name)", "reason": "\(reason)"])
        }
        let entry = Entry(resource: resource, namespace: object.metadata.namespace ?? defaultNamespace, name: object.metadata.name,
                          resourceVersion: version, converted: converted)
        state.withLock { state in
            state.objects[uid] = entry
            state.revision &+= 1
            if let update = Self.update(uid, entry.converted) {
                for subscriber in state.subscribers.values { subscriber.yield(update) }
            }
        }
    }

    private func forget(_ object: UnstructuredObject) {
        guard let uid = object.metadata.uid else { return }
        state.withLock { state in
            guard let entry = state.objects.removeValue(forKey: uid) else { return }
            state.revision &+= 1
            if case .unreadable = entry.converted { return }
            for subscriber in state.subscribers.values { subscriber.yield(Controller.Update(uid, kind: "", status: "archived")) }
        }
    }

    private static func update(_ uid: String, _ converted: ClusterRecords.Converted) -> Controller.Update? {
        switch converted {
        case .experiment(let record):
            Controller.Update(uid, kind: record.kind.rawValue, status: record.status(at: Date()).rawValue)
        case .schedule(let record):
            Controller.Update(uid, kind: ChaosKind.schedule.rawValue,
                              status: record.deletedAt != nil ? "deleting" : record.isPaused ? "paused" : "running")
        case .unreadable:
            nil
        }
    }
}

/// An informer of any object type, to run them side by side.
protocol InformerRunning: Sendable {
    func run() async throws
}

extension Informer: InformerRunning {}
