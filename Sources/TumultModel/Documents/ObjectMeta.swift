/// Kubernetes object metadata, as much as a chaos document carries. Fields
/// that `kubectl get -o yaml` adds are kept so exported documents load
/// without warnings.
public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var deletionGracePeriodSeconds: Int64?
    public var finalizers: [String]?
    public var ownerReferences: [Value]?
    public var managedFields: [Value]?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil,
                annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }

    /// The annotation that pauses an experiment.
    public static let pauseAnnotation = "experiment.chaos-mesh.org/pause"

    public var isPaused: Bool { annotations?[Self.pauseAnnotation] == "true" }

    func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        if (name ?? "").isEmpty && (generateName ?? "").isEmpty {
            diagnostics.error(path.child("name"), "required field is missing")
        }
        if let name, !name.isEmpty, let problem = Self.dnsSubdomainProblem(name) {
            diagnostics.error(path.child("name"), problem)
        }
        if let namespace, !namespace.isEmpty, let problem = Self.dnsLabelProblem(namespace) {
            diagnostics.error(path.child("namespace"), problem)
        }
        for key in (labels ?? [:]).keys.sorted() {
            if let problem = LabelSelectorRequirement.labelKeyProblem(key) {
                diagnostics.error(path.child("labels").child(key), problem)
            }
        }
    }

    /// Kubernetes object names: lower-case RFC 1123 subdomain, at most 253.
    static func dnsSubdomainProblem(_ name: String) -> String? {
        let valid = name.count <= 253
            && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel($0) }
        return valid ? nil
            : "\"\(name)\" is not a valid name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)"
    }

    static func dnsLabelProblem(_ name: String) -> String? {
        isDNSLabel(Substring(name)) ? nil
            : "\"\(name)\" is not a valid namespace (lower-case letters, digits and '-', at most 63)"
    }

    static func isDNSLabel(_ label: Substring) -> Bool {
        guard !label.isEmpty, label.count <= 63 else { return false }
        let ok = label.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
        return ok && label.first != "-" && label.last != "-"
    }
}
