/// IOChaos: file-system faults on a volume of the selected containers
/// (a FUSE layer mounted over it): latency, errors, wrong attributes or
/// corrupted data, for a share of the matching operations.
public struct IOChaosSpec: PodTargetedSpec {
    public static let kind = ChaosKind.ioChaos

    public enum Action: String, ChaosEnum {
        case latency, fault, attrOverride, mistake
    }

    /// The FUSE operations `methods` may name (the injector's own list; it
    /// silently ignores any other name).
    public static let fuseOperations: [String] = [
        "lookup", "forget", "getattr", "setattr", "readlink", "mknod", "mkdir", "unlink", "rmdir", "symlink",
        "rename", "link", "open", "read", "write", "flush", "release", "fsync", "opendir", "readdir",
        "releasedir", "fsyncdir", "statfs", "setxattr", "getxattr", "listxattr", "removexattr", "access",
        "create", "getlk", "setlk", "bmap",
    ]

    /// The file types `attr.kind` may take.
    public static let fileTypes: [String] = [
        "namedPipe", "charDevice", "blockDevice", "directory", "regularFile", "symlink", "socket",
    ]

    public var action: Action
    public var mode: SelectorMode
    public var value: String?
    public var selector: PodSelectorSpec
    public var containerNames: [String]?
    /// The latency added to each operation (action latency).
    public var delay: GoDuration?
    /// The error number returned (action fault), e.g. 5 for EIO.
    public var errno: Int32?
    /// The attributes reported instead of the real ones (action attrOverride).
    public var attr: AttrOverride?
    /// How data gets corrupted (action mistake).
    public var mistake: Mistake?
    /// A glob of the files affected; default: every file on the volume.
    public var path: String?
    /// The FUSE operations affected (`read`, `write`, ...); default: all.
    public var methods: [String]?
    /// Percent of the matching operations affected; default 100.
    public var percent: Int?
    /// The mount point of the volume to inject into.
    public var volumePath: String
    public var duration: GoDuration?
    public var remoteCluster: String?

    public init(action: Action, volumePath: String, mode: SelectorMode = .all, value: String? = nil,
                selector: PodSelectorSpec = PodSelectorSpec()) {
        self.action = action
        self.volumePath = volumePath
        self.mode = mode
        self.value = value
        self.selector = selector
    }

    public mutating func applyDefaults() {
        if percent == nil { percent = 100 }
    }

    public func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
        validateTargeting(at: path, into: &diagnostics)
        validateDuration(duration, at: path.child("duration"), into: &diagnostics)

