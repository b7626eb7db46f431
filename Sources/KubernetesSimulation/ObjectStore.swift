import Foundation

/// The objects of one resource type, their recent history and their watchers.
final class ResourceTable {
    var type: ResourceType
    /// namespace ("" for cluster scoped) → name → object.
    var objects: [String: [String: StoredObject]] = [:]
    var count = 0
    /// Committed events, oldest first; `history[historyStart...]` is live.
    var history: [WatchEvent] = []
    var historyStart = 0
    /// A watch from a resourceVersion below this has lost events: 410 Gone.
    var oldestRevision = 0
    var watchers: [Int: Watcher] = [:]

    init(type: ResourceType) {
        self.type = type
    }

    func object(namespace: String, name: String) -> StoredObject? {
        objects[namespace]?[name]
    }
}

/// Every object the simulation holds, under one lock: one global
/// resourceVersion counter orders all writes, and watchers receive events
/// while the lock is held, so each stream sees changes in commit order and
/// a bookmark never overtakes an event. Work per write is the write itself
/// plus the watchers of that one resource.
final class ObjectStore: @unchecked Sendable {
    // Recursive: finishing a stream inside the lock runs its termination
    // handler, which unregisters the watcher, on the same thread.
    private let lock = NSRecursiveLock()
    private var currentRevision = 1

    /// The global resourceVersion: the last one assigned.
    var revision: Int {
        get { withLock { currentRevision } }
    }
    private var tables: [String: ResourceTable] = [:]
    /// "group/version/plural" → type, what requests are routed by.
    private var routes: [String: ResourceType] = [:]
    private var nextWatcherID = 0
    private let historyLimit: Int

