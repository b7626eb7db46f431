import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore

/// An in-process Kubernetes API server speaking the real wire protocol
/// (HTTP/1.1 + JSON) for what Tumult and kubectl use: discovery, CRUD,
/// patches, watches with bookmarks and 410 Gone, finalizers, the status
/// subresource, CRDs and validating admission webhooks. No API server can
/// be installed where Tumult is tested, so tests and benchmarks run
/// against this; it is never linked into `tumult`.
///
/// ```swift
/// let server = APIServerSimulation()
/// try await server.start()
/// defer { Task { await server.stop() } }
/// // point a kubeconfig or a client at server.url
/// ```
///
/// The test hooks (`put`, `object`, `compactHistory`, `breakWatches`,
/// `requestCounts`, ...) work on the same store the HTTP side serves, and a
/// write through them notifies watches like a write over HTTP.
public final class APIServerSimulation: Sendable {
    /// Tunables; the defaults suit tests.
    public struct Configuration: Sendable {
        /// How often a watch with `allowWatchBookmarks=true` gets a BOOKMARK.
        public var bookmarkInterval: Duration
        /// Events kept per resource for watches resuming from a
        /// resourceVersion; older ones are answered with 410 Gone.
        public var historyLimit: Int
        /// How long a watch without `timeoutSeconds` stays open.
        public var watchTimeout: Duration
        /// Delay added to every request, to model a remote API server.
        public var requestLatency: Duration
        /// Where the server and webhook failures log; nothing is logged without one.
        public var logger: Logger?

        public init(bookmarkInterval: Duration = .seconds(1), historyLimit: Int = 10_000,
                    watchTimeout: Duration = .seconds(1800), requestLatency: Duration = .zero,
                    logger: Logger? = nil) {
            self.bookmarkInterval = bookmarkInterval
            self.historyLimit = historyLimit
            self.watchTimeout = watchTimeout
            self.requestLatency = requestLatency
            self.logger = logger
        }
    }

