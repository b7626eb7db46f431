import Foundation
import KubernetesSimulation
import Logging
import Synchronization
import Testing
import TumultAgent
import TumultAgentHTTP
import TumultModel
@testable import TumultKubernetes

/// A node's daemon that holds attacks without touching the host: served
/// over the agent protocol (plain HTTP on loopback) like a real one, so the
/// operator reaches it exactly as it reaches a DaemonSet pod. The host
/// effects of the same path are measured on real containers in
/// TumultFaultsTests' KubernetesOperator suite; this one runs without root.
final class RecordingNode: HostAgent, @unchecked Sendable {
    let machine: String
    private let held = Mutex<[String: HostAttack]>([:])
    private let counter = Atomic<Int>(0)
    /// Every target injected, in order.
    let injected = Mutex<[String]>([])

    init(_ machine: String) { self.machine = machine }

    var holding: [HostAttack] { held.withLock { Array($0.values) } }

    func status() async throws -> AgentStatus {
        AgentStatus(machine: machine, kinds: [], families: [], machineActions: [], halted: false, activeAttacks: holding.count, leases: [])
    }
    func pods() async throws -> [Pod] { [] }
    func inject(_ request: InjectionRequest) async throws -> [AttackID] {
        let id = AttackID(machine: machine, uid: "a\(counter.add(1, ordering: .relaxed).newValue)")
        injected.withLock { $0.append(request.target.id) }
        let attack = HostAttack(id: id, owner: request.owner, family: "network", action: "network delay",
                                target: "\(request.owner.experiment)/\(request.target.id)", injected: true, state: "success",
                                message: nil, createdAt: Date(), updatedAt: Date())
        held.withLock { $0[id.uid] = attack }
        return [id]
    }
    func recover(_ attacks: [AttackID]) async throws {
        held.withLock { held in for attack in attacks { held[attack.uid] = nil } }
    }
    func heal(_ attacks: [AttackID]) async throws -> [LostFault] { [] }
    func attacks(_ query: AttackQuery) async throws -> [HostAttack] {
        holding.filter { query.experiment == nil || $0.owner?.experiment == query.experiment }
    }
    func recoverOrphans(controller: String, keeping experiments: Set<String>) async throws -> Int {
        held.withLock { held in
            let orphans = held.filter { !experiments.contains($0.value.owner?.experiment ?? "") }
            for key in orphans.keys { held[key] = nil }
            return orphans.count
        }
    }
    func setHalted(_ halted: Bool) async throws -> Int { 0 }
    func census() async throws -> AgentCensus { AgentCensus(machine: machine, samples: []) }
    func renewLease(_ lease: Lease) async throws -> LeaseGrant {
        LeaseGrant(controller: lease.controller, seconds: lease.seconds, renewedAt: Date(), expiresAt: Date().addingTimeInterval(lease.seconds))
    }
    func attack(_ request: DirectAttack) async throws -> AttackID { throw AgentError(.unsupported, "a recording node") }
    func directAttacks() async throws -> [HostAttack] { [] }
}

/// The simulation with Tumult's CRDs, two nodes whose daemons are
/// `RecordingNode`s behind the agent protocol, six pods, and an operator
/// running in process; torn down by `stop()`.
final class OperatorHarness: @unchecked Sendable {
    let simulation = APIServerSimulation()
    var client: KubernetesClient!
    var nodes: [String: RecordingNode] = [:]
    private var nodeServers: [String: Task<Void, any Error>] = [:]
    private var operatorTask: Task<Void, any Error>?
    static let logger: Logger = {
        var logger = Logger(label: "tumult.test.operator")
        logger.logLevel = .warning
        return logger
    }()

