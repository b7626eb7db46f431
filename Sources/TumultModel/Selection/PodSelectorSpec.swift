/// Which pods an experiment may touch (`spec.selector`). All fields are
/// ANDed; `pods` overrides the rest.
public struct PodSelectorSpec: Codable, Sendable, Hashable, DecodingFallback {
    public static var decodingFallback: PodSelectorSpec { PodSelectorSpec() }

    public var namespaces: [String]?
    public var nodes: [String]?
    /// Namespace to pod names. When set, every other field is ignored.
    public var pods: [String: [String]]?
    public var nodeSelectors: [String: String]?
    public var fieldSelectors: [String: String]?
    public var labelSelectors: [String: String]?
    public var annotationSelectors: [String: String]?
    public var expressionSelectors: [LabelSelectorRequirement]?
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    public var podPhaseSelectors: [String]?

    public init(namespaces: [String]? = nil, nodes: [String]? = nil, pods: [String: [String]]? = nil,
                nodeSelectors: [String: String]? = nil, fieldSelectors: [String: String]? = nil,
                labelSelectors: [String: String]? = nil, annotationSelectors: [String: String]? = nil,
                expressionSelectors: [LabelSelectorRequirement]? = nil, podPhaseSelectors: [String]? = nil) {
        self.namespaces = namespaces
        self.nodes = nodes
        self.pods = pods
        self.nodeSelectors = nodeSelectors
        self.fieldSelectors = fieldSelectors
        self.labelSelectors = labelSelectors
        self.annotationSelectors = annotationSelectors
        self.expressionSelectors = expressionSelectors
        self.podPhaseSelectors = podPhaseSelectors
    }

    public static let podPhases = ["Pending", "Running", "Succeeded", "Failed", "Unknown"]

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        for (position, requirement) in (expressionSelectors ?? []).enumerated() {
            requirement.validate(at: path.child("expressionSelectors").index(position), into: &diagnostics)
        }
        for (position, phase) in (podPhaseSelectors ?? []).enumerated() {
            let bare = phase.hasPrefix("!") ? String(phase.dropFirst()) : phase
            if !Self.podPhases.contains(bare) {
                diagnostics.error(path.child("podPhaseSelectors").index(position),
                                  "\"\(phase)\" is not a pod phase (\(Self.podPhases.joined(separator: ", ")), optionally with a leading !)")
            }
        }
        for (key, _) in labelSelectors ?? [:] {
            if let problem = LabelSelectorRequirement.labelKeyProblem(key) {
                diagnostics.error(path.child("labelSelectors").child(key), problem)
            }
        }
    }
}

/// A set-based label requirement (`In`, `NotIn`, `Exists`, `DoesNotExist`).
public struct LabelSelectorRequirement: Codable, Sendable, Hashable {
    public enum Operator: String, Codable, Sendable, CaseIterable, ChaosEnum {
        case `in` = "In"
        case notIn = "NotIn"
        case exists = "Exists"
        case doesNotExist = "DoesNotExist"
    }

    public var key: String
    public var `operator`: Operator
    public var values: [String]?

    public init(key: String, operator: Operator, values: [String]? = nil) {
        self.key = key
        self.operator = `operator`
        self.values = values
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        if let problem = Self.labelKeyProblem(key) {
            diagnostics.error(path.child("key"), problem)
        }
        switch `operator` {
        case .in, .notIn:
            if (values ?? []).isEmpty {
                diagnostics.error(path.child("values"), "must not be empty when operator is \(`operator`.rawValue)")
            }
        case .exists, .doesNotExist:
            if !(values ?? []).isEmpty {
                diagnostics.error(path.child("values"), "must be empty when operator is \(`operator`.rawValue)")
            }
        }
    }

    /// Kubernetes' rule for label keys: an optional DNS prefix and `/`, then
    /// a name of at most 63 characters.
    public static func labelKeyProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.last, !name.isEmpty, name.count <= 63 else {
            return "\"\(key)\" is not a valid label key"
        }
        let allowed = name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
        guard allowed, name.first!.isLetter || name.first!.isNumber, name.last!.isLetter || name.last!.isNumber else {
            return "\"\(key)\" is not a valid label key"
        }
        return nil
    }
}
