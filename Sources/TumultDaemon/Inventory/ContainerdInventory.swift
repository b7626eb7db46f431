import Foundation
import TumultModel
import TumultSystem

/// containerd's running containers as pods, asked through the `ctr` CLI:
/// every containerd namespace (`ctr namespaces ls -q`), its running tasks
/// and their pids (`ctr -n NS tasks ls`), each task's container labels
/// (`ctr -n NS containers info ID`). `ctr` rather than containerd's gRPC
/// API: it ships with containerd, and three listings need no client of
/// their own.
///
/// - A container `ctr run` made is the pod `NAMESPACE/ID`, its labels the
///   container's.
/// - Containers the Kubernetes CRI plugin made (`k8s.io`, labelled
///   `io.kubernetes.pod.name`/`io.kubernetes.pod.namespace`) are grouped
///   into their Kubernetes pod, with every container in `containerIDs` by
///   its container name; the sandbox (pause) container is not a pod of its
///   own, but its labels are the pod's labels, as CRI copies them there.
///
/// Each pod's pid is its (first, by container name) container's task pid;
/// its addresses are those of that process's network namespace.
public struct ContainerdInventory: Sendable {
    /// containerd's system socket.
    public static let defaultSocketPath = "/run/containerd/containerd.sock"
    /// The namespace the Kubernetes CRI plugin keeps its containers in.
    public static let kubernetesNamespace = "k8s.io"

    /// CRI's labels on every container it makes.
    static let podNameLabel = "io.kubernetes.pod.name"
    static let podNamespaceLabel = "io.kubernetes.pod.namespace"
    static let containerNameLabel = "io.kubernetes.container.name"
    /// `sandbox` on the pause container, `container` on the others.
    static let kindLabel = "io.cri-containerd.kind"

    public var socketPath: String
    public var runner: any CommandRunner

    public init(socketPath: String = ContainerdInventory.defaultSocketPath, runner: any CommandRunner = ProcessCommandRunner()) {
        self.socketPath = socketPath
        self.runner = runner
    }

    /// Whether something is at the socket path: no socket, no containerd,
    /// which is not an error.
    public var isPresent: Bool {
        var info = stat()
        return lstat(socketPath, &info) == 0
    }

    /// One running task: its container, namespace and pid.
    public struct Task: Sendable, Hashable {
        public var namespace: String
        public var id: String
        public var pid: Int32
    }

    /// The running containers as pods on node `nodeName`. Throws a
    /// `CommandError` when containerd cannot be asked (`ctr` failing, a
    /// socket nobody answers on).
    public func containers(nodeName: String) throws -> [Pod] {
        var pods: [Pod] = []
        for namespace in try namespaces() {
            var grouped: [String: [(task: Task, labels: [String: String])]] = [:]
            var sandboxLabels: [String: [String: String]] = [:]
            for task in try tasks(in: namespace) {
                // A container removed between the two listings is simply gone.
                guard let labels = try? labels(of: task.id, in: namespace) else { continue }
                guard let podName = labels[Self.podNameLabel], !podName.isEmpty else {
                    pods.append(pod(name: task.id, namespace: namespace, labels: labels, containers: [(task, labels)],
                                    nodeName: nodeName))
                    continue
                }
                let key = "\(labels[Self.podNamespaceLabel] ?? namespace)/\(podName)"
                if labels[Self.kindLabel] == "sandbox" {
                    sandboxLabels[key] = labels
                } else {
                    grouped[key, default: []].append((task, labels))
                }
            }
            for (key, containers) in grouped.sorted(by: { $0.key < $1.key }) {
                let first = containers[0].labels
                var labels: [String: String] = [:]
                for (_, own) in containers { labels.merge(own) { kept, _ in kept } }
                labels.merge(sandboxLabels[key] ?? [:]) { _, pod in pod }
                labels[Self.containerNameLabel] = nil
                labels[Self.kindLabel] = nil
                pods.append(pod(name: first[Self.podNameLabel] ?? key, namespace: first[Self.podNamespaceLabel] ?? namespace,
                                labels: labels, containers: containers, nodeName: nodeName))
            }
        }
        return pods
    }

