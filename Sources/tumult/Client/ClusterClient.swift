import ArgumentParser
import Foundation
import Logging
import TumultController
import TumultKubernetes
import TumultModel
import TumultServer

/// `--kubeconfig` and `--context` of the commands that otherwise talk to
/// `tumult server`: with them they read and write the cluster's chaos
/// objects directly, as kubectl does.
struct ClusterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Talk to this Kubernetes cluster's chaos objects directly instead of `tumult server`.",
                               valueName: "file"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("The kubeconfig context (default its current-context); only with --kubeconfig.", valueName: "name"))
    var context: String?

    func validate() throws {
        if context != nil && kubeconfig == nil { throw ValidationError("--context goes with --kubeconfig.") }
    }

    /// The cluster's client when --kubeconfig was given; nil: `tumult server`.
    /// `watching`: its caches list and watch (what reading needs; applying does not).
    func connect(watching: Bool = true) async throws -> ClusterClient? {
        guard let kubeconfig else { return nil }
        let configuration: KubernetesConfiguration
        do {
            configuration = try KubernetesConfiguration.kubeconfig(path: kubeconfig, context: context)
        } catch {
            throw RunFailure(status: 2, "--kubeconfig \(kubeconfig): \(error)")
        }
        return await ClusterClient.connect(configuration, watching: watching)
    }

    /// Runs `body` over the cluster's objects (their first lists read) when
    /// --kubeconfig was given, else over `tumult server`'s API.
    func withSource<T>(server: ServerOptions, _ body: (any ObjectSource) async throws -> T) async throws -> T {
        guard let cluster = try await connect() else { return try await body(try server.client()) }
        do {
            try await cluster.synced()
            let result = try await body(cluster)
            await cluster.close()
            return result
        } catch {
            await cluster.close()
            throw error
        }
    }

    /// --kubeconfig and --server name two different places to talk to.
    func check(against server: ServerOptions) throws {
        if kubeconfig != nil && (server.server != nil || server.token != nil) {
            throw ValidationError("--kubeconfig talks to the cluster directly: it does not go with --server or --token.")
        }
    }
}

/// What the listing and describing commands read: `tumult server`'s API,
/// or a cluster's objects. Both answer with the API's JSON, so that one
/// printing serves both.
protocol ObjectSource: Sendable {
    func list(_ collection: ObjectCollection, namespace: String?, name: String?, kind: String?) async throws -> [Received<ExperimentItem>]
    func detail(_ collection: ObjectCollection, uid: String) async throws -> Received<ExperimentDetail>
    func delete(_ collection: ObjectCollection, uid: String) async throws
    func events(namespace: String?, name: String?, objectID: String?, limit: Int?) async throws -> [Received<Event>]
    func archives(namespace: String?, name: String?) async throws -> [Received<ArchiveItem>]
    func pods() async throws -> [Received<Pod>]
    func machines() async throws -> [Received<MachineItem>]
    func workflows(namespace: String?, status: String?) async throws -> [Received<WorkflowItem>]
    func workflow(uid: String) async throws -> Received<WorkflowDetail>
    func statusChecks(namespace: String?) async throws -> [Received<StatusCheckItem>]
    func statusCheck(uid: String) async throws -> Received<StatusCheckDetail>
}

extension APIClient: ObjectSource {}

extension ObjectSource {
    /// Finds the object a `KIND/NAME` names, by listing. A workflow or a
    /// status check comes back as an item of its kind with its uid, name and
    /// status, which is what the commands acting on it need.
    func find(_ reference: ObjectReference, namespace: String) async throws -> Received<ExperimentItem> {
        let notFound = ClientError.notFound("\(reference.kindName) \"\(reference.name)\" not found in namespace \"\(namespace)\"")
        switch reference.kind {
        case .workflow:
            guard let match = try await workflows(namespace: namespace, status: nil)
                .first(where: { $0.item.name == reference.name && $0.item.namespace == namespace }) else { throw notFound }
            let item = ExperimentItem(uid: match.item.uid, kind: ChaosKind.workflow.rawValue, namespace: match.item.namespace,
                                      name: match.item.name, createdAt: match.item.createdAt, status: match.item.status)
            return Received(item: item, json: match.json)
        case .statusCheck:
            guard let match = try await statusChecks(namespace: namespace)
                .first(where: { $0.item.name == reference.name && $0.item.namespace == namespace }) else { throw notFound }
            let item = ExperimentItem(uid: match.item.uid, kind: ChaosKind.statusCheck.rawValue, namespace: match.item.namespace,
                                      name: match.item.name, createdAt: match.item.createdAt, status: match.item.status)
            return Received(item: item, json: match.json)
        case .experiment, .schedule:
            let kind: String? = if case .experiment(let chaosKind) = reference.kind { chaosKind.rawValue } else { nil }
            let matches = try await list(reference.collection, namespace: namespace, name: reference.name, kind: kind)
                .filter { received in
                    received.item.name == reference.name && received.item.namespace == namespace
                        && (kind.map { received.item.kind.caseInsensitiveCompare($0) == .orderedSame } ?? true)
                }
            guard let match = matches.first else { throw notFound }
            return match
        }
    }
}

/// A cluster's chaos objects read from the API server (one list of each
/// kind, then the caches) and written as kubectl writes them; the answers
/// are the JSON `tumult server --kubeconfig` would give.
struct ClusterClient: ObjectSource {
    let kubernetes: KubernetesClient
    let experiments: ClusterExperiments
    /// The kubeconfig context's namespace: where documents without one go.
    var namespace: String { kubernetes.configuration.namespace }

