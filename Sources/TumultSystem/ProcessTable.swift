import Foundation

/// What `/proc` says about every process: enough to select targets by
/// namespace, name or parentage, and to tell one process from a later one
/// with the same pid.
public enum ProcessTable {
    /// One line of `/proc/PID/stat`, the fields Tumult uses.
    public struct Entry: Sendable, Hashable {
        public var pid: Int32
        public var parent: Int32
        /// `R`, `S`, `D`, `T` (stopped), `t` (traced), `Z` ...
        public var state: Character
        /// The kernel's 15-byte name (`/proc/PID/comm`).
        public var command: String
        public var flags: UInt64
        /// Clock ticks since boot: with the pid, it names one process for ever.
        public var startTime: UInt64

        /// `PF_KTHREAD`: a kernel thread, never a target.
        public var isKernelThread: Bool { flags & 0x0020_0000 != 0 }
        public var isStopped: Bool { state == "T" || state == "t" }
        public var isGone: Bool { state == "Z" || state == "X" }
    }

    public static func entry(_ pid: Int32) -> Entry? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let parent = Int32(fields[1]),
              let flags = UInt64(fields[6]), let startTime = UInt64(fields[19]) else { return nil }
        return Entry(pid: pid, parent: parent, state: state, command: String(stat[stat.index(after: open)..<close]),
                     flags: flags, startTime: startTime)
    }

    /// Every pid in `/proc` now.
    public static func pids() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).sorted()
    }

    /// The first word of the command line (`argv[0]`).
    public static func firstArgument(of pid: Int32) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        return String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The process's command line (`/proc/PID/cmdline`); empty when it
    /// cannot be read (gone, or a kernel thread).
    public static func arguments(of pid: Int32) -> [String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The inode of the process's network namespace.
    public static func networkNamespaceInode(of pid: Int32) -> UInt64? {
        namespaceInode(of: pid, "net")
    }

    /// The inode of the process's mount namespace.
    public static func mountNamespaceInode(of pid: Int32) -> UInt64? {
        namespaceInode(of: pid, "mnt")
    }

    /// The inode of /proc/PID/ns/KIND: with it, two processes share the namespace or not.
    static func namespaceInode(of pid: Int32, _ kind: String) -> UInt64? {
        var info = stat()
        return stat("/proc/\(pid)/ns/\(kind)", &info) == 0 ? UInt64(info.st_ino) : nil
    }

    /// `pid`'s parent, its parent's parent ... up to pid 1.
    public static func ancestors(of pid: Int32) -> [Int32] {
        var found: [Int32] = []
        var current = entry(pid)?.parent ?? 0
        while current > 0, !found.contains(current) {
            found.append(current)
            current = entry(current)?.parent ?? 0
        }
        return found
    }

    /// Whether `pid` is still the process that started at `startTime`.
    public static func isSame(_ pid: Int32, startTime: UInt64) -> Bool {
        guard let entry = entry(pid) else { return false }
        return entry.startTime == startTime && !entry.isGone
    }
}
