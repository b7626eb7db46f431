/// A Pod as the operator reads it: where it runs, its addresses and its
/// containers' ids (what an agent needs to find the container on the host).
/// Other fields are dropped on decoding; the operator never writes Pods back.
public struct PodObject: KubernetesObject, Hashable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public struct Spec: Codable, Sendable, Hashable {
        public var nodeName: String?
        public var containers: [Container]

        public init(nodeName: String? = nil, containers: [Container] = []) {
            self.nodeName = nodeName
            self.containers = containers
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            nodeName = try container.decodeIfPresent(String.self, forKey: .nodeName)
            containers = try container.decodeIfPresent([Container].self, forKey: .containers) ?? []
        }
    }

    public struct Container: Codable, Sendable, Hashable {
        public var name: String
        public var image: String?

        public init(name: String, image: String? = nil) {
            self.name = name
            self.image = image
        }
    }

    public struct Status: Codable, Sendable, Hashable {
        public var phase: String?
        public var podIP: String?
        public var podIPs: [PodIP]?
        public var hostIP: String?
        public var containerStatuses: [ContainerStatus]?
        public var initContainerStatuses: [ContainerStatus]?

        public init(
            phase: String? = nil, podIP: String? = nil, podIPs: [PodIP]? = nil, hostIP: String? = nil,
            containerStatuses: [ContainerStatus]? = nil, initContainerStatuses: [ContainerStatus]? = nil
        ) {
            self.phase = phase
            self.podIP = podIP
            self.podIPs = podIPs
            self.hostIP = hostIP
            self.containerStatuses = containerStatuses
            self.initContainerStatuses = initContainerStatuses
        }
    }

    public struct PodIP: Codable, Sendable, Hashable {
        public var ip: String

        public init(ip: String) { self.ip = ip }
    }

    public struct ContainerStatus: Codable, Sendable, Hashable {
        public var name: String
        /// `containerd://<id>`, `docker://<id>`; absent until the container exists.
        public var containerID: String?
        public var ready: Bool

        public init(name: String, containerID: String? = nil, ready: Bool = false) {
            self.name = name
            self.containerID = containerID
            self.ready = ready
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            containerID = try container.decodeIfPresent(String.self, forKey: .containerID)
            ready = try container.decodeIfPresent(Bool.self, forKey: .ready) ?? false
        }
    }

    public init(metadata: ObjectMeta, spec: Spec? = nil, status: Status? = nil) {
        apiVersion = "v1"
        kind = "Pod"
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try container.decodeIfPresent(String.self, forKey: .apiVersion) ?? "v1"
        kind = try container.decodeIfPresent(String.self, forKey: .kind) ?? "Pod"
        metadata = try container.decodeIfPresent(ObjectMeta.self, forKey: .metadata) ?? ObjectMeta()
        spec = try container.decodeIfPresent(Spec.self, forKey: .spec)
        status = try container.decodeIfPresent(Status.self, forKey: .status)
    }
}
