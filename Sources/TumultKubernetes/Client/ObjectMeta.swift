/// The metadata every object carries, with the fields the operator reads and
/// writes. Encoding omits what is unset (nil, "" or empty), as the Go types'
/// `omitempty` does, so a PUT or a create never sends fields nobody set.
public struct ObjectMeta: Codable, Sendable, Hashable {
    /// "" when unset (a create may use `generateName` instead).
    public var name: String
    public var generateName: String?
    /// nil for cluster-scoped objects.
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var deletionGracePeriodSeconds: Int64?
    public var labels: [String: String]
    public var annotations: [String: String]
    public var finalizers: [String]
    public var ownerReferences: [OwnerReference]

    public init(
        name: String = "", generateName: String? = nil, namespace: String? = nil, uid: String? = nil,
        resourceVersion: String? = nil, generation: Int64? = nil, creationTimestamp: String? = nil,
        deletionTimestamp: String? = nil, deletionGracePeriodSeconds: Int64? = nil,
        labels: [String: String] = [:], annotations: [String: String] = [:], finalizers: [String] = [],
        ownerReferences: [OwnerReference] = []
    ) {
        self.name = name
        self.generateName = generateName
        self.namespace = namespace
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.generation = generation
        self.creationTimestamp = creationTimestamp
        self.deletionTimestamp = deletionTimestamp
        self.deletionGracePeriodSeconds = deletionGracePeriodSeconds
        self.labels = labels
        self.annotations = annotations
        self.finalizers = finalizers
        self.ownerReferences = ownerReferences
    }

    /// The keys this type reads; `UnstructuredObject` writes back exactly these
    /// and keeps every other metadata field (managedFields ...) as it came.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, generateName, namespace, uid, resourceVersion, generation, creationTimestamp
        case deletionTimestamp, deletionGracePeriodSeconds, labels, annotations, finalizers, ownerReferences
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        generateName = try container.decodeIfPresent(String.self, forKey: .generateName)
        namespace = try container.decodeIfPresent(String.self, forKey: .namespace)
        if namespace == "" { namespace = nil }
        uid = try container.decodeIfPresent(String.self, forKey: .uid)
        resourceVersion = try container.decodeIfPresent(String.self, forKey: .resourceVersion)
        generation = try container.decodeIfPresent(Int64.self, forKey: .generation)
        creationTimestamp = try container.decodeIfPresent(String.self, forKey: .creationTimestamp)
        deletionTimestamp = try container.decodeIfPresent(String.self, forKey: .deletionTimestamp)
        deletionGracePeriodSeconds = try container.decodeIfPresent(Int64.self, forKey: .deletionGracePeriodSeconds)
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
        finalizers = try container.decodeIfPresent([String].self, forKey: .finalizers) ?? []
        ownerReferences = try container.decodeIfPresent([OwnerReference].self, forKey: .ownerReferences) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if !name.isEmpty { try container.encode(name, forKey: .name) }
        try container.encodeIfPresent(generateName, forKey: .generateName)
        if let namespace, !namespace.isEmpty { try container.encode(namespace, forKey: .namespace) }
        try container.encodeIfPresent(uid, forKey: .uid)
        try container.encodeIfPresent(resourceVersion, forKey: .resourceVersion)
        try container.encodeIfPresent(generation, forKey: .generation)
        try container.encodeIfPresent(creationTimestamp, forKey: .creationTimestamp)
        try container.encodeIfPresent(deletionTimestamp, forKey: .deletionTimestamp)
        try container.encodeIfPresent(deletionGracePeriodSeconds, forKey: .deletionGracePeriodSeconds)
        if !labels.isEmpty { try container.encode(labels, forKey: .labels) }
        if !annotations.isEmpty { try container.encode(annotations, forKey: .annotations) }
        if !finalizers.isEmpty { try container.encode(finalizers, forKey: .finalizers) }
        if !ownerReferences.isEmpty { try container.encode(ownerReferences, forKey: .ownerReferences) }
    }

    /// `namespace/name`, or `name` alone without a namespace (client-go's key).
    public static func key(namespace: String?, name: String) -> String {
        if let namespace, !namespace.isEmpty { return "\(namespace)/\(name)" }
        return name
    }
}

/// Who owns an object: garbage collection deletes it with its controller.
public struct OwnerReference: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(
        apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil,
        blockOwnerDeletion: Bool? = nil
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

/// A pointer to an object (core/v1 ObjectReference): what an Event is about.
public struct ObjectReference: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public var resourceVersion: String?
    public var fieldPath: String?

    public init(
        apiVersion: String? = nil, kind: String? = nil, namespace: String? = nil, name: String? = nil,
        uid: String? = nil, resourceVersion: String? = nil, fieldPath: String? = nil
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.fieldPath = fieldPath
    }

    /// A reference to `object` of `resource`.
    public init(_ resource: ResourceType, _ object: some KubernetesObject) {
        self.init(
            apiVersion: resource.apiVersion, kind: resource.kind, namespace: object.metadata.namespace,
            name: object.metadata.name, uid: object.metadata.uid,
            resourceVersion: object.metadata.resourceVersion)
    }
}