    func start() async throws {
        try await simulation.start()
        client = KubernetesClient(configuration: KubernetesConfiguration(server: simulation.url), logger: Self.logger)
        for definition in CustomResourceDefinitions.definitions() {
            _ = try await client.create(.customResourceDefinitions, namespace: nil, try UnstructuredObject(definition))
        }
        for namespace in ["tumult", "shop"] {
            _ = try simulation.put(json: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": namespace]])
        }
        for node in ["n1", "n2"] {
            _ = try simulation.put(json: ["apiVersion": "v1", "kind": "Node", "metadata": ["name": node]])
            try await startNode(node)
        }
        for (index, node) in ["n1", "n2", "n1", "n2", "n1", "n2"].enumerated() {
            let app = index < 4 ? "web" : "db"
            _ = try simulation.put(json: [
                "apiVersion": "v1", "kind": "Pod",
                "metadata": ["name": "\(app)-\(index)", "namespace": "shop", "labels": ["app": app]],
                "spec": ["nodeName": node, "containers": [["name": "main"]]],
                "status": ["phase": "Running", "podIP": "10.9.0.\(index + 1)",
                           "containerStatuses": [["name": "main", "containerID": "containerd://\(String(repeating: "\(index)", count: 64))"]]],
            ])
        }
        var configuration = OperatorConfiguration(kinds: [.networkChaos, .podChaos])
        configuration.namespace = "tumult"
        configuration.identity = "test-operator"
        configuration.leaseDuration = .seconds(2)
        configuration.renewDeadline = .milliseconds(1500)
        configuration.retryPeriod = .milliseconds(300)
        configuration.watchInterval = nil
        configuration.statusSweep = .seconds(2)
        let chaosOperator = ChaosOperator(client: client, configuration: configuration, logger: Self.logger)
        operatorTask = Task { try await chaosOperator.run() }
    }

    /// A node's daemon on a loopback port, and its pod as the DaemonSet's would be.
    func startNode(_ name: String) async throws {
        let node = nodes[name] ?? RecordingNode(name)
        nodes[name] = node
        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        let application = try buildAgentApplication(agent: node, configuration: AgentServerConfiguration(host: "127.0.0.1", port: 0, insecure: true),
                                                    logger: Self.logger) { port in portContinuation.yield(port) }
        nodeServers[name] = Task { try await application.run() }
        var iterator = portStream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw KubernetesTestError("node \(name) did not listen") }
        _ = try simulation.put(json: [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": "tumult-daemon-\(name)", "namespace": "tumult",
                         "labels": ["app.kubernetes.io/name": "tumult", "app.kubernetes.io/component": "daemon"],
                         "annotations": ["tumult.dev/agent-port": String(port)]],
            "spec": ["nodeName": name, "containers": [["name": "daemon"]]],
            "status": ["phase": "Running", "podIP": "127.0.0.1"],
        ])
    }

    /// The node's daemon gone (the node lost): its server stops; its pod stays.
    func stopNode(_ name: String) async {
        nodeServers.removeValue(forKey: name)?.cancel()
        try? await Task.sleep(for: .milliseconds(200))
    }

    func stop() async {
        operatorTask?.cancel()
        _ = try? await operatorTask?.value
        for task in nodeServers.values { task.cancel() }
        nodeServers = [:]
        try? await client?.shutdown()
        await simulation.stop()
    }

    func apply(_ yaml: String) async throws {
        let value = try #require(try DocumentText.parse(yaml).first)
        _ = try await client.create(ResourceType.chaosMesh(kind: "NetworkChaos", plural: "networkchaos"), namespace: "shop",
                                    try UnstructuredObject(value))
    }

    func object(_ name: String) -> [String: Any]? { simulation.object(resource: "networkchaos", namespace: "shop", name: name) }

    func condition(_ name: String, _ type: String) -> String? {
        let conditions = (object(name)?["status"] as? [String: Any])?["conditions"] as? [[String: Any]] ?? []
        return conditions.first { $0["type"] as? String == type }?["status"] as? String
    }

    func waitUntil(_ seconds: Double, _ what: String, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < deadline else { throw KubernetesTestError("timed out after \(seconds) s waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    static func delay(_ name: String, app: String) -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: NetworkChaos
        metadata: {name: \(name), namespace: shop}
        spec:
          action: delay
          mode: all
          selector: {namespaces: [shop], labelSelectors: {app: \(app)}}
          delay: {latency: 10ms}
          duration: 1h
        """
    }
}

struct KubernetesTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

@Suite("Operator", .serialized)
struct OperatorTests {
    /// Records for exactly the selected pods, each injected by its own node's
    /// daemon; Chaos Mesh's conditions, the finalizer and events on the object.
    @Test func anObjectIsInjectedOnItsNodesWithStatusFinalizerAndEvents() async throws {
        let harness = OperatorHarness()
        defer { Task { await harness.stop() } }
        try await harness.start()
        try await harness.apply(OperatorHarness.delay("web-delay", app: "web"))
        try await harness.waitUntil(20, "AllInjected") { harness.condition("web-delay", "AllInjected") == "True" }
        let status = try #require(harness.object("web-delay")?["status"] as? [String: Any])
        let records = (status["experiment"] as? [String: Any])?["containerRecords"] as? [[String: Any]] ?? []
        #expect(Set(records.compactMap { $0["id"] as? String }) == ["shop/web-0", "shop/web-1", "shop/web-2", "shop/web-3"])
        #expect(records.allSatisfy { $0["phase"] as? String == "Injected" && $0["injectedCount"] as? Int == 1 })
        #expect(Set(harness.nodes["n1"]!.injected.withLock { $0 }) == ["shop/web-0", "shop/web-2"])
        #expect(Set(harness.nodes["n2"]!.injected.withLock { $0 }) == ["shop/web-1", "shop/web-3"])
        #expect(harness.condition("web-delay", "Selected") == "True")
        #expect(harness.condition("web-delay", "Paused") == "False")
        let metadata = try #require(harness.object("web-delay")?["metadata"] as? [String: Any])
        #expect(metadata["finalizers"] as? [String] == ["chaos-mesh/records"])
        try await harness.waitUntil(10, "events about the object") {
            harness.simulation.objects(resource: "events.events.k8s.io").contains { event in
                (event["regarding"] as? [String: Any])?["name"] as? String == "web-delay" && event["reason"] as? String == "Selected"
            }
        }
    }

    /// Pause recovers, resume injects again; delete recovers before the
    /// finalizer goes; a node that is gone holds the object until Chaos
    /// Mesh's forced-cleanup annotation drops the finalizer.
    @Test func pauseDeleteAndForcedCleanup() async throws {
        let harness = OperatorHarness()
        defer { Task { await harness.stop() } }
        try await harness.start()
        let resource = ResourceType.chaosMesh(kind: "NetworkChaos", plural: "networkchaos")
        try await harness.apply(OperatorHarness.delay("web-delay", app: "web"))
        try await harness.waitUntil(20, "AllInjected") { harness.condition("web-delay", "AllInjected") == "True" }

        let pause = Value.object(.init([("metadata", .object(.init([("annotations", .object(.init([
            ("experiment.chaos-mesh.org/pause", .string("true"))])))])))]))
        let _: UnstructuredObject = try await harness.client.patch(resource, namespace: "shop", name: "web-delay", .merge(pause))
        try await harness.waitUntil(20, "recovered on pause") {
            harness.condition("web-delay", "AllRecovered") == "True" && harness.condition("web-delay", "Paused") == "True"
        }
        #expect(harness.nodes.values.allSatisfy { $0.holding.isEmpty })
        let resume = Value.object(.init([("metadata", .object(.init([("annotations", .object(.init([
            ("experiment.chaos-mesh.org/pause", .null)])))])))]))
        let _: UnstructuredObject = try await harness.client.patch(resource, namespace: "shop", name: "web-delay", .merge(resume))
        try await harness.waitUntil(20, "injected again") { harness.condition("web-delay", "AllInjected") == "True" }

        // Deleted: held until every target is recovered, then gone.
        try await harness.client.delete(resource, namespace: "shop", name: "web-delay")
        try await harness.waitUntil(20, "deleted after recovery") { harness.object("web-delay") == nil }
        #expect(harness.nodes.values.allSatisfy { $0.holding.isEmpty })

        // A node lost while its pod holds a fault: the delete cannot recover it.
        try await harness.apply(OperatorHarness.delay("db-delay", app: "db"))
        try await harness.waitUntil(20, "db AllInjected") { harness.condition("db-delay", "AllInjected") == "True" }
        await harness.stopNode("n2")
        try await harness.client.delete(resource, namespace: "shop", name: "db-delay")
        try await Task.sleep(for: .seconds(3))
        let stuck = try #require(harness.object("db-delay"), "the finalizer holds it while n2 cannot recover")
        #expect((stuck["metadata"] as? [String: Any])?["deletionTimestamp"] != nil)
        let forced = Value.object(.init([("metadata", .object(.init([("annotations", .object(.init([
            ("chaos-mesh.chaos-mesh.org/cleanFinalizer", .string("forced"))])))])))]))
        let _: UnstructuredObject = try await harness.client.patch(resource, namespace: "shop", name: "db-delay", .merge(forced))
        try await harness.waitUntil(20, "gone with the forced cleanup") { harness.object("db-delay") == nil }
        #expect(harness.nodes["n1"]!.holding.isEmpty, "what n1 held was recovered")
    }

    /// Watches broken with history compacted: the relist finds an object
    /// created and another deleted (finalizer bypassed) while they were down.
    @Test func aRelistAfter410MissesNoCreationAndNoDeletion() async throws {
        let harness = OperatorHarness()
        defer { Task { await harness.stop() } }
        try await harness.start()
        try await harness.apply(OperatorHarness.delay("web-delay", app: "web"))
        try await harness.waitUntil(20, "AllInjected") { harness.condition("web-delay", "AllInjected") == "True" }
        harness.simulation.compactHistory()
        harness.simulation.breakWatches()
        #expect(harness.simulation.deleteNow(resource: "networkchaos", namespace: "shop", name: "web-delay"))
        try await harness.apply(OperatorHarness.delay("db-delay", app: "db"))
        try await harness.waitUntil(20, "db-delay injected after the relist") { harness.condition("db-delay", "AllInjected") == "True" }
        try await harness.waitUntil(20, "web-delay's faults recovered after the relist") {
            !harness.nodes.values.contains { node in node.holding.contains { $0.target.contains("/shop/web-") } }
        }
    }

    /// A document no webhook checked (the webhook off) is not run: a
    /// Warning event names the field.
    @Test func anInvalidObjectGetsAWarningEventWithTheFieldPath() async throws {
        let harness = OperatorHarness()
        defer { Task { await harness.stop() } }
        try await harness.start()
        try await harness.apply(OperatorHarness.delay("bad", app: "web").replacingOccurrences(of: "10ms", with: "90xs"))
        try await harness.waitUntil(20, "a warning event") {
            harness.simulation.objects(resource: "events.events.k8s.io").contains { event in
                event["type"] as? String == "Warning" && (event["note"] as? String ?? "").contains("spec.delay.latency")
            }
        }
        #expect(harness.nodes.values.allSatisfy { $0.injected.withLock { $0.isEmpty } })
    }
}

/// The webhook's verdicts (pure), as the API server gets them.
@Suite("AdmissionWebhook")
struct AdmissionWebhookTests {
    static func review(_ object: String, operation: String = "CREATE") throws -> Value {
        let request = try #require(try DocumentText.parse(object).first)
        return .object(.init([("apiVersion", .string("admission.k8s.io/v1")), ("kind", .string("AdmissionReview")),
                              ("request", .object(.init([("uid", .string("r-1")), ("operation", .string(operation)), ("object", request)])))]))
    }

    @Test func aBadDocumentIsDeniedWithItsFieldPaths() throws {
        let reply = AdmissionWebhook.review(try Self.review(OperatorHarness.delay("x", app: "web").replacingOccurrences(of: "10ms", with: "90xs")),
                                            runnable: [.networkChaos])
        let response = try #require(reply.objectValue?["response"]?.objectValue)
        #expect(response["uid"] == .string("r-1"))
        #expect(response["allowed"] == .bool(false))
        let message = response["status"]?.objectValue?["message"]?.stringValue ?? ""
        #expect(message.contains("spec.delay.latency"), "\(message)")
    }

    @Test func aGoodDocumentIsAllowedAndAKindNotRunIsWarnedAbout() throws {
        let good = AdmissionWebhook.review(try Self.review(OperatorHarness.delay("x", app: "web")), runnable: [.networkChaos])
        #expect(good.objectValue?["response"]?.objectValue?["allowed"] == .bool(true))
        #expect(good.objectValue?["response"]?.objectValue?["warnings"] == nil)
        let notRun = AdmissionWebhook.review(try Self.review(OperatorHarness.delay("x", app: "web")), runnable: [.podChaos])
        #expect(notRun.objectValue?["response"]?.objectValue?["allowed"] == .bool(true))
        #expect(notRun.objectValue?["response"]?.objectValue?["warnings"] != nil)
        let deleting = AdmissionWebhook.review(try Self.review("kind: Whatever", operation: "DELETE"), runnable: [])
        #expect(deleting.objectValue?["response"]?.objectValue?["allowed"] == .bool(true))
    }

    /// Finalizer writes are guarded by a test of the list they change, not
    /// by the resourceVersion, which the status writes keep moving.
    @Test func finalizerPatchesTestTheListTheyChange() {
        #expect(ChaosReconciler.addingFinalizer(to: []) == [JSONPatchOperation(op: .add, path: "/metadata/finalizers",
                                                                               value: .array([.string("chaos-mesh/records")]))])
        #expect(ChaosReconciler.addingFinalizer(to: ["other"]) == [
            JSONPatchOperation(op: .test, path: "/metadata/finalizers", value: .array([.string("other")])),
            JSONPatchOperation(op: .add, path: "/metadata/finalizers/-", value: .string("chaos-mesh/records")),
        ])
        #expect(ChaosReconciler.removingFinalizer(from: ["other", "chaos-mesh/records"]) == [
            JSONPatchOperation(op: .test, path: "/metadata/finalizers", value: .array([.string("other"), .string("chaos-mesh/records")])),
            JSONPatchOperation(op: .remove, path: "/metadata/finalizers/1"),
        ])
        #expect(ChaosReconciler.removingFinalizer(from: ["other"]) == nil)
    }

    /// A pod of the API server as the selectors see it: its node, its
    /// addresses, every container's runtime id, the spec's first container first.
    @Test func aPodObjectBecomesASelectionTarget() throws {
        let object = try JSONDecoder().decode(PodObject.self, from: Data("""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"app":"web"}},
             "spec":{"nodeName":"n1","containers":[{"name":"app"},{"name":"sidecar"}]},
             "status":{"phase":"Running","podIP":"10.0.0.5","podIPs":[{"ip":"10.0.0.5"},{"ip":"fd00::5"}],
               "containerStatuses":[{"name":"sidecar","containerID":"containerd://bbb"},{"name":"app","containerID":"containerd://aaa"}]}}
            """.utf8))
        let pod = try #require(Pod(kubernetes: object))
        #expect(pod.id == "shop/web")
        #expect(pod.nodeName == "n1")
        #expect(pod.ips == ["10.0.0.5", "fd00::5"])
        #expect(pod.containerID == "containerd://aaa")
        #expect(pod.containerIDs == ["app": "containerd://aaa", "sidecar": "containerd://bbb"])
        #expect(pod.source == .kubernetes)
        let unscheduled = try JSONDecoder().decode(PodObject.self, from: Data(#"{"metadata":{"name":"p"},"spec":{"containers":[]}}"#.utf8))
        #expect(Pod(kubernetes: unscheduled) == nil)
    }
}
