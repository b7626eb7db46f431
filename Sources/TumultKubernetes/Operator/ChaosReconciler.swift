import Foundation
import Logging
import Synchronization
import TumultController
import TumultModel

/// Brings the controller to the chaos objects of the API server and the
/// objects' status to the controller: each object applied as a document
/// (its uid kept, so a new leader owns what the last one injected), the
/// pause annotation followed, the finalizer held until every target is
/// recovered, and status written the way Chaos Mesh writes it.
final class ChaosReconciler: Sendable {
    let client: KubernetesClient
    let controller: Controller
    let index: ObjectIndex
    let logger: Logger
    let events: EventRecorder
    /// Objects whose finalizer patch is queued or under way (one each).
    private let finalizing = Mutex<Set<ObjectIndex.Key>>([])
    /// Objects waiting for the finalizer, added a few at a time by `addFinalizers()`.
    private let pendingFinalizers: AsyncStream<(UnstructuredObject, ResourceType)>
    private let finalizerQueue: AsyncStream<(UnstructuredObject, ResourceType)>.Continuation
    /// How long status changes gather before they are written.
    static let coalescing: Duration = .milliseconds(300)
    /// The status last written per controller uid, so that an unchanged one is not written again.
    private let written = Mutex<[String: Value]>([:])
    /// Experiments whose status is to be written, and whether a writer runs.
    private let dirty = Mutex<(uids: Set<String>, writing: Bool)>(([], false))
    /// Every cache of chaos objects, by resource, for reading an object's latest version.
    let caches: [ResourceType: [Informer<UnstructuredObject>]]

    init(client: KubernetesClient, controller: Controller, caches: [ResourceType: [Informer<UnstructuredObject>]],
         events: EventRecorder, logger: Logger) {
        self.client = client
        self.controller = controller
        self.caches = caches
        self.events = events
        self.logger = logger
        index = ObjectIndex()
        (pendingFinalizers, finalizerQueue) = AsyncStream.makeStream()
    }

