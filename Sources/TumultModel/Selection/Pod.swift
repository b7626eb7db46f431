/// One thing a selector can choose: a Kubernetes pod on a cluster, and on
/// one machine a named network namespace or a container (see the daemon's
/// inventory). Selectors and modes work on these values alone, so the same
/// selection code serves every place Tumult runs.
public struct Pod: Codable, Sendable, Hashable, Identifiable {
    /// Where this pod was found on the host.
    public enum Source: String, Codable, Sendable, Hashable {
        /// A named network namespace (`ip netns add NAME`).
        case netns
        /// A running Docker container.
        case docker
        /// A running Podman container.
        case podman
        /// Given by a test or a benchmark, not found on a host.
        case given
        /// A whole machine (a PhysicalMachine), the target of PhysicalMachineChaos.
        case machine
        /// A running containerd container on this host (`ctr`'s namespaces).
        case containerd
        /// A pod of a Kubernetes cluster, from the API server: the node's
        /// daemon finds its processes from `containerIDs`.
        case kubernetes
    }

    public var name: String
    /// The Kubernetes-style namespace (not the network namespace).
    public var namespace: String
    public var labels: [String: String]
    public var annotations: [String: String]
    /// The named network namespace the pod's processes live in, if any.
    public var netns: String?
    /// A process in the pod's network namespace: containers have no named
    /// netns, so faults reach them through this pid.
    public var pid: Int32?
    /// The pod's addresses (IPv4 and IPv6, without prefix length).
    public var ips: [String]
    /// The node the pod runs on: on one machine, its host name.
    public var nodeName: String
    /// The node's labels (`kubernetes.io/hostname` at least), for `nodeSelectors`.
    public var nodeLabels: [String: String]
    /// `Running`, `Pending`, `Succeeded`, `Failed` or `Unknown`.
    public var phase: String
    public var source: Source
    /// The container's id, for Docker, Podman and containerd pods.
    public var containerID: String?
    /// Every container of a Kubernetes pod by name, with the runtime's id
    /// as the pod status gives it (`containerd://0f3c...`): the node's
    /// daemon resolves them to processes; `containerNames` selects among them.
    public var containerIDs: [String: String]?

    public init(name: String, namespace: String = "default", labels: [String: String] = [:],
                annotations: [String: String] = [:], netns: String? = nil, pid: Int32? = nil, ips: [String] = [],
                nodeName: String = "localhost", nodeLabels: [String: String]? = nil, phase: String = "Running",
                source: Source = .given, containerID: String? = nil, containerIDs: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.netns = netns
        self.pid = pid
        self.ips = ips
        self.nodeName = nodeName
        self.nodeLabels = nodeLabels ?? ["kubernetes.io/hostname": nodeName]
        self.phase = phase
        self.source = source
        self.containerID = containerID
        self.containerIDs = containerIDs
    }

    /// `namespace/name`, the key Chaos Mesh's records and `pods:` selectors use.
    public var id: String { "\(namespace)/\(name)" }
}