        // What each action needs.
        let needed: [Action: (String, Bool)] = [
            .latency: ("delay", delay != nil), .fault: ("errno", errno != nil),
            .attrOverride: ("attr", attr != nil), .mistake: ("mistake", mistake != nil),
        ]
        if let (field, present) = needed[action], !present, !diagnostics.hasError(touching: path.child(field)) {
            diagnostics.error(path.child(field), "required when action is \(action.rawValue)")
        }
        if !diagnostics.hasError(touching: path.child("delay")) {
            validateDuration(delay, at: path.child("delay"), into: &diagnostics)
        }
        if action == .fault, errno == 0, !diagnostics.hasError(touching: path.child("errno")) {
            diagnostics.error(path.child("errno"), "\"0\" is not an error number: action fault needs one above 0, e.g. 5 (EIO)")
        } else {
            diagnostics.checkBounds(errno, min: 0, at: path.child("errno"), meaning: "an error number")
        }
        diagnostics.checkBounds(percent, min: 0, max: 100, at: path.child("percent"),
                                meaning: "percent (of the operations affected)")
        if volumePath.isEmpty && !diagnostics.hasError(touching: path.child("volumePath")) {
            diagnostics.error(path.child("volumePath"), "must not be empty: the mount point of the volume to inject into")
        }
        for (position, method) in (methods ?? []).enumerated()
        where !Self.fuseOperations.contains(method.lowercased()) {
            diagnostics.warning(path.child("methods").index(position),
                                "\"\(method)\" is not a FUSE operation and is ignored; expected one of \(Self.fuseOperations.joined(separator: ", "))")
        }
        attr?.validate(at: path.child("attr"), into: &diagnostics)
        mistake?.validate(at: path.child("mistake"), used: action == .mistake, into: &diagnostics)
    }

    /// File attributes reported instead of the real ones; unset ones are kept.
    public struct AttrOverride: Codable, Sendable, Hashable {
        public var ino: Int64?
        public var size: Int64?
        public var blocks: Int64?
        public var atime: Timespec?
        public var mtime: Timespec?
        public var ctime: Timespec?
        /// `namedPipe`, `charDevice`, `blockDevice`, `directory`, `regularFile`,
        /// `symlink` or `socket`.
        public var kind: String?
        /// Permission bits, e.g. 72 (0o110).
        public var perm: Int?
        public var nlink: Int32?
        public var uid: Int32?
        public var gid: Int32?
        public var rdev: Int32?

        public init(ino: Int64? = nil, size: Int64? = nil, blocks: Int64? = nil, atime: Timespec? = nil,
                    mtime: Timespec? = nil, ctime: Timespec? = nil, kind: String? = nil, perm: Int? = nil,
                    nlink: Int32? = nil, uid: Int32? = nil, gid: Int32? = nil, rdev: Int32? = nil) {
            self.ino = ino
            self.size = size
            self.blocks = blocks
            self.atime = atime
            self.mtime = mtime
            self.ctime = ctime
            self.kind = kind
            self.perm = perm
            self.nlink = nlink
            self.uid = uid
            self.gid = gid
            self.rdev = rdev
        }

        func validate(at path: FieldPath, into diagnostics: inout Diagnostics) {
            // Chaos Mesh holds these as unsigned numbers.
            for (field, number) in [("ino", ino), ("size", size), ("blocks", blocks)] {
                diagnostics.checkBounds(number, min: 0, at: path.child(field), meaning: field)
            }
            for (field, number) in [("nlink", nlink), ("uid", uid), ("gid", gid), ("rdev", rdev)] {
                diagnostics.checkBounds(number, min: 0, at: path.child(field), meaning: field)
            }
            diagnostics.checkBounds(perm, min: 0, max: 0xFFFF, at: path.child("perm"), meaning: "perm")
            if let kind, !IOChaosSpec.fileTypes.contains(kind), !diagnostics.hasError(touching: path.child("kind")) {
                let allowed = IOChaosSpec.fileTypes.map { "\"\($0)\"" }.joined(separator: ", ")
                diagnostics.error(path.child("kind"), "\"\(kind)\" is not one of \(allowed)")
            }
        }
    }

    /// A point in time: seconds and nanoseconds since the epoch.
    public struct Timespec: Codable, Sendable, Hashable {
        public var sec: Int64
        public var nsec: Int64

        public init(sec: Int64, nsec: Int64) {
            self.sec = sec
            self.nsec = nsec
        }
    }

    /// Wrong data in reads and writes: 1 to `maxOccurrences` segments of at
    /// most `maxLength` bytes, filled with zeros or random bytes.
    public struct Mistake: Codable, Sendable, Hashable {
        public enum Filling: String, ChaosEnum {
            case zero, random
        }

        public var filling: Filling?
        public var maxOccurrences: Int64?
        public var maxLength: Int64?

        public init(filling: Filling? = nil, maxOccurrences: Int64? = nil, maxLength: Int64? = nil) {
            self.filling = filling
            self.maxOccurrences = maxOccurrences
            self.maxLength = maxLength
        }

        func validate(at path: FieldPath, used: Bool, into diagnostics: inout Diagnostics) {
            diagnostics.checkBounds(maxOccurrences, min: 1, at: path.child("maxOccurrences"),
                                    meaning: "maxOccurrences (wrong segments per operation)")
            diagnostics.checkBounds(maxLength, min: 1, at: path.child("maxLength"),
                                    meaning: "maxLength (bytes per wrong segment)")
            // Chaos Mesh accepts these missing, but its injector cannot start without them.
            for (field, present) in [("filling", filling != nil), ("maxOccurrences", maxOccurrences != nil),
                                     ("maxLength", maxLength != nil)] where used && !present {
                diagnostics.warning(path.child(field), "not set: the IO injector needs it and will fail to start")
            }
        }
    }
}