    /// Adds the finalizer to the objects queued by `reconcile`, eight at a
    /// time: a cold start's thousand patches must not all wait at the rate
    /// limit at once, ahead of status writes and a leader's lease.
    func addFinalizers() async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await (object, resource) in pendingFinalizers {
                if running >= 8 {
                    await group.next()
                    running -= 1
                }
                group.addTask {
                    await self.addFinalizer(object, resource: resource)
                    let key = ObjectIndex.Key(resource: resource, namespace: object.metadata.namespace ?? "", name: object.metadata.name)
                    _ = self.finalizing.withLock { $0.remove(key) }
                }
                running += 1
            }
        }
    }

    // MARK: Objects → controller

    /// One object as it is now in the API server.
    /// With `adopting` (the first pass of a new leader), an experiment's
    /// targets are taken from the status the last leader wrote, so that
    /// its faults stay in place through the change of leader.
    func reconcile(_ given: UnstructuredObject, resource: ResourceType, adopting pods: [Pod]? = nil) async {
        // The latest version the cache holds: an event still queued may be
        // older than what a write of ours already changed (the finalizer).
        let object = latest(given, resource: resource)
        let key = ObjectIndex.Key(resource: resource, namespace: object.metadata.namespace ?? "", name: object.metadata.name)
        let metadata = object.metadata
        if metadata.deletionTimestamp != nil {
            // An event still queued for an object the cache no longer holds:
            // it is gone, nothing is left to finish.
            guard cached(key) != nil else { return }
            await finishDeletion(object, key: key)
            return
        }
        guard let objectUID = metadata.uid, !objectUID.isEmpty else { return }
        var containerRecords: [Value] = []
        if case .array(let items)? = object.status?.objectValue?["experiment"]?.objectValue?["containerRecords"] { containerRecords = items }
        let report = ChaosObjects.check(object.value)
        guard var document = report.document else {
            await warn(object, key: key, reason: "Invalid", note: ChaosObjects.problems(of: report))
            return
        }
        // The API server's uid: a new leader owns, by it, what the last one
        // injected. (A changed spec is a new run, under a uid of its own
        // while the old run still recovers: the controller decides.)
        document.metadata.uid = objectUID
        if !metadata.finalizers.contains(OperatorConfiguration.finalizer), finalizing.withLock({ $0.insert(key).inserted }) {
            // Not waited for: the experiment runs while the patch waits its
            // turn at the client's rate limit (a cold start has one per object).
            finalizerQueue.yield((object, resource))
        }
        do {
            let (uid, result) = try await controller.apply(document)
            index.set(.init(key: key, kind: document.kind.rawValue, objectUID: objectUID, controllerUID: uid))
            if result == .created, let pods, !containerRecords.isEmpty {
                let byID = Dictionary(pods.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                let chosen = containerRecords.compactMap { $0.objectValue?["id"]?.stringValue }.compactMap { byID[$0] }
                // All or nothing: a target gone from the cluster means a selection to make afresh.
                if chosen.count == containerRecords.count { await controller.adoptSelection(uid, targets: chosen) }
            }
            if result != .unchanged { markDirty(uid) }
        } catch {
            await warn(object, key: key, reason: "Refused", note: String(describing: error))
        }
    }

    /// The object is gone from the API server (its finalizer was removed,
    /// by us or by hand): whatever it still had running is recovered.
    func forget(_ object: UnstructuredObject, resource: ResourceType) async {
        let key = ObjectIndex.Key(resource: resource, namespace: object.metadata.namespace ?? "", name: object.metadata.name)
        guard let entry = index.entry(for: key) else { return }
        try? await controller.delete(entry.controllerUID)
    }

    /// A deleted object: recovered first, its finalizer removed once every
    /// target is (or at once with Chaos Mesh's forced-cleanup annotation,
    /// for a node that is gone and cannot be recovered).
    private func finishDeletion(_ object: UnstructuredObject, key: ObjectIndex.Key) async {
        let forced = object.metadata.annotations[OperatorConfiguration.cleanFinalizerAnnotation] == OperatorConfiguration.cleanFinalizerForced
        var live = false
        if let entry = index.entry(for: key) {
            if let record = await controller.experiment(entry.controllerUID), !record.isDeleted {
                try? await controller.delete(entry.controllerUID)
                live = true
            } else if await controller.experiment(entry.controllerUID) != nil {
                live = true
            } else if let schedule = await controller.schedule(entry.controllerUID), schedule.deletedAt == nil {
                try? await controller.delete(entry.controllerUID)
            }
        }
        if forced || !live {
            if forced && live {
                await warn(object, key: key, reason: "FinalizerForced",
                           note: "finalizer removed by \(OperatorConfiguration.cleanFinalizerAnnotation): forced; targets on unreachable nodes may keep their faults")
            }
            await removeFinalizer(key)
        }
    }

    /// The cached version of `object` when the cache holds a newer one.
    private func latest(_ object: UnstructuredObject, resource: ResourceType) -> UnstructuredObject {
        for informer in caches[resource] ?? [] {
            if let cached = informer.get(namespace: object.metadata.namespace, name: object.metadata.name),
               cached.metadata.uid == object.metadata.uid,
               (Int(cached.metadata.resourceVersion ?? "") ?? 0) > (Int(object.metadata.resourceVersion ?? "") ?? 0) {
                return cached
            }
        }
        return object
    }

    // MARK: Finalizer

    /// The JSON patch that adds Chaos Mesh's finalizer to `finalizers` as
    /// they are now: guarded by a `test` of that list, not by the
    /// resourceVersion, so that a status write in between does not make it
    /// fail (status and finalizers change independently).
    static func addingFinalizer(to finalizers: [String]) -> [JSONPatchOperation] {
        let ours = Value.string(OperatorConfiguration.finalizer)
        if finalizers.isEmpty { return [JSONPatchOperation(op: .add, path: "/metadata/finalizers", value: .array([ours]))] }
        return [JSONPatchOperation(op: .test, path: "/metadata/finalizers", value: .array(finalizers.map(Value.string))),
                JSONPatchOperation(op: .add, path: "/metadata/finalizers/-", value: ours)]
    }

    /// The JSON patch that removes Chaos Mesh's finalizer from `finalizers`
    /// as they are now (nil when it is not there), guarded the same way.
    static func removingFinalizer(from finalizers: [String]) -> [JSONPatchOperation]? {
        guard let position = finalizers.firstIndex(of: OperatorConfiguration.finalizer) else { return nil }
        return [JSONPatchOperation(op: .test, path: "/metadata/finalizers", value: .array(finalizers.map(Value.string))),
                JSONPatchOperation(op: .remove, path: "/metadata/finalizers/\(position)")]
    }

    private func addFinalizer(_ object: UnstructuredObject, resource: ResourceType) async {
        let key = ObjectIndex.Key(resource: resource, namespace: object.metadata.namespace ?? "", name: object.metadata.name)
        await patchFinalizers(key, from: latest(object, resource: resource)) { finalizers in
            finalizers.contains(OperatorConfiguration.finalizer) ? nil : Self.addingFinalizer(to: finalizers)
        }
    }

    /// Removes Chaos Mesh's finalizer from the object's latest version
    /// (none when the cache no longer holds it: it is gone).
    func removeFinalizer(_ key: ObjectIndex.Key) async {
        guard let cached = cached(key) else { return }
        await patchFinalizers(key, from: cached) { Self.removingFinalizer(from: $0) }
    }

    /// The cache's version of the object at `key`.
    private func cached(_ key: ObjectIndex.Key) -> UnstructuredObject? {
        caches[key.resource]?.lazy.compactMap { $0.get(namespace: key.namespace, name: key.name) }.first
    }

    /// Patches the finalizers of the object at `key` with what `change`
    /// makes of them (nothing when it returns nil): from the cached
    /// version first, and after a failed test (another writer changed the
    /// finalizers) from a fresh read.
    private func patchFinalizers(_ key: ObjectIndex.Key, from cached: UnstructuredObject?,
                                 _ change: ([String]) -> [JSONPatchOperation]?) async {
        var current = cached
        for _ in 0..<5 {
            if current == nil {
                do {
                    current = try await client.get(key.resource, namespace: key.namespace, name: key.name)
                } catch {
                    return  // gone already
                }
            }
            guard let object = current, let operations = change(object.metadata.finalizers) else { return }
            do {
                let _: UnstructuredObject = try await client.patch(key.resource, namespace: key.namespace, name: key.name, .json(operations))
                return
            } catch let error as KubernetesError where error.isNotFound {
                return
            } catch let error as KubernetesError where error.isInvalid || error.isConflict {
                current = nil  // the test failed: read again
            } catch {
                logger.warning("finalizers not changed", metadata: ["object": "\(key)", "error": "\(error)"])
                return
            }
        }
    }

    // MARK: Controller → status

    /// Follows the controller's changes: status to write, finalizers to drop.
    /// `updates` is the controller's stream, taken before anything is
    /// applied so that no change (the restore's above all) goes unwritten.
    func followController(_ updates: AsyncStream<Controller.Update>) async {
        for await update in updates {
            if update.status == "archived" {
                if let key = index.key(forUID: update.uid) {
                    index.forget(uid: update.uid)
                    written.withLock { _ = $0.removeValue(forKey: update.uid) }
                    if index.entry(for: key) == nil { await removeFinalizer(key) }
                }
                continue
            }
            markDirty(update.uid)
        }
    }

    /// Compares every experiment's status with what was last written, now
    /// and then: updates the controller's stream dropped are caught here.
    func sweep(every period: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: period)
            for record in await controller.allExperiments() where index.entry(forUID: record.uid) != nil {
                markDirty(record.uid)
            }
            // A deleted object still holding the finalizer whose experiment is
            // over: its "archived" update was dropped from a full stream.
            for (resource, informers) in caches {
                for informer in informers {
                    for object in informer.list() where object.metadata.deletionTimestamp != nil
                        && object.metadata.finalizers.contains(OperatorConfiguration.finalizer) {
                        await reconcile(object, resource: resource)
                    }
                }
            }
        }
    }

    private func markDirty(_ uid: String) {
        let start = dirty.withLock { state -> Bool in
            state.uids.insert(uid)
            guard !state.writing else { return false }
            state.writing = true
            return true
        }
        if start { Task { await self.writeStatuses() } }
    }

    /// Writes the status of every dirty experiment, some at once, until none is left.
    private func writeStatuses() async {
        while true {
            // Targets of one experiment are injected side by side: a moment's
            // wait lets their changes go out as one status write.
            try? await Task.sleep(for: Self.coalescing)
            let batch: Set<String> = dirty.withLock { state in
                defer { state.uids = [] }
                if state.uids.isEmpty { state.writing = false }
                return state.uids
            }
            if batch.isEmpty { return }
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                for uid in batch {
                    if running >= 16 { await group.next(); running -= 1 }
                    group.addTask { await self.writeStatus(uid) }
                    running += 1
                }
            }
        }
    }

    private func writeStatus(_ uid: String) async {
        guard let entry = index.entry(forUID: uid), entry.controllerUID == uid else { return }
        let now = await controller.currentDate()
        let status: Value
        if let record = await controller.experiment(uid) {
            status = StatusView.status(of: record, at: now)
        } else if let schedule = await controller.schedule(uid) {
            status = Self.status(of: schedule)
        } else {
            return
        }
        if written.withLock({ $0[uid] == status }) { return }
        let patch = Value.object(.init([("status", status)]))
        do {
            // As Chaos Mesh's CRDs have it: only Workflow and StatusCheck
            // have a status subresource; the others carry status in the object.
            let subresource = ChaosKind(rawValue: entry.kind).map(CustomResourceDefinitions.hasStatusSubresource) == true ? "status" : nil
            let _: UnstructuredObject = try await client.patch(entry.key.resource, namespace: entry.key.namespace,
                                                               name: entry.key.name, .merge(patch), subresource: subresource)
            written.withLock { $0[uid] = status }
            logger.debug("status written", metadata: ["object": "\(entry.key)"])
        } catch let error as KubernetesError where error.isNotFound {
            // Deleted meanwhile.
        } catch {
            logger.warning("status not written", metadata: ["object": "\(entry.key)", "error": "\(error)"])
            // Tried again at the next sweep.
        }
    }

    /// A Schedule's status as Chaos Mesh writes it: the runs it has going
    /// and when it last spawned one.
    static func status(of schedule: ScheduleRecord) -> Value {
        var kind = "Workflow"
        var apiVersion = ChaosDocument.apiVersion
        if case .chaos(let runKind)? = schedule.spec?.type {
            kind = runKind.rawValue
            apiVersion = runKind.apiVersion
        }
        var fields: [(String, Value)] = [("active", .array(schedule.runs.map { run in
            .object(.init([("apiVersion", .string(apiVersion)), ("kind", .string(kind)),
                           ("namespace", .string(schedule.namespace)), ("uid", .string(run))]))
        }))]
        if let last = schedule.lastScheduleTime { fields.append(("time", .string(StatusView.timestamp(last)))) }
        return .object(.init(fields))
    }

    // MARK: Events

    private func warn(_ object: UnstructuredObject, key: ObjectIndex.Key, reason: String, note: String) async {
        logger.warning("chaos object not run", metadata: ["object": "\(key)", "reason": "\(reason)", "note": "\(note)"])
        await events.record(regarding: ObjectReference(apiVersion: object.apiVersion, kind: object.kind,
                                                       namespace: key.namespace, name: key.name, uid: object.metadata.uid),
                            type: .warning, reason: reason, action: "Reconcile", note: note)
    }

    /// The controller's events, as Kubernetes events on their objects.
    func forward(_ stream: AsyncStream<EventRecord>) async {
        for await event in stream {
            guard let entry = index.entry(forUID: event.objectID) else { continue }
            await events.record(regarding: ObjectReference(apiVersion: entry.key.resource.apiVersion, kind: entry.kind,
                                                           namespace: entry.key.namespace, name: entry.key.name,
                                                           uid: entry.objectUID),
                                type: event.type == .warning ? .warning : .normal, reason: event.reason,
                                action: event.reason, note: event.message)
        }
    }
}

/// Hands the controller's events to the reconciler's forwarding task
/// (the observer is called inside the controller and must not wait).
final class EventRelay: ControllerObserver {
    let stream: AsyncStream<EventRecord>
    private let continuation: AsyncStream<EventRecord>.Continuation

    init() {
        (stream, continuation) = AsyncStream<EventRecord>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
    }

    func didEmit(_ event: EventRecord) { continuation.yield(event) }
    func didFinish(_ operation: ControllerOperation, kind: String, seconds: Double, succeeded: Bool) {}
    func finish() { continuation.finish() }
}
