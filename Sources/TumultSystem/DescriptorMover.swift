import Foundation

/// Puts a process's open files back on whatever their path names now: the
/// IO fault's file system once it is mounted over a directory (so files
/// the target opened before the fault meet it too), and the original once
/// it is unmounted (so files opened through it keep working after
/// recovery instead of failing with ENOTCONN when its server exits).
///
/// With every thread of the process stopped (`Tracee`), each descriptor
/// whose file is on mount `mountID` and whose path lies under `directory`
/// is opened again by the process itself, by path, with its flags (less
/// O_CREAT, O_EXCL, O_TRUNC), moved to its offset, and put in place of the
/// old one with dup3 under the same number (close-on-exec kept). The path
/// is resolved by the target, in its own root and mount namespace. Chaos
/// Mesh's toda moves descriptors with ptrace the same way.
///
/// What cannot move stays as it was and is reported: deleted files (no
/// path to open), files whose path now names nothing, memory mappings of
/// the old file, and locks held through the old descriptor.
public enum DescriptorMover {
    /// One descriptor that stayed where it was, and why.
    public struct Left: Sendable, Hashable, CustomStringConvertible {
        public var pid: Int32
        public var descriptor: Int32
        public var path: String
        public var reason: String

        public init(pid: Int32, descriptor: Int32, path: String, reason: String) {
            self.pid = pid
            self.descriptor = descriptor
            self.path = path
            self.reason = reason
        }

        public var description: String { "pid \(pid) fd \(descriptor) (\(path)): \(reason)" }
    }

    /// What a process has open on `mountID` below `directory` (from /proc,
    /// without stopping it): descriptor number, path, flags, offset.
    struct OpenFile {
        var descriptor: Int32
        var path: String
        var flags: Int
        var position: Int64
    }

    /// Moves the descriptors of `pid` on mount `mountID` under `directory`;
    /// returns how many moved and those that could not. A process with no
    /// such descriptor is not stopped at all; one that is gone moves nothing.
    public static func reopen(pid: Int32, onMount mountID: Int, under directory: String) throws -> (moved: Int, left: [Left]) {
        if let reason = ClockPatcher.unsupportedReason { throw SystemError.processFailed(reason) }
        guard !openFiles(of: pid, onMount: mountID, under: directory).isEmpty else { return (0, []) }
        return try Tracee.session {
            let tracee = try Tracee(pid: pid)
            defer { tracee.detach() }
            // Listed again with the process stopped: nothing opens or closes meanwhile.
            let files = openFiles(of: pid, onMount: mountID, under: directory)
            guard !files.isEmpty else { return (0, []) }
            let site = try ClockPatcher.VDSO(tracee).syscallSite()
            let thread = tracee.threads[0]
            func call(_ number: Int64, _ arguments: [UInt64]) throws -> Int64 {
                try tracee.syscall(number, arguments, in: thread, site: site)
            }
            let pageSize: UInt64 = 4096
            let page = try call(9 /* mmap */, [0, pageSize, 3 /* PROT_READ | PROT_WRITE */,
                                               0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */, UInt64.max, 0])
            guard page > 0 || page < -4095 else {
                throw SystemError.processFailed("mmap of a scratch page in process \(pid) failed: \(String(cString: strerror(Int32(-page))))")
            }
            let scratch = UInt64(bitPattern: page)
            defer { _ = try? call(11 /* munmap */, [scratch, pageSize]) }

            var moved = 0, left: [Left] = []
            for file in files {
                let bytes = Array(file.path.utf8) + [0]
                guard bytes.count <= Int(pageSize) else {
                    left.append(Left(pid: pid, descriptor: file.descriptor, path: file.path, reason: "its path is too long"))
                    continue
                }
                try tracee.write(bytes, at: scratch)
                let opened = try call(257 /* openat */, [UInt64(bitPattern: -100 /* AT_FDCWD */), scratch,
                                                         UInt64(reopenFlags(file.flags)), 0])
                guard opened >= 0 else {
                    left.append(Left(pid: pid, descriptor: file.descriptor, path: file.path,
                                     reason: "opening it again failed: \(String(cString: strerror(Int32(-opened))))"))
                    continue
                }
                let descriptor = UInt64(opened)
                // Directories and unseekable files keep offset 0; a failed lseek is not fatal.
                _ = try call(8 /* lseek */, [descriptor, UInt64(bitPattern: file.position), 0 /* SEEK_SET */])
                let closeOnExec = file.flags & Int(O_CLOEXEC) != 0 ? UInt64(O_CLOEXEC) : 0
                let placed = try call(292 /* dup3 */, [descriptor, UInt64(file.descriptor), closeOnExec])
                _ = try call(3 /* close */, [descriptor])
                if placed < 0 {
                    left.append(Left(pid: pid, descriptor: file.descriptor, path: file.path,
                                     reason: "dup3 failed: \(String(cString: strerror(Int32(-placed))))"))
                } else {
                    moved += 1
                }
            }
            return (moved, left)
        }
    }

    /// The flags to open a file again with: what it was opened with, less
    /// what would create or truncate it.
    static func reopenFlags(_ flags: Int) -> Int {
        flags & ~Int(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY)
    }

    /// The descriptors of `pid` on `mountID` whose path is `directory` or
    /// below it. A mount unmounted lazily (detached) is no longer in the
    /// process's mount table and the kernel names its files from the mount's
    /// own root: such a mount is taken to have been mounted at `directory`.
    static func openFiles(of pid: Int32, onMount mountID: Int, under directory: String) -> [OpenFile] {
        let base = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let detached = !(MountTable.read(pid: pid)?.entries.contains { $0.mountID == mountID } ?? true)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        var files: [OpenFile] = []
        for entry in entries {
            guard let descriptor = Int32(entry),
                  let info = Tracee.contents(of: "/proc/\(pid)/fdinfo/\(entry)").map({ String(decoding: $0, as: UTF8.self) }),
                  let fields = fdinfo(info), fields.mountID == mountID,
                  let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(entry)"),
                  !link.hasSuffix(" (deleted)") else { continue }
            let path = detached ? (link == "/" ? base : base + link) : link
            guard path == base || path.hasPrefix(base + "/") else { continue }
            files.append(OpenFile(descriptor: descriptor, path: path, flags: fields.flags, position: fields.position))
        }
        return files.sorted { $0.descriptor < $1.descriptor }
    }

    /// `pos`, `flags` (octal) and `mnt_id` of /proc/PID/fdinfo/N.
    static func fdinfo(_ text: String) -> (position: Int64, flags: Int, mountID: Int)? {
        var position: Int64?, flags: Int?, mountID: Int?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "pos": position = Int64(parts[1])
            case "flags": flags = Int(parts[1], radix: 8)
            case "mnt_id": mountID = Int(parts[1])
            default: break
            }
        }
        guard let position, let flags, let mountID else { return nil }
        return (position, flags, mountID)
    }
}