    init(historyLimit: Int) {
        self.historyLimit = max(1, historyLimit)
        for type in ResourceType.builtIn { register(type) }
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let namespace: [String: Any] = [
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": ["name": name, "uid": UUID().uuidString.lowercased(),
                             "creationTimestamp": JSONValue.timestamp(),
                             "labels": ["kubernetes.io/metadata.name": name]],
                "spec": ["finalizers": ["kubernetes"]], "status": ["phase": "Active"],
            ]
            _ = try? create(.namespaces, json: namespace)
        }
    }

    private func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: Types

    private static func routeKey(_ group: String, _ version: String, _ plural: String) -> String {
        "\(group)/\(version)/\(plural)"
    }

    private func register(_ type: ResourceType) {
        if let table = tables[type.qualifiedName] {
            for version in table.type.versions {
                routes.removeValue(forKey: Self.routeKey(table.type.group, version, table.type.plural))
            }
            table.type = type
        } else {
            tables[type.qualifiedName] = ResourceTable(type: type)
        }
        for version in type.versions { routes[Self.routeKey(type.group, version, type.plural)] = type }
    }

    private func unregister(qualifiedName: String) {
        guard let table = tables.removeValue(forKey: qualifiedName) else { return }
        for version in table.type.versions {
            routes.removeValue(forKey: Self.routeKey(table.type.group, version, table.type.plural))
        }
        for watcher in table.watchers.values { watcher.continuation.finish() }
    }

    func type(group: String, version: String, plural: String) -> ResourceType? {
        withLock { routes[Self.routeKey(group, version, plural)] }
    }

    /// The type with this plural (any group, core first), for the test hooks that name a resource by plural.
    func type(plural: String) -> ResourceType? {
        withLock {
            tables.values.map(\.type).filter { $0.plural == plural || $0.qualifiedName == plural }
                .min { ($0.group.isEmpty ? 0 : 1) < ($1.group.isEmpty ? 0 : 1) }
        }
    }

    func type(apiVersion: String, kind: String) -> ResourceType? {
        let parts = apiVersion.split(separator: "/", maxSplits: 1).map(String.init)
        let (group, version) = parts.count == 2 ? (parts[0], parts[1]) : ("", apiVersion)
        return withLock {
            tables.values.map(\.type).first { $0.group == group && $0.kind == kind && $0.versions.contains(version) }
        }
    }

    /// Every served type, for discovery.
    func allTypes() -> [ResourceType] {
        withLock { Array(Set(routes.values)) }
    }

    // MARK: Reads

    func get(_ type: ResourceType, namespace: String, name: String) -> StoredObject? {
        withLock { tables[type.qualifiedName]?.object(namespace: namespace, name: name) }
    }

    func namespaceExists(_ name: String) -> Bool {
        get(.namespaces, namespace: "", name: name) != nil
    }

    /// One page of a list, in key order (namespace, then name) like etcd.
    /// The continue token is the last key returned; a next page lists what
    /// sorts after it in the current state (the apiserver would serve the
    /// page from the first page's snapshot).
    func list(_ type: ResourceType, namespace: String?, labels: LabelSelector, fields: FieldSelector,
              limit: Int?, after continueKey: (String, String)?)
    -> (items: [StoredObject], revision: Int, continueKey: (String, String)?, remaining: Int) {
        withLock {
            guard let table = tables[type.qualifiedName] else { return ([], currentRevision, nil, 0) }
            var candidates: [StoredObject] = []
            let namespaces = namespace.map { [$0] } ?? Array(table.objects.keys)
            for namespaceKey in namespaces {
                guard let byName = table.objects[namespaceKey] else { continue }
                if let name = fields.pinnedName {
                    if let object = byName[name] { candidates.append(object) }
                    continue
                }
                candidates.append(contentsOf: byName.values)
            }
            var matching = candidates.filter { object in
                (labels.isEmpty || labels.matches(object.labels)) && (fields.isEmpty || fields.matches(object.json))
            }
            matching.sort { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
            if let continueKey {
                let start = matching.firstIndex { ($0.namespace, $0.name) > continueKey } ?? matching.count
                matching.removeFirst(start)
            }
            guard let limit, limit > 0, matching.count > limit else { return (matching, currentRevision, nil, 0) }
            let page = Array(matching.prefix(limit))
            let last = page[page.count - 1]
            return (page, currentRevision, (last.namespace, last.name), matching.count - limit)
        }
    }

    /// A snapshot of every object of a type (webhook configurations, test assertions).
    func all(_ type: ResourceType) -> [StoredObject] {
        withLock {
            guard let table = tables[type.qualifiedName] else { return [] }
            return table.objects.values.flatMap(\.values)
                .sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        }
    }

    // MARK: Writes

    /// Stores a new object; 409 AlreadyExists when the name is taken.
    func create(_ type: ResourceType, json: [String: Any]) throws -> StoredObject {
        try withLock {
            guard let table = tables[type.qualifiedName] else { throw APIError.resourceNotFound }
            let metadata = json.metadata
            let name = metadata["name"] as? String ?? ""
            let namespace = metadata["namespace"] as? String ?? ""
            if table.object(namespace: namespace, name: name) != nil { throw APIError.alreadyExists(type, name: name) }
            if type.namespaced, table.type.namespaced, !namespaceExists(namespace) {
                throw APIError.namespaceNotFound(namespace)
            }
            let object = commit(table, json: json)
            record(table, WatchEvent(type: "ADDED", object: object, previous: nil))
            return object
        }
    }

    /// Replaces the object if it is still at `expectedRevision` (409
    /// Conflict otherwise). A write identical to the stored object changes
    /// nothing and sends no event, as the apiserver skips no-op updates.
    /// An object being deleted goes away once its last finalizer is removed.
    func replace(_ type: ResourceType, json: [String: Any], expectedRevision: Int) throws -> StoredObject {
        try withLock {
            guard let table = tables[type.qualifiedName] else { throw APIError.resourceNotFound }
            let metadata = json.metadata
            let name = metadata["name"] as? String ?? ""
            let namespace = metadata["namespace"] as? String ?? ""
            guard let current = table.object(namespace: namespace, name: name) else {
                throw APIError.notFound(type, name: name)
            }
            guard current.resourceVersion == expectedRevision else { throw APIError.conflict(type, name: name) }
            var unchanged = json
            unchanged["metadata"] = metadata.merging(["resourceVersion": String(current.resourceVersion)]) { $1 }
            if JSONValue.data(unchanged) == current.data { return current }
            let object = commit(table, json: json)
            record(table, WatchEvent(type: "MODIFIED", object: object, previous: current))
            if object.isDeleting, object.finalizers.isEmpty { return remove(table, object) }
            return object
        }
    }

    /// Deletes an object: with finalizers it only gains a deletionTimestamp
    /// (and stays until they are gone), without it is removed. Deleting a
    /// namespace deletes what is in it the same way.
    func delete(_ type: ResourceType, namespace: String, name: String,
                precondition: (uid: String?, resourceVersion: String?) = (nil, nil)) throws -> StoredObject {
        try withLock {
            guard let table = tables[type.qualifiedName] else { throw APIError.resourceNotFound }
            guard let current = table.object(namespace: namespace, name: name) else {
                throw APIError.notFound(type, name: name)
            }
            if let uid = precondition.uid, uid != current.json.metadata["uid"] as? String {
                throw APIError(code: 409, reason: "Conflict",
                               message: "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current.json.metadata["uid"] as? String ?? "")")
            }
            if let version = precondition.resourceVersion, version != String(current.resourceVersion) {
                throw APIError.conflict(type, name: name)
            }
            if type.qualifiedName == ResourceType.namespaces.qualifiedName {
                for other in tables.values where other.type.namespaced {
                    for object in other.objects[name]?.values.map({ $0 }) ?? [] {
                        _ = deleteLocked(other, object)
                    }
                }
            }
            return deleteLocked(table, current)
        }
    }

    /// Removes an object whatever its finalizers (the `deleteNow` test hook).
    func removeNow(_ type: ResourceType, namespace: String, name: String) -> Bool {
        withLock {
            guard let table = tables[type.qualifiedName],
                  let current = table.object(namespace: namespace, name: name) else { return false }
            _ = remove(table, current)
            return true
        }
    }

    private func deleteLocked(_ table: ResourceTable, _ current: StoredObject) -> StoredObject {
        if current.finalizers.isEmpty { return remove(table, current) }
        if current.isDeleting { return current }
        var json = current.json
        var metadata = json.metadata
        metadata["deletionTimestamp"] = JSONValue.timestamp()
        metadata["deletionGracePeriodSeconds"] = 0
        json["metadata"] = metadata
        let object = commit(table, json: json)
        record(table, WatchEvent(type: "MODIFIED", object: object, previous: current))
        return object
    }

    /// Removes an object; the DELETED event carries the removal's resourceVersion.
    private func remove(_ table: ResourceTable, _ current: StoredObject) -> StoredObject {
        table.objects[current.namespace]?.removeValue(forKey: current.name)
        if table.objects[current.namespace]?.isEmpty == true { table.objects.removeValue(forKey: current.namespace) }
        table.count -= 1
        currentRevision += 1
        var json = current.json
        json["metadata"] = json.metadata.merging(["resourceVersion": String(currentRevision)]) { $1 }
        let removed = StoredObject(json: json)
        record(table, WatchEvent(type: "DELETED", object: removed, previous: nil))
        if table.type.qualifiedName == ResourceType.customResourceDefinitions.qualifiedName,
           let defined = ResourceType(customResourceDefinition: current.json) {
            unregister(qualifiedName: defined.qualifiedName)
        }
        return removed
    }

    /// Assigns the next resourceVersion and stores the object (lock held).
    private func commit(_ table: ResourceTable, json: [String: Any]) -> StoredObject {
        currentRevision += 1
        var json = json
        json["metadata"] = json.metadata.merging(["resourceVersion": String(currentRevision)]) { $1 }
        let object = StoredObject(json: json)
        if table.objects[object.namespace]?[object.name] == nil { table.count += 1 }
        table.objects[object.namespace, default: [:]][object.name] = object
        if table.type.qualifiedName == ResourceType.customResourceDefinitions.qualifiedName,
           let defined = ResourceType(customResourceDefinition: json) {
            register(defined)
        }
        return object
    }

    /// Appends to the history (dropping the oldest past the limit) and fans
    /// the event out to this resource's watchers.
    private func record(_ table: ResourceTable, _ event: WatchEvent) {
        table.history.append(event)
        if table.history.count - table.historyStart > historyLimit {
            table.oldestRevision = table.history[table.historyStart].revision
            table.historyStart += 1
            if table.historyStart >= historyLimit {
                table.history.removeFirst(table.historyStart)
                table.historyStart = 0
            }
        }
        for watcher in table.watchers.values { watcher.deliver(event) }
    }

    // MARK: Watches

    /// Opens a watch. From nil (or 0) it first sends the current objects as
    /// ADDED; from N it replays every kept event after N, or fails with 410
    /// Gone when events after N were dropped.
    func watch(_ type: ResourceType, apiVersion: String, namespace: String?, labels: LabelSelector,
               fields: FieldSelector, from resourceVersion: Int?) throws -> (stream: AsyncStream<Data>, id: Int) {
        try withLock {
            guard let table = tables[type.qualifiedName] else { throw APIError.resourceNotFound }
            if let resourceVersion, resourceVersion > 0, resourceVersion < table.oldestRevision {
                throw APIError.gone(requested: resourceVersion, oldest: table.oldestRevision)
            }
            nextWatcherID += 1
            let id = nextWatcherID
            let qualifiedName = type.qualifiedName
            let (stream, continuation) = AsyncStream<Data>.makeStream()
            let watcher = Watcher(id: id, namespace: namespace, labels: labels, fields: fields,
                                  apiVersion: apiVersion, kind: type.kind, continuation: continuation)
            continuation.onTermination = { [weak self] _ in self?.removeWatcher(qualifiedName, id: id) }
            if let resourceVersion, resourceVersion > 0 {
                let live = table.history[table.historyStart...]
                var low = live.startIndex
                var high = live.endIndex
                while low < high {
                    let middle = (low + high) / 2
                    if live[middle].revision <= resourceVersion { low = middle + 1 } else { high = middle }
                }
                for event in live[low...] { watcher.deliver(event) }
            } else {
                let namespaces = namespace.map { [$0] } ?? Array(table.objects.keys)
                let current = namespaces.flatMap { table.objects[$0]?.values.map { $0 } ?? [] }
                    .sorted { $0.resourceVersion < $1.resourceVersion }
                for object in current where watcher.matches(object) {
                    watcher.send(type: "ADDED", objectData: object.data(as: apiVersion))
                }
            }
            table.watchers[id] = watcher
            return (stream, id)
        }
    }

    func removeWatcher(_ qualifiedName: String, id: Int) {
        withLock { _ = tables[qualifiedName]?.watchers.removeValue(forKey: id) }
    }

    /// Sends a bookmark at the current resourceVersion: every event up to it
    /// was already queued on this stream, under the same lock.
    func bookmark(_ qualifiedName: String, id: Int) {
        withLock { tables[qualifiedName]?.watchers[id]?.bookmark(revision: currentRevision) }
    }

    func endWatch(_ qualifiedName: String, id: Int) {
        withLock { tables[qualifiedName]?.watchers[id]?.continuation.finish() }
    }

    /// Drops all history: every earlier resourceVersion is too old, and
    /// every open watch ends with an ERROR 410 event.
    func compactHistory() {
        withLock {
            for table in tables.values {
                table.history = []
                table.historyStart = 0
                table.oldestRevision = currentRevision
                for watcher in table.watchers.values {
                    watcher.fail(.gone(requested: currentRevision - 1, oldest: currentRevision))
                }
            }
        }
    }

    func breakWatches() {
        withLock {
            for table in tables.values {
                for watcher in table.watchers.values { watcher.continuation.finish() }
            }
        }
    }

    var watcherCount: Int {
        withLock { tables.values.reduce(0) { $0 + $1.watchers.count } }
    }
}
