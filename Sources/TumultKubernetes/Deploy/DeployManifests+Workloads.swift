import TumultModel

/// The operator, the node daemons and the dashboard, with their Services.
extension DeployManifests {
    /// The operator runs as this user, a non-root id no image user has.
    static let unprivilegedUser = 65532

    /// What the daemon may do beyond an ordinary root process in a container;
    /// everything else is dropped. The chart's README says why each.
    public static let daemonCapabilities = [
        "NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_PTRACE", "KILL", "SYS_RESOURCE", "DAC_OVERRIDE",
    ]

    // MARK: - Operator

    static func operatorObjects(_ options: DeployOptions) -> [Value] {
        var objects = [operatorDeployment(options)]
        if options.webhook {
            objects.append(service("tumult-webhook", component: "operator", options,
                                   port: 443, portName: "https", targetPort: "webhook"))
        }
        return objects
    }

    static func operatorArguments(_ options: DeployOptions) -> [String] {
        var arguments = [
            "operator",
            "--fleet-ca", "/etc/tumult/fleet/ca.crt",
            "--fleet-cert", "/etc/tumult/fleet/tls.crt",
            "--fleet-key", "/etc/tumult/fleet/tls.key",
        ]
        if options.webhook {
            arguments += ["--webhook-cert", "/etc/tumult/webhook/tls.crt", "--webhook-key", "/etc/tumult/webhook/tls.key"]
        }
        for watched in options.watchNamespaces {
            arguments += ["--watch-namespace", watched]
        }
        return arguments
    }

    static func operatorDeployment(_ options: DeployOptions) -> Value {
        var container = Value.Object([
            ("name", .string("operator")),
            ("image", .string(options.image)),
            ("imagePullPolicy", .string("IfNotPresent")),
            ("args", strings(operatorArguments(options))),
            // POD_NAME is the leader election's identity; POD_NAMESPACE where its Lease and the daemons are.
            ("env", .array([
                fieldEnvironment("POD_NAME", path: "metadata.name"),
                fieldEnvironment("POD_NAMESPACE", path: "metadata.namespace"),
            ])),
        ])
        var mounts = [mount("fleet", at: "/etc/tumult/fleet", readOnly: true)]
        var volumes = [secretVolume("fleet", secret: "tumult-fleet-operator")]
        if options.webhook {
            container["ports"] = .array([containerPort("webhook", webhookPort)])
            // Ready once the webhook answers: the Service sends AdmissionReviews only to ready replicas.
            container["readinessProbe"] = mapping([
                "httpGet": mapping(["path": .string("/healthz"), "port": .string("webhook"), "scheme": .string("HTTPS")]),
                "periodSeconds": .integer(10),
            ])
            mounts.append(mount("webhook", at: "/etc/tumult/webhook", readOnly: true))
            volumes.append(secretVolume("webhook", secret: "tumult-webhook-tls"))
        }
        mounts.append(mount("tmp", at: "/tmp", readOnly: false))
        volumes.append(mapping(["name": .string("tmp"), "emptyDir": mapping([:])]))
        container["securityContext"] = restrictedContainerSecurity
        container["volumeMounts"] = .array(mounts)

        let pod = mapping([
            "serviceAccountName": .string("tumult-operator"),
            "securityContext": unprivilegedPodSecurity,
            // Replicas on different nodes, so one node going down leaves the webhook answering.
            "affinity": mapping([
                "podAntiAffinity": mapping([
                    "preferredDuringSchedulingIgnoredDuringExecution": .array([mapping([
                        "weight": .integer(100),
                        "podAffinityTerm": mapping([
                            "labelSelector": mapping(["matchLabels": labels(component: "operator")]),
                            "topologyKey": .string("kubernetes.io/hostname"),
                        ]),
                    ])]),
                ]),
            ]),
            "containers": .array([.object(container)]),
            "volumes": .array(volumes),
        ])
        return deployment("tumult-operator", component: "operator", options, replicas: options.operatorReplicas, pod: pod)
    }

    // MARK: - Daemon

    static let daemonArguments = [
        "daemon", "--kubernetes",
        "--listen", "0.0.0.0:\(agentPort)",
        "--CA", "/etc/tumult/fleet/ca.crt",
        "--cert", "/etc/tumult/fleet/tls.crt",
        "--key", "/etc/tumult/fleet/tls.key",
        "--home", "/var/lib/tumult",
    ]