    /// A pod of one or more containers: its pid is the first container's by
    /// name; Kubernetes pods list every container in `containerIDs`.
    func pod(name: String, namespace: String, labels: [String: String],
             containers: [(task: Task, labels: [String: String])], nodeName: String) -> Pod {
        let ordered = containers.sorted {
            ($0.labels[Self.containerNameLabel] ?? $0.task.id, $0.task.id) < ($1.labels[Self.containerNameLabel] ?? $1.task.id, $1.task.id)
        }
        let main = ordered[0].task
        var byName: [String: String]?
        if ordered.contains(where: { $0.labels[Self.containerNameLabel] != nil }) {
            byName = Dictionary(ordered.map { ($0.labels[Self.containerNameLabel] ?? $0.task.id, "containerd://\($0.task.id)") },
                                uniquingKeysWith: { first, _ in first })
        }
        // Addresses that cannot be read (the task ended meanwhile) leave the pod without IPs, not out.
        let ips = (try? addresses(of: main.pid)) ?? []
        return Pod(name: name, namespace: namespace, labels: labels, pid: main.pid, ips: ips, nodeName: nodeName,
                   phase: "Running", source: .containerd, containerID: "containerd://\(main.id)", containerIDs: byName)
    }

    /// Every containerd namespace, sorted.
    public func namespaces() throws -> [String] {
        let result = try ctr(["namespaces", "ls", "-q"], doing: "listing containerd's namespaces")
        return result.stdout.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.sorted()
    }

    /// The running tasks of `namespace`.
    public func tasks(in namespace: String) throws -> [Task] {
        let result = try ctr(["-n", namespace, "tasks", "ls"], doing: "listing containerd's tasks in namespace \(namespace)")
        return Self.parseTasks(result.stdout, namespace: namespace)
    }

    /// The labels of container `id` of `namespace`.
    public func labels(of id: String, in namespace: String) throws -> [String: String] {
        let result = try ctr(["-n", namespace, "containers", "info", id],
                             doing: "reading container \(id) of containerd namespace \(namespace)")
        return try Self.parseLabels(result.stdout)
    }

    /// `ctr` on this inventory's socket, with bounded waits: a containerd
    /// that hangs must not hang a listing or an injection.
    func ctr(_ arguments: [String], doing: String) throws -> CommandResult {
        try runner.check(Command(["ctr", "--address", socketPath, "--connect-timeout", "2s", "--timeout", "10s"] + arguments),
                         doing: doing)
    }

    /// The addresses of the network namespace `pid` is in, as the inventory
    /// reads named namespaces' (`ip -j addr show`, loopback and link-local left out).
    func addresses(of pid: Int32) throws -> [String] {
        let command = NetworkNamespace.process(pid).wrap(Command(["ip", "-j", "addr", "show"]))
        let result = try runner.check(command, doing: "listing the addresses of pid \(pid)'s network namespace")
        return try LocalInventory.parseAddresses(result.stdout)
    }

    /// The rows of `ctr tasks ls` (`TASK PID STATUS`) whose task is running.
    static func parseTasks(_ text: String, namespace: String) -> [Task] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(whereSeparator: \.isWhitespace)
            guard fields.count >= 3, fields[0] != "TASK", fields[2] == "RUNNING",
                  let pid = Int32(fields[1]), pid > 0 else { return nil }
            return Task(namespace: namespace, id: String(fields[0]), pid: pid)
        }
    }

    /// `Labels` of `ctr containers info`'s JSON (null when there are none).
    static func parseLabels(_ json: String) throws -> [String: String] {
        struct Info: Decodable {
            var labels: [String: String]?
            enum CodingKeys: String, CodingKey { case labels = "Labels" }
        }
        return try JSONDecoder().decode(Info.self, from: Data(json.utf8)).labels ?? [:]
    }
}
