import Foundation
import KubernetesSimulation
import Testing
import TumultCertificates
import TumultKubernetes
import TumultModel
import X509
@testable import tumult

/// The plain manifests `tumult manifests` prints and the Helm chart in
/// deploy/helm/tumult: well-formed, certificates that verify, the chart and
/// the generator making the same objects, and the real kubectl applying them.
@Suite("DeployManifests")
struct DeployManifestsTests {
    // MARK: Fixtures

    private static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    private static let chart = packageRoot.appendingPathComponent("deploy/helm/tumult")

    /// The chart's appVersion: the default image tag of both the chart and the generator.
    private static func appVersion() throws -> String {
        let text = try String(contentsOf: chart.appendingPathComponent("Chart.yaml"), encoding: .utf8)
        let chartObject = try #require(try DocumentText.parse(text).first?.objectValue)
        return try #require(chartObject["appVersion"]?.stringValue)
    }

    private static func generated(_ options: DeployOptions) throws -> (objects: [Value], certificates: DeployCertificates) {
        let certificates = try DeployCertificates.issue(namespace: options.namespace)
        let objects = DeployManifests.objects(options: options, certificates: certificates, dashboardToken: "token")
        return (objects, certificates)
    }

    // MARK: Well-formed

    @Test(arguments: [[], ["team-a", "team-b"]])
    func everyObjectIsWellFormed(watchNamespaces: [String]) throws {
        let options = DeployOptions(version: "1.2.3", watchNamespaces: watchNamespaces)
        #expect(options.problems.isEmpty)
        let objects = try Self.generated(options).objects
        let clusterScoped: Set<String> = [
            "CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration",
        ]
        var keys = Set<String>()
        for object in objects {
            let fields = try #require(object.objectValue)
            let kind = try #require(fields["kind"]?.stringValue)
            #expect(fields["apiVersion"]?.stringValue?.isEmpty == false, "\(kind) has no apiVersion")
            let metadata = try #require(fields["metadata"]?.objectValue, "\(kind) has no metadata")
            let name = try #require(metadata["name"]?.stringValue, "\(kind) has no name")
            let namespace = metadata["namespace"]?.stringValue
            if clusterScoped.contains(kind) {
                #expect(namespace == nil, "\(kind)/\(name) is cluster-scoped but names a namespace")
            } else {
                #expect(namespace != nil, "\(kind)/\(name) is namespaced but names no namespace")
            }
            #expect(keys.insert("\(kind)/\(namespace ?? "")/\(name)").inserted, "\(kind)/\(name) appears twice")
        }
        // CRDs first, then the namespace everything else lives in.
        let kinds = objects.compactMap { $0.objectValue?["kind"]?.stringValue }
        let definitions = kinds.prefix { $0 == "CustomResourceDefinition" }.count
        #expect(definitions == CustomResourceDefinitions.definitions().count)
        #expect(kinds.dropFirst(definitions).first == "Namespace")

        // The YAML stream reads back as the same objects.
        let text = try DocumentText.yaml(objects)
        #expect(try DocumentText.parse(text, budget: .init(bytes: 32 << 20, nodes: 2_000_000)) == objects)
    }

