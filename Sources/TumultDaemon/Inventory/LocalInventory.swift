import Foundation
import TumultModel
import TumultSystem

/// What a selector chooses from on one machine: every named network
/// namespace, every running Docker or Podman container, and the pods of the
/// inventory file whose namespace is missing.
///
/// - A named network namespace (`/var/run/netns/NAME`) is a pod. Its labels,
///   annotations and Kubernetes-style namespace come from the inventory
///   entry with that `netns`; without one it is the pod `default/NAME` with
///   no labels. Its pid is the lowest pid whose `/proc/PID/ns/net` is that
///   namespace, leaving out Tumult's own helpers (nil when no other process
///   lives there); its IPs are its interfaces' addresses except loopback and
///   IPv6 link-local ones.
/// - An inventory entry whose network namespace does not exist is still
///   listed, with phase `Unknown`, no pid and no IPs: a typo in the file or
///   a namespace not made yet shows in `tumult get pods` instead of the pod
///   silently vanishing, and `podPhaseSelectors: [Running]` leaves it out.
/// - A running container of an engine whose socket exists is a pod (see
///   `ContainerEngine`), and so is a running containerd container when
///   containerd's socket exists (see `ContainerdInventory`). An engine that
///   cannot be asked does not fail the inventory: its problem is one of the
///   snapshot's `warnings`.
///
/// One call lists the namespaces, runs one `ip -j addr show` per namespace
/// and reads `/proc` once, so it is cheap enough to call per selection.
public struct LocalInventory: Sendable {
    /// The pods found and what went wrong on the way without failing the listing.
    public struct Snapshot: Sendable, Hashable {
        public var pods: [Pod]
        /// Inventory-file warnings, engines that could not be asked, pods left out.
        public var warnings: [String]

        public init(pods: [Pod], warnings: [String] = []) {
            self.pods = pods
            self.warnings = warnings
        }
    }

    /// Where `ip netns add` puts named namespaces.
    public static let netnsDirectory = "/var/run/netns"

    public var inventory: InventoryFile?
    public var engines: [ContainerEngine]
    /// containerd, asked through `ctr` when its socket exists; nil: not looked at.
    public var containerd: ContainerdInventory?
    public var hostName: String
    public var runner: any CommandRunner

    /// - Parameters:
    ///   - inventory: labels, annotations and namespaces by netns; nil for none.
    ///   - engines: the container engine sockets to look at (tests pass a fake's).
    ///   - containerd: containerd's socket to look at (tests pass a private containerd's).
    ///   - hostName: the node name of every pod.
    ///   - runner: runs `ip`.
    public init(inventory: InventoryFile? = nil, engines: [ContainerEngine] = ContainerEngine.standard,
                containerd: ContainerdInventory? = ContainerdInventory(),
                hostName: String = LocalInventory.currentHostName(), runner: any CommandRunner = ProcessCommandRunner()) {
        self.inventory = inventory
        self.engines = engines
        self.containerd = containerd
        self.hostName = hostName
        self.runner = runner
    }

    /// The same, with the inventory file read from `inventoryPath` (nil: no file).
    public init(inventoryPath: String?, engines: [ContainerEngine] = ContainerEngine.standard,
                containerd: ContainerdInventory? = ContainerdInventory(),
                hostName: String = LocalInventory.currentHostName(),
                runner: any CommandRunner = ProcessCommandRunner()) throws {
        let file = try inventoryPath.map { try InventoryFile.load(path: $0) }
        self.init(inventory: file, engines: engines, containerd: containerd, hostName: hostName, runner: runner)
    }

    /// Every pod on this machine, sorted by `namespace/name`.
    public func pods() throws -> [Pod] {
        try snapshot().pods
    }