    static func connect(_ configuration: KubernetesConfiguration, watching: Bool) async -> ClusterClient {
        var logger = Logger(label: "tumult.cluster")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        let kubernetes = KubernetesClient(configuration: configuration, logger: logger)
        let experiments = ClusterExperiments(client: kubernetes, defaultNamespace: configuration.namespace, logger: logger)
        if watching { await experiments.start() }
        return ClusterClient(kubernetes: kubernetes, experiments: experiments)
    }

    /// Waits for the first lists, at most `seconds`: an API server that does
    /// not answer is reported, not waited on for ever.
    func synced(within seconds: Double = 30) async throws {
        let synced = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await experiments.waitForSync(); return !Task.isCancelled }
            group.addTask { try? await Task.sleep(for: .seconds(seconds)); return false }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        guard synced else {
            throw ClientError(type: "Unreachable", message: "cannot list the chaos objects of \(kubernetes.configuration.server.absoluteString) "
                              + "within \(Int(seconds)) s (are the CRDs installed, and may this user list them?)")
        }
    }

    func close() async {
        await experiments.shutdown(recover: false)
        try? await kubernetes.shutdown()
    }

    // MARK: Reading

    func list(_ collection: ObjectCollection, namespace: String?, name: String?, kind: String?) async throws -> [Received<ExperimentItem>] {
        let now = Date()
        var items: [Data] = []
        switch collection {
        case .experiments:
            items = experiments.allExperiments().filter { record in
                (namespace == nil || record.namespace == namespace) && (name == nil || record.name == name)
                    && (kind == nil || record.kind.rawValue.caseInsensitiveCompare(kind!) == .orderedSame)
            }.map { APIViews.experiment($0, at: now) }
        case .schedules:
            items = experiments.allSchedules().filter { record in
                (namespace == nil || record.namespace == namespace) && (name == nil || record.name == name)
            }.map(APIViews.schedule)
        case .archives, .workflows, .statuschecks:
            items = []
        }
        return try items.map { data in
            let json = try APIClient.parseJSON(data)
            return Received(item: try APIClient.decode(ExperimentItem.self, from: json, what: collection.rawValue), json: json)
        }
    }

    func detail(_ collection: ObjectCollection, uid: String) async throws -> Received<ExperimentDetail> {
        let data: Data
        if let record = experiments.experiment(uid) {
            data = APIViews.experimentDetail(record, at: Date())
        } else if let record = experiments.schedule(uid) {
            data = APIViews.scheduleDetail(record)
        } else {
            throw ClientError.notFound("no \(collection.singular) with uid \(uid)")
        }
        let json = try APIClient.parseJSON(data)
        return Received(item: try APIClient.decode(ExperimentDetail.self, from: json, what: "\(collection.singular) \(uid)"), json: json)
    }

    func events(namespace: String?, name: String?, objectID: String?, limit: Int?) async throws -> [Received<Event>] {
        let found = experiments.events(EventFilter(namespace: namespace, name: name, objectID: objectID, limit: limit ?? 100))
        return try APIClient.items(Event.self, in: try APIClient.parseJSON(APIViews.events(found)), what: "events")
    }

    /// Archives are `tumult server`'s on one host: a deleted object leaves the cluster.
    func archives(namespace: String?, name: String?) async throws -> [Received<ArchiveItem>] { [] }

    func pods() async throws -> [Received<Pod>] {
        let pods = await experiments.fleet.pods().pods
        return try APIClient.items(Pod.self, in: try APIClient.parseJSON(APIViews.pods(pods)), what: "pods")
    }

    func machines() async throws -> [Received<MachineItem>] {
        throw ClientError(type: "Unsupported", message: "machines are the operator's in a cluster: `kubectl get nodes` lists them")
    }

    /// Workflows and status checks are read through `tumult server` only.
    static let workflowsUnsupported = ClientError(
        type: "Unsupported",
        message: "--kubeconfig reads experiments and schedules only: read workflows and status checks through `tumult server` "
            + "(or with `kubectl get workflows.chaos-mesh.org`)")

    func workflows(namespace: String?, status: String?) async throws -> [Received<WorkflowItem>] {
        throw Self.workflowsUnsupported
    }

    func workflow(uid: String) async throws -> Received<WorkflowDetail> {
        throw Self.workflowsUnsupported
    }

    func statusChecks(namespace: String?) async throws -> [Received<StatusCheckItem>] {
        throw Self.workflowsUnsupported
    }

    func statusCheck(uid: String) async throws -> Received<StatusCheckDetail> {
        throw Self.workflowsUnsupported
    }

    // MARK: Writing

    /// Creates the object or patches it to the document: kubectl's
    /// `networkchaos.chaos-mesh.org/web-delay created|configured|unchanged`.
    func apply(_ document: ChaosDocument) async throws -> String {
        let result: Controller.ApplyResult
        do {
            result = try await experiments.apply(all: [document]).first?.result ?? .unchanged
        } catch let error as ControllerError {
            throw ClientError(error)
        }
        return "\(document.kind.rawValue.lowercased()).\(document.kind.group)/\(document.name) \(result.rawValue)"
    }

    func delete(_ collection: ObjectCollection, uid: String) async throws {
        do {
            try await experiments.delete(uid)
        } catch let error as ControllerError {
            throw ClientError(error)
        }
    }
}

extension ClientError {
    /// The cluster's refusal, typed as the server would type it.
    init(_ error: ControllerError) {
        let (status, type): (Int, String) = switch error.code {
        case .invalidDocument: (400, "ValidationError")
        case .unsupported: (400, "Unsupported")
        case .notFound: (404, "NotFound")
        case .conflict: (409, "Conflict")
        case .halted: (409, "Halted")
        case .internalError: (500, "InternalError")
        }
        self.init(status: status, type: type, message: error.message,
                  errors: error.diagnostics.map { FieldError(path: $0.path.description, message: $0.message) })
    }
}
