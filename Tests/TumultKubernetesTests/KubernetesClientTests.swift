import Foundation
import Synchronization
import KubernetesSimulation
import Logging
import Testing
import TumultKubernetes
import TumultModel

/// The simulation has a `ResourceType` of its own.
private typealias Resource = TumultKubernetes.ResourceType

@Suite("KubernetesClient")
struct KubernetesClientTests {
    static let logger = Logger(label: "KubernetesClientTests", factory: { _ in SwiftLogNoOpLogHandler() })

    // MARK: Configuration

    /// A fresh directory for one test's files.
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("tumult-k8s-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private func write(_ text: String, to url: URL) throws {
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    private static let caPEM = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
    private static let certificatePEM = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n"
    private static let keyPEM = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n"

    private func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    @Test func kubeconfigCurrentContextWithEmbeddedData() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("config")
        try write(
            """
            apiVersion: v1
            kind: Config
            current-context: prod
            clusters:
            - name: prod-cluster
              cluster:
                server: https://10.0.0.1:6443
                certificate-authority-data: \(base64(Self.caPEM))
            - name: dev-cluster
              cluster:
                server: https://127.0.0.1:8443
                insecure-skip-tls-verify: true
            contexts:
            - name: prod
              context:
                cluster: prod-cluster
                user: admin
                namespace: chaos
            - name: dev
              context:
                cluster: dev-cluster
                user: developer
            users:
            - name: admin
              user:
                client-certificate-data: \(base64(Self.certificatePEM))
                client-key-data: \(base64(Self.keyPEM))
            - name: developer
              user:
                token: dev-token
            """, to: path)

        let prod = try KubernetesConfiguration.kubeconfig(path: path.path)
        #expect(prod.server.absoluteString == "https://10.0.0.1:6443")
        #expect(prod.certificateAuthorityPEM == Self.caPEM)
        #expect(prod.clientCertificatePEM == Self.certificatePEM)
        #expect(prod.clientKeyPEM == Self.keyPEM)
        #expect(prod.bearerToken == nil)
        #expect(prod.namespace == "chaos")
        #expect(prod.insecureSkipTLSVerify == false)

        let dev = try KubernetesConfiguration.kubeconfig(path: path.path, context: "dev")
        #expect(dev.server.absoluteString == "https://127.0.0.1:8443")
        #expect(dev.insecureSkipTLSVerify)
        #expect(dev.bearerToken == "dev-token")
        #expect(dev.namespace == "default")
        #expect(dev.certificateAuthorityPEM == nil)
        #expect(dev.qps == 50 && dev.burst == 100)

        #expect(throws: KubernetesConfigurationError.self) {
            try KubernetesConfiguration.kubeconfig(path: path.path, context: "staging")
        }
    }

    @Test func kubeconfigFilesResolveAgainstItsDirectory() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("pki"), withIntermediateDirectories: true)
        try write(Self.caPEM, to: directory.appendingPathComponent("pki/ca.crt"))
        try write(Self.certificatePEM, to: directory.appendingPathComponent("pki/client.crt"))
        try write(Self.keyPEM, to: directory.appendingPathComponent("pki/client.key"))
        try write("file-token\n", to: directory.appendingPathComponent("token"))
        let path = directory.appendingPathComponent("config")
        try write(
            """
            current-context: local
            clusters:
            - name: local
              cluster:
                server: https://kubernetes.local:6443/
                certificate-authority: pki/ca.crt
            contexts:
            - name: local
              context: {cluster: local, user: local}
            users:
            - name: local
              user:
                client-certificate: pki/client.crt
                client-key: \(directory.appendingPathComponent("pki/client.key").path)
                tokenFile: token
            """, to: path)
        let configuration = try KubernetesConfiguration.kubeconfig(path: path.path)
        #expect(configuration.certificateAuthorityPEM == Self.caPEM)
        #expect(configuration.clientCertificatePEM == Self.certificatePEM)
        #expect(configuration.clientKeyPEM == Self.keyPEM)
        #expect(configuration.bearerTokenFile == directory.appendingPathComponent("token").path)

        // $KUBECONFIG's first file is what resolve picks without an explicit path.
        let resolved = try KubernetesConfiguration.resolve(
            kubeconfig: nil, context: nil,
            environment: ["KUBECONFIG": "\(path.path):/nonexistent/other", "HOME": directory.path])
        #expect(resolved == configuration)
    }

    @Test func kubeconfigRefusesExecAndAuthProviderUsers() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("config")
        try write(
            """
            current-context: eks
            clusters:
            - name: eks
              cluster: {server: "https://eks.example:443"}
            contexts:
            - name: eks
              context: {cluster: eks, user: "arn:aws:eks:user"}
            - name: gke
              context: {cluster: eks, user: gke-user}
            users:
            - name: "arn:aws:eks:user"
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1beta1
                  command: aws
                  args: [eks, get-token]
            - name: gke-user
              user:
                auth-provider:
                  name: gcp
            """, to: path)
        do {
            _ = try KubernetesConfiguration.kubeconfig(path: path.path)
            Issue.record("an exec user was accepted")
        } catch let error as KubernetesConfigurationError {
            #expect(error.message.contains("arn:aws:eks:user"))
            #expect(error.message.contains("exec"))
            #expect(error.message.contains("token"))
            #expect(error.message.contains("certificate"))
        }
        do {
            _ = try KubernetesConfiguration.kubeconfig(path: path.path, context: "gke")
            Issue.record("an auth-provider user was accepted")
        } catch let error as KubernetesConfigurationError {
            #expect(error.message.contains("gke-user"))
            #expect(error.message.contains("auth-provider"))
        }
    }

    @Test func inClusterReadsTheServiceAccount() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try write("sa-token\n", to: directory.appendingPathComponent("token"))
        try write(Self.caPEM, to: directory.appendingPathComponent("ca.crt"))
        try write("chaos-mesh\n", to: directory.appendingPathComponent("namespace"))
        let configuration = try KubernetesConfiguration.inCluster(
            root: directory.path,
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"])
        #expect(configuration.server.absoluteString == "https://10.96.0.1:443")
        #expect(configuration.bearerToken == "sa-token")
        #expect(configuration.bearerTokenFile == directory.appendingPathComponent("token").path)
        #expect(configuration.certificateAuthorityPEM == Self.caPEM)
        #expect(configuration.namespace == "chaos-mesh")

        let ipv6 = try KubernetesConfiguration.inCluster(
            root: directory.path,
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"])
        #expect(ipv6.server.absoluteString == "https://[fd00::1]:6443")

        #expect(throws: KubernetesConfigurationError.self) {
            try KubernetesConfiguration.inCluster(root: directory.path, environment: [:])
        }
        // Nothing to go on: the error lists what was tried.
        do {
            _ = try KubernetesConfiguration.resolve(
                kubeconfig: nil, context: nil, environment: ["HOME": directory.path])
            Issue.record("resolve found a configuration in an empty environment")
        } catch let error as KubernetesConfigurationError {
            #expect(error.message.contains("KUBECONFIG"))
            #expect(error.message.contains(".kube/config"))
            #expect(error.message.contains("KUBERNETES_SERVICE_HOST"))
        }
    }

    // MARK: Pure parts

    @Test func resourcePaths() {
        #expect(Resource.pods.path(namespace: "ns", name: "web", subresource: "status")
            == "/api/v1/namespaces/ns/pods/web/status")
        #expect(Resource.pods.path(namespace: nil) == "/api/v1/pods")
        #expect(Resource.nodes.path(namespace: "ignored", name: "n1") == "/api/v1/nodes/n1")
        #expect(Resource.namespaces.path(namespace: nil, name: "chaos") == "/api/v1/namespaces/chaos")
        let networkChaos = Resource.chaosMesh(kind: "NetworkChaos", plural: "networkchaos")
        #expect(networkChaos.path(namespace: "default", name: "delay")
            == "/apis/chaos-mesh.org/v1alpha1/namespaces/default/networkchaos/delay")
        #expect(networkChaos.path(namespace: nil) == "/apis/chaos-mesh.org/v1alpha1/networkchaos")
        #expect(networkChaos.apiVersion == "chaos-mesh.org/v1alpha1")
        #expect(Resource.pods.apiVersion == "v1")
        #expect(Resource.leases.path(namespace: "kube-system", name: "tumult")
            == "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/tumult")
        #expect(Resource.customResourceDefinitions.path(namespace: nil, name: "podchaos.chaos-mesh.org")
            == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/podchaos.chaos-mesh.org")
        #expect(Resource.events.apiVersion == "events.k8s.io/v1")
    }

    @Test func tokenBucketSpendsBurstThenPaces() {
        let bucket = TokenBucket(qps: 10, burst: 3)
        let start = ContinuousClock.now
        for _ in 0..<3 { #expect(bucket.reserve(at: start) == .zero) }
        #expect(bucket.reserve(at: start) == .milliseconds(100))
        #expect(bucket.reserve(at: start) == .milliseconds(200))
        // A second later ten tokens came back, but the bucket holds at most three.
        let later = start + .seconds(1)
        for _ in 0..<3 { #expect(bucket.reserve(at: later) == .zero) }
        #expect(bucket.reserve(at: later) == .milliseconds(100))
        #expect(TokenBucket(qps: 0, burst: 1).reserve(at: start) == .zero)
    }

    @Test func microTimeRoundTrips() throws {
        let date = Date(timeIntervalSince1970: 1_700_000_000.123456)
        let text = MicroTime.format(date)
        #expect(text == "2023-11-14T22:13:20.123456Z")
        let parsed = try #require(MicroTime.parse(text))
        #expect(abs(parsed.timeIntervalSince(date)) < 0.000_001)
        #expect(MicroTime.parse("2006-01-02T15:04:05Z") == Date(timeIntervalSince1970: 1_136_214_245))
        #expect(MicroTime.parse("2006-01-02T16:04:05+01:00") == Date(timeIntervalSince1970: 1_136_214_245))
        #expect(MicroTime.parse("yesterday") == nil)
    }

    @Test func metadataOmitsWhatIsUnsetAndUnstructuredKeepsTheRest() throws {
        let encoded = String(decoding: try JSONEncoder().encode(ObjectMeta(name: "a")), as: UTF8.self)
        #expect(encoded == #"{"name":"a"}"#)

        let json = #"""
            {"apiVersion":"chaos-mesh.org/v1alpha1","kind":"NetworkChaos",
             "metadata":{"name":"delay","namespace":"default","resourceVersion":"7",
                         "managedFields":[{"manager":"kubectl"}],"labels":{"a":"b"}},
             "spec":{"action":"delay","delay":{"latency":"10ms"},"future":true},
             "status":{"experiment":{"desiredPhase":"Run"}},
             "extra":[1,2.5,null]}
            """#
        var object = try JSONDecoder().decode(UnstructuredObject.self, from: Data(json.utf8))
        #expect(object.metadata.name == "delay")
        #expect(object.metadata.labels == ["a": "b"])
        #expect(object.kind == "NetworkChaos")
        object.metadata.finalizers = ["chaos-mesh/records"]
        object.metadata.labels = [:]
        object.status = .object(Value.Object([("phase", .string("Injected"))]))
        let again = try JSONDecoder().decode(
            UnstructuredObject.self, from: try JSONEncoder().encode(object))
        let metadata = try #require(again.value.objectValue?["metadata"]?.objectValue)
        #expect(metadata["managedFields"] != nil)
        #expect(metadata["labels"] == nil)
        #expect(metadata["finalizers"] == .array([.string("chaos-mesh/records")]))
        #expect(again.spec == object.spec)
        #expect(again.spec?.objectValue?["future"] == .bool(true))
        #expect(again["extra"] == .array([.integer(1), .double(2.5), .null]))
        #expect(again.status?.objectValue?["phase"] == .string("Injected"))
    }

    // MARK: Against the simulation

    /// Runs `body` with a started simulation and a client of it; both are
    /// stopped afterwards, whether `body` throws or not.
    private func withSimulation(
        _ configuration: APIServerSimulation.Configuration = .init(), qps: Double = 1000, burst: Int = 1000,
        _ body: (APIServerSimulation, KubernetesClient) async throws -> Void
    ) async throws {
        let server = APIServerSimulation(configuration: configuration)
        try await server.start()
        let client = KubernetesClient(
            configuration: KubernetesConfiguration(server: server.url, qps: qps, burst: burst), logger: Self.logger)
        do {
            try await body(server, client)
        } catch {
            try? await client.shutdown()
            await server.stop()
            throw error
        }
        try await client.shutdown()
        await server.stop()
    }

    private func configMap(_ name: String, namespace: String = "default", data: [String: String] = [:])
        -> UnstructuredObject
    {
        UnstructuredObject(Resource.configMaps, metadata: ObjectMeta(name: name, namespace: namespace))
            .setting("data", .object(Value.Object(data.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes.
    private func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    @Test func crudAndConflicts() async throws {
        try await withSimulation { _, client in
            let created = try await client.create(Resource.configMaps, namespace: "default", configMap("settings", data: ["a": "1"]))
            #expect(created.metadata.uid != nil)
            let version = try #require(created.metadata.resourceVersion)

            var fetched: UnstructuredObject = try await client.get(Resource.configMaps, namespace: "default", name: "settings")
            #expect(fetched["data"]?.objectValue?["a"] == .string("1"))
            fetched["data"] = .object(Value.Object([("a", .string("2"))]))
            let updated = try await client.update(Resource.configMaps, fetched)
            #expect(updated.metadata.resourceVersion != version)

            // The first read's resourceVersion is stale now.
            var stale = created
            stale["data"] = .object(Value.Object([("a", .string("3"))]))
            do {
                _ = try await client.update(Resource.configMaps, stale)
                Issue.record("a stale update was accepted")
            } catch let error as KubernetesError {
                #expect(error.isConflict)
                #expect(error.statusCode == 409)
            }
            do {
                _ = try await client.create(Resource.configMaps, namespace: "default", configMap("settings"))
                Issue.record("a duplicate create was accepted")
            } catch let error as KubernetesError {
                #expect(error.isAlreadyExists)
                #expect(!error.isConflict)
            }

            // A delete conditional on a version that is no longer current is refused.
            do {
                try await client.delete(
                    Resource.configMaps, namespace: "default", name: "settings", preconditionResourceVersion: version)
                Issue.record("a delete with a stale precondition succeeded")
            } catch let error as KubernetesError {
                #expect(error.isConflict)
            }
            try await client.delete(
                Resource.configMaps, namespace: "default", name: "settings",
                preconditionResourceVersion: updated.metadata.resourceVersion)
            do {
                let _: UnstructuredObject = try await client.get(Resource.configMaps, namespace: "default", name: "settings")
                Issue.record("a deleted object was found")
            } catch let error as KubernetesError {
                #expect(error.isNotFound)
                #expect(error.description.contains("/api/v1/namespaces/default/configmaps/settings"))
            }
            do {
                try await client.delete(Resource.configMaps, namespace: "default", name: "settings")
                Issue.record("deleting a missing object succeeded")
            } catch let error as KubernetesError {
                #expect(error.isNotFound)
            }
            let counts = client.requestCounts()
            #expect(counts["create configmaps"] == 2)
            #expect(counts["update configmaps"] == 2)
            #expect(counts["get configmaps"] == 2)
            #expect(counts["delete configmaps"] == 3)
        }
    }

    @Test func patchesAndStatus() async throws {
        try await withSimulation { _, client in
            let pod = PodObject(
                metadata: ObjectMeta(name: "web", namespace: "default", labels: ["app": "web"]),
                spec: .init(containers: [.init(name: "nginx", image: "nginx")]))
            let created = try await client.create(Resource.pods, namespace: "default", pod)
            #expect(created.spec?.containers.map(\.name) == ["nginx"])

            let merged: PodObject = try await client.patch(
                Resource.pods, namespace: "default", name: "web",
                .merge(.object(Value.Object([("metadata", .object(Value.Object([
                    ("labels", .object(Value.Object([("tier", .string("front")), ("app", .null)]))),
                ])))]))))
            #expect(merged.metadata.labels == ["tier": "front"])

            let patched: PodObject = try await client.patch(
                Resource.pods, namespace: "default", name: "web",
                .json([
                    .test("/metadata/labels/tier", .string("front")),
                    .add("/metadata/annotations", .object(Value.Object([("chaos-mesh.org/inject", .string("true"))]))),
                ]))
            #expect(patched.metadata.annotations["chaos-mesh.org/inject"] == "true")
            do {
                let _: PodObject = try await client.patch(
                    Resource.pods, namespace: "default", name: "web", .json([.test("/metadata/labels/tier", .string("back"))]))
                Issue.record("a failing JSON patch test was applied")
            } catch let error as KubernetesError {
                #expect(error.statusCode.map { $0 >= 400 } == true)
            }

            var withStatus = patched
            withStatus.status = .init(
                phase: "Running", podIP: "10.0.0.5", podIPs: [.init(ip: "10.0.0.5")], hostIP: "192.168.1.2",
                containerStatuses: [.init(name: "nginx", containerID: "containerd://abc", ready: true)])
            let statusUpdated = try await client.updateStatus(Resource.pods, withStatus)
            #expect(statusUpdated.status?.podIP == "10.0.0.5")
            #expect(statusUpdated.status?.containerStatuses?.first?.containerID == "containerd://abc")

            let statusPatched: PodObject = try await client.patch(
                Resource.pods, namespace: "default", name: "web",
                .merge(.object(Value.Object([("status", .object(Value.Object([("phase", .string("Succeeded"))])))]))),
                subresource: "status")
            #expect(statusPatched.status?.phase == "Succeeded")
            #expect(statusPatched.status?.podIP == "10.0.0.5")
            #expect(client.requestCounts()["patch pods status"] == 1)
            #expect(client.requestCounts()["update pods status"] == 1)
        }
    }

    @Test func listFollowsContinueTokens() async throws {
        try await withSimulation { _, client in
            for index in 0..<7 {
                _ = try await client.create(
                    Resource.configMaps, namespace: "default",
                    configMap("page-\(index)").setting("metadata", .object(Value.Object([
                        ("name", .string("page-\(index)")),
                        ("labels", .object(Value.Object([("parity", .string(index % 2 == 0 ? "even" : "odd"))]))),
                    ]))))
            }
            let paged = try await client.list(Resource.configMaps, namespace: "default", limit: 3, as: UnstructuredObject.self)
            #expect(paged.items.count == 7)
            #expect(Set(paged.items.map(\.metadata.name)).count == 7)
            #expect(paged.items.allSatisfy { $0.kind == "ConfigMap" && $0.apiVersion == "v1" })
            #expect(!paged.resourceVersion.isEmpty)
            #expect(client.requestCounts()["list configmaps"] == 3)

            let even = try await client.list(
                Resource.configMaps, namespace: nil, labelSelector: "parity=even", as: UnstructuredObject.self)
            #expect(even.items.map(\.metadata.name).sorted() == ["page-0", "page-2", "page-4", "page-6"])
        }
    }

    @Test func watchStreamsChangesAndBookmarks() async throws {
        try await withSimulation(.init(bookmarkInterval: .milliseconds(200))) { server, client in
            let start = try await client.list(Resource.configMaps, namespace: "default", as: UnstructuredObject.self)
            let writer = Task {
                let created = try await client.create(Resource.configMaps, namespace: "default", configMap("watched"))
                var changed = created
                changed["data"] = .object(Value.Object([("k", .string("v"))]))
                _ = try await client.update(Resource.configMaps, changed)
                try await client.delete(Resource.configMaps, namespace: "default", name: "watched")
            }
            var seen: [String] = []
            var bookmarkVersion: String?
            for try await event in client.watch(
                Resource.configMaps, namespace: "default", resourceVersion: start.resourceVersion,
                as: UnstructuredObject.self)
            {
                switch event {
                case .added(let object): seen.append("added \(object.metadata.name)")
                case .modified(let object):
                    seen.append("modified \(object.metadata.name) \(object["data"]?.objectValue?["k"]?.stringValue ?? "")")
                case .deleted(let object): seen.append("deleted \(object.metadata.name)")
                case .bookmark(let version): bookmarkVersion = version
                }
                if seen.count == 3, bookmarkVersion != nil { break }
            }
            try await writer.value
            #expect(seen == ["added watched", "modified watched v", "deleted watched"])
            #expect(bookmarkVersion.map { !$0.isEmpty } == true)
            // Leaving the loop dropped the stream: the connection closes (the server
            // notices at its next write, a bookmark within 200 ms).
            #expect(await eventually(within: .seconds(5)) { server.openWatches == 0 })
            #expect(client.requestCounts()["watch configmaps"] == 1)

            // A version the server no longer has ends the watch with Gone.
            server.compactHistory()
            do {
                for try await _ in client.watch(
                    Resource.configMaps, namespace: "default", resourceVersion: start.resourceVersion,
                    as: UnstructuredObject.self)
                {}
                Issue.record("a watch from a compacted version did not fail")
            } catch let error as KubernetesError {
                #expect(error.isGone)
            }
        }
    }

    @Test func unusableTLSMaterialFailsEveryRequestWithTheReason() async throws {
        let configuration = KubernetesConfiguration(
            server: URL(string: "https://127.0.0.1:1")!, certificateAuthorityPEM: "not a certificate")
        let client = KubernetesClient(configuration: configuration, logger: Self.logger)
        do {
            let _: PodObject = try await client.get(Resource.pods, namespace: "default", name: "web")
            Issue.record("a request went out without a usable CA")
        } catch let error as KubernetesError {
            #expect(error.statusCode == nil)
            #expect(error.message.contains("TLS"))
        }
        #expect(client.requestCounts().isEmpty)
        try await client.shutdown()
    }

    @Test func cancellingTheConsumerClosesTheWatch() async throws {
        try await withSimulation(.init(bookmarkInterval: .milliseconds(200))) { server, client in
            let list = try await client.list(Resource.pods, namespace: nil, as: PodObject.self)
            let consumer = Task {
                for try await _ in client.watch(Resource.pods, namespace: nil, resourceVersion: list.resourceVersion, as: PodObject.self) {}
            }
            #expect(await eventually(within: .seconds(5)) { server.openWatches == 1 })
            consumer.cancel()
            _ = await consumer.result
            #expect(await eventually(within: .seconds(5)) { server.openWatches == 0 })
        }
    }

    @Test func informerRelistsAfterGoneAndReportsWhatItMissed() async throws {
        try await withSimulation(.init(bookmarkInterval: .milliseconds(200))) { server, client in
            for name in ["keep", "doomed", "changed"] {
                _ = try await client.create(Resource.configMaps, namespace: "default", configMap(name, data: ["v": "1"]))
            }
            let informer = Informer<UnstructuredObject>(
                client: client, resource: Resource.configMaps, namespace: "default", pageSize: 2, logger: Self.logger)
            let events = informer.events()
            let running = Task { try await informer.run() }
            defer { running.cancel() }
            await informer.waitForSync()
            #expect(informer.hasSynced)
            #expect(informer.list().map(\.metadata.name) == ["changed", "doomed", "keep"])

            // A change the watch reports.
            _ = try await client.create(Resource.configMaps, namespace: "default", configMap("watched"))
            #expect(await eventually(within: .seconds(5)) { informer.get(namespace: "default", name: "watched") != nil })

            // The history goes; the watch gets 410; changes made before the
            // informer lists again reach it only through the relist's diff.
            server.compactHistory()
            #expect(server.deleteNow(resource: "configmaps", namespace: "default", name: "doomed"))
            var changed = try #require(server.object(resource: "configmaps", namespace: "default", name: "changed"))
            changed["data"] = ["v": "2"]
            try server.put(json: changed)
            try server.put(json: ["apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": ["name": "newcomer", "namespace": "default"]])

            #expect(await eventually(within: .seconds(10)) {
                informer.get(namespace: "default", name: "doomed") == nil
                    && informer.get(namespace: "default", name: "newcomer") != nil
                    && informer.get(namespace: "default", name: "changed")?["data"]?.objectValue?["v"] == .string("2")
            })
            #expect(informer.listCount == 2)
            #expect(informer.watchCount >= 2)

            // Every change came out as an event: the relist's diff, or the
            // watch after it (the simulation's pages are not one snapshot, so
            // a change may land between them and reach the informer by watch).
            let missed: Set<String> = ["deleted doomed", "updated changed", "added newcomer"]
            let watchdog = Task {
                try await Task.sleep(for: .seconds(10))
                running.cancel()
            }
            var log: [String] = []
            var synced = 0
            for await event in events {
                switch event {
                case .added(let object): log.append("added \(object.metadata.name)")
                case .updated(_, let new): log.append("updated \(new.metadata.name)")
                case .deleted(let object): log.append("deleted \(object.metadata.name)")
                case .synced: synced += 1
                }
                if synced == 2, missed.isSubset(of: Set(log.dropFirst(4))) { break }
            }
            watchdog.cancel()
            #expect(synced == 2)
            #expect(log.prefix(4) == ["added changed", "added doomed", "added keep", "added watched"])
            #expect(Set(log.dropFirst(4)) == missed)

            // A watch the server ends cleanly is re-opened without a list.
            let watches = informer.watchCount
            server.breakWatches()
            #expect(await eventually(within: .seconds(5)) { informer.watchCount > watches })
            #expect(informer.listCount == 2)
        }
    }

    @Test func repeatedEventsBecomeASeries() async throws {
        try await withSimulation { _, client in
            let pod = try await client.create(
                Resource.pods, namespace: "default",
                PodObject(metadata: ObjectMeta(name: "target", namespace: "default"), spec: .init(containers: [.init(name: "c")])))
            let recorder = EventRecorder(
                client: client, reportingController: "chaos-mesh.org/tumult", reportingInstance: "tumult-0",
                logger: Self.logger)
            let regarding = ObjectReference(Resource.pods, pod)
            await recorder.record(regarding: regarding, type: .normal, reason: "Injected", action: "Inject", note: "delay 10ms")
            await recorder.record(regarding: regarding, type: .normal, reason: "Injected", action: "Inject", note: "delay 10ms")
            await recorder.record(regarding: regarding, type: .warning, reason: "Failed", action: "Inject", note: "no such device")

            let events = try await client.list(Resource.events, namespace: "default", as: EventObject.self).items
            #expect(events.count == 2)
            let injected = try #require(events.first { $0.reason == "Injected" })
            #expect(injected.series?.count == 2)
            #expect(injected.series.flatMap { MicroTime.parse($0.lastObservedTime) } != nil)
            #expect(injected.regarding?.uid == pod.metadata.uid)
            #expect(injected.reportingController == "chaos-mesh.org/tumult")
            #expect(injected.metadata.name.hasPrefix("target."))
            let failed = try #require(events.first { $0.reason == "Failed" })
            #expect(failed.series == nil)
            #expect(failed.type == "Warning")
        }
    }

    @Test func leaderElectionFailsOverAfterTheLeaseExpires() async throws {
        try await withSimulation { _, client in
            let leaseDuration = Duration.seconds(2)
            let retryPeriod = Duration.milliseconds(300)
            func elector(_ identity: String) -> LeaderElector {
                LeaderElector(
                    client: client, namespace: "default", name: "tumult-operator", identity: identity,
                    leaseDuration: leaseDuration, renewDeadline: .milliseconds(1500), retryPeriod: retryPeriod,
                    releaseOnCancel: false, logger: Self.logger)
            }
            let first = elector("first")
            let second = elector("second")
            let firstWork = WorkFlag()
            let firstRun = Task { try await first.run { try await firstWork.runUntilCancelled() } }
            #expect(await eventually(within: .seconds(5)) { first.isLeader && firstWork.running })

            let secondWork = WorkFlag()
            let secondRun = Task { try await second.run { try await secondWork.runUntilCancelled() } }
            defer { secondRun.cancel() }
            try await Task.sleep(for: .seconds(1))
            #expect(!second.isLeader)
            #expect(!secondWork.running)

            // The leader dies without releasing the lease.
            firstRun.cancel()
            _ = await firstRun.result
            #expect(firstWork.cancelled)
            let killed = ContinuousClock.now
            #expect(await eventually(within: leaseDuration + retryPeriod + .seconds(2)) { second.isLeader })
            let takeover = killed.duration(to: .now)
            #expect(takeover <= leaseDuration + retryPeriod + .milliseconds(500))
            #expect(await eventually(within: .seconds(2)) { secondWork.running })

            let lease = try await client.get(Resource.leases, namespace: "default", name: "tumult-operator", as: LeaseObject.self)
            #expect(lease.spec.holderIdentity == "second")
            #expect(lease.spec.leaseTransitions == 1)
            #expect(lease.spec.leaseDurationSeconds == 2)

            // Released on cancel this time: the holder is cleared.
            let releasing = LeaderElector(
                client: client, namespace: "default", name: "tumult-operator", identity: "second",
                leaseDuration: leaseDuration, renewDeadline: .milliseconds(1500), retryPeriod: retryPeriod,
                logger: Self.logger)
            secondRun.cancel()
            _ = await secondRun.result
            let releasingRun = Task { try await releasing.run { try await Task.sleep(for: .seconds(60)) } }
            #expect(await eventually(within: .seconds(5)) { releasing.isLeader })
            releasingRun.cancel()
            _ = await releasingRun.result
            let released = try await client.get(Resource.leases, namespace: "default", name: "tumult-operator", as: LeaseObject.self)
            #expect(released.spec.holderIdentity == nil)
        }
    }

    @Test func rateLimitPacesRequests() async throws {
        try await withSimulation(qps: 20, burst: 1) { _, client in
            let start = ContinuousClock.now
            for _ in 0..<11 {
                _ = try await client.list(Resource.namespaces, namespace: nil, as: UnstructuredObject.self)
            }
            let elapsed = start.duration(to: .now)
            // Ten waits of 50 ms each; the upper bound only catches a stuck limiter.
            #expect(elapsed >= .milliseconds(450))
            #expect(elapsed < .seconds(5))
            #expect(client.requestCounts()["list namespaces"] == 11)
        }
    }
}

/// Work a leader runs until it is cancelled, observable from the test.
private final class WorkFlag: Sendable {
    private let state = Mutex((running: false, cancelled: false))

    var running: Bool { state.withLock { $0.running } }
    var cancelled: Bool { state.withLock { $0.cancelled } }

    func runUntilCancelled() async throws {
        state.withLock { $0.running = true }
        do {
            try await Task.sleep(for: .seconds(3600))
        } catch {
            state.withLock { $0 = (running: false, cancelled: true) }
            throw error
        }
    }
}

extension UnstructuredObject {
    /// A copy with `field` set, for building test objects in one expression.
    fileprivate func setting(_ field: String, _ value: Value) -> UnstructuredObject {
        var copy = self
        copy[field] = value
        return copy
    }
}