    /// Every pod on this machine with the warnings met while finding them.
    /// Throws only when the network namespaces cannot be read (`ip` missing
    /// or failing on a namespace that exists).
    public func snapshot() throws -> Snapshot {
        var warnings = inventory?.warnings ?? []
        var pods: [Pod] = []
        let names = Self.namedNamespaces()
        let processes = names.isEmpty ? [:] : Self.lowestPidByNamespace()
        var present: Set<String> = []
        for netns in names {
            // One namespace that cannot be read (deleted meanwhile, or being
            // created: its file exists before it is mounted) must not hide
            // all the others: it is left out with a warning.
            let found: [String]?
            do { found = try addresses(of: netns) } catch {
                warnings.append(String(describing: error))
                continue
            }
            guard let addresses = found else { continue }  // deleted meanwhile
            present.insert(netns)
            let entry = inventory?.entry(netns: netns)
            let pid = NetworkNamespace.named(netns).inode.flatMap { processes[$0] }
            pods.append(Pod(name: entry?.name ?? netns, namespace: entry?.namespace ?? "default",
                            labels: entry?.labels ?? [:], annotations: entry?.annotations ?? [:], netns: netns,
                            pid: pid, ips: addresses, nodeName: hostName, phase: "Running", source: .netns))
        }
        for entry in inventory?.entries ?? [] where !present.contains(entry.netns) {
            pods.append(Pod(name: entry.name, namespace: entry.namespace, labels: entry.labels,
                            annotations: entry.annotations, netns: entry.netns, nodeName: hostName,
                            phase: "Unknown", source: .netns))
        }

        var seenContainers: Set<String> = []
        var ids = Set(pods.map(\.id))
        var sources: [(kind: Pod.Source, list: () throws -> [Pod])] = engines.filter(\.isPresent).map { engine in
            (engine.kind, { try engine.containers(nodeName: hostName) })
        }
        if let containerd, containerd.isPresent {
            sources.append((.containerd, { try containerd.containers(nodeName: hostName) }))
        }
        for source in sources {
            let containers: [Pod]
            do {
                containers = try source.list()
            } catch {
                warnings.append(String(describing: error))
                continue
            }
            for container in containers {
                // podman-docker links docker.sock to Podman, and Docker runs its
                // containers in containerd's `moby` namespace: the same container
                // twice, known by the same id with or without `containerd://`.
                if let id = container.containerID.flatMap(ContainerRuntimeID.init(parsing:))?.id ?? container.containerID,
                   !seenContainers.insert(id).inserted { continue }
                guard ids.insert(container.id).inserted else {
                    warnings.append("\(source.kind.rawValue) container \(container.name) left out: "
                                    + "pod \(container.id) already exists")
                    continue
                }
                pods.append(container)
            }
        }
        pods.sort { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        return Snapshot(pods: pods, warnings: warnings)
    }

    /// The host name, the node name of every local pod.
    public static func currentHostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }

    /// The names in /var/run/netns, sorted (what `ip netns list` shows).
    static func namedNamespaces() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: netnsDirectory)) ?? []
        return entries.filter { !$0.hasPrefix(".") }.sorted()
    }

    /// One pass over /proc: for each network namespace inode, its lowest
    /// pid that is not one of Tumult's helpers. They are not the pod's
    /// processes: listed as its pid, a namespace that holds nothing but an
    /// engine would show the engine as the pod, and PodChaos and
    /// StressChaos would aim at it.
    static func lowestPidByNamespace() -> [UInt64: Int32] {
        var lowest: [UInt64: Int32] = [:]
        for pid in ProcessTable.pids() {  // ascending
            // The environment is read only for a namespace's first candidate,
            // so a listing stays one stat per process plus one read per namespace.
            if let inode = ProcessTable.networkNamespaceInode(of: pid), lowest[inode] == nil, !Processes.isTumultHelper(pid) {
                lowest[inode] = pid
            }
        }
        return lowest
    }

    /// The addresses of `netns`'s interfaces; nil when the namespace vanished
    /// while it was being asked.
    func addresses(of netns: String) throws -> [String]? {
        let command = Command(["ip", "-n", netns, "-j", "addr", "show"])
        let result = try runner.run(command)
        guard result.succeeded else {
            if !NetworkNamespace.named(netns).exists { return nil }
            throw CommandError(doing: "listing the addresses of netns \(netns)", command: command, result: result)
        }
        do {
            return try Self.parseAddresses(result.stdout)
        } catch {
            throw CommandError(doing: "reading the addresses of netns \(netns) (\(error))", command: command,
                               result: result)
        }
    }

    /// The addresses in `ip -j addr show` output, without loopback
    /// (127/8, ::1) and IPv6 link-local (fe80::/10) ones, which no other
    /// pod can reach the pod by.
    static func parseAddresses(_ json: String) throws -> [String] {
        let trimmed = json.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return [] }
        let links = try JSONDecoder().decode([Link].self, from: Data(trimmed.utf8))
        var found: [String] = []
        for link in links {
            for address in link.addressInfo ?? [] {
                guard let local = address.local, !isLocalOnly(local), !found.contains(local) else { continue }
                found.append(local)
            }
        }
        return found
    }

    static func isLocalOnly(_ address: String) -> Bool {
        if address.contains(":") {
            let lower = address.lowercased()
            if lower == "::1" { return true }
            // fe80::/10 is fe80 through febf.
            return ["fe8", "fe9", "fea", "feb"].contains { lower.hasPrefix($0) }
        }
        return address.hasPrefix("127.")
    }

    struct Link: Decodable {
        var addressInfo: [Address]?
        enum CodingKeys: String, CodingKey { case addressInfo = "addr_info" }

        struct Address: Decodable {
            var local: String?
        }
    }
}
