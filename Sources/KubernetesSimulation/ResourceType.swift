import Foundation

/// One kind of resource the simulation serves: a built-in one or one a
/// CustomResourceDefinition added. Objects of a type live in one table
/// whatever version they are read through.
public struct ResourceType: Sendable, Hashable {
    /// API group, "" for core.
    public var group: String
    /// Served versions, the storage version first.
    public var versions: [String]
    public var plural: String
    public var singular: String
    public var kind: String
    public var namespaced: Bool
    /// Whether `/status` is a subresource: then the main endpoint ignores
    /// status changes and `/status` ignores everything else.
    public var hasStatus: Bool
    public var shortNames: [String]
    public var categories: [String]

    public init(group: String, versions: [String], plural: String, singular: String, kind: String,
                namespaced: Bool, hasStatus: Bool = false, shortNames: [String] = [], categories: [String] = []) {
        self.group = group
        self.versions = versions
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.namespaced = namespaced
        self.hasStatus = hasStatus
        self.shortNames = shortNames
        self.categories = categories
    }

    /// `plural.group` (or the plural alone for core): how error messages and
    /// the table key name the resource, e.g. `networkchaos.chaos-mesh.org`.
    public var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }

    func apiVersion(_ version: String) -> String { group.isEmpty ? version : "\(group)/\(version)" }

    var storageAPIVersion: String { apiVersion(versions.first ?? "v1") }

    static let verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
}

extension ResourceType {
    static let namespaces = ResourceType(group: "", versions: ["v1"], plural: "namespaces", singular: "namespace",
                                         kind: "Namespace", namespaced: false, hasStatus: true, shortNames: ["ns"])
    static let customResourceDefinitions = ResourceType(
        group: "apiextensions.k8s.io", versions: ["v1"], plural: "customresourcedefinitions",
        singular: "customresourcedefinition", kind: "CustomResourceDefinition", namespaced: false,
        hasStatus: true, shortNames: ["crd", "crds"], categories: ["api-extensions"])
    static let validatingWebhookConfigurations = ResourceType(
        group: "admissionregistration.k8s.io", versions: ["v1"], plural: "validatingwebhookconfigurations",
        singular: "validatingwebhookconfiguration", kind: "ValidatingWebhookConfiguration", namespaced: false,
        categories: ["api-extensions"])

    /// What a fresh simulation serves before any CRD is created.
    static let builtIn: [ResourceType] = [
        namespaces,
        ResourceType(group: "", versions: ["v1"], plural: "pods", singular: "pod", kind: "Pod", namespaced: true,
                     hasStatus: true, shortNames: ["po"], categories: ["all"]),
        ResourceType(group: "", versions: ["v1"], plural: "nodes", singular: "node", kind: "Node", namespaced: false,
                     hasStatus: true, shortNames: ["no"]),
        ResourceType(group: "", versions: ["v1"], plural: "services", singular: "service", kind: "Service",
                     namespaced: true, hasStatus: true, shortNames: ["svc"], categories: ["all"]),
        ResourceType(group: "", versions: ["v1"], plural: "secrets", singular: "secret", kind: "Secret", namespaced: true),
        ResourceType(group: "", versions: ["v1"], plural: "configmaps", singular: "configmap", kind: "ConfigMap",
                     namespaced: true, shortNames: ["cm"]),
        ResourceType(group: "", versions: ["v1"], plural: "serviceaccounts", singular: "serviceaccount",
                     kind: "ServiceAccount", namespaced: true, shortNames: ["sa"]),
        ResourceType(group: "", versions: ["v1"], plural: "events", singular: "event", kind: "Event",
                     namespaced: true, shortNames: ["ev"]),
        ResourceType(group: "events.k8s.io", versions: ["v1"], plural: "events", singular: "event", kind: "Event",
                     namespaced: true, shortNames: ["ev"]),
        ResourceType(group: "coordination.k8s.io", versions: ["v1"], plural: "leases", singular: "lease",
                     kind: "Lease", namespaced: true),
        ResourceType(group: "apps", versions: ["v1"], plural: "deployments", singular: "deployment",
                     kind: "Deployment", namespaced: true, hasStatus: true, shortNames: ["deploy"], categories: ["all"]),
        ResourceType(group: "apps", versions: ["v1"], plural: "daemonsets", singular: "daemonset", kind: "DaemonSet",
                     namespaced: true, hasStatus: true, shortNames: ["ds"], categories: ["all"]),
        ResourceType(group: "rbac.authorization.k8s.io", versions: ["v1"], plural: "roles", singular: "role",
                     kind: "Role", namespaced: true),
        ResourceType(group: "rbac.authorization.k8s.io", versions: ["v1"], plural: "rolebindings",
                     singular: "rolebinding", kind: "RoleBinding", namespaced: true),
        ResourceType(group: "rbac.authorization.k8s.io", versions: ["v1"], plural: "clusterroles",
                     singular: "clusterrole", kind: "ClusterRole", namespaced: false),
        ResourceType(group: "rbac.authorization.k8s.io", versions: ["v1"], plural: "clusterrolebindings",
                     singular: "clusterrolebinding", kind: "ClusterRoleBinding", namespaced: false),
        customResourceDefinitions,
        validatingWebhookConfigurations,
        ResourceType(group: "admissionregistration.k8s.io", versions: ["v1"], plural: "mutatingwebhookconfigurations",
                     singular: "mutatingwebhookconfiguration", kind: "MutatingWebhookConfiguration",
                     namespaced: false, categories: ["api-extensions"]),
    ]

    /// The type a CustomResourceDefinition declares, or nil when it lacks
    /// the fields the apiserver requires (group, names, versions).
    init?(customResourceDefinition crd: [String: Any]) {
        guard let spec = crd["spec"] as? [String: Any],
              let group = spec["group"] as? String,
              let names = spec["names"] as? [String: Any],
              let plural = names["plural"] as? String,
              let kind = names["kind"] as? String,
              let versions = spec["versions"] as? [[String: Any]], !versions.isEmpty
        else { return nil }
        let served = versions.filter { ($0["served"] as? Bool) ?? true }
        let storage = served.first { ($0["storage"] as? Bool) ?? false } ?? served.first
        guard let storage, let storageName = storage["name"] as? String else { return nil }
        let others = served.compactMap { $0["name"] as? String }.filter { $0 != storageName }
        let hasStatus = served.contains { version in
            ((version["subresources"] as? [String: Any])?["status"]) != nil
        }
        self.init(group: group, versions: [storageName] + others, plural: plural,
                  singular: (names["singular"] as? String) ?? kind.lowercased(), kind: kind,
                  namespaced: (spec["scope"] as? String ?? "Namespaced") == "Namespaced",
                  hasStatus: hasStatus, shortNames: names["shortNames"] as? [String] ?? [],
                  categories: names["categories"] as? [String] ?? [])
    }
}