    /// Why the server could not start.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    public let configuration: Configuration
    let store: ObjectStore
    let handler: RequestHandler
    private let state = RunState()
    private let webhookClient: HTTPClient

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        store = ObjectStore(historyLimit: configuration.historyLimit)
        webhookClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let logger = configuration.logger ?? Logger(label: "KubernetesSimulation", factory: { _ in SwiftLogNoOpLogHandler() })
        handler = RequestHandler(store: store, configuration: configuration,
                                 admission: AdmissionController(store: store, client: webhookClient, logger: logger))
    }

    /// Binds 127.0.0.1 on a free port (plain HTTP) and serves until `stop()`.
    public func start() async throws {
        let logger = configuration.logger ?? Logger(label: "KubernetesSimulation", factory: { _ in SwiftLogNoOpLogHandler() })
        let handler = self.handler
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            await handler.respond(to: request)
        }
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let application = Application(
            responder: responder, server: .http1(),
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "kubernetes-simulation"),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
            },
            logger: logger)
        let task = Task {
            do {
                try await application.runService(gracefulShutdownSignals: [])
            } catch {
                logger.error("simulated API server stopped", metadata: ["error.message": "\(error)"])
            }
            portContinuation.finish()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            throw StartError(description: "the simulated API server could not bind 127.0.0.1")
        }
        state.set(task: task, port: port)
    }

    /// The port bound by `start()` (0 before).
    public var port: Int { state.port }

    /// `http://127.0.0.1:PORT`, the server to put in a kubeconfig.
    public var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// Ends every watch and stops serving.
    public func stop() async {
        store.breakWatches()
        guard let task = state.takeTask() else { return }
        task.cancel()
        await task.value
        try? await webhookClient.shutdown()
    }

    // MARK: Test hooks

    /// Makes every resourceVersion before now too old: a new watch from one
    /// gets HTTP 410 Gone, and every open watch gets an ERROR event with a
    /// 410 Status and ends, as when a watcher falls too far behind the
    /// apiserver's watch cache.
    public func compactHistory() {
        store.compactHistory()
    }

    /// Closes every open watch stream (clients see a clean end of stream).
    public func breakWatches() {
        store.breakWatches()
    }

    /// Requests served so far, keyed "VERB RESOURCE": "list pods",
    /// "watch networkchaos", "patch networkchaos/status", "get leases".
    /// Verbs are get, list, watch, create, update, patch, delete.
    public func requestCounts() -> [String: Int] {
        handler.counter.snapshot
    }

    public func resetCounts() {
        handler.counter.reset()
    }

    /// The number of open watches, to check that clients close theirs.
    public var openWatches: Int { store.watcherCount }

    /// Stores an object without HTTP, for seeding: its type comes from
    /// `apiVersion` and `kind`. A new object gets uid, creationTimestamp and
    /// generation 1; an existing one is replaced whatever its
    /// resourceVersion (status included). Either way the resourceVersion
    /// advances and watches are notified. Returns the stored object.
    @discardableResult
    public func put(json: [String: Any]) throws -> [String: Any] {
        guard let apiVersion = json["apiVersion"] as? String, let kind = json["kind"] as? String,
              let type = store.type(apiVersion: apiVersion, kind: kind)
        else { throw APIError.badRequest("no resource serves apiVersion/kind of \(json["apiVersion"] ?? "?")/\(json["kind"] ?? "?")") }
        var object = json
        var metadata = object.metadata
        guard let name = metadata["name"] as? String, !name.isEmpty else {
            throw APIError.invalid(type, name: "", "metadata.name: Required value")
        }
        let namespace = type.namespaced ? (metadata["namespace"] as? String ?? "default") : ""
        if type.namespaced { metadata["namespace"] = namespace } else { metadata.removeValue(forKey: "namespace") }
        if let current = store.get(type, namespace: namespace, name: name) {
            for key in ["uid", "creationTimestamp", "generation"] where metadata[key] == nil {
                metadata[key] = current.json.metadata[key]
            }
            object["metadata"] = metadata
            return try store.replace(type, json: object, expectedRevision: current.resourceVersion).json
        }
        if metadata["uid"] == nil { metadata["uid"] = UUID().uuidString.lowercased() }
        if metadata["creationTimestamp"] == nil { metadata["creationTimestamp"] = JSONValue.timestamp() }
        if metadata["generation"] == nil { metadata["generation"] = 1 }
        object["metadata"] = metadata
        return try store.create(type, json: object).json
    }

    /// One object by resource plural (`"pods"`, `"networkchaos"`, or
    /// `"networkchaos.chaos-mesh.org"` when a plural is ambiguous), nil when absent.
    public func object(resource plural: String, namespace: String?, name: String) -> [String: Any]? {
        guard let type = store.type(plural: plural) else { return nil }
        return store.get(type, namespace: type.namespaced ? (namespace ?? "default") : "", name: name)?.json
    }

    /// Every object of a resource, in namespace/name order.
    public func objects(resource plural: String) -> [[String: Any]] {
        guard let type = store.type(plural: plural) else { return [] }
        return store.all(type).map(\.json)
    }

    /// Removes an object at once, finalizers or not (a DELETED event is sent).
    /// Returns whether it existed.
    @discardableResult
    public func deleteNow(resource plural: String, namespace: String?, name: String) -> Bool {
        guard let type = store.type(plural: plural) else { return false }
        return store.removeNow(type, namespace: type.namespaced ? (namespace ?? "default") : "", name: name)
    }

    /// The current (global) resourceVersion.
    public var resourceVersion: Int { store.revision }
}

/// The server task and bound port, set by `start()` and read from anywhere.
private final class RunState: @unchecked Sendable {
    private let lock = NSLock()
    private var task: Task<Void, Never>?
    private var boundPort = 0

    func set(task: Task<Void, Never>, port: Int) {
        lock.lock()
        self.task = task
        boundPort = port
        lock.unlock()
    }

    var port: Int {
        lock.lock()
        defer { lock.unlock() }
        return boundPort
    }

    func takeTask() -> Task<Void, Never>? {
        lock.lock()
        defer { lock.unlock() }
        let task = self.task
        self.task = nil
        return task
    }
}