    @Test func workloadsRunWhatTheBriefSays() throws {
        let options = DeployOptions(version: "1.2.3", watchNamespaces: ["team-a"])
        let objects = try Self.generated(options).objects
        let operatorPod = try #require(podSpec(find(objects, kind: "Deployment", name: "tumult-operator")))
        let operatorContainer = try #require(operatorPod["containers"]?.array?.first?.objectValue)
        #expect(operatorContainer["image"] == .string("ghcr.io/tumult-dev/tumult:1.2.3"))
        #expect(operatorContainer["args"] == .array([
            "operator", "--fleet-ca", "/etc/tumult/fleet/ca.crt", "--fleet-cert", "/etc/tumult/fleet/tls.crt",
            "--fleet-key", "/etc/tumult/fleet/tls.key", "--webhook-cert", "/etc/tumult/webhook/tls.crt",
            "--webhook-key", "/etc/tumult/webhook/tls.key", "--watch-namespace", "team-a",
        ].map(Value.string)))
        let operatorSpec = try #require(find(objects, kind: "Deployment", name: "tumult-operator")["spec"]?.objectValue)
        #expect(operatorSpec["replicas"] == .integer(2))

        let daemonSet = try find(objects, kind: "DaemonSet", name: "tumult-daemon")
        let daemonPod = try #require(podSpec(daemonSet))
        #expect(daemonPod["hostPID"] == .bool(true))
        #expect(daemonPod["automountServiceAccountToken"] == .bool(false))
        let template = try #require(daemonSet["spec"]?.objectValue?["template"]?.objectValue?["metadata"]?.objectValue)
        #expect(template["labels"] == DeployManifests.daemonLabels)
        #expect(template["annotations"]?.objectValue?["tumult.dev/agent-port"] == .string("31768"))
        let daemonContainer = try #require(daemonPod["containers"]?.array?.first?.objectValue)
        #expect(daemonContainer["args"]?.array?.prefix(4) == ["daemon", "--kubernetes", "--listen", "0.0.0.0:31768"].map(Value.string)[...])

        // Watching namespaces: no cluster-wide access to pods or chaos objects.
        let clusterRoles = objects.filter { $0.objectValue?["kind"] == .string("ClusterRole") }
        let operatorClusterRules = clusterRoles
            .filter { $0.objectValue?["metadata"]?.objectValue?["name"]?.stringValue?.hasPrefix("tumult-operator") == true }
            .flatMap { $0.objectValue?["rules"]?.array ?? [] }
        #expect(operatorClusterRules == [mapping([
            "apiGroups": .array([.string("")]), "resources": .array([.string("nodes")]),
            "verbs": .array(["get", "list", "watch"].map(Value.string)),
        ])])
        #expect((try? find(objects, kind: "Role", name: "tumult-operator", namespace: "team-a")) != nil)
    }

    // MARK: Certificates

    @Test func certificatesVerify() async throws {
        let options = DeployOptions(version: "1.2.3", namespace: "chaos-testing")
        let objects = try Self.generated(options).objects
        func secret(_ name: String, _ key: String) throws -> String {
            let data = try #require(find(objects, kind: "Secret", name: name)["data"]?.objectValue?[key]?.stringValue)
            return String(decoding: try #require(Data(base64Encoded: data)), as: UTF8.self)
        }
        let fleetCA = try Certificate(pemEncoded: secret("tumult-fleet-operator", "ca.crt"))
        #expect(try Certificate(pemEncoded: secret("tumult-fleet-daemon", "ca.crt")) == fleetCA)

        // The operator's client certificate and the daemons' server certificate chain to the fleet CA.
        let operatorCertificate = try Certificate(pemEncoded: secret("tumult-fleet-operator", "tls.crt"))
        let daemonCertificate = try Certificate(pemEncoded: secret("tumult-fleet-daemon", "tls.crt"))
        #expect(try await chains(operatorCertificate, to: fleetCA))
        #expect(try await chains(daemonCertificate, to: fleetCA))
        #expect(try operatorCertificate.extensions.extendedKeyUsage?.contains(.clientAuth) == true)
        #expect(try daemonCertificate.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
        // Each key belongs to its certificate.
        let operatorKey = try Certificate.PrivateKey(pemEncoded: secret("tumult-fleet-operator", "tls.key"))
        #expect(operatorKey.publicKey == operatorCertificate.publicKey)
        let daemonKey = try Certificate.PrivateKey(pemEncoded: secret("tumult-fleet-daemon", "tls.key"))
        #expect(daemonKey.publicKey == daemonCertificate.publicKey)

        // The webhook's certificate chains to the caBundle's CA and names the Service.
        let webhookConfiguration = try find(objects, kind: "ValidatingWebhookConfiguration", name: "tumult-validate")
        let webhook = try #require(webhookConfiguration["webhooks"]?.array?.first?.objectValue)
        let bundle = try #require(webhook["clientConfig"]?.objectValue?["caBundle"]?.stringValue)
        let bundleCA = try Certificate(pemEncoded: String(decoding: try #require(Data(base64Encoded: bundle)), as: UTF8.self))
        let webhookCertificate = try Certificate(pemEncoded: secret("tumult-webhook-tls", "tls.crt"))
        #expect(try await chains(webhookCertificate, to: bundleCA, hostname: "tumult-webhook.chaos-testing.svc"))
        #expect(try await !chains(webhookCertificate, to: fleetCA), "the webhook has a CA of its own")
        #expect(try await !chains(webhookCertificate, to: bundleCA, hostname: "tumult-webhook.other.svc"))
        let webhookKey = try Certificate.PrivateKey(pemEncoded: secret("tumult-webhook-tls", "tls.key"))
        #expect(webhookKey.publicKey == webhookCertificate.publicKey)
        #expect(webhook["clientConfig"]?.objectValue?["service"]?.objectValue?["namespace"] == .string("chaos-testing"))
    }

    /// RFC 5280 path validation from `leaf` to `authority` (and the host name, when given).
    private func chains(_ leaf: Certificate, to authority: Certificate, hostname: String? = nil) async throws -> Bool {
        var verifier = Verifier(rootCertificates: CertificateStore([authority])) {
            RFC5280Policy(validationTime: Date())
            if let hostname { ServerIdentityPolicy(serverHostname: hostname, serverIP: nil) }
        }
        if case .validCertificate = await verifier.validate(leafCertificate: leaf, intermediates: CertificateStore()) {
            return true
        }
        return false
    }

    // MARK: The chart agrees with the generator

    /// The chart's templates, rendered with its values.yaml (and overrides),
    /// give the generator's objects, certificate data aside.
    @Test(arguments: [
        ChartRenderCase(watchNamespaces: [], webhook: true, dashboard: true),
        ChartRenderCase(watchNamespaces: ["team-a", "team-b"], webhook: true, dashboard: true),
        ChartRenderCase(watchNamespaces: [], webhook: false, dashboard: false),
    ])
    func chartTemplatesMakeTheGeneratorsObjects(_ chartCase: ChartRenderCase) throws {
        let appVersion = try Self.appVersion()
        var values = try #require(try DocumentText.parse(
            String(contentsOf: Self.chart.appendingPathComponent("values.yaml"), encoding: .utf8)).first?.objectValue)
        values["watchNamespaces"] = .array(chartCase.watchNamespaces.map(Value.string))
        values["webhook"] = mapping(["enabled": .bool(chartCase.webhook)])
        values["dashboard"] = mapping(["enabled": .bool(chartCase.dashboard)])
        let renderer = HelmTemplateRenderer(values: .object(values), releaseNamespace: "tumult", appVersion: appVersion)

        let templates = try FileManager.default.contentsOfDirectory(atPath: Self.chart.appendingPathComponent("templates").path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        var rendered: [Value] = []
        for template in templates {
            let text = try String(contentsOf: Self.chart.appendingPathComponent("templates/\(template)"), encoding: .utf8)
            let output = try renderer.render(text)
            do {
                rendered += try DocumentText.parse(output)
            } catch {
                Issue.record("\(template) renders as invalid YAML (\(error)):\n\(output)")
            }
        }

        let options = DeployOptions(
            version: appVersion, watchNamespaces: chartCase.watchNamespaces,
            webhook: chartCase.webhook, dashboard: chartCase.dashboard)
        // Helm installs CRDs from crds/ and the namespace with --create-namespace.
        let expected = try Self.generated(options).objects
            .filter { !["CustomResourceDefinition", "Namespace"].contains($0.objectValue?["kind"]?.stringValue ?? "") }

        let chartObjects = Dictionary(rendered.map { (objectKey($0), withoutCertificateData($0)) }, uniquingKeysWith: { first, _ in first })
        #expect(chartObjects.count == rendered.count, "the chart makes an object twice")
        let generatorObjects = Dictionary(expected.map { (objectKey($0), withoutCertificateData($0)) }, uniquingKeysWith: { first, _ in first })
        #expect(Set(chartObjects.keys) == Set(generatorObjects.keys),
                "only in the chart: \(Set(chartObjects.keys).subtracting(generatorObjects.keys).sorted()); only from the generator: \(Set(generatorObjects.keys).subtracting(chartObjects.keys).sorted())")
        for (key, generated) in generatorObjects.sorted(by: { $0.key < $1.key }) {
            guard let fromChart = chartObjects[key] else { continue }
            let difference = firstDifference(fromChart, generated, at: "")
            #expect(difference == nil, "\(key) differs at \(difference ?? ""); the chart's object:\n\((try? DocumentText.yaml([fromChart])) ?? "")")
        }
    }

    /// The chart's crds/ is exactly what `tumult manifests --helm-crds` writes.
    @Test func chartCRDsAreTheGeneratedOnes() throws {
        let directory = Self.chart.appendingPathComponent("crds")
        let files = DeployManifests.helmCRDFiles()
        let present = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
        #expect(Set(present) == Set(files.map(\.name)),
                "regenerate with: tumult manifests --helm-crds deploy/helm/tumult/crds")
        for file in files {
            let text = try? String(contentsOf: directory.appendingPathComponent(file.name), encoding: .utf8)
            #expect(text == (try file.yaml()), "\(file.name) is stale: tumult manifests --helm-crds deploy/helm/tumult/crds")
        }
    }

    // MARK: The command

    /// `tumult manifests --helm-crds DIR` writes the chart's files, and
    /// `--output-dir` the manifests with the Secrets readable by their owner only.
    @Test func manifestsCommandWritesFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tumult-manifests-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }

        let crds = directory.appendingPathComponent("crds")
        try FileManager.default.createDirectory(at: crds, withIntermediateDirectories: true)
        // A kind that no longer exists loses its file; other files stay.
        try "stale".write(to: crds.appendingPathComponent("chaos-mesh.org_gonechaos.yaml"), atomically: true, encoding: .utf8)
        try "mine".write(to: crds.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        var command = try ManifestsCommand.parse(["--helm-crds", crds.path])
        try command.run()
        let files = DeployManifests.helmCRDFiles()
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: crds.path)) == Set(files.map(\.name) + ["notes.txt"]))
        for file in files {
            #expect(try String(contentsOf: crds.appendingPathComponent(file.name), encoding: .utf8) == file.yaml())
        }

        let output = directory.appendingPathComponent("out")
        command = try ManifestsCommand.parse(["--output-dir", output.path, "--namespace", "chaos", "--watch-namespace", "team-a",
                                              "--image", "registry.local/tumult:dev", "--no-dashboard"])
        try command.run()
        let written = try FileManager.default.contentsOfDirectory(atPath: output.path).sorted()
        #expect(written == ["00-crds.yaml", "01-namespace.yaml", "02-rbac.yaml", "03-secrets.yaml", "04-operator.yaml",
                            "05-daemon.yaml", "07-webhook.yaml"])
        let mode = try FileManager.default.attributesOfItem(atPath: output.appendingPathComponent("03-secrets.yaml").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let daemon = try DocumentText.parse(String(contentsOf: output.appendingPathComponent("05-daemon.yaml"), encoding: .utf8))
        let daemonSet = try find(daemon, kind: "DaemonSet", name: "tumult-daemon", namespace: "chaos")
        #expect(podSpec(daemonSet)?["containers"]?.array?.first?.objectValue?["image"] == .string("registry.local/tumult:dev"))

        #expect(throws: (any Error).self) { try ManifestsCommand.parse(["--namespace", "Not_A_Namespace"]) }
        #expect(throws: (any Error).self) { try ManifestsCommand.parse(["--helm-crds", "a", "--output-dir", "b"]) }
    }

    // MARK: kubectl

    /// The real kubectl applies the plain manifests (CRDs first, in one stream)
    /// against the API server simulation, and reads every object back.
    @Test func kubectlAppliesThePlainManifests() async throws {
        let options = DeployOptions(version: "1.2.3", watchNamespaces: ["default"])
        let objects = try Self.generated(options).objects
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tumult-deploy-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let manifests = directory.appendingPathComponent("tumult.yaml")
        try DocumentText.yaml(objects).write(to: manifests, atomically: true, encoding: .utf8)

        let server = APIServerSimulation()
        try await server.start()
        do {
            let kubeconfig = directory.appendingPathComponent("kubeconfig")
            try """
                apiVersion: v1
                kind: Config
                clusters:
                - name: simulation
                  cluster:
                    server: \(server.url.absoluteString)
                users:
                - name: admin
                  user: {}
                contexts:
                - name: simulation
                  context:
                    cluster: simulation
                    user: admin
                current-context: simulation

                """.write(to: kubeconfig, atomically: true, encoding: .utf8)
            let kubectl = ["/usr/bin/kubectl", "--kubeconfig", kubeconfig.path,
                           "--cache-dir", directory.appendingPathComponent("cache").path]

            let applied = try await run(kubectl + ["apply", "-f", manifests.path], in: directory)
            #expect(applied.status == 0, "kubectl apply failed:\n\(applied.output)\(applied.error)")
            let createdLines = applied.output.split(separator: "\n").filter { $0.hasSuffix(" created") }
            #expect(createdLines.count == objects.count, "kubectl apply said:\n\(applied.output)\(applied.error)")

            // Every object, read back by kind and name.
            let fetched = try await run(kubectl + ["get", "-f", manifests.path, "-o", "json"], in: directory)
            #expect(fetched.status == 0, "kubectl get failed:\n\(fetched.error)")
            let list = try JSONSerialization.jsonObject(with: Data(fetched.output.utf8)) as? [String: Any]
            let items = (list?["items"] as? [[String: Any]]) ?? []
            let readBack = Set(items.map { item -> String in
                let metadata = item["metadata"] as? [String: Any]
                return "\(item["kind"] as? String ?? "")/\(metadata?["namespace"] as? String ?? "")/\(metadata?["name"] as? String ?? "")"
            })
            #expect(readBack == Set(objects.map(objectKey)))

            // What the cluster stored is what was generated: the daemon's arguments, say.
            let daemon = try await run(kubectl + ["get", "daemonset", "tumult-daemon", "-n", "tumult", "-o",
                                                  "jsonpath={.spec.template.spec.containers[0].args}"], in: directory)
            #expect(daemon.status == 0, "\(daemon.error)")
            let arguments = try JSONSerialization.jsonObject(with: Data(daemon.output.utf8)) as? [String]
            #expect(arguments?.first == "daemon")
            #expect(arguments?.contains("--kubernetes") == true)
            for kind in ["customresourcedefinitions", "clusterroles", "rolebindings", "secrets", "deployments", "services",
                         "validatingwebhookconfigurations"] {
                let listed = try await run(kubectl + ["get", kind, "-A", "-o", "name"], in: directory)
                #expect(listed.status == 0 && !listed.output.isEmpty, "kubectl get \(kind): \(listed.error)")
            }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// Runs a command (an argument array) to its end without holding a thread
    /// of the pool the simulation answers from.
    private func run(_ arguments: [String], in directory: URL) async throws -> (status: Int32, output: String, error: String) {
        let name = UUID().uuidString.prefix(8)
        let outputURL = directory.appendingPathComponent("out-\(name)")
        let errorURL = directory.appendingPathComponent("err-\(name)")
        FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL)
        let error = try FileHandle(forWritingTo: errorURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        try output.close()
        try error.close()
        return (status,
                (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "",
                (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "")
    }
}

// MARK: - Helpers

/// One rendering of the chart: the values the test overrides.
struct ChartRenderCase: Sendable, CustomTestStringConvertible {
    var watchNamespaces: [String]
    var webhook: Bool
    var dashboard: Bool

    var testDescription: String {
        "watch \(watchNamespaces.isEmpty ? "all" : watchNamespaces.joined(separator: ",")), webhook \(webhook), dashboard \(dashboard)"
    }
}

private func mapping(_ pairs: KeyValuePairs<String, Value>) -> Value {
    .object(Value.Object(pairs.map { ($0.key, $0.value) }))
}

private extension Value {
    var array: [Value]? {
        if case .array(let items) = self { return items }
        return nil
    }
}

private func find(_ objects: [Value], kind: String, name: String, namespace: String? = nil) throws -> Value.Object {
    let found = objects.compactMap(\.objectValue).first { object in
        let metadata = object["metadata"]?.objectValue
        return object["kind"]?.stringValue == kind && metadata?["name"]?.stringValue == name
            && (namespace == nil || metadata?["namespace"]?.stringValue == namespace)
    }
    return try #require(found, "no \(kind) \(name)")
}

/// Where two trees first differ, as a path and both values; nil when they are equal.
private func firstDifference(_ chart: Value, _ generated: Value, at path: String) -> String? {
    switch (chart, generated) {
    case (.object(let left), .object(let right)):
        for key in Set(left.keys).union(right.keys).sorted() {
            guard let leftValue = left[key] else { return "\(path).\(key): only from the generator" }
            guard let rightValue = right[key] else { return "\(path).\(key): only in the chart" }
            if let difference = firstDifference(leftValue, rightValue, at: "\(path).\(key)") { return difference }
        }
        return nil
    case (.array(let left), .array(let right)) where left.count == right.count:
        for (index, pair) in zip(left, right).enumerated() {
            if let difference = firstDifference(pair.0, pair.1, at: "\(path)[\(index)]") { return difference }
        }
        return nil
    default:
        return chart == generated ? nil : "\(path): chart \(chart.brief) vs generator \(generated.brief)"
    }
}

private func podSpec(_ workload: Value.Object) -> Value.Object? {
    workload["spec"]?.objectValue?["template"]?.objectValue?["spec"]?.objectValue
}

private func objectKey(_ object: Value) -> String {
    let fields = object.objectValue
    let metadata = fields?["metadata"]?.objectValue
    return "\(fields?["kind"]?.stringValue ?? "")/\(metadata?["namespace"]?.stringValue ?? "")/\(metadata?["name"]?.stringValue ?? "")"
}

/// Certificates and tokens are random on both sides: their values are left out of the comparison, their keys are not.
private func withoutCertificateData(_ object: Value) -> Value {
    guard var fields = object.objectValue else { return object }
    if fields["kind"] == .string("Secret"), let data = fields["data"]?.objectValue {
        fields["data"] = .object(Value.Object(data.pairs.map { ($0.key, Value.string("DATA")) }))
    }
    if fields["kind"] == .string("ValidatingWebhookConfiguration"), case .array(let webhooks)? = fields["webhooks"] {
        fields["webhooks"] = .array(webhooks.map { webhook in
            guard var webhook = webhook.objectValue, var client = webhook["clientConfig"]?.objectValue else { return webhook }
            client["caBundle"] = .string("DATA")
            webhook["clientConfig"] = .object(client)
            return .object(webhook)
        })
    }
    return .object(fields)
}

/// Renders Helm templates for the comparison above, understanding only what
/// the chart uses — anything else fails the test rather than being guessed:
/// - `{{ .Values.a.b }}`, `{{ .Release.Namespace }}`, `{{ .Chart.AppVersion }}`,
///   `{{ . }}` inside `range`, `$.` for the root inside `range`;
/// - the pipes `| default X` and `| quote`; the function `not`;
/// - `if` / `else` / `end` and `range` / `end` over values;
/// - `{{-` and `-}}` whitespace trimming, `{{/* comments */}}`;
/// - the certificate and token parts, which use Helm-only functions
///   (`lookup`, `genCA`, `genSignedCert`, `randAlphaNum`, `dict`, `index` on
///   `$variables`): assignments render nothing, conditions on `$variables` are
///   false (lookup finds nothing, as in `helm template`), and values render as
///   `HELM-GENERATED`; the comparison ignores certificate data.
struct HelmTemplateRenderer {
    var values: Value
    var releaseNamespace: String
    var appVersion: String

    struct RenderError: Error, CustomStringConvertible {
        var description: String
    }

    private enum Token {
        case text(String)
        case action(String)
    }

    private indirect enum Node {
        case text(String)
        case output(String)
        case condition(String, [Node], [Node])
        case loop(String, [Node])
    }

    private enum Evaluated {
        case value(Value)
        case helmOnly
    }

    func render(_ template: String) throws -> String {
        var tokens = try Self.tokenize(template)[...]
        let nodes = try Self.parse(&tokens, until: [])
        guard tokens.isEmpty else { throw RenderError(description: "an unmatched end or else") }
        return try render(nodes, dot: values)
    }

    private static func tokenize(_ template: String) throws -> [Token] {
        var tokens: [Token] = []
        var rest = Substring(template)
        var trimNextText = false
        while let open = rest.range(of: "{{") {
            var text = String(rest[..<open.lowerBound])
            if trimNextText { text = String(text.drop(while: \.isWhitespace)) }
            var inner = rest[open.upperBound...]
            guard let close = inner.range(of: "}}") else { throw RenderError(description: "an unclosed {{") }
            var action = inner[..<close.lowerBound]
            if action.hasPrefix("-") {
                action = action.dropFirst()
                while text.last?.isWhitespace == true { text.removeLast() }
            }
            trimNextText = action.hasSuffix("-") && action.dropLast().last?.isWhitespace == true
            if trimNextText { action = action.dropLast() }
            tokens.append(.text(text))
            let trimmed = action.trimmingCharacters(in: .whitespaces)
            if !trimmed.hasPrefix("/*") { tokens.append(.action(trimmed)) }
            inner = inner[close.upperBound...]
            rest = inner
        }
        tokens.append(.text(trimNextText ? String(rest.drop(while: \.isWhitespace)) : String(rest)))
        return tokens
    }

    private static func parse(_ tokens: inout ArraySlice<Token>, until terminators: Set<String>) throws -> [Node] {
        var nodes: [Node] = []
        while let token = tokens.first {
            switch token {
            case .text(let text):
                tokens.removeFirst()
                nodes.append(.text(text))
            case .action(let action):
                if terminators.contains(action) { return nodes }
                tokens.removeFirst()
                if action.hasPrefix("if ") {
                    let then = try parse(&tokens, until: ["else", "end"])
                    var otherwise: [Node] = []
                    if case .action("else")? = tokens.first {
                        tokens.removeFirst()
                        otherwise = try parse(&tokens, until: ["end"])
                    }
                    guard case .action("end")? = tokens.popFirst() else { throw RenderError(description: "if without end") }
                    nodes.append(.condition(String(action.dropFirst(3)), then, otherwise))
                } else if action.hasPrefix("range ") {
                    let body = try parse(&tokens, until: ["end"])
                    guard case .action("end")? = tokens.popFirst() else { throw RenderError(description: "range without end") }
                    nodes.append(.loop(String(action.dropFirst(6)), body))
                } else if action == "else" || action == "end" {
                    throw RenderError(description: "\(action) outside if or range")
                } else {
                    nodes.append(.output(action))
                }
            }
        }
        return nodes
    }

    private func render(_ nodes: [Node], dot: Value) throws -> String {
        var output = ""
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .output(let expression):
                // `$name := ...` and `$name = ...`: Helm-only bookkeeping of the certificate parts.
                if expression.hasPrefix("$"), expression.contains(":=") || expression.contains(" = ") { continue }
                switch try evaluate(expression, dot: dot) {
                case .helmOnly: output += "HELM-GENERATED"
                case .value(let value): output += try Self.text(of: value)
                }
            case .condition(let expression, let then, let otherwise):
                output += try render(isTrue(try evaluate(expression, dot: dot)) ? then : otherwise, dot: dot)
            case .loop(let expression, let body):
                guard case .value(let value) = try evaluate(expression, dot: dot) else {
                    throw RenderError(description: "range over \(expression), which this renderer cannot evaluate")
                }
                switch value {
                case .array(let items):
                    for item in items { output += try render(body, dot: item) }
                case .null:
                    break
                default:
                    throw RenderError(description: "range over \(expression), which is not a list")
                }
            }
        }
        return output
    }

    private func evaluate(_ expression: String, dot: Value) throws -> Evaluated {
        let stages = expression.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        var current = try evaluateCommand(stages[0], dot: dot)
        for stage in stages.dropFirst() {
            guard case .value(let value) = current else { return .helmOnly }
            let words = stage.split(separator: " ", maxSplits: 1).map(String.init)
            switch words[0] {
            case "quote":
                current = .value(.string("\"\(try Self.text(of: value))\""))
            case "default" where words.count == 2:
                current = isTrue(current) ? current : try evaluateTerm(words[1], dot: dot)
            case "b64enc", "trunc", "sha256sum":
                return .helmOnly
            default:
                throw RenderError(description: "the pipe \(stage) is not one this renderer knows")
            }
        }
        return current
    }

    private func evaluateCommand(_ command: String, dot: Value) throws -> Evaluated {
        let words = command.split(separator: " ").map(String.init)
        switch words.first {
        case "not" where words.count == 2:
            return .value(.bool(!isTrue(try evaluateTerm(words[1], dot: dot))))
        case _ where words.count == 1:
            return try evaluateTerm(words[0], dot: dot)
        case "lookup", "genCA", "genSignedCert", "randAlphaNum", "dict", "index", "and", "printf":
            return .helmOnly
        default:
            throw RenderError(description: "the expression \(command) is not one this renderer knows")
        }
    }

    private func evaluateTerm(_ term: String, dot: Value) throws -> Evaluated {
        if term == "." { return .value(dot) }
        if term.hasPrefix("\""), term.hasSuffix("\""), term.count >= 2 {
            return .value(.string(String(term.dropFirst().dropLast())))
        }
        var path = term
        if path.hasPrefix("$.") {
            path.removeFirst()
        } else if path.hasPrefix("$") {
            return .helmOnly
        }
        let parts = path.split(separator: ".").map(String.init)
        switch parts.first {
        case "Release" where parts == ["Release", "Namespace"]:
            return .value(.string(releaseNamespace))
        case "Chart" where parts == ["Chart", "AppVersion"]:
            return .value(.string(appVersion))
        case "Values":
            var value = values
            for part in parts.dropFirst() { value = value.objectValue?[part] ?? .null }
            return .value(value)
        default:
            throw RenderError(description: "the term \(term) is not one this renderer knows")
        }
    }

    private func isTrue(_ evaluated: Evaluated) -> Bool {
        guard case .value(let value) = evaluated else { return false }
        switch value {
        case .null: return false
        case .bool(let bool): return bool
        case .integer(let integer): return integer != 0
        case .double(let double): return double != 0
        case .string(let string): return !string.isEmpty
        case .array(let items): return !items.isEmpty
        case .object(let object): return !object.isEmpty
        }
    }

    private static func text(of value: Value) throws -> String {
        switch value {
        case .string(let string): return string
        case .integer(let integer): return String(integer)
        case .bool(let bool): return bool ? "true" : "false"
        case .double(let double): return String(double)
        default: throw RenderError(description: "a list or an object where a scalar belongs: \(value.brief)")
        }
    }
}