    static func daemonSet(_ options: DeployOptions) -> Value {
        let container = mapping([
            "name": .string("daemon"),
            "image": .string(options.image),
            "imagePullPolicy": .string("IfNotPresent"),
            "args": strings(daemonArguments),
            // The machine is the node: its pods are the ones whose spec.nodeName is this.
            "env": .array([fieldEnvironment("NODE_NAME", path: "spec.nodeName")]),
            "ports": .array([containerPort("agent", agentPort)]),
            "readinessProbe": mapping(["tcpSocket": mapping(["port": .string("agent")]), "periodSeconds": .integer(10)]),
            // Root with a few capabilities, not privileged: it reaches pods through
            // their namespaces and cgroups, never through host devices.
            "securityContext": mapping([
                "privileged": .bool(false),
                "runAsUser": .integer(0),
                "capabilities": mapping(["drop": strings(["ALL"]), "add": strings(daemonCapabilities)]),
            ]),
            "volumeMounts": .array([
                mount("fleet", at: "/etc/tumult/fleet", readOnly: true),
                mount("home", at: "/var/lib/tumult", readOnly: false),
                mount("cgroup", at: "/sys/fs/cgroup", readOnly: false),
                mount("containerd", at: "/run/containerd/containerd.sock", readOnly: false),
                // IOChaos's file system (the runtime's device rules must let the container open it).
                mount("fuse", at: "/dev/fuse", readOnly: false),
                // HostToContainer: namespaces `ip netns add` mounts on the host later are seen here too.
                mapping([
                    "name": .string("netns"), "mountPath": .string("/var/run/netns"),
                    "mountPropagation": .string("HostToContainer"),
                ]),
            ]),
        ])
        let pod = mapping([
            "serviceAccountName": .string("tumult-daemon"),
            "automountServiceAccountToken": .bool(false),
            // Every process of the node is visible: pods are reached through /proc/PID/ns and their cgroups.
            "hostPID": .bool(true),
            // Chaos must reach every node, tainted ones included.
            "tolerations": .array([mapping(["operator": .string("Exists")])]),
            "containers": .array([container]),
            "volumes": .array([
                secretVolume("fleet", secret: "tumult-fleet-daemon"),
                // The journal outlives the pod: a restarted daemon recovers what its predecessor injected.
                hostPathVolume("home", path: "/var/lib/tumult", type: "DirectoryOrCreate"),
                hostPathVolume("cgroup", path: "/sys/fs/cgroup", type: "Directory"),
                hostPathVolume("containerd", path: "/run/containerd/containerd.sock", type: "Socket"),
                hostPathVolume("fuse", path: "/dev/fuse", type: "CharDevice"),
                hostPathVolume("netns", path: "/var/run/netns", type: "DirectoryOrCreate"),
            ]),
        ])
        return mapping([
            "apiVersion": .string("apps/v1"),
            "kind": .string("DaemonSet"),
            "metadata": metadata("tumult-daemon", namespace: options.namespace, component: "daemon"),
            "spec": mapping([
                "selector": mapping(["matchLabels": daemonLabels]),
                "template": mapping([
                    "metadata": mapping([
                        "labels": daemonLabels,
                        "annotations": mapping(["tumult.dev/agent-port": .string(String(agentPort))]),
                    ]),
                    "spec": pod,
                ]),
            ]),
        ])
    }

    // MARK: - Dashboard

