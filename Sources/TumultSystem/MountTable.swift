import Foundation

/// The mounts a process sees, parsed from /proc/PID/mountinfo: how an
/// injector that mounts over a directory reads its mount back, and checks
/// that recovery left the table as it found it.
public struct MountTable: Sendable, Hashable {
    /// One line of mountinfo (proc(5)).
    public struct Entry: Sendable, Hashable {
        public var mountID: Int
        public var parentID: Int
        /// `major:minor` of the file system (for FUSE, the minor is the
        /// connection's number under /sys/fs/fuse/connections).
        public var device: String
        /// The directory of the file system mounted here (`/` unless a bind mount).
        public var root: String
        /// Where it is mounted, with mountinfo's octal escapes (`\040`) decoded.
        public var mountPoint: String
        /// The per-mount options (`rw,nosuid,relatime`).
        public var options: String
        public var fsType: String
        public var source: String
        /// The per-superblock options.
        public var superOptions: String

        public init(mountID: Int, parentID: Int, device: String = "", root: String = "/", mountPoint: String,
                    options: String, fsType: String, source: String, superOptions: String = "") {
            self.mountID = mountID
            self.parentID = parentID
            self.device = device
            self.root = root
            self.mountPoint = mountPoint
            self.options = options
            self.fsType = fsType
            self.source = source
            self.superOptions = superOptions
        }
    }

    /// In the order the kernel lists them: a later entry at a mount point
    /// is mounted over an earlier one.
    public var entries: [Entry]

    /// Parses mountinfo text; malformed lines are skipped.
    public init(mountinfo: String) {
        entries = mountinfo.split(separator: "\n").compactMap(Self.entry)
    }

    /// The mount table of process `pid` (its mount namespace); nil if it cannot be read.
    public static func read(pid: Int32) -> MountTable? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/mountinfo") else { return nil }
        return MountTable(mountinfo: String(decoding: data, as: UTF8.self))
    }

    /// The mounts at `mountPoint`, bottom first (the last one is what a path lookup sees).
    public func entries(at mountPoint: String) -> [Entry] {
        entries.filter { $0.mountPoint == mountPoint }
    }

    /// The mount a path lookup of `path` ends on: the deepest mount point
    /// that is `path` or one of its ancestors, the top one where mounts stack.
    public func mount(containing path: String) -> Entry? {
        var best: Entry?
        for entry in entries {
            let point = entry.mountPoint
            guard point == "/" || point == path || path.hasPrefix(point + "/") else { continue }
            if best == nil || point.count >= best!.mountPoint.count { best = entry }
        }
        return best
    }

    /// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`:
    /// six fixed fields, optional fields up to `-`, then type, source and super options.
    private static func entry(_ line: Substring) -> Entry? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 9, let separator = fields[6...].firstIndex(of: "-"),
              fields.count >= separator + 3,
              let mountID = Int(fields[0]), let parentID = Int(fields[1]) else { return nil }
        return Entry(mountID: mountID, parentID: parentID, device: String(fields[2]), root: unescape(fields[3]),
                     mountPoint: unescape(fields[4]), options: String(fields[5]), fsType: unescape(fields[separator + 1]),
                     source: unescape(fields[separator + 2]),
                     superOptions: separator + 3 < fields.count ? String(fields[separator + 3]) : "")
    }

    /// Decodes the kernel's `\ooo` escapes (space, tab, newline, backslash).
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let source = Array(field.utf8)
        var index = 0
        while index < source.count {
            if source[index] == UInt8(ascii: "\\"), let value = octal(source[(index + 1)..<min(index + 4, source.count)]) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Three octal digits as a byte, nil if they are not.
    private static func octal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        guard digits.count == 3 else { return nil }
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(digit - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }
}
