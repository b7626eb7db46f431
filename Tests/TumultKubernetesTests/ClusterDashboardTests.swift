import AsyncHTTPClient
import Foundation
import KubernetesSimulation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import TumultController
import TumultKubernetes
import TumultModel
import TumultServer

/// `tumult server --kubeconfig` and `tumult get/apply/describe/delete
/// --kubeconfig` against the API server simulation (the real wire
/// protocol): Tumult's CRDs installed through the client, chaos objects
/// with the status the operator writes, and the server (or the real
/// `tumult` binary) reading and changing them.
@Suite("ClusterDashboard", .serialized)
struct ClusterDashboardTests {
    static let logger = Logger(label: "ClusterDashboardTests", factory: { _ in SwiftLogNoOpLogHandler() })
    static let namespace = "shop"

    /// A simulation with the CRDs, a kubeconfig for it, and a scratch directory.
    final class Cluster: Sendable {
        let simulation = APIServerSimulation()
        let directory: URL
        var kubeconfig: String { directory.appendingPathComponent("kubeconfig").path }
        let client: KubernetesClient

        init() async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("tmt-cluster-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try await simulation.start()
            try """
                apiVersion: v1
                kind: Config
                clusters:
                - name: sim
                  cluster: {server: \(simulation.url.absoluteString)}
                users:
                - name: tester
                  user: {token: test-token}
                contexts:
                - name: sim
                  context: {cluster: sim, user: tester, namespace: \(ClusterDashboardTests.namespace)}
                current-context: sim
                """.write(toFile: directory.appendingPathComponent("kubeconfig").path, atomically: true, encoding: .utf8)
            client = KubernetesClient(configuration: try KubernetesConfiguration.kubeconfig(path: directory.appendingPathComponent("kubeconfig").path),
                                      logger: ClusterDashboardTests.logger)
            try simulation.put(json: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": ClusterDashboardTests.namespace]])
            for definition in CustomResourceDefinitions.definitions() {
                let _: UnstructuredObject = try await client.create(.customResourceDefinitions, namespace: nil, try UnstructuredObject(definition))
            }
        }

        func stop() async {
            try? await client.shutdown()
            await simulation.stop()
            try? FileManager.default.removeItem(at: directory)
        }

        /// A chaos object with the status the operator writes; returns its uid.
        @discardableResult
        func putChaos(_ kind: String, _ name: String, spec: [String: Any], annotations: [String: String] = [:],
                      finalizers: [String] = [], records: [[String: Any]], conditions: [String: String]) throws -> String {
            let stored = try simulation.put(json: [
                "apiVersion": "chaos-mesh.org/v1alpha1", "kind": kind,
                "metadata": ["name": name, "namespace": ClusterDashboardTests.namespace, "annotations": annotations,
                             "finalizers": finalizers],
                "spec": spec,
                "status": ["experiment": ["desiredPhase": "Run", "containerRecords": records],
                           "conditions": conditions.sorted { $0.key < $1.key }.map { ["type": $0.key, "status": $0.value] }],
            ])
            return try #require((stored["metadata"] as? [String: Any])?["uid"] as? String)
        }

        /// An events.k8s.io Event about a chaos object, as the operator posts it.
        func putEvent(about uid: String, kind: String, name: String, reason: String, note: String) throws {
            try simulation.put(json: [
                "apiVersion": "events.k8s.io/v1", "kind": "Event",
                "metadata": ["name": "\(name).\(UUID().uuidString.prefix(8).lowercased())", "namespace": ClusterDashboardTests.namespace],
                "eventTime": MicroTime.format(Date()), "reportingController": "tumult.dev/operator", "reportingInstance": "test",
                "action": reason, "reason": reason, "note": note, "type": "Normal",
                "regarding": ["apiVersion": "chaos-mesh.org/v1alpha1", "kind": kind, "namespace": ClusterDashboardTests.namespace,
                              "name": name, "uid": uid],
            ])
        }

        func chaos(_ plural: String, _ name: String) -> [String: Any]? {
            simulation.object(resource: plural, namespace: ClusterDashboardTests.namespace, name: name)
        }
    }

