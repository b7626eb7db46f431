/// One Chaos Mesh document (or one of Tumult's own kind, `tumult.dev`):
/// `apiVersion`, `kind`, `metadata`, `spec` (typed by kind) and `status`
/// (kept as written).
public struct ChaosDocument: Sendable, Equatable {
    /// Chaos Mesh's kinds; a kind's own is `ChaosKind.apiVersion`.
    public static let apiVersion = "chaos-mesh.org/v1alpha1"
    /// Chaos Mesh 0.x/1.x documents, accepted and upgraded.
    public static let legacyAPIVersion = "pingcap.com/v1alpha1"

    public var apiVersion: String
    public var kind: ChaosKind
    public var metadata: ObjectMeta
    public var spec: any ChaosSpec
    public var status: Value?

    /// `apiVersion` nil: the kind's own (`kind.apiVersion`).
    public init(kind: ChaosKind, metadata: ObjectMeta, spec: any ChaosSpec, status: Value? = nil,
                apiVersion: String? = nil) {
        self.apiVersion = apiVersion ?? kind.apiVersion
        self.kind = kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public var name: String { metadata.name ?? metadata.generateName ?? "" }
    public var namespace: String { metadata.namespace ?? "default" }

    public static func == (lhs: ChaosDocument, rhs: ChaosDocument) -> Bool {
        lhs.apiVersion == rhs.apiVersion && lhs.kind == rhs.kind && lhs.metadata == rhs.metadata
            && lhs.spec.isEqual(to: rhs.spec) && lhs.status == rhs.status
    }

    /// The document as a tree, fields in the model's order.
    public func encoded() throws -> Value {
        let encoder = ValueEncoder()
        var object = Value.Object()
        object["apiVersion"] = .string(apiVersion)
        object["kind"] = .string(kind.rawValue)
        object["metadata"] = try encoder.encode(metadata)
        object["spec"] = try encoder.encode(spec)
        if let status { object["status"] = status }
        return .object(object)
    }

    /// The document as Chaos Mesh 2.x would store it: its kind's current
    /// API group, namespace and every defaulted field filled in.
    public func normalized() -> ChaosDocument {
        var copy = self
        copy.apiVersion = kind.apiVersion
        if (copy.metadata.namespace ?? "").isEmpty { copy.metadata.namespace = "default" }
        copy.spec = Self.withDefaults(spec)
        return copy
    }

    static func withDefaults<S: ChaosSpec>(_ spec: S) -> any ChaosSpec {
        var copy = spec
        copy.applyDefaults()
        return copy
    }
}

/// A document tree that does not read as a valid chaos document.
public struct DocumentDecodingError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: Diagnostics
    public var description: String { diagnostics.errors.map(\.description).joined(separator: "; ") }
}

extension ChaosDocument {
    /// Reads a document written by `encoded()` (a store, the agent protocol):
    /// checked as any document is, so a tree that is not valid is refused.
    public static func decoding(_ value: Value) throws -> ChaosDocument {
        let report = DocumentLoader().check(value)
        guard let document = report.document else { throw DocumentDecodingError(diagnostics: report.diagnostics) }
        return document
    }
}
