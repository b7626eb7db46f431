/// What varies between two installations of Tumult in a cluster; everything
/// else in the manifests is fixed. The Helm chart's `values.yaml` has the same
/// settings under the same defaults.
public struct DeployOptions: Sendable, Hashable {
    /// Where the operator, the daemons and the dashboard run.
    public var namespace: String
    /// The one image all three run (`deploy/Containerfile` builds it).
    public var image: String
    /// Two, so that the webhook (which fails closed) keeps answering while
    /// one replica restarts; only the leader reconciles.
    public var operatorReplicas: Int
    /// The namespaces whose chaos objects and pods the operator watches;
    /// empty means all of them (and RBAC over the whole cluster).
    public var watchNamespaces: [String]
    /// The validating webhook: documents are refused at `kubectl apply`
    /// rather than failing later in their status.
    public var webhook: Bool
    /// The dashboard and its Service.
    public var dashboard: Bool

    public static let defaultNamespace = "tumult"
    public static let imageRepository = "ghcr.io/tumult-dev/tumult"

    /// The image of a released version: `ghcr.io/tumult-dev/tumult:VERSION`.
    public static func image(version: String) -> String {
        "\(imageRepository):\(version)"
    }

    /// The defaults; `version` picks the image (the CLI passes `TumultVersion.text`,
    /// which lives above this module).
    public init(
        version: String,
        namespace: String = defaultNamespace,
        operatorReplicas: Int = 2,
        watchNamespaces: [String] = [],
        webhook: Bool = true,
        dashboard: Bool = true
    ) {
        self.namespace = namespace
        self.image = Self.image(version: version)
        self.operatorReplicas = operatorReplicas
        self.watchNamespaces = watchNamespaces
        self.webhook = webhook
        self.dashboard = dashboard
    }

    /// Every setting that would make the API server refuse the manifests,
    /// worded for the command line; empty when all is well.
    public var problems: [String] {
        var problems: [String] = []
        if !Self.isNamespaceName(namespace) {
            problems.append("namespace \"\(namespace)\" is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit)")
        }
        for watched in watchNamespaces where !Self.isNamespaceName(watched) {
            problems.append("watch namespace \"\(watched)\" is not a Kubernetes namespace name")
        }
        if Set(watchNamespaces).count != watchNamespaces.count {
            problems.append("a watch namespace is given twice")
        }
        if image.isEmpty || image.contains(where: \.isWhitespace) {
            problems.append("image \"\(image)\" is not an image reference")
        }
        if operatorReplicas < 1 {
            problems.append("the operator needs at least one replica, not \(operatorReplicas)")
        }
        return problems
    }

    /// An RFC 1123 label, as namespace names must be.
    static func isNamespaceName(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        return !name.isEmpty && name.count <= 63 && name.allSatisfy(allowed.contains)
            && name.first != "-" && name.last != "-"
    }
}