    /// One target's record, as the operator writes it.
    static var injected: [String: Any] {
        ["id": "shop/web-0", "selectorKey": ".", "phase": "Injected", "injectedCount": 1, "recoveredCount": 0, "nodeName": "node-a",
         "events": [["type": "Succeeded", "operation": "Apply", "message": "delay 100ms", "timestamp": "2026-01-01T00:00:00Z"]]]
    }
    static var delaySpec: [String: Any] {
        ["action": "delay", "mode": "all", "selector": ["namespaces": ["shop"], "labelSelectors": ["app": "web"]],
         "delay": ["latency": "100ms"], "duration": "1h"]
    }
    static var killSpec: [String: Any] { ["action": "pod-kill", "mode": "one", "selector": ["namespaces": ["shop"]]] }

    /// Waits up to `seconds` for `condition`.
    static func eventually(_ seconds: Double = 10, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    // MARK: The server

    @Test func serverShowsAndChangesTheClustersObjects() async throws {
        let cluster = try await Cluster()
        defer { Task { await cluster.stop() } }
        let running = try cluster.putChaos("NetworkChaos", "web-delay", spec: Self.delaySpec, finalizers: ["chaos-mesh/records"],
                                           records: [Self.injected], conditions: ["Selected": "True", "AllInjected": "True"])
        let paused = try cluster.putChaos("PodChaos", "kill-one", spec: Self.killSpec,
                                          annotations: [TumultModel.ObjectMeta.pauseAnnotation: "true"],
                                          records: [], conditions: ["Selected": "True"])
        try cluster.putEvent(about: running, kind: "NetworkChaos", name: "web-delay", reason: "Applied", note: "injected shop/web-0")

        let experiments = ClusterExperiments(client: cluster.client, logger: Self.logger)
        var configuration = ServerConfiguration(home: cluster.directory)
        configuration.port = 0
        let port = PortBox()
        let (application, parts) = try buildApplication(configuration: configuration, experiments: experiments,
                                                        supportedKinds: ClusterExperiments.kinds, logger: Self.logger) { port.set($0) }
        let server = Task { try await application.runService(gracefulShutdownSignals: []) }
        defer { server.cancel() }
        #expect(try await Self.eventually { port.value != 0 })
        await experiments.waitForSync()
        #expect(parts.agent == nil)
        let http = HTTP(port: port.value)
        defer { Task { try? await http.client.shutdown() } }

        // The list, with the status names the records make.
        let list = try await http.array("GET", "/api/experiments")
        let statuses = Dictionary(uniqueKeysWithValues: list.map { ($0["name"] as? String ?? "", $0["status"] as? String ?? "") })
        #expect(statuses == ["web-delay": "running", "kill-one": "paused"])
        #expect(list.first { $0["name"] as? String == "web-delay" }?["uid"] as? String == running)

        // The detail: the document with the status, records and conditions read back.
        let detail = try await http.object("GET", "/api/experiments/\(running)")
        let status = try #require((detail["kube_object"] as? [String: Any])?["status"] as? [String: Any])
        let records = try #require((status["experiment"] as? [String: Any])?["containerRecords"] as? [[String: Any]])
        #expect(records.count == 1)
        #expect(records.first?["id"] as? String == "shop/web-0")
        #expect(records.first?["phase"] as? String == "Injected")
        #expect(records.first?["nodeName"] as? String == "node-a")
        #expect((records.first?["events"] as? [[String: Any]])?.first?["message"] as? String == "delay 100ms")

        // Create: the object appears in the cluster; again: unchanged; changed: configured.
        let document = """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: NetworkChaos
            metadata: {name: api-loss, namespace: shop}
            spec:
              action: loss
              mode: all
              selector: {namespaces: [shop]}
              loss: {loss: "20"}
              duration: 10m
            """
        let created = try await http.object("POST", "/api/experiments", body: document)
        #expect(created["result"] as? String == "created")
        let createdUID = try #require(created["uid"] as? String)
        let stored = try #require(cluster.chaos("networkchaos", "api-loss"))
        #expect((stored["metadata"] as? [String: Any])?["uid"] as? String == createdUID)
        #expect(((stored["spec"] as? [String: Any])?["loss"] as? [String: Any])?["loss"] as? String == "20")
        #expect(try await http.object("POST", "/api/experiments", body: document)["result"] as? String == "unchanged")
        let changed = try await http.object("POST", "/api/experiments", body: document.replacingOccurrences(of: "\"20\"", with: "\"30\""))
        #expect(changed["result"] as? String == "configured")
        #expect(((cluster.chaos("networkchaos", "api-loss")?["spec"] as? [String: Any])?["loss"] as? [String: Any])?["loss"] as? String == "30")

        // Pause and resume: Chaos Mesh's annotation.
        _ = try await http.object("PUT", "/api/experiments/pause/\(createdUID)")
        let annotations = (cluster.chaos("networkchaos", "api-loss")?["metadata"] as? [String: Any])?["annotations"] as? [String: Any]
        #expect(annotations?[TumultModel.ObjectMeta.pauseAnnotation] as? String == "true")
        #expect(try await Self.eventually {
            try await http.array("GET", "/api/experiments").first { $0["uid"] as? String == createdUID }?["status"] as? String == "paused"
        })
        _ = try await http.object("PUT", "/api/experiments/start/\(createdUID)")
        let resumed = (cluster.chaos("networkchaos", "api-loss")?["metadata"] as? [String: Any])?["annotations"] as? [String: Any]
        #expect(resumed?[TumultModel.ObjectMeta.pauseAnnotation] == nil)

