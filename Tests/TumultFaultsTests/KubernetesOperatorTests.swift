import Foundation
import KubernetesSimulation
import Testing
import TumultAgent
import TumultAgentHTTP
import TumultKubernetes
import TumultModel
import TumultSystem

/// A Kubernetes cluster made of real parts around the one thing that
/// cannot be installed here: the API server is the in-process simulation
/// (KubernetesSimulation, the real wire protocol); the client is the real
/// `kubectl`; the CRDs are `tumult crds`; the operators and node daemons
/// are real `tumult operator` and `tumult daemon --kubernetes` processes
/// over mutual TLS; the pods are real containerd containers, each with a
/// veth to this host so their RTT can be measured.
final class TestCluster: @unchecked Sendable {
    let simulation = APIServerSimulation()
    let cli = TumultCLI()
    let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    var certificates: String { cli.home + "/certs" }
    var kubeconfig: String { cli.home + "/kubeconfig" }
    let namespace = "shop"
    /// node name → daemon process and its agent port.
    private(set) var daemons: [String: (process: RunningTumult, port: Int)] = [:]
    private(set) var operators: [String: RunningTumult] = [:]
    private(set) var containers: [String: TestContainerd] = [:]
    /// Each operator's webhook port (every replica serves it, as behind the chart's Service).
    private(set) var webhookPorts: [String: Int] = [:]
    /// containerd 1.6 keeps shim sockets under /run/containerd whatever its
    /// state directory: what the cluster's containers made there is removed
    /// once all of them are gone.
    private let runDirectoryExisted = FileManager.default.fileExists(atPath: "/run/containerd")

    func start() async throws {
        try FileManager.default.createDirectory(atPath: cli.home, withIntermediateDirectories: true)
        try await simulation.start()
        try """
            apiVersion: v1
            kind: Config
            clusters:
            - name: sim
              cluster:
                server: \(simulation.url.absoluteString)
            users:
            - name: tester
              user:
                token: test-token
            contexts:
            - name: sim
              context:
                cluster: sim
                user: tester
                namespace: \(namespace)
            current-context: sim
            """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        try expect(cli.run(["certs", "init", "--dir", certificates]), "tumult certs init")
        for name in ["node-a", "node-b", "webhook"] {
            try expect(cli.run(["certs", "issue", "server", name, "--dir", certificates, "--ip", "127.0.0.1"]), "tumult certs issue \(name)")
        }
        try expect(cli.run(["certs", "issue", "client", "operator", "--dir", certificates]), "tumult certs issue operator")
        // Tumult's CRDs, through the real client.
        let crds = try expect(cli.run(["crds"]), "tumult crds").stdout
        let crdFile = cli.home + "/crds.yaml"
        try crds.write(toFile: crdFile, atomically: true, encoding: .utf8)
        try kubectl(["apply", "-f", crdFile])
        // `kubectl create namespace` sends protobuf, which the simulation does not speak; apply sends JSON.
        try kubectl(["apply"], input: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: tumult\n---\n"
                     + "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \(namespace)\n")
    }

    @discardableResult
    func expect(_ result: CommandResult, _ doing: String) throws -> CommandResult {
        guard result.succeeded else { throw SystemError.processFailed("\(doing): \(result.stderr)\(result.stdout)") }
        return result
    }

    /// `kubectl ARGUMENTS` against the simulation; throws on failure.
    @discardableResult
    func kubectl(_ arguments: [String], input: String? = nil) throws -> String {
        let result = try kubectlResult(arguments, input: input)
        guard result.succeeded else { throw SystemError.processFailed("kubectl \(arguments.joined(separator: " ")): \(result.stderr)") }
        return result.stdout
    }

    func kubectlResult(_ arguments: [String], input: String? = nil) throws -> CommandResult {
        var arguments = arguments
        if let input {
            let file = cli.home + "/input-\(UUID().uuidString).yaml"
            try input.write(toFile: file, atomically: true, encoding: .utf8)
            arguments += ["-f", file]
        }
        return try Spawn.run(["kubectl", "--kubeconfig", kubeconfig] + arguments)
    }

