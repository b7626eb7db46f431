import Foundation

extension CgroupHierarchy {
    /// The cgroups of `pid` in every mounted hierarchy `/proc/PID/cgroup`
    /// lists, or every hierarchy's root when `pid` is nil (the whole host);
    /// nil when the process is gone.
    public static func cgroups(of pid: Int32?) -> [Cgroup]? {
        let all = mounted()
        guard let pid else { return all.map { $0.cgroup("/") } }
        guard FileManager.default.fileExists(atPath: "/proc/\(pid)/cgroup") else { return nil }
        return all.compactMap { $0.cgroup(of: pid) }
    }
}

extension Cgroup {
    /// The memory limit that binds this cgroup (the smallest along its
    /// ancestors), or nil when there is none or this hierarchy has no
    /// memory controller.
    public var memoryLimit: UInt64? {
        if hierarchy.version == 2 {
            var limit: UInt64?
            var cursor: Cgroup? = self
            while let cgroup = cursor {
                if let text = cgroup.read("memory.max"), let value = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                    limit = min(limit ?? value, value)
                }
                cursor = cgroup.parent
            }
            return limit
        }
        guard hierarchy.controllers.contains("memory") else { return nil }
        // v1: hierarchical_memory_limit already takes the ancestors in.
        let line = (read("memory.stat") ?? "").split(separator: "\n").first { $0.hasPrefix("hierarchical_memory_limit ") }
        let value = line.flatMap { UInt64($0.split(separator: " ").last ?? "") }
            ?? read("memory.limit_in_bytes").flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        // v1 writes "no limit" as a huge page-rounded number.
        return value.flatMap { $0 >= UInt64(Int64.max) / 2 ? nil : $0 }
    }

    /// The host's memory (MemTotal), in bytes.
    public static func hostMemory() -> UInt64 {
        let text = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
        let kilobytes = line?.split(separator: " ").dropFirst().first.flatMap { UInt64($0) } ?? 0
        return kilobytes * 1024
    }
}
