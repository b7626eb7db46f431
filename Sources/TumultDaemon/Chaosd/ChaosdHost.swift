import Foundation
import TumultAgent
import TumultFaults
import TumultSystem

/// Asks this host whether what a chaosd body names is there, before the
/// attack is journaled: a namespace, process, device or directory that is
/// missing, or more memory than the machine has, is the client's mistake
/// (400 with the field), not a failed injection (500) with a journal row.
/// The names were checked as names (`HostNames`) before they get here.
struct ChaosdHost: Sendable {
    /// One thing a body names that must be on the host, with its field.
    enum Check: Sendable, Hashable {
        /// A named network namespace (`/var/run/netns/NAME`).
        case networkNamespace(field: String, name: String)
        /// A process to act on or through: it exists, and it is not one
        /// Tumult protects (`ProcessTarget.protection`).
        case process(field: String, pid: Int32)
        /// At least one process a process attack would act on (a name, or
        /// a namespace's processes), Tumult's own left out.
        case processes(field: String, target: ProcessTarget)
        /// An interface in the namespace the fault acts in.
        case device(field: String, name: String, in: NetworkNamespace)
        /// A memory size per worker, at most the machine's memory.
        case memory(field: String, text: String, bytes: UInt64)
        /// A directory for the fault's files.
        case directory(field: String, path: String)
    }

    var runner: any CommandRunner = ProcessCommandRunner()

    /// Runs every check in order (a namespace before a device in it) and
    /// throws the first failure as a 400 naming its field.
    func verify(_ checks: [Check]) throws(AgentError) {
        for check in checks {
            if let (field, message) = problem(check) {
                throw AgentError.field(field, message)
            }
        }
    }

    func problem(_ check: Check) -> (String, String)? {
        switch check {
        case .networkNamespace(let field, let name):
            return isNetworkNamespace(NetworkNamespace.named(name)) ? nil : (field, "\"\(name)\": no such network namespace")
        case .process(let field, let pid):
            guard let entry = ProcessTable.entry(pid), !entry.isGone else { return (field, "\(pid): no such process") }
            return ProcessTarget.protection(of: entry).map { (field, "pid \(pid) \($0); Tumult does not attack it") }
        case .processes(let field, let target):
            do { _ = try target.resolve() } catch { return (field, String(describing: error)) }
            return nil
        case .device(let field, let name, let namespace):
            return hasDevice(name, in: namespace) ? nil : (field, "\"\(name)\": no such device in \(namespace)")
        case .memory(let field, let text, let bytes):
            guard let total = Self.memoryTotal(), bytes > total else { return nil }
            return (field, "\"\(text)\" is more than this machine's memory (\(total) bytes)")
        case .directory(let field, let path):
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            return exists && isDirectory.boolValue ? nil : (field, "\"\(path)\": no such directory")
        }
    }

    /// Whether the namespace's file is there and is a namespace, not a
    /// file left behind by a namespace deleted without `ip netns del`:
    /// every namespace is an inode of the one nsfs, so its device is that
    /// of our own `/proc/self/ns/net`. (statfs(2) and NSFS_MAGIC would say
    /// the same, but Swift's Glibc module does not export statfs.)
    func isNetworkNamespace(_ namespace: NetworkNamespace) -> Bool {
        guard let path = namespace.path else { return namespace == .host }
        var info = stat()
        var own = stat()
        return stat(path, &info) == 0 && stat("/proc/self/ns/net", &own) == 0 && info.st_dev == own.st_dev
    }

    /// The host's own interfaces are under /sys/class/net; another
    /// namespace is asked with `ip link show` run inside it.
    func hasDevice(_ name: String, in namespace: NetworkNamespace) -> Bool {
        if namespace == .host { return FileManager.default.fileExists(atPath: "/sys/class/net/\(name)") }
        let result = try? NamespacedRunner(namespace, base: runner).run(Command(["ip", "link", "show", "dev", name]))
        return result?.succeeded ?? false
    }

    /// `MemTotal` of /proc/meminfo, in bytes; nil when it cannot be read.
    static func memoryTotal() -> UInt64? {
        (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)).flatMap(memoryTotal(meminfo:))
    }

    /// `MemTotal:  16318480 kB` → bytes.
    static func memoryTotal(meminfo: String) -> UInt64? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kilobytes = UInt64(fields[1]) else { return nil }
            let unit = fields.count > 2 ? fields[2].lowercased() : "kb"
            return unit == "kb" ? kilobytes * 1024 : kilobytes
        }
        return nil
    }
}
