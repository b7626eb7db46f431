import Foundation

/// One mounted cgroup hierarchy: a v1 controller's tree
/// (`/sys/fs/cgroup/freezer`) or the v2 unified tree.
public struct CgroupHierarchy: Sendable, Hashable, Codable, CustomStringConvertible {
    public var mountPoint: String
    /// The hierarchy's directory this mount shows (usually `/`).
    public var root: String
    public var version: Int
    /// v1: the controllers (and `name=` options) it carries, as
    /// `/proc/PID/cgroup` names them; v2: empty.
    public var controllers: [String]

    public init(mountPoint: String, root: String = "/", version: Int, controllers: [String] = []) {
        self.mountPoint = mountPoint
        self.root = root
        self.version = version
        self.controllers = controllers
    }

    /// Every cgroup hierarchy mounted here: the first mount of each, or
    /// what was mounted over it later at the same place (a container or a
    /// sandbox remounting its own cgroup namespace's view over the host's:
    /// the earlier mount is hidden, and a path under it would name the
    /// host's tree, not the one processes see).
    public static func mounted() -> [CgroupHierarchy] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        return mounted(mountinfo: text)
    }

    /// `mounted()` from the text of a `/proc/PID/mountinfo`.
    public static func mounted(mountinfo text: String) -> [CgroupHierarchy] {
        var found: [CgroupHierarchy] = []
        for line in text.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let before = halves[0].split(separator: " "), after = halves[1].split(separator: " ")
            guard before.count >= 5, after.count >= 3 else { continue }
            let root = unescape(String(before[3])), mountPoint = unescape(String(before[4]))
            let hierarchy: CgroupHierarchy
            switch after[0] {
            case "cgroup2": hierarchy = CgroupHierarchy(mountPoint: mountPoint, root: root, version: 2)
            case "cgroup":
                let options = after[2].split(separator: ",").map(String.init)
                    .filter { !["rw", "ro", "relatime", "noprefix", "xattr", "clone_children", "cpuset_v2_mode"].contains($0)
                        && !$0.hasPrefix("release_agent=") }
                hierarchy = CgroupHierarchy(mountPoint: mountPoint, root: root, version: 1, controllers: options)
            default: continue
            }
            if let hidden = found.firstIndex(where: { $0.mountPoint == hierarchy.mountPoint }) {
                found[hidden] = hierarchy
            } else if !found.contains(where: { $0.version == hierarchy.version && $0.controllers == hierarchy.controllers }) {
                found.append(hierarchy)
            }
        }
        return found
    }

    /// Whether the host runs the unified hierarchy only (`/sys/fs/cgroup/cgroup.controllers`).
    public static var isUnifiedOnly: Bool {
        FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
    }

    /// Where processes are frozen: the v2 tree on a unified host, else the
    /// v1 freezer hierarchy, else a hybrid host's v2 tree.
    public static func freezer() -> CgroupHierarchy? {
        let all = mounted()
        if isUnifiedOnly, let unified = all.first(where: { $0.version == 2 && $0.mountPoint == "/sys/fs/cgroup" }) {
            return unified
        }
        return all.first { $0.version == 1 && $0.controllers.contains("freezer") } ?? all.first { $0.version == 2 }
    }

    /// The cgroup of `pid` in this hierarchy.
    public func cgroup(of pid: Int32) -> Cgroup? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let names = fields[1].split(separator: ",").map(String.init)
            let matches = version == 2 ? (fields[0] == "0" && names.isEmpty)
                : (!names.isEmpty && Set(names).isSubset(of: Set(controllers)))
            if matches { return visible(String(fields[2])) }
        }
        return nil
    }

    /// The cgroup at `path` (from the hierarchy's root, as /proc/PID/cgroup
    /// writes it), or nil when this mount does not show it.
    func visible(_ path: String) -> Cgroup? {
        guard root != "/" else { return cgroup(path) }
        if path == root { return cgroup("/") }
        guard path.hasPrefix(root + "/") else { return nil }
        return cgroup(String(path.dropFirst(root.count)))
    }

    /// The cgroup at `path` below this mount.
    public func cgroup(_ path: String) -> Cgroup {
        let parts = path.split(separator: "/").filter { $0 != "." && !$0.isEmpty }
        return Cgroup(hierarchy: self, path: "/" + parts.joined(separator: "/"))
    }

    public var description: String {
        version == 2 ? "cgroup v2 (\(mountPoint))" : "cgroup v1 \(controllers.joined(separator: ",")) (\(mountPoint))"
    }

    /// mountinfo escapes spaces and a few other bytes as `\ooo`.
    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3, let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// One cgroup: a directory of one hierarchy.