    /// A node, its daemon (a real `tumult daemon --kubernetes` on loopback
    /// with its own certificate) and the daemon's pod, as the DaemonSet's would be.
    func addNode(_ name: String) throws {
        _ = try simulation.put(json: ["apiVersion": "v1", "kind": "Node",
                                      "metadata": ["name": name, "labels": ["kubernetes.io/hostname": name, "zone": "z-\(name)"]]])
        let port = try LoopbackHTTP.freePort()
        let home = cli.home + "/daemon-\(name)"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let process = RunningTumult(child: try Spawn.start(
            [TumultCLI.executable.path, "daemon", "--kubernetes", "--listen", "127.0.0.1:\(port)",
             "--CA", certificates + "/ca.pem", "--cert", certificates + "/\(name).pem", "--key", certificates + "/\(name)-key.pem",
             "--home", home, "--network-backend", "userspace"],
            environment: ["NODE_NAME": name, "TUMULT_HOME": home]))
        daemons[name] = (process, port)
        guard process.waitForBlocking("listening on", timeout: 20) else {
            throw SystemError.processFailed("daemon \(name) did not start:\n\(process.text)")
        }
        _ = try simulation.put(json: [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": "tumult-daemon-\(name)", "namespace": "tumult",
                         "labels": ["app.kubernetes.io/name": "tumult", "app.kubernetes.io/component": "daemon"],
                         "annotations": ["tumult.dev/agent-port": String(port)]],
            "spec": ["nodeName": name, "containers": [["name": "daemon"]]],
            "status": ["phase": "Running", "podIP": "127.0.0.1", "podIPs": [["ip": "127.0.0.1"]]],
        ])
    }

    /// A pod backed by a real container on this host, scheduled on `node`.
    func addPod(_ name: String, node: String, labels: [String: String]) throws {
        let container = try TestContainerd()
        containers[name] = container
        _ = try simulation.put(json: [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": name, "namespace": namespace, "labels": labels],
            "spec": ["nodeName": node, "containers": [["name": "app"]]],
            "status": ["phase": "Running", "podIP": container.containerAddress, "podIPs": [["ip": container.containerAddress]],
                       "containerStatuses": [["name": "app", "containerID": "containerd://\(container.containerID)", "ready": true]]],
        ])
    }

    func startOperator(_ identity: String) throws {
        var arguments = ["operator", "--kubeconfig", kubeconfig, "--namespace", "tumult", "--identity", identity,
                         "--lease-duration", "3", "--daemon-lease", "30",
                         "--fleet-ca", certificates + "/ca.pem", "--fleet-cert", certificates + "/operator.pem",
                         "--fleet-key", certificates + "/operator-key.pem"]
        let webhookPort = try LoopbackHTTP.freePort()
        webhookPorts[identity] = webhookPort
        arguments += ["--webhook-listen", "127.0.0.1:\(webhookPort)", "--webhook-cert", certificates + "/webhook.pem",
                      "--webhook-key", certificates + "/webhook-key.pem"]
        operators[identity] = try RunningTumult(cli, arguments)
    }

    /// Registers an operator's webhook with the API server, as the chart's
    /// ValidatingWebhookConfiguration does; its Service's endpoint is the
    /// replica `identity` (the test moves it when that replica is killed).
    func registerWebhook(_ identity: String) throws {
        let webhookPort = webhookPorts[identity] ?? 0
        let ca = try Data(contentsOf: URL(fileURLWithPath: certificates + "/ca.pem")).base64EncodedString()
        let plurals = ChaosKind.allCases.compactMap(CustomResourceDefinitions.plural(of:))
        try kubectl(["apply"], input: """
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingWebhookConfiguration
            metadata:
              name: tumult-validate
            webhooks:
            - name: validate.chaos-mesh.tumult.dev
              clientConfig:
                url: https://127.0.0.1:\(webhookPort)\(AdmissionWebhook.path)
                caBundle: \(ca)
              rules:
              - apiGroups: ["chaos-mesh.org"]
                apiVersions: ["v1alpha1"]
                operations: ["CREATE", "UPDATE"]
                resources: [\(plurals.map { "\"\($0)\"" }.joined(separator: ", "))]
              sideEffects: None
              admissionReviewVersions: ["v1"]
              failurePolicy: Fail
              timeoutSeconds: 5
            """)
    }

    /// The chaos object as the API server holds it.
    func chaos(_ plural: String, _ name: String) -> [String: Any]? {
        simulation.object(resource: plural, namespace: namespace, name: name)
    }

    /// The value of condition `type` in the object's status ("True"/"False"), if written.
    func condition(_ plural: String, _ name: String, _ type: String) -> String? {
        let status = chaos(plural, name)?["status"] as? [String: Any]
        let conditions = status?["conditions"] as? [[String: Any]] ?? []
        return conditions.first { $0["type"] as? String == type }?["status"] as? String
    }

    /// The ids of the object's container records.
    func recordIDs(_ plural: String, _ name: String) -> Set<String> {
        let status = chaos(plural, name)?["status"] as? [String: Any]
        let records = (status?["experiment"] as? [String: Any])?["containerRecords"] as? [[String: Any]] ?? []
        return Set(records.compactMap { $0["id"] as? String })
    }

    /// Waits up to `timeout` seconds for `condition`.
    func waitUntil(_ timeout: Double, _ what: String, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            guard Date() < deadline else {
                let logs = operators.map { "--- operator \($0.key):\n\($0.value.text.suffix(6000))" }.joined(separator: "\n")
                throw SystemError.processFailed("timed out after \(timeout) s waiting for \(what)\n\(logs)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The attacks a node's daemon holds, asked over its agent API with the operator's certificate.
    func attacks(on node: String) async throws -> [HostAttack] {
        guard let port = daemons[node]?.port else { return [] }
        let tls = try AgentTLS(ca: certificates + "/ca.pem", certificate: certificates + "/operator.pem",
                               privateKey: certificates + "/operator-key.pem").clientConfiguration(verifyHostname: false)
        let agent = RemoteHostAgent(machine: node, address: "https://127.0.0.1:\(port)", tls: tls)
        defer { Task { try? await agent.shutdown() } }
        return try await agent.attacks(AttackQuery())
    }

    func killOperator(_ identity: String) {
        guard let process = operators.removeValue(forKey: identity) else { return }
        process.signal(SIGKILL)
        _ = process.wait()
    }

    func tearDown() async {
        for identity in Array(operators.keys) {
            operators[identity]?.signal(SIGTERM)
            _ = operators[identity]?.wait()
        }
        operators = [:]
        // The daemons recover what is left (nothing, when the test passed) and stop.
        for (name, daemon) in daemons {
            _ = try? cli.run(["recover", "--all", "--state-dir", cli.home + "/daemon-\(name)"])
            daemon.process.signal(SIGTERM)
            _ = daemon.process.wait()
        }
        daemons = [:]
        for container in containers.values { container.tearDown() }
        containers = [:]
        if !runDirectoryExisted {
            for leftover in ["/run/containerd/s", "/run/containerd/runc", "/run/containerd/fifo", "/run/containerd"] { rmdir(leftover) }
        }
        await simulation.stop()
        cli.removeHome()
    }
}

@Suite("KubernetesOperator", .serialized,
       .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/containerd")
                && FileManager.default.fileExists(atPath: "/bin/busybox") && FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl"),
                "needs root, containerd, busybox and kubectl"))
struct KubernetesOperatorTests {
    static func delay(_ name: String, selector: String, latency: String = "100ms") -> String {
        """
        apiVersion: chaos-mesh.org/v1alpha1
        kind: NetworkChaos
        metadata:
          name: \(name)
          namespace: shop
        spec:
          action: delay
          mode: all
          selector:
            namespaces: [shop]
            labelSelectors:
              app: \(selector)
          delay:
            latency: \(latency)
          duration: 10m
        """
    }

    /// Apply → records for exactly the selected pods, injected by the right
    /// node daemons, AllInjected, the delay measured on the containers
    /// early, in the middle and late; pause recovers, resume re-injects; a
    /// watch broken with 410 Gone misses nothing; the leader killed hands
    /// over without the fault going; delete recovers, then the finalizer goes.
    @Test func aNetworkChaosAppliedWithKubectlDelaysRealContainersThroughTheNodeDaemons() async throws {
        let cluster = TestCluster()
        do {
            try await run(cluster)
        } catch {
            await cluster.tearDown()
            throw error
        }
        await cluster.tearDown()
    }

    func run(_ cluster: TestCluster) async throws {
        try await cluster.start()
        try cluster.addNode("node-a")
        try cluster.addNode("node-b")
        try cluster.addPod("web-1", node: "node-a", labels: ["app": "web"])
        try cluster.addPod("web-2", node: "node-b", labels: ["app": "web"])
        try cluster.addPod("other", node: "node-a", labels: ["app": "other"])
        let baseline = try cluster.containers.mapValues { try $0.rtt() }
        #expect(baseline.values.allSatisfy { $0 < 10 }, "baseline RTTs: \(baseline)")

        try cluster.startOperator("op-1")
        try await cluster.waitUntil(30, "op-1 to lead") { cluster.operators["op-1"]!.text.contains("caches synced") }
        try cluster.startOperator("op-2")
        try cluster.registerWebhook("op-1")

        // The webhook refuses a bad document with Tumult's field path; nothing is created.
        let refused = try cluster.kubectlResult(["apply"], input: Self.delay("bad", selector: "web", latency: "90xs"))
        #expect(!refused.succeeded)
        #expect(refused.stderr.contains("denied the request"), "\(refused.stderr)")
        #expect(refused.stderr.contains("spec.delay.latency"), "\(refused.stderr)")
        #expect(cluster.chaos("networkchaos", "bad") == nil)

        // Applied with kubectl: exactly the selected pods, each by its node's daemon.
        try cluster.kubectl(["apply"], input: Self.delay("web-delay", selector: "web"))
        try await cluster.waitUntil(30, "AllInjected") { cluster.condition("networkchaos", "web-delay", "AllInjected") == "True" }
        #expect(cluster.recordIDs("networkchaos", "web-delay") == ["shop/web-1", "shop/web-2"])
        let finalizers = (cluster.chaos("networkchaos", "web-delay")?["metadata"] as? [String: Any])?["finalizers"] as? [String]
        #expect(finalizers == ["chaos-mesh/records"])
        #expect(try await cluster.attacks(on: "node-a").compactMap(\.owner?.target) == ["shop/web-1"])
        #expect(try await cluster.attacks(on: "node-b").compactMap(\.owner?.target) == ["shop/web-2"])
        let events = try cluster.kubectl(["get", "events.v1.events.k8s.io", "-n", "shop", "-o", "json"])
        #expect(events.contains("web-delay"), "events on the object")

        // The delay, early, in the middle and late; the pod not selected untouched.
        for moment in ["early", "middle", "late"] {
            let web1 = try cluster.containers["web-1"]!.rtt()
            let web2 = try cluster.containers["web-2"]!.rtt()
            let other = try cluster.containers["other"]!.rtt()
            #expect(web1 - baseline["web-1"]! > 90 && web1 - baseline["web-1"]! < 150, "\(moment): web-1 \(web1) ms")
            #expect(web2 - baseline["web-2"]! > 90 && web2 - baseline["web-2"]! < 150, "\(moment): web-2 \(web2) ms")
            #expect(other < 10, "\(moment): other \(other) ms")
            print("KubernetesOperator: \(moment): RTT web-1 \(web1) ms, web-2 \(web2) ms, other \(other) ms (baseline \(baseline))")
            if moment != "late" { try await Task.sleep(for: .seconds(2)) }
        }

        // Pause recovers; resume injects again.
        try cluster.kubectl(["annotate", "networkchaos", "web-delay", "experiment.chaos-mesh.org/pause=true"])
        try await cluster.waitUntil(20, "AllRecovered on pause") {
            cluster.condition("networkchaos", "web-delay", "AllRecovered") == "True" && cluster.condition("networkchaos", "web-delay", "Paused") == "True"
        }
        #expect(try cluster.containers["web-1"]!.rtt() < 10)
        try cluster.kubectl(["annotate", "networkchaos", "web-delay", "experiment.chaos-mesh.org/pause-"])
        try await cluster.waitUntil(20, "AllInjected after resume") { cluster.condition("networkchaos", "web-delay", "AllInjected") == "True" }
        #expect(try cluster.containers["web-1"]!.rtt() > 90)

        // Every watch broken and the history compacted: the operator's next
        // watch gets 410 Gone and relists; an object made meanwhile is not missed.
        cluster.simulation.compactHistory()
        cluster.simulation.breakWatches()
        try cluster.kubectl(["apply"], input: Self.delay("other-delay", selector: "other", latency: "50ms"))
        try await cluster.waitUntil(30, "other-delay injected after the relist") {
            cluster.condition("networkchaos", "other-delay", "AllInjected") == "True"
        }
        #expect(try cluster.containers["other"]!.rtt() > 40)
        try cluster.kubectl(["delete", "networkchaos", "other-delay", "--wait=false"])
        try await cluster.waitUntil(30, "other-delay gone") { cluster.chaos("networkchaos", "other-delay") == nil }
        #expect(try cluster.containers["other"]!.rtt() < 10)

        // The leader killed: the other replica takes the Lease within its period, and the fault stays.
        let heldBefore = Set(try await cluster.attacks(on: "node-a").map(\.id) + cluster.attacks(on: "node-b").map(\.id))
        let killedAt = Date()
        cluster.killOperator("op-1")
        // The webhook Service's endpoints follow the live pods.
        try cluster.registerWebhook("op-2")
        try await cluster.waitUntil(15, "op-2 to lead") {
            (cluster.simulation.object(resource: "leases", namespace: "tumult", name: "tumult-operator")?["spec"] as? [String: Any])?["holderIdentity"] as? String == "op-2"
        }
        let handover = Date().timeIntervalSince(killedAt)
        print("KubernetesOperator: leader handover after SIGKILL in \(String(format: "%.2f", handover)) s (lease 3 s)")
        #expect(handover < 3 + 2 + 1, "handed over in \(handover) s with a 3 s lease")
        try await cluster.waitUntil(30, "op-2 synced") { cluster.operators["op-2"]!.text.contains("caches synced") }
        #expect(try cluster.containers["web-1"]!.rtt() > 90, "the fault stays through the change of leader")
        #expect(try cluster.containers["web-2"]!.rtt() > 90)
        try await Task.sleep(for: .seconds(2))
        let heldAfter = Set(try await cluster.attacks(on: "node-a").map(\.id) + cluster.attacks(on: "node-b").map(\.id))
        #expect(heldAfter == heldBefore, "op-2 took op-1's faults as they were: neither recovered nor injected again")
        let debugAttacks = try await cluster.attacks(on: "node-a")
        #expect(cluster.condition("networkchaos", "web-delay", "AllInjected") == "True",
                "status after the handover: \(String(describing: cluster.chaos("networkchaos", "web-delay")?["status"]))\n\(cluster.operators["op-2"]!.text.suffix(4000))\nmetadata: \(String(describing: cluster.chaos("networkchaos", "web-delay")?["metadata"]))\nattacks: \(debugAttacks)")

        // Deleted: recovered first, then the finalizer goes and so does the object.
        try cluster.kubectl(["delete", "networkchaos", "web-delay", "--wait=false"])
        try await cluster.waitUntil(30, "web-delay gone") { cluster.chaos("networkchaos", "web-delay") == nil }
        #expect(try cluster.containers["web-1"]!.rtt() < 10)
        #expect(try cluster.containers["web-2"]!.rtt() < 10)
        #expect(try await cluster.attacks(on: "node-a").isEmpty)
        #expect(try await cluster.attacks(on: "node-b").isEmpty)
    }
}
