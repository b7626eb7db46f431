import Foundation
import TumultSystem

/// Which processes a process fault acts on.
public enum ProcessTarget: Codable, Sendable, Hashable, CustomStringConvertible {
    /// Every process in the named network namespace (`/var/run/netns/NAME`).
    case networkNamespace(String)
    /// One process.
    case pid(Int32)
    /// Every process whose name (`comm`) or `argv[0]` base name is this, host-wide.
    case name(String)
    /// The processes of a cgroup and the cgroups below it: a v2 path, or a
    /// v1 path from a hierarchy's root (`CONTROLLER:PATH` picks the hierarchy).
    case cgroup(String)

    public var description: String {
        switch self {
        case .networkNamespace(let name): "the processes of netns \(name)"
        case .pid(let pid): "pid \(pid)"
        case .name(let name): "processes named \(name)"
        case .cgroup(let path): "the processes of cgroup \(path)"
        }
    }

    /// One selected process, named for ever by pid and start time.
    public struct Process: Sendable, Hashable, Codable {
        public var pid: Int32
        public var startTime: UInt64
        public var command: String
    }

    /// The processes Tumult never acts on: pid 1, itself, its ancestors
    /// (the shell that runs it), the helpers of any attack (TUMULT_ATTACK)
    /// and kernel threads. Why, in words (`pid N <reason>; Tumult does not
    /// attack it`), or nil when Tumult may act on it. The one rule for
    /// every way a process is named: a fault's target, a chaosd body, a
    /// pod's processes.
    public static func protection(of entry: ProcessTable.Entry, ourselves: Set<Int32> = ourselves) -> String? {
        if entry.pid == 1 { return "is init" }
        if entry.pid == getpid() { return "is Tumult itself" }
        if ourselves.contains(entry.pid) { return "started Tumult" }
        if Processes.isTumultHelper(entry.pid) { return "is one of Tumult's helpers" }
        if entry.isKernelThread { return "is a kernel thread" }
        return nil
    }

    static func isProtected(_ entry: ProcessTable.Entry, ourselves: Set<Int32>) -> Bool {
        entry.isGone || protection(of: entry, ourselves: ourselves) != nil
    }

    /// This process and its ancestors.
    public static var ourselves: Set<Int32> { Set([getpid()] + ProcessTable.ancestors(of: getpid())) }

    /// The processes this target names now, never Tumult's own.
    public func resolve() throws -> [Process] {
        let ourselves = Self.ourselves
        let candidates: [Int32]
        switch self {
        case .pid(let pid):
            guard let entry = ProcessTable.entry(pid), !entry.isGone else {
                throw FaultError(.invalidFault, "there is no process \(pid)")
            }
            guard !Self.isProtected(entry, ourselves: ourselves) else {
                throw FaultError(.invalidFault, "pid \(pid) is \(pid == 1 ? "init" : "Tumult itself, its caller or one of its helpers"); "
                                 + "Tumult does not attack it")
            }
            candidates = [pid]
        case .networkNamespace(let name):
            guard let inode = NetworkNamespace.named(name).inode else {
                throw FaultError(.invalidFault, "network namespace \(name) does not exist")
            }
            candidates = ProcessTable.pids().filter { ProcessTable.networkNamespaceInode(of: $0) == inode }
        case .name(let name):
            candidates = ProcessTable.pids().filter { pid in
                if ProcessTable.entry(pid)?.command == name { return true }
                return ProcessTable.firstArgument(of: pid).map { URL(fileURLWithPath: $0).lastPathComponent } == name
            }
        case .cgroup(let path):
            candidates = try Self.namedCgroup(path).processesIncludingDescendants()
        }
        var found: [Process] = []
        for pid in Set(candidates).sorted() {
            guard let entry = ProcessTable.entry(pid), !Self.isProtected(entry, ourselves: ourselves) else { continue }
            found.append(Process(pid: pid, startTime: entry.startTime, command: entry.command))
        }
        guard !found.isEmpty else { throw FaultError(.invalidFault, "no process to attack: \(self) (Tumult's own excluded)") }
        return found
    }

    /// The cgroup a `--cgroup` path names: `CONTROLLER:PATH` in that v1
    /// hierarchy; otherwise the v2 tree on a unified host, else the first
    /// hierarchy that has the path (the freezer's first).
    static func namedCgroup(_ text: String) throws -> Cgroup {
        let hierarchies = CgroupHierarchy.mounted()
        var path = text
        var choices: [CgroupHierarchy]
        if let colon = text.firstIndex(of: ":"), !text.hasPrefix("/") {
            let controller = String(text[..<colon])
            path = String(text[text.index(after: colon)...])
            choices = hierarchies.filter { $0.controllers.contains(controller) }
            guard !choices.isEmpty else { throw FaultError(.invalidFault, "no cgroup hierarchy has controller \(controller)") }
        } else if CgroupHierarchy.isUnifiedOnly {
            choices = hierarchies.filter { $0.version == 2 && $0.mountPoint == "/sys/fs/cgroup" }
        } else {
            choices = hierarchies.filter { $0.version == 1 && $0.controllers.contains("freezer") }
                + hierarchies.filter { !($0.version == 1 && $0.controllers.contains("freezer")) }
        }
        guard let cgroup = choices.map({ $0.cgroup(path) }).first(where: \.exists) else {
            throw FaultError(.invalidFault, "there is no cgroup \(text)")
        }
        return cgroup
    }
}