        // Events from the cluster's Events.
        let events = try await http.array("GET", "/api/events?object_id=\(running)")
        #expect(events.count == 1)
        #expect(events.first?["reason"] as? String == "Applied")
        #expect(events.first?["message"] as? String == "injected shop/web-0")

        // The emergency stop is refused with what to do instead.
        let (haltStatus, haltBody) = try await http.call("POST", "/api/halt")
        #expect(haltStatus == 409)
        #expect(String(decoding: haltBody, as: UTF8.self).contains("pause them"))

        // Delete: the object with the operator's finalizer stays, being deleted.
        _ = try await http.object("DELETE", "/api/experiments/\(running)")
        let deleting = try #require(cluster.chaos("networkchaos", "web-delay"))
        #expect((deleting["metadata"] as? [String: Any])?["deletionTimestamp"] != nil)
        #expect(try await Self.eventually {
            try await http.array("GET", "/api/experiments").first { $0["uid"] as? String == running }?["status"] as? String == "deleting"
        })
        _ = try await http.object("DELETE", "/api/experiments/\(paused)")
        #expect(cluster.chaos("podchaos", "kill-one") == nil)
        #expect(try await Self.eventually { try await http.array("GET", "/api/experiments").count == 2 })
        server.cancel()
        _ = await server.result
    }

    @Test func oneThousandObjectsAreConvertedOncePerVersion() async throws {
        let cluster = try await Cluster()
        defer { Task { await cluster.stop() } }
        for index in 0..<1000 {
            try cluster.putChaos("NetworkChaos", "delay-\(index)", spec: Self.delaySpec, records: [Self.injected],
                                 conditions: ["Selected": "True", "AllInjected": "True"])
        }
        let experiments = ClusterExperiments(client: cluster.client, logger: Self.logger)
        await experiments.start()
        await experiments.waitForSync()
        #expect(try await Self.eventually { experiments.allExperiments().count == 1000 })
        let first = experiments.experimentsSnapshot(changedSince: nil)
        // Nothing changed: nothing handed over (the API's list keeps its encoded items).
        #expect(experiments.experimentsSnapshot(changedSince: first.revision).records == nil)
        let started = ContinuousClock.now
        for _ in 0..<20 { _ = experiments.allExperiments() }
        // Converting 1,000 documents takes far longer than sorting cached records 20 times.
        #expect(ContinuousClock.now - started < .seconds(2))
        try cluster.putChaos("NetworkChaos", "delay-0", spec: Self.delaySpec, annotations: [TumultModel.ObjectMeta.pauseAnnotation: "true"],
                             records: [Self.injected], conditions: ["Selected": "True", "AllInjected": "True"])
        #expect(try await Self.eventually { experiments.experimentsSnapshot(changedSince: first.revision).records != nil })
        #expect(try await Self.eventually {
            experiments.allExperiments().first { $0.name == "delay-0" }?.status(at: Date()) == .paused
        })
        await experiments.shutdown(recover: false)
    }

    // MARK: The CLI

    @Test func cliTalksToTheClusterDirectly() async throws {
        let cluster = try await Cluster()
        defer { Task { await cluster.stop() } }
        let file = cluster.directory.appendingPathComponent("web-delay.yaml").path
        try """
            apiVersion: chaos-mesh.org/v1alpha1
            kind: NetworkChaos
            metadata: {name: web-delay, namespace: shop}
            spec:
              action: delay
              mode: all
              selector: {namespaces: [shop], labelSelectors: {app: web}}
              delay: {latency: 100ms}
              duration: 1h
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let kubeconfig = ["--kubeconfig", cluster.kubeconfig]

        let applied = try await Self.tumult(["apply", "-f", file] + kubeconfig)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout == "networkchaos.chaos-mesh.org/web-delay created\n")
        let uid = try #require((cluster.chaos("networkchaos", "web-delay")?["metadata"] as? [String: Any])?["uid"] as? String)
        #expect(try await Self.tumult(["apply", "-f", file] + kubeconfig).stdout == "networkchaos.chaos-mesh.org/web-delay unchanged\n")

        // The operator's status and an event, as it writes them.
        var object = try #require(cluster.chaos("networkchaos", "web-delay"))
        object["status"] = ["experiment": ["desiredPhase": "Run", "containerRecords": [Self.injected]],
                            "conditions": [["type": "Selected", "status": "True"], ["type": "AllInjected", "status": "True"]]]
        try cluster.simulation.put(json: object)
        try cluster.putEvent(about: uid, kind: "NetworkChaos", name: "web-delay", reason: "Applied", note: "injected shop/web-0")

        let listed = try await Self.tumult(["get", "experiments", "-n", "shop"] + kubeconfig)
        #expect(listed.status == 0, "\(listed.stderr)")
        let lines = listed.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(lines.first == ["NAME", "KIND", "STATUS", "AGE"])
        #expect(lines.dropFirst().first?.prefix(3) == ["web-delay", "NetworkChaos", "running"])

        let described = try await Self.tumult(["describe", "networkchaos/web-delay", "-n", "shop"] + kubeconfig)
        #expect(described.status == 0, "\(described.stderr)")
        #expect(described.stdout.contains("UID:"))
        #expect(described.stdout.contains(uid))
        #expect(described.stdout.contains("shop/web-0"))
        #expect(described.stdout.contains("node-a"))
        #expect(described.stdout.contains("injected shop/web-0"))
        #expect(described.stdout.contains("latency: 100ms"))

        let deleted = try await Self.tumult(["delete", "networkchaos/web-delay", "-n", "shop"] + kubeconfig)
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(deleted.stdout == "networkchaos/web-delay deleted\n")
        #expect(cluster.chaos("networkchaos", "web-delay") == nil)
        let missing = try await Self.tumult(["delete", "networkchaos/web-delay", "-n", "shop"] + kubeconfig)
        #expect(missing.status == 1)
    }

    // MARK: Helpers

    /// The real `tumult` beside the test bundle, run off the concurrency
    /// pool the simulation serves from.
    static func tumult(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var executable = bundle.appendingPathComponent("tumult")
        if !FileManager.default.isExecutableFile(atPath: executable.path) {
            executable = bundle.deletingLastPathComponent().appendingPathComponent("tumult")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let out = output.fileHandleForReading.readDataToEndOfFile()
                let err = errors.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: (process.terminationStatus, String(decoding: out, as: UTF8.self),
                                                String(decoding: err, as: UTF8.self)))
            }
        }
    }

    /// The port the server bound, set from its `onServerRunning`.
    final class PortBox: @unchecked Sendable {
        private let lock = NSLock()
        private var port = 0
        func set(_ value: Int) { lock.withLock { port = value } }
        var value: Int { lock.withLock { port } }
    }

    /// Plain HTTP to the server on loopback.
    struct HTTP {
        let port: Int
        let client = HTTPClient(eventLoopGroupProvider: .singleton)

        func call(_ method: String, _ path: String, body: String? = nil) async throws -> (Int, Data) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
            request.method = HTTPMethod(rawValue: method)
            if let body {
                request.headers.add(name: "Content-Type", value: "application/yaml")
                request.body = .bytes(ByteBuffer(string: body))
            }
            let response = try await client.execute(request, timeout: .seconds(10))
            let data = try await response.body.collect(upTo: 16 << 20)
            return (Int(response.status.code), Data(buffer: data))
        }

        func object(_ method: String, _ path: String, body: String? = nil) async throws -> [String: Any] {
            let (status, data) = try await call(method, path, body: body)
            guard (200..<300).contains(status) else { throw HTTPFailure(status: status, body: String(decoding: data, as: UTF8.self)) }
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }

        func array(_ method: String, _ path: String) async throws -> [[String: Any]] {
            let (status, data) = try await call(method, path)
            guard (200..<300).contains(status) else { throw HTTPFailure(status: status, body: String(decoding: data, as: UTF8.self)) }
            return try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        }
    }

    struct HTTPFailure: Error, CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "HTTP \(status): \(body)" }
    }
}