    static func dashboardObjects(_ options: DeployOptions) -> [Value] {
        let container = mapping([
            "name": .string("dashboard"),
            "image": .string(options.image),
            "imagePullPolicy": .string("IfNotPresent"),
            "args": strings(["server", "--in-cluster", "--listen", "0.0.0.0:\(dashboardPort)"]),
            "env": .array([
                mapping([
                    "name": .string("TUMULT_TOKEN"),
                    "valueFrom": mapping(["secretKeyRef": mapping([
                        "name": .string("tumult-dashboard-token"), "key": .string("token"),
                    ])]),
                ]),
                // Its working files go to an emptyDir: the root filesystem is read-only.
                mapping(["name": .string("TUMULT_HOME"), "value": .string("/var/lib/tumult")]),
            ]),
            "ports": .array([containerPort("http", dashboardPort)]),
            "readinessProbe": mapping(["tcpSocket": mapping(["port": .string("http")]), "periodSeconds": .integer(10)]),
            "securityContext": restrictedContainerSecurity,
            "volumeMounts": .array([
                mount("home", at: "/var/lib/tumult", readOnly: false),
                mount("tmp", at: "/tmp", readOnly: false),
            ]),
        ])
        let pod = mapping([
            "serviceAccountName": .string("tumult-dashboard"),
            "securityContext": unprivilegedPodSecurity,
            "containers": .array([container]),
            "volumes": .array([
                mapping(["name": .string("home"), "emptyDir": mapping([:])]),
                mapping(["name": .string("tmp"), "emptyDir": mapping([:])]),
            ]),
        ])
        return [
            deployment("tumult-dashboard", component: "dashboard", options, replicas: 1, pod: pod),
            service("tumult-dashboard", component: "dashboard", options, port: dashboardPort, portName: "http", targetPort: "http"),
        ]
    }

    // MARK: - Parts

    static func deployment(_ name: String, component: String, _ options: DeployOptions, replicas: Int, pod: Value) -> Value {
        mapping([
            "apiVersion": .string("apps/v1"),
            "kind": .string("Deployment"),
            "metadata": metadata(name, namespace: options.namespace, component: component),
            "spec": mapping([
                "replicas": .integer(replicas),
                "selector": mapping(["matchLabels": labels(component: component)]),
                "template": mapping([
                    "metadata": mapping(["labels": labels(component: component)]),
                    "spec": pod,
                ]),
            ]),
        ])
    }

    static func service(
        _ name: String, component: String, _ options: DeployOptions, port: Int, portName: String, targetPort: String
    ) -> Value {
        mapping([
            "apiVersion": .string("v1"),
            "kind": .string("Service"),
            "metadata": metadata(name, namespace: options.namespace, component: component),
            "spec": mapping([
                "type": .string("ClusterIP"),
                "selector": labels(component: component),
                "ports": .array([mapping([
                    "name": .string(portName), "port": .integer(port),
                    "targetPort": .string(targetPort), "protocol": .string("TCP"),
                ])]),
            ]),
        ])
    }

    /// The pod-level half of the restricted profile; fsGroup lets the
    /// non-root user read the mounted keys (mode 0440).
    static var unprivilegedPodSecurity: Value {
        mapping([
            "runAsNonRoot": .bool(true),
            "runAsUser": .integer(unprivilegedUser),
            "runAsGroup": .integer(unprivilegedUser),
            "fsGroup": .integer(unprivilegedUser),
            "seccompProfile": mapping(["type": .string("RuntimeDefault")]),
        ])
    }

    static var restrictedContainerSecurity: Value {
        mapping([
            "allowPrivilegeEscalation": .bool(false),
            "readOnlyRootFilesystem": .bool(true),
            "capabilities": mapping(["drop": strings(["ALL"])]),
        ])
    }

    static func fieldEnvironment(_ name: String, path: String) -> Value {
        mapping([
            "name": .string(name),
            "valueFrom": mapping(["fieldRef": mapping(["fieldPath": .string(path)])]),
        ])
    }

    static func containerPort(_ name: String, _ port: Int) -> Value {
        mapping(["name": .string(name), "containerPort": .integer(port), "protocol": .string("TCP")])
    }

    static func mount(_ name: String, at path: String, readOnly: Bool) -> Value {
        var mount = Value.Object([("name", .string(name)), ("mountPath", .string(path))])
        if readOnly { mount["readOnly"] = .bool(true) }
        return .object(mount)
    }

    /// Keys readable by the owner and the pod's fsGroup only (0440).
    static func secretVolume(_ name: String, secret: String) -> Value {
        mapping(["name": .string(name), "secret": mapping(["secretName": .string(secret), "defaultMode": .integer(0o440)])])
    }

    static func hostPathVolume(_ name: String, path: String, type: String) -> Value {
        mapping(["name": .string(name), "hostPath": mapping(["path": .string(path), "type": .string(type)])])
    }
}
