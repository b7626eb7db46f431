/// The CustomResourceDefinitions (apiextensions.k8s.io/v1) of every
/// `chaos-mesh.org` kind Tumult models, and of its own `tumult.dev` kind,
/// generated from the model's types, so that a cluster can be set up for
/// Tumult without Chaos Mesh's manifests and the CRDs never drift from what
/// Tumult reads. `tumult crds` prints them.
public enum CustomResourceDefinitions {
    /// Chaos Mesh's group, that of every kind but Tumult's own (`ChaosKind.group`).
    public static let group = ChaosKind.chaosMeshGroup
    public static let version = "v1alpha1"

    /// One CRD per kind, in `ChaosKind` order.
    public static func definitions() -> [Value] {
        ChaosKind.allCases.compactMap { definition(for: $0) }
    }

    /// The CRD of `kind`.
    public static func definition(for kind: ChaosKind) -> Value? {
        guard let plural = plural(of: kind) else { return nil }
        var names = Value.Object()
        names["kind"] = .string(kind.rawValue)
        names["listKind"] = .string(kind.rawValue + "List")
        names["plural"] = .string(plural)
        names["singular"] = .string(kind.rawValue.lowercased())
        let short = shortNames(of: kind)
        if !short.isEmpty { names["shortNames"] = .array(short.map { .string($0) }) }

        let specSchema = specSchema(of: kind)
        var version = Value.Object()
        version["name"] = .string(Self.version)
        version["served"] = .bool(true)
        version["storage"] = .bool(true)
        let columns = printerColumns(of: kind, spec: specSchema)
        if !columns.isEmpty { version["additionalPrinterColumns"] = .array(columns) }
        version["schema"] = .object(Value.Object([("openAPIV3Schema", objectSchema(of: kind, spec: specSchema).value)]))
        if hasStatusSubresource(kind) {
            version["subresources"] = .object(Value.Object([("status", .object(Value.Object()))]))
        }

        var spec = Value.Object()
        spec["group"] = .string(kind.group)
        spec["names"] = .object(names)
        // Chaos Mesh's CRDs make every kind namespaced, PhysicalMachine too.
        spec["scope"] = .string("Namespaced")
        spec["versions"] = .array([.object(version)])

        return .object(Value.Object([
            ("apiVersion", .string("apiextensions.k8s.io/v1")),
            ("kind", .string("CustomResourceDefinition")),
            ("metadata", .object(Value.Object([("name", .string("\(plural).\(kind.group)"))]))),
            ("spec", .object(spec)),
        ]))
    }

    /// Every definition as YAML documents separated by `---`, in `ChaosKind` order.
    public static func yaml() -> String {
        // Rendering a tree of strings, numbers and booleans cannot fail.
        (try? DocumentText.yaml(definitions())) ?? ""
    }

    /// The resource name in API paths (`/apis/chaos-mesh.org/v1alpha1/namespaces/x/<plural>`):
    /// Chaos Mesh's kinds ending in "Chaos" keep their form (`networkchaos`),
    /// the others take an "s" (`schedules`, `physicalmachines`); Tumult's
    /// TCPChaos follows them (`tcpchaos`).
    public static func plural(of kind: ChaosKind) -> String? {
        let singular = kind.rawValue.lowercased()
        return singular.hasSuffix("chaos") ? singular : singular + "s"
    }

    /// Chaos Mesh's short names: only Workflow has one.
    static func shortNames(of kind: ChaosKind) -> [String] {
        kind == .workflow ? ["wf"] : []
    }

    /// The schema of `kind`'s `spec`, from its Swift type.
    static func specSchema(of kind: ChaosKind) -> SchemaNode {
        func walk<S: ChaosSpec>(_ type: S.Type) -> SchemaNode { SchemaRecorder.schema(of: type) }
        return walk(kind.specType)
    }

    /// Whether `kind` has a status subresource. As in Chaos Mesh's CRDs, only
    /// Workflow and StatusCheck do: the fault kinds and Schedules carry their
    /// status in the object itself, and the operator writes it there, so the
    /// same operator works over Chaos Mesh's CRDs and Tumult's.
    public static func hasStatusSubresource(_ kind: ChaosKind) -> Bool { kind == .workflow || kind == .statusCheck }

    /// Whether objects of `kind` carry a status (every kind but PhysicalMachine,
    /// which only names a machine).
    static func hasStatus(_ kind: ChaosKind) -> Bool { kind != .physicalMachine }

    /// The whole object's schema. `spec` is not required here: Chaos Mesh's
    /// CRDs require it for some kinds and not others, and Tumult refuses a
    /// document without one when it reads it.
    static func objectSchema(of kind: ChaosKind, spec: SchemaNode) -> SchemaNode {
        let root = SchemaNode()
        root.type = "object"
        root.property("apiVersion").type = "string"
        root.property("kind").type = "string"
        root.property("metadata").type = "object"
        root.properties.append(("spec", spec))
        if hasStatus(kind) { root.properties.append(("status", statusSchema(of: kind))) }
        return root
    }

    /// The status Tumult writes. Fault kinds get Chaos Mesh's experiment
    /// status (conditions, container records with their events, the desired
    /// phase) as typed fields, and keep any other field (Chaos Mesh's
    /// per-kind `instances`, `ids` ...) unpruned; the status of Schedule,
    /// Workflow and StatusCheck is kept as written.
    static func statusSchema(of kind: ChaosKind) -> SchemaNode {
        if kind.isFault {
            let node = SchemaRecorder.schema(of: ExperimentStatusSchema.self)
            node.preservesUnknownFields = true
            return node
        }
        let node = SchemaNode()
        node.type = "object"
        node.preservesUnknownFields = true
        return node
    }

    /// `kubectl get` columns, as Chaos Mesh's: a fault kind's action and
    /// duration, those it has.
    static func printerColumns(of kind: ChaosKind, spec: SchemaNode) -> [Value] {
        guard kind.isFault else { return [] }
        let fields = Set(spec.properties.map(\.name))
        return ["action", "duration"].filter(fields.contains).map { field in
            .object(Value.Object([("jsonPath", .string(".spec.\(field)")), ("name", .string(field)),
                                  ("type", .string("string"))]))
        }
    }
}

/// The shape of the status Tumult's controller writes on a fault
/// (`StatusView.status`), described as types so that the same walk as the
/// specs' gives its schema. Optional means the field may be absent.
struct ExperimentStatusSchema: Decodable {
    struct Condition: Decodable {
        var type: String
        var status: String
        var reason: String?
        /// Tumult's own: why the condition holds.
        var message: String?
    }

    struct Experiment: Decodable {
        var desiredPhase: DesiredPhase?
        var containerRecords: [Record]?
    }

    struct Record: Decodable {
        var id: String
        var selectorKey: String
        var phase: String
        var injectedCount: Int
        var recoveredCount: Int
        /// Tumult's own: the host the target is on.
        var nodeName: String?
        var events: [Event]?
    }

    struct Event: Decodable {
        var type: String
        var operation: String
        var message: String?
        var timestamp: Timestamp
    }

    /// An RFC 3339 time, as Kubernetes writes `metav1.Time`.
    struct Timestamp: Decodable, SchemaDescribing, DecodingFallback {
        static func describeSchema(_ node: SchemaNode) {
            node.type = "string"
            node.format = "date-time"
        }

        static var decodingFallback: Timestamp { Timestamp() }
    }

    var conditions: [Condition]?
    var experiment: Experiment
}
