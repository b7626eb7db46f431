/// A Node as the operator reads it: its labels (through `metadata`) and its
/// addresses, which is how the operator finds the node's agent.
public struct NodeObject: KubernetesObject, Hashable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var status: Status?

    public struct Status: Codable, Sendable, Hashable {
        public var addresses: [Address]

        public init(addresses: [Address] = []) { self.addresses = addresses }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            addresses = try container.decodeIfPresent([Address].self, forKey: .addresses) ?? []
        }
    }

    /// `type` is `InternalIP`, `ExternalIP`, `Hostname` ...
    public struct Address: Codable, Sendable, Hashable {
        public var type: String
        public var address: String

        public init(type: String, address: String) {
            self.type = type
            self.address = address
        }
    }

    public init(metadata: ObjectMeta, status: Status? = nil) {
        apiVersion = "v1"
        kind = "Node"
        self.metadata = metadata
        self.status = status
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try container.decodeIfPresent(String.self, forKey: .apiVersion) ?? "v1"
        kind = try container.decodeIfPresent(String.self, forKey: .kind) ?? "Node"
        metadata = try container.decodeIfPresent(ObjectMeta.self, forKey: .metadata) ?? ObjectMeta()
        status = try container.decodeIfPresent(Status.self, forKey: .status)
    }

    /// The first address of `type` (`InternalIP` by default).
    public func address(_ type: String = "InternalIP") -> String? {
        status?.addresses.first { $0.type == type }?.address
    }
}
