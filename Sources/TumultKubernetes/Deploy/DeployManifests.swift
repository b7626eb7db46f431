import Foundation
import TumultModel

/// One file of the plain manifests: `tumult manifests --output-dir` writes
/// each under its name, and the names sort in the order `kubectl apply -f DIR`
/// must create them (CRDs and the namespace before what lives in them).
public struct ManifestFile: Sendable, Hashable {
    public var name: String
    public var objects: [Value]

    public init(name: String, objects: [Value]) {
        self.name = name
        self.objects = objects
    }

    /// The objects as a YAML stream, the way `tumult convert` prints documents.
    public func yaml() throws -> String {
        try DocumentText.yaml(objects)
    }
}

/// The plain manifests that run Tumult in a cluster, for users without Helm:
/// the CRDs, the namespace, RBAC, the certificates' Secrets, the operator
/// (which also serves the validating webhook), the node daemons and the
/// dashboard. Pure: the certificates and the dashboard's token come from the
/// caller, so the same inputs give the same objects. The Helm chart in
/// `deploy/helm/tumult` makes the same objects; `DeployManifestsTests` holds
/// the two together.
public enum DeployManifests {
    public static let agentPort = 31768
    public static let webhookPort = 9443
    public static let dashboardPort = 2333
    /// The labels the operator finds its daemons by, in its own namespace.
    public static let daemonLabels = labels(component: "daemon")
    /// Where the webhook's AdmissionReviews are posted.
    public static let webhookPath = "/validate-chaos-mesh-org-v1alpha1"
    public static let webhookName = "validate.chaos-mesh.tumult.dev"

    /// Every file, in apply order.
    public static func files(
        options: DeployOptions, certificates: DeployCertificates, dashboardToken: String
    ) -> [ManifestFile] {
        var files = [
            ManifestFile(name: "00-crds.yaml", objects: CustomResourceDefinitions.definitions()),
            ManifestFile(name: "01-namespace.yaml", objects: [namespaceObject(options)] + serviceAccounts(options)),
            ManifestFile(name: "02-rbac.yaml", objects: rbac(options)),
            ManifestFile(name: "03-secrets.yaml", objects: secrets(options, certificates: certificates, dashboardToken: dashboardToken)),
            ManifestFile(name: "04-operator.yaml", objects: operatorObjects(options)),
            ManifestFile(name: "05-daemon.yaml", objects: [daemonSet(options)]),
        ]
        if options.dashboard {
            files.append(ManifestFile(name: "06-dashboard.yaml", objects: dashboardObjects(options)))
        }
        if options.webhook {
            files.append(ManifestFile(
                name: "07-webhook.yaml",
                objects: [webhookConfiguration(options, caBundlePEM: certificates.webhookAuthorityPEM)]))
        }
        return files
    }

    /// Every object, in apply order: what `tumult manifests` prints.
    public static func objects(
        options: DeployOptions, certificates: DeployCertificates, dashboardToken: String
    ) -> [Value] {
        files(options: options, certificates: certificates, dashboardToken: dashboardToken).flatMap(\.objects)
    }

    /// The chart's `crds/` directory: one file per kind, named as Chaos Mesh
    /// names its own (`chaos-mesh.org_networkchaos.yaml`). Helm installs these
    /// before the templates and never deletes or upgrades them.
    public static func helmCRDFiles() -> [ManifestFile] {
        CustomResourceDefinitions.definitions().map { definition in
            let plural = definition.objectValue?["spec"]?.objectValue?["names"]?.objectValue?["plural"]?.stringValue
            let group = definition.objectValue?["spec"]?.objectValue?["group"]?.stringValue ?? CustomResourceDefinitions.group
            return ManifestFile(name: "\(group)_\(plural ?? "unknown").yaml", objects: [definition])
        }
    }

    /// A random token for the dashboard's API: 32 letters and digits, as the
    /// chart's `randAlphaNum 32` makes.
    public static func randomToken(length: Int = 32) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
    }

    // MARK: - Chaos resources

    /// The plurals of every kind Tumult models, by API group (Chaos Mesh's,
    /// then Tumult's own): what the dashboard may edit and the webhook validates.
    static var allChaosResources: [(group: String, plurals: [String])] {
        byGroup(ChaosKind.allCases)
    }

    /// What the operator reconciles: the fault kinds and Schedules, by API group.
    static var reconciledChaosResources: [(group: String, plurals: [String])] {
        byGroup(ChaosKind.embeddable + [.schedule])
    }

    /// `kinds`' plurals under their groups, groups in the order they first appear.
    static func byGroup(_ kinds: [ChaosKind]) -> [(group: String, plurals: [String])] {
        var groups: [(group: String, plurals: [String])] = []
        for kind in kinds {
            guard let plural = CustomResourceDefinitions.plural(of: kind) else { continue }
            if let index = groups.firstIndex(where: { $0.group == kind.group }) {
                groups[index].plurals.append(plural)
            } else {
                groups.append((kind.group, [plural]))
            }
        }
        return groups
    }

    // MARK: - Common parts

    static func namespaceObject(_ options: DeployOptions) -> Value {
        mapping([
            "apiVersion": .string("v1"),
            "kind": .string("Namespace"),
            "metadata": mapping(["name": .string(options.namespace)]),
        ])
    }

    static func serviceAccounts(_ options: DeployOptions) -> [Value] {
        var accounts = [
            serviceAccount("tumult-operator", component: "operator", options, automount: true),
            // The daemon talks to no API server: no token in its pods.
            serviceAccount("tumult-daemon", component: "daemon", options, automount: false),
        ]
        if options.dashboard {
            accounts.append(serviceAccount("tumult-dashboard", component: "dashboard", options, automount: true))
        }
        return accounts
    }

    static func serviceAccount(_ name: String, component: String, _ options: DeployOptions, automount: Bool) -> Value {
        var account = Value.Object([
            ("apiVersion", .string("v1")),
            ("kind", .string("ServiceAccount")),
            ("metadata", metadata(name, namespace: options.namespace, component: component)),
        ])
        if !automount { account["automountServiceAccountToken"] = .bool(false) }
        return .object(account)
    }

    /// `app.kubernetes.io/name: tumult` and the component: the selector
    /// labels of every workload.
    static func labels(component: String) -> Value {
        mapping([
            "app.kubernetes.io/name": .string("tumult"),
            "app.kubernetes.io/component": .string(component),
        ])
    }

    static func metadata(_ name: String, namespace: String?, component: String) -> Value {
        var metadata = Value.Object([("name", .string(name))])
        if let namespace { metadata["namespace"] = .string(namespace) }
        metadata["labels"] = labels(component: component)
        return .object(metadata)
    }

    static func mapping(_ pairs: KeyValuePairs<String, Value>) -> Value {
        .object(Value.Object(pairs.map { ($0.key, $0.value) }))
    }

    static func strings(_ items: [String]) -> Value {
        .array(items.map(Value.string))
    }
}
