import Foundation

/// A container id as a Kubernetes pod status gives it: `containerd://ID`,
/// `docker://ID`, `cri-o://ID`. A bare id (Docker's, `ctr`'s) has no runtime.
public struct ContainerRuntimeID: Sendable, Hashable, CustomStringConvertible {
    /// `containerd`, `docker`, `cri-o` ...; nil for a bare id.
    public var runtime: String?
    public var id: String

    public init(runtime: String?, id: String) {
        self.runtime = runtime
        self.id = id
    }

    /// Splits `RUNTIME://ID`; nil when there is no id at all (`containerd://`,
    /// or the empty id of a container that has not started yet).
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let separator = trimmed.range(of: "://") {
            let runtime = String(trimmed[..<separator.lowerBound]), id = String(trimmed[separator.upperBound...])
            guard !runtime.isEmpty, !id.isEmpty, !id.contains("/") else { return nil }
            self.init(runtime: runtime, id: id)
        } else {
            guard !trimmed.isEmpty, !trimmed.contains("/") else { return nil }
            self.init(runtime: nil, id: trimmed)
        }
    }

    /// The form it was given in.
    public var description: String { runtime.map { "\($0)://\(id)" } ?? id }
}

/// Which container each process of this host belongs to, read from the
/// cgroup every process is in: a container runtime puts each container in a
/// cgroup named after its id, whatever the cgroup driver (cgroupfs or
/// systemd) and version (v1 or v2). Built by one pass over `/proc` so that
/// resolving every container of a pod costs one scan, not one per container.
public struct ContainerProcessTable: Sendable {
    /// Each container id found with its processes, ascending.
    public private(set) var processes: [String: [Int32]]
    /// Each container process's parent pid and start time (clock ticks since
    /// boot), what `mainProcess(of:)` chooses by.
    public private(set) var details: [Int32: (parent: Int32, startTime: UInt64)]

    public init(processes: [String: [Int32]], details: [Int32: (parent: Int32, startTime: UInt64)]) {
        self.processes = processes
        self.details = details
    }

