import Logging
import Synchronization

/// What an informer tells its subscribers.
public enum InformerEvent<T: KubernetesObject>: Sendable {
    case added(T)
    case updated(old: T, new: T)
    case deleted(T)
    /// A complete list has been applied: the cache matches the server as of then.
    case synced
}

/// A cache of one kind of object kept current by list-then-watch, as
/// client-go's reflector does: list once, then watch from the list's
/// resource version; bookmarks and events advance it; a watch the server
/// ends is re-opened from there without listing; a 410 Gone lists again and
/// diffs the new list against the cache, so objects deleted while the watch
/// was broken are still reported as deleted. Errors back off exponentially
/// (capped at `maximumBackoff`) and retry.
public final class Informer<T: KubernetesObject>: Sendable {
    public let resource: ResourceType
    public let namespace: String?
    public let labelSelector: String?
    public let fieldSelector: String?
    /// Page size of each list; nil lists in one request.
    public let pageSize: Int?
    public static var maximumBackoff: Duration { .seconds(5) }

    private let client: KubernetesClient
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var cache: [String: T] = [:]
        var subscribers: [Int: AsyncStream<InformerEvent<T>>.Continuation] = [:]
        var nextSubscriber = 0
        var hasSynced = false
        var syncWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
        var listCount = 0
        var watchCount = 0
        var resourceVersion = ""
    }

    public init(
        client: KubernetesClient, resource: ResourceType, namespace: String?, labelSelector: String? = nil,
        fieldSelector: String? = nil, pageSize: Int? = 500, logger: Logger
    ) {
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.pageSize = pageSize
        var logger = logger
        logger[metadataKey: "kubernetes.resource"] = "\(resource)"
        self.logger = logger
    }

    // MARK: Reading

    /// The cached object `namespace/name` (namespace nil for cluster-scoped kinds).
    public func get(namespace: String?, name: String) -> T? {
        let key = ObjectMeta.key(namespace: namespace, name: name)
        return state.withLock { $0.cache[key] }
    }

    /// Every cached object, in key order.
    public func list() -> [T] {
        state.withLock { state in state.cache.sorted { $0.key < $1.key }.map(\.value) }
    }

    /// True once the first list has been applied.
    public var hasSynced: Bool { state.withLock { $0.hasSynced } }

    /// Logical lists made (a paged list counts once), for tests and benchmarks.
    public var listCount: Int { state.withLock { $0.listCount } }
    /// Watches opened.
    public var watchCount: Int { state.withLock { $0.watchCount } }
    /// The resource version the cache is current to.
    public var resourceVersion: String { state.withLock { $0.resourceVersion } }

    /// Returns once the first list has been applied, or when the task is cancelled.
    public func waitForSync() async {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.hasSynced || Task.isCancelled { return true }
                    state.syncWaiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.syncWaiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// A stream of every event from now on; several subscribers each get all.
    /// It ends when the subscriber stops iterating it.
    public func events() -> AsyncStream<InformerEvent<T>> {
        let (stream, continuation) = AsyncStream.makeStream(of: InformerEvent<T>.self)
        let id = state.withLock { state -> Int in
            state.nextSubscriber += 1
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    // MARK: Running

    /// Lists and watches until the task is cancelled; then returns.
    public func run() async throws {
        var resourceVersion: String?
        var backoff = Duration.milliseconds(200)
        defer {
            let subscribers = state.withLock { state in
                let subscribers = state.subscribers.values
                state.subscribers = [:]
                return subscribers
            }
            for subscriber in subscribers { subscriber.finish() }
        }
        while !Task.isCancelled {
            do {
                if resourceVersion == nil {
                    resourceVersion = try await relist()
                    backoff = .milliseconds(200)
                }
                let started = ContinuousClock.now
                let (received, reached) = try await watch(from: resourceVersion ?? "")
                resourceVersion = reached
                if received > 0 { backoff = .milliseconds(200) }
                // A watch the server closes at once, again and again, must not spin.
                if received == 0, started.duration(to: .now) < .seconds(1) {
                    try await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, Self.maximumBackoff)
                }
            } catch let error as KubernetesError where error.isGone {
                logger.info("Resource version expired, listing again", metadata: ["kubernetes.error": "\(error)"])
                resourceVersion = nil
            } catch {
                if Task.isCancelled || error is CancellationError { return }
                logger.warning(
                    "List or watch failed, retrying",
                    metadata: ["kubernetes.error": "\(error)", "retry.delay": "\(backoff)"])
                do {
                    try await Task.sleep(for: backoff)
                } catch {
                    return
                }
                backoff = min(backoff * 2, Self.maximumBackoff)
            }
        }
    }

    /// Lists, replaces the cache, and emits the difference from what it held.
    private func relist() async throws -> String {
        let list = try await client.list(
            resource, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector,
            limit: pageSize, as: T.self)
        var fresh: [String: T] = [:]
        for item in list.items { fresh[item.key] = item }
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.listCount += 1
            var events: [InformerEvent<T>] = []
            for (key, old) in state.cache.sorted(by: { $0.key < $1.key }) where fresh[key] == nil {
                events.append(.deleted(old))
            }
            for (key, new) in fresh.sorted(by: { $0.key < $1.key }) {
                if let old = state.cache[key] {
                    if old.metadata.resourceVersion != new.metadata.resourceVersion {
                        events.append(.updated(old: old, new: new))
                    }
                } else {
                    events.append(.added(new))
                }
            }
            state.cache = fresh
            state.resourceVersion = list.resourceVersion
            state.hasSynced = true
            events.append(.synced)
            for event in events { Self.emit(event, to: state) }
            let waiters = Array(state.syncWaiters.values)
            state.syncWaiters = [:]
            return waiters
        }
        for waiter in waiters { waiter.resume() }
        logger.debug("Listed", metadata: ["kubernetes.count": "\(list.items.count)"])
        return list.resourceVersion
    }

    /// One watch until the server ends it: how many events came and the
    /// resource version reached.
    private func watch(from resourceVersion: String) async throws -> (Int, String) {
        state.withLock { $0.watchCount += 1 }
        // client-go picks 5-10 minutes so that a fleet of watches does not expire at once.
        let timeout = Int.random(in: 300...600)
        var reached = resourceVersion
        var received = 0
        let stream = client.watch(
            resource, namespace: namespace, resourceVersion: resourceVersion, labelSelector: labelSelector,
            fieldSelector: fieldSelector, timeoutSeconds: timeout, as: T.self)
        for try await event in stream {
            received += 1
            if let version = event.resourceVersion, !version.isEmpty { reached = version }
            let position = reached
            state.withLock { state in
                switch event {
                case .added(let object), .modified(let object):
                    let key = object.key
                    if let old = state.cache[key] {
                        // A change the list already showed (a watch may repeat some): nothing new.
                        if old.metadata.resourceVersion == object.metadata.resourceVersion { break }
                        Self.emit(.updated(old: old, new: object), to: state)
                    } else {
                        Self.emit(.added(object), to: state)
                    }
                    state.cache[key] = object
                case .deleted(let object):
                    state.cache.removeValue(forKey: object.key)
                    Self.emit(.deleted(object), to: state)
                case .bookmark:
                    break
                }
                state.resourceVersion = position
            }
        }
        return (received, reached)
    }

    private static func emit(_ event: InformerEvent<T>, to state: State) {
        for subscriber in state.subscribers.values { subscriber.yield(event) }
    }
}