public struct Cgroup: Sendable, Hashable, Codable, CustomStringConvertible {
    public var hierarchy: CgroupHierarchy
    /// From the mount's root: `/` or `/a/b`.
    public var path: String

    public init(hierarchy: CgroupHierarchy, path: String) {
        self.hierarchy = hierarchy
        self.path = path
    }

    public var directory: String { hierarchy.mountPoint + (path == "/" ? "" : path) }
    public var isRoot: Bool { path == "/" }
    public var name: String { path.split(separator: "/").last.map(String.init) ?? "/" }

    public var parent: Cgroup? {
        guard !isRoot else { return nil }
        return hierarchy.cgroup(String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]))
    }

    public func child(_ name: String) -> Cgroup { hierarchy.cgroup(path + "/" + name) }

    public var exists: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The processes directly in this cgroup.
    public func processes() -> [Int32] {
        (read("cgroup.procs") ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    /// The cgroups below this one, deepest last.
    public func descendants() -> [Cgroup] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var found: [Cgroup] = []
        for entry in entries.sorted() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory + "/" + entry, isDirectory: &isDirectory),
                  isDirectory.boolValue else { continue }
            let child = child(entry)
            found.append(child)
            found += child.descendants()
        }
        return found
    }

    /// The processes in this cgroup and every cgroup below it.
    public func processesIncludingDescendants() -> [Int32] {
        ([self] + descendants()).flatMap { $0.processes() }
    }

    /// Creates the directory (the kernel fills in its control files).
    public func create() throws {
        guard mkdir(directory, 0o755) == 0 else { throw CgroupError(doing: "creating", path: directory, errno: errno) }
    }

    /// Removes the directory; it must hold no process and no cgroup.
    public func remove() throws {
        guard rmdir(directory) == 0 || errno == ENOENT else {
            throw CgroupError(doing: "removing", path: directory, errno: errno)
        }
    }

    /// Moves process `pid` (all its threads) into this cgroup.
    public func move(_ pid: Int32) throws {
        try write("cgroup.procs", String(pid))
    }

    /// A control file's content, or nil when it cannot be read.
    public func read(_ file: String) -> String? {
        try? String(contentsOfFile: directory + "/" + file, encoding: .utf8)
    }

    /// Writes `value` to a control file in one write(2), as the kernel wants.
    public func write(_ file: String, _ value: String) throws {
        let path = directory + "/" + file
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CgroupError(doing: "opening", path: path, errno: errno) }
        defer { close(descriptor) }
        let bytes = Array(value.utf8)
        guard Glibc.write(descriptor, bytes, bytes.count) == bytes.count else {
            throw CgroupError(doing: "writing \"\(value)\" to", path: path, errno: errno)
        }
    }

    public var description: String {
        hierarchy.version == 2 ? path : "\(hierarchy.controllers.joined(separator: ",")):\(path)"
    }
}

/// A cgroup file or directory the kernel refused to touch.
public struct CgroupError: Error, Sendable, CustomStringConvertible {
    public var doing: String
    public var path: String
    public var errno: Int32

    public init(doing: String, path: String, errno: Int32) {
        self.doing = doing
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(doing) \(path): \(String(cString: strerror(errno)))" }
}