    /// Reads `PROC/PID/cgroup` once for every pid, and `PROC/PID/stat` only
    /// for those in a container. Processes that exit meanwhile are skipped.
    public static func scan(procRoot: String = "/proc") -> ContainerProcessTable {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: procRoot)) ?? []).compactMap(Int32.init).sorted()
        var processes: [String: [Int32]] = [:]
        var details: [Int32: (parent: Int32, startTime: UInt64)] = [:]
        for pid in pids {
            guard let text = try? String(contentsOfFile: "\(procRoot)/\(pid)/cgroup", encoding: .utf8),
                  let id = containerID(cgroupFile: text),
                  let stat = try? String(contentsOfFile: "\(procRoot)/\(pid)/stat", encoding: .utf8),
                  let fields = statFields(stat) else { continue }
            processes[id, default: []].append(pid)
            details[pid] = fields
        }
        return ContainerProcessTable(processes: processes, details: details)
    }

    /// The container's init: of its processes whose parent is outside it
    /// (the shim's child, and anything `exec`'d into it from outside), the
    /// one that started first, the lowest pid on a tie. Start time rather
    /// than the pid alone, because pids wrap: an `exec` session can get a
    /// lower pid than the init it joins.
    public func mainProcess(of id: String) -> Int32? {
        guard let pids = processes[id], !pids.isEmpty else { return nil }
        let members = Set(pids)
        let roots = pids.filter { pid in details[pid].map { !members.contains($0.parent) } ?? false }
        return roots.min { a, b in
            let left = details[a]?.startTime ?? .max, right = details[b]?.startTime ?? .max
            return (left, a) < (right, b)
        }
    }

    /// Every process of the container, ascending.
    public func processes(of id: String) -> [Int32] {
        processes[id] ?? []
    }

    /// Parent pid and start time from the text of `/proc/PID/stat` (fields
    /// 4 and 22, counted after the command, which may hold spaces and `)`).
    static func statFields(_ stat: String) -> (parent: Int32, startTime: UInt64)? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let parent = Int32(fields[1]), let start = UInt64(fields[19]) else { return nil }
        return (parent, start)
    }

    // MARK: Reading cgroup paths

    /// The container a process is in, from the text of its `/proc/PID/cgroup`
    /// (v1: one `ID:CONTROLLERS:PATH` line per hierarchy; v2: `0::PATH`).
    /// A path a runtime names unmistakably (Kubernetes' `kubepods` trees,
    /// `docker-ID.scope`, `/docker/ID` ...) wins over `/NAMESPACE/ID`, the
    /// plain form containerd's `ctr` gives its containers: that form is two
    /// ordinary path components, so it counts only when no line says more,
    /// and then the path most lines agree on.
    public static func containerID(cgroupFile text: String) -> String? {
        var plain: [String: Int] = [:]
        var plainOrder: [String] = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let path = String(parts[2])
            if let id = runtimeContainerID(path: path) { return id }
            if let id = namespacedContainerID(path: path) {
                if plain[id] == nil { plainOrder.append(id) }
                plain[id, default: 0] += 1
            }
        }
        var chosen: String?
        for id in plainOrder where chosen.map({ (plain[id] ?? 0) > (plain[$0] ?? 0) }) ?? true {
            chosen = id
        }
        return chosen
    }

    /// The prefixes the systemd cgroup driver gives a container's scope
    /// (`cri-containerd-ID.scope`): containerd (CRI), Docker, CRI-O, Podman.
    /// CRI-O's `crio-conmon-ID.scope` holds its monitor, not the container.
    static let scopePrefixes = ["cri-containerd-", "docker-", "crio-", "libpod-"]

    /// A container id in a path only a container runtime makes:
    /// - systemd driver: `.../cri-containerd-ID.scope`, `docker-ID.scope`,
    ///   `crio-ID.scope`, `libpod-ID.scope`;
    /// - containerd's systemd driver written by cgroupfs paths:
    ///   `/system.slice/containerd.service/kubepods-...slice:cri-containerd:ID`;
    /// - cgroupfs driver: `/kubepods[/QOS]/podUID/ID`, `/docker/ID`.
    /// Components after the container's (a runtime nesting the process one
    /// level deeper) and `..` (a process seen from another cgroup
    /// namespace, as a DaemonSet pod sees the node's) are passed over.
    static func runtimeContainerID(path: String) -> String? {
        let components = path.split(separator: "/").map(String.init).filter { $0 != ".." && $0 != "." }
        for (index, component) in components.enumerated().reversed() {
            if component.hasSuffix(".scope") {
                let unit = String(component.dropLast(".scope".count))
                if unit.hasPrefix("crio-conmon-") { return nil }
                for prefix in scopePrefixes where unit.hasPrefix(prefix) {
                    let id = String(unit.dropFirst(prefix.count))
                    if isContainerID(id) { return id }
                }
                continue
            }
            let fields = component.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count == 3, fields[0].hasSuffix(".slice"), isContainerID(String(fields[2])) {
                return String(fields[2])
            }
            guard index > 0, isContainerID(component) else { continue }
            let parent = components[index - 1]
            if parent == "docker" { return component }
            if parent.hasPrefix("pod"), components[..<index].contains(where: { $0.hasPrefix("kubepods") }) {
                return component
            }
        }
        return nil
    }

    /// `/NAMESPACE/ID`, exactly two components, neither a systemd unit:
    /// where containerd puts a `ctr run` container's processes (`/default/ID`).
    static func namespacedContainerID(path: String) -> String? {
        let components = path.split(separator: "/").map(String.init)
        guard components.count == 2 else { return nil }
        let units = [".slice", ".scope", ".service", ".mount", ".socket"]
        guard components.allSatisfy({ component in !units.contains { component.hasSuffix($0) } }),
              !components[0].hasPrefix("kubepods"),  // `/kubepods/podUID`: a pod's cgroup, no container's
              isNamespaceName(components[0]), isContainerID(components[1]) else { return nil }
        return components[1]
    }

    /// What containerd accepts as a container id: letters, digits, `_`,
    /// `-` and `.`, starting with a letter or digit, at most 76 characters.
    static func isContainerID(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.unicodeScalars.count <= 76,
              CharacterSet.alphanumerics.contains(first), first.isASCII else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_-.".unicodeScalars.contains($0)) }
    }

    /// What containerd accepts as a namespace: letters, digits, `_`, `-`
    /// and `.`, starting with a letter or digit.
    static func isNamespaceName(_ text: String) -> Bool {
        isContainerID(text)
    }
}
