import TumultModel

/// An object of any kind kept as its whole JSON tree, so that a read-modify-write
/// (the operator's status updates on chaos kinds) sends back every field the
/// code did not touch, including ones this build has never heard of.
///
/// `metadata` is decoded once and merged back into the tree when the object
/// is encoded: the fields `ObjectMeta` knows are rewritten, the others
/// (managedFields ...) stay as they came.
public struct UnstructuredObject: KubernetesObject, Hashable {
    public var metadata: ObjectMeta
    /// The document without the changes made through `metadata` since.
    private var document: Value.Object

    /// `value` must be a JSON object; its `metadata` must read as `ObjectMeta`.
    public init(_ value: Value) throws {
        guard case .object(let object) = value else {
            throw DecodingError.typeMismatch(
                Value.Object.self,
                .init(codingPath: [], debugDescription: "a Kubernetes object is a JSON object, not \(value.typeDescription)"))
        }
        document = object
        metadata = try Self.decodeMetadata(object["metadata"])
    }

    /// A new object of `resource`'s kind; `spec` and `status` are added when given.
    public init(_ resource: ResourceType, metadata: ObjectMeta, spec: Value? = nil, status: Value? = nil) {
        document = Value.Object([("apiVersion", .string(resource.apiVersion)), ("kind", .string(resource.kind))])
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// The whole document, `metadata` included as it is now.
    public var value: Value {
        var object = document
        var merged = document["metadata"]?.objectValue ?? Value.Object()
        let encoded = (try? ValueEncoder().encode(metadata))?.objectValue ?? Value.Object()
        for key in ObjectMeta.CodingKeys.allCases {
            merged[key.rawValue] = encoded[key.rawValue]
        }
        object["metadata"] = .object(merged)
        return .object(object)
    }

    public var apiVersion: String? {
        get { document["apiVersion"]?.stringValue }
        set { document["apiVersion"] = newValue.map(Value.string) }
    }

    public var kind: String? {
        get { document["kind"]?.stringValue }
        set { document["kind"] = newValue.map(Value.string) }
    }

    /// nil when absent; setting nil removes the field.
    public var spec: Value? {
        get { document["spec"] }
        set { document["spec"] = newValue }
    }

    /// nil when absent; setting nil removes the field.
    public var status: Value? {
        get { document["status"] }
        set { document["status"] = newValue }
    }

    /// Any other top-level field (`data`, `rules`, `webhooks` ...).
    public subscript(field: String) -> Value? {
        get { field == "metadata" ? value.objectValue?["metadata"] : document[field] }
        set {
            if field == "metadata" {
                document["metadata"] = newValue
                metadata = (try? Self.decodeMetadata(newValue)) ?? ObjectMeta()
            } else {
                document[field] = newValue
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        try self.init(try Value(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try value.encode(to: encoder)
    }

    public static func == (lhs: UnstructuredObject, rhs: UnstructuredObject) -> Bool {
        lhs.value == rhs.value
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(value)
    }

    private static func decodeMetadata(_ value: Value?) throws -> ObjectMeta {
        guard let value, value != .null else { return ObjectMeta() }
        var diagnostics = Diagnostics()
        let metadata = ValueDecoder().decode(ObjectMeta.self, from: value, diagnostics: &diagnostics)
        if let metadata, !diagnostics.hasErrors { return metadata }
        let problems = diagnostics.errors.map(\.description).joined(separator: "; ")
        throw DecodingError.dataCorrupted(
            .init(codingPath: [], debugDescription: "metadata does not read as ObjectMeta: \(problems)"))
    }
}
