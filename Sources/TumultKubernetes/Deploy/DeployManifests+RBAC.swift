import TumultModel

/// Least privilege: each account gets exactly the verbs its code uses, and
/// the chart's README lists every rule with the reason for it.
extension DeployManifests {
    static func rbac(_ options: DeployOptions) -> [Value] {
        let operatorAccount = subject("tumult-operator", namespace: options.namespace)
        var objects: [Value] = []
        if options.watchNamespaces.isEmpty {
            objects.append(clusterRole("tumult-operator", component: "operator",
                                       rules: operatorNamespacedRules + [nodeRule]))
            objects.append(clusterRoleBinding("tumult-operator", component: "operator", subject: operatorAccount))
        } else {
            // Nodes have no namespace: reading them stays cluster-wide, alone.
            objects.append(clusterRole("tumult-operator-nodes", component: "operator", rules: [nodeRule]))
            objects.append(clusterRoleBinding("tumult-operator-nodes", component: "operator", subject: operatorAccount))
            for watched in options.watchNamespaces {
                objects.append(role("tumult-operator", namespace: watched, component: "operator", rules: operatorNamespacedRules))
                objects.append(roleBinding("tumult-operator", namespace: watched, component: "operator", subject: operatorAccount))
            }
        }
        objects.append(role("tumult-operator-local", namespace: options.namespace, component: "operator", rules: operatorLocalRules))
        objects.append(roleBinding("tumult-operator-local", namespace: options.namespace, component: "operator",
                                   subject: operatorAccount))
        if options.dashboard {
            objects.append(clusterRole("tumult-dashboard", component: "dashboard", rules: dashboardRules))
            objects.append(clusterRoleBinding("tumult-dashboard", component: "dashboard",
                                              subject: subject("tumult-dashboard", namespace: options.namespace)))
        }
        return objects
    }

    /// What the operator needs where chaos objects live: read and watch them,
    /// patch their finalizers, write their status, find their pods, and
    /// record events about them.
    static var operatorNamespacedRules: [Value] {
        reconciledChaosResources.flatMap { group, plurals in
            [
                rule(groups: [group], resources: plurals, verbs: ["get", "list", "watch", "patch"]),
                rule(groups: [group], resources: plurals.map { "\($0)/status" }, verbs: ["patch", "update"]),
            ]
        } + [
            rule(groups: [""], resources: ["pods"], verbs: ["get", "list", "watch"]),
            rule(groups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch", "update", "get"]),
        ]
    }

    /// Nodes: a pod's node names the daemon that reaches it.
    static var nodeRule: Value {
        rule(groups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"])
    }

    /// In the operator's own namespace: the leader election's Lease, and the
    /// daemon pods it dials (needed here even when this namespace is not watched).
    static var operatorLocalRules: [Value] {
        [
            rule(groups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"]),
            rule(groups: [""], resources: ["pods"], verbs: ["get", "list", "watch"]),
        ]
    }

    /// The dashboard edits chaos objects for its users and shows their
    /// events; it watches pods (a cache for its selector pickers) and lists namespaces.
    static var dashboardRules: [Value] {
        allChaosResources.map { group, plurals in
            rule(groups: [group], resources: plurals, verbs: ["get", "list", "watch", "create", "update", "patch", "delete"])
        } + [
            rule(groups: ["", "events.k8s.io"], resources: ["events"], verbs: ["list", "watch"]),
            rule(groups: [""], resources: ["pods"], verbs: ["list", "watch"]),
            rule(groups: [""], resources: ["namespaces"], verbs: ["list"]),
        ]
    }

    static func rule(groups: [String], resources: [String], verbs: [String]) -> Value {
        mapping(["apiGroups": strings(groups), "resources": strings(resources), "verbs": strings(verbs)])
    }

    static func subject(_ account: String, namespace: String) -> Value {
        mapping(["kind": .string("ServiceAccount"), "name": .string(account), "namespace": .string(namespace)])
    }

    static func clusterRole(_ name: String, component: String, rules: [Value]) -> Value {
        mapping([
            "apiVersion": .string("rbac.authorization.k8s.io/v1"),
            "kind": .string("ClusterRole"),
            "metadata": metadata(name, namespace: nil, component: component),
            "rules": .array(rules),
        ])
    }

    static func role(_ name: String, namespace: String, component: String, rules: [Value]) -> Value {
        mapping([
            "apiVersion": .string("rbac.authorization.k8s.io/v1"),
            "kind": .string("Role"),
            "metadata": metadata(name, namespace: namespace, component: component),
            "rules": .array(rules),
        ])
    }

    static func clusterRoleBinding(_ name: String, component: String, subject: Value) -> Value {
        mapping([
            "apiVersion": .string("rbac.authorization.k8s.io/v1"),
            "kind": .string("ClusterRoleBinding"),
            "metadata": metadata(name, namespace: nil, component: component),
            "roleRef": roleReference(kind: "ClusterRole", name: name),
            "subjects": .array([subject]),
        ])
    }

    static func roleBinding(_ name: String, namespace: String, component: String, subject: Value) -> Value {
        mapping([
            "apiVersion": .string("rbac.authorization.k8s.io/v1"),
            "kind": .string("RoleBinding"),
            "metadata": metadata(name, namespace: namespace, component: component),
            "roleRef": roleReference(kind: "Role", name: name),
            "subjects": .array([subject]),
        ])
    }

    static func roleReference(kind: String, name: String) -> Value {
        mapping(["apiGroup": .string("rbac.authorization.k8s.io"), "kind": .string(kind), "name": .string(name)])
    }
}
