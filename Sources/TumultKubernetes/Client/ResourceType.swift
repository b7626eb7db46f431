/// One kind of Kubernetes object as the API serves it: where its REST
/// collection lives and whether it sits inside a namespace. The client
/// builds every URL from this, so a chaos kind is added by naming its plural.
public struct ResourceType: Sendable, Hashable, CustomStringConvertible {
    /// The API group; "" for the core group (`/api/v1`).
    public var group: String
    public var version: String
    /// The collection's path segment (`pods`, `networkchaos`).
    public var plural: String
    public var kind: String
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
    }

    /// What objects of this type carry in `apiVersion`: "v1" or "group/version".
    public var apiVersion: String {
        group.isEmpty ? version : "\(group)/\(version)"
    }

    /// `pods`, `chaos-mesh.org/networkchaos`: how request counts and messages name the type.
    public var description: String {
        group.isEmpty ? plural : "\(group)/\(plural)"
    }

    /// The REST path of the collection, an object, or an object's subresource:
    /// `/api/v1/namespaces/ns/pods/name/status`. A nil namespace on a
    /// namespaced type addresses every namespace (lists and watches); a
    /// namespace given for a cluster-scoped type is ignored.
    public func path(namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace, !namespace.isEmpty {
            path += "/namespaces/\(namespace)"
        }
        path += "/\(plural)"
        if let name {
            path += "/\(name)"
            if let subresource { path += "/\(subresource)" }
        }
        return path
    }

    /// A Chaos Mesh kind (`chaos-mesh.org/v1alpha1`, namespaced), or with
    /// `group` Tumult's own (`tumult.dev`); Chaos Mesh's plurals are not
    /// English plurals (`networkchaos`), so the caller names it.
    public static func chaosMesh(kind: String, plural: String, group: String = "chaos-mesh.org") -> ResourceType {
        ResourceType(group: group, version: "v1alpha1", plural: plural, kind: kind, namespaced: true)
    }

    public static let pods = ResourceType(group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true)
    public static let nodes = ResourceType(group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false)
    public static let namespaces = ResourceType(
        group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false)
    public static let services = ResourceType(
        group: "", version: "v1", plural: "services", kind: "Service", namespaced: true)
    public static let secrets = ResourceType(group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true)
    public static let configMaps = ResourceType(
        group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true)
    public static let serviceAccounts = ResourceType(
        group: "", version: "v1", plural: "serviceaccounts", kind: "ServiceAccount", namespaced: true)
    /// The `events.k8s.io/v1` Events the recorder writes (not the core/v1 ones).
    public static let events = ResourceType(
        group: "events.k8s.io", version: "v1", plural: "events", kind: "Event", namespaced: true)
    public static let leases = ResourceType(
        group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true)
    public static let customResourceDefinitions = ResourceType(
        group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions",
        kind: "CustomResourceDefinition", namespaced: false)
    public static let validatingWebhookConfigurations = ResourceType(
        group: "admissionregistration.k8s.io", version: "v1", plural: "validatingwebhookconfigurations",
        kind: "ValidatingWebhookConfiguration", namespaced: false)
    public static let deployments = ResourceType(
        group: "apps", version: "v1", plural: "deployments", kind: "Deployment", namespaced: true)
    public static let daemonSets = ResourceType(
        group: "apps", version: "v1", plural: "daemonsets", kind: "DaemonSet", namespaced: true)
    public static let clusterRoles = ResourceType(
        group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", kind: "ClusterRole",
        namespaced: false)
    public static let clusterRoleBindings = ResourceType(
        group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings",
        kind: "ClusterRoleBinding", namespaced: false)
    public static let roles = ResourceType(
        group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", kind: "Role", namespaced: true)
    public static let roleBindings = ResourceType(
        group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", kind: "RoleBinding",
        namespaced: true)
}
