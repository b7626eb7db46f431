#if canImport(Glibc)
import Glibc
#endif
import TumultModel

/// What the IO fault's file system does to one operation, decided from the
/// rules alone: no I/O, so every decision has a unit test, and the random
/// draws come from a generator the caller passes (seeded in tests).
public struct IOFaultPolicy: Sendable {
    /// The volume's mount point as the target sees it: the full path of the
    /// file system's root, which the rules' globs are matched against.
    public let volume: String
    public let rules: [IORule]
    /// The operations at least one rule may affect (attribute overrides
    /// count for every operation whose reply carries attributes), so an
    /// unaffected operation skips the path and the rules altogether.
    private let affected: Set<String>

    /// The operations whose replies carry attributes: an attrOverride rule
    /// applies to all of them (as Chaos Mesh's toda does), whatever its methods.
    public static let attributeReplies: Set<String> = [
        "lookup", "getattr", "setattr", "create", "mknod", "mkdir", "symlink", "link",
    ]

    public init(volume: String, rules: [IORule]) {
        self.volume = volume.count > 1 && volume.hasSuffix("/") ? String(volume.dropLast()) : volume
        self.rules = rules
        var affected = Set<String>()
        for rule in rules {
            switch rule.action {
            case .attrOverride: affected.formUnion(Self.attributeReplies)
            case .latency, .fault, .mistake:
                affected.formUnion(rule.methods.isEmpty ? IOChaosSpec.fuseOperations : rule.methods)
            }
        }
        self.affected = affected
    }

    /// The full path of `name` in the directory whose full path is `directory`.
    public static func path(of name: String, in directory: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Whether any rule may affect `method` at all: false lets the file
    /// system skip the path lookup and the rules.
    public func mayAffect(_ method: String) -> Bool {
        affected.contains(method)
    }

    /// What happens before an operation is done: wait, and/or fail with an errno.
    public struct Decision: Sendable, Hashable {
        /// The total delay of the latency rules that fired, in nanoseconds.
        public var delayNanoseconds: Int64
        /// The errno of the first fault rule that fired: reply it and do nothing.
        public var errno: Int32?

        public init(delayNanoseconds: Int64 = 0, errno: Int32? = nil) {
            self.delayNanoseconds = delayNanoseconds
            self.errno = errno
        }

        /// Nothing happens: the operation passes through as it is.
        public static let passThrough = Decision()
    }

    /// The latency and fault rules for `method` on the file at `path`, each
    /// firing for its percent of the calls. Latencies add up; the first fault
    /// that fires ends the list (the operation is not done, so later rules
    /// have nothing to act on).
    public func decide<Generator: RandomNumberGenerator>(path: String, method: String,
                                                        using generator: inout Generator) -> Decision {
        guard mayAffect(method) else { return .passThrough }
        var decision = Decision()
        for rule in rules where rule.action == .latency || rule.action == .fault {
            guard Self.matches(rule, path: path, method: method), Self.fires(rule, using: &generator) else { continue }
            if rule.action == .latency {
                decision.delayNanoseconds += max(0, rule.delayNanoseconds ?? 0)
            } else if let errno = rule.errno, errno > 0 {
                decision.errno = errno
                break
            }
        }
        return decision
    }

    /// Applies every attrOverride rule that matches `path` and fires to
    /// `attributes`; true if any did.
    @discardableResult
    public func overrideAttributes<Generator: RandomNumberGenerator>(_ attributes: inout stat, path: String,
                                                                      using generator: inout Generator) -> Bool {
        var changed = false
        for rule in rules where rule.action == .attrOverride {
            guard let override = rule.attr, Self.matches(glob: rule.path, path: path),
                  Self.fires(rule, using: &generator) else { continue }
            Self.apply(override, to: &attributes)
            changed = true
        }
        return changed
    }

    /// Whether a mistake rule may corrupt `method` (read or write) on `path`:
    /// when none can, reads are answered by splicing the file (no copy).
    public func mayCorrupt(path: String, method: String) -> Bool {
        guard mayAffect(method) else { return false }
        return rules.contains { $0.action == .mistake && $0.mistake != nil && Self.matches($0, path: path, method: method) }
    }

    /// Corrupts `buffer` (data read from or written to the file at `path`)
    /// with every mistake rule for `method` that matches and fires; returns
    /// the byte ranges overwritten.
    @discardableResult
    public func corrupt<Generator: RandomNumberGenerator>(_ buffer: UnsafeMutableRawBufferPointer, path: String,
                                                         method: String, using generator: inout Generator) -> [Range<Int>] {
        guard mayAffect(method) else { return [] }
        var segments: [Range<Int>] = []
        for rule in rules where rule.action == .mistake {
            guard let mistake = rule.mistake, Self.matches(rule, path: path, method: method),
                  Self.fires(rule, using: &generator) else { continue }
            segments += Self.apply(mistake, to: buffer, using: &generator)
        }
        return segments
    }

    // MARK: - Kernel caching

    /// How long the kernel may keep a name's lookup (seconds): 0 when a rule
    /// may act on lookup, so every path walk reaches it; else 1 s. A rule on
    /// getattr alone, or overriding attributes, leaves names cached and only
    /// attributes uncached: one round trip per `stat` instead of two.
    public var entryTimeout: Double {
        rules.contains { $0.methods.isEmpty || $0.methods.contains("lookup") } ? 0 : 1
    }

    /// How long the kernel may keep attributes (seconds): 0 when a rule may
    /// act on lookup or getattr (or override attributes), so every stat
    /// reaches the file system and the rule; else 1 s.
    public var attributeTimeout: Double {
        let uncached = rules.contains { rule in
            rule.action == .attrOverride || rule.methods.isEmpty
                || rule.methods.contains("lookup") || rule.methods.contains("getattr")
        }
        return uncached ? 0 : 1
    }

    /// Whether a file opened at `path` bypasses the page cache (direct_io),
    /// so that every read reaches the file system and its rules: when a rule
    /// for reads (or for every operation) matches it. Else the cache is kept
    /// across opens (keep_cache).
    public func directIO(path: String) -> Bool {
        rules.contains { rule in
            rule.action != .attrOverride && (rule.methods.isEmpty || rule.methods.contains("read"))
                && Self.matches(glob: rule.path, path: path)
        }
    }

    // MARK: - The pieces

    /// Whether `rule` is about `method` on `path` (before its percent is drawn).
    public static func matches(_ rule: IORule, path: String, method: String) -> Bool {
        if rule.action == .attrOverride { return attributeReplies.contains(method) && matches(glob: rule.path, path: path) }
        return (rule.methods.isEmpty || rule.methods.contains(method)) && matches(glob: rule.path, path: path)
    }

    /// fnmatch without FNM_PATHNAME or FNM_PERIOD: `*` matches `/` and a
    /// leading dot, as Chaos Mesh's glob does. No glob: every path.
    public static func matches(glob: String?, path: String) -> Bool {
        guard let glob, !glob.isEmpty else { return true }
        return fnmatch(glob, path, 0) == 0
    }

    /// Whether a rule fires this time: percent of 100, drawn from `generator`.
    public static func fires<Generator: RandomNumberGenerator>(_ rule: IORule, using generator: inout Generator) -> Bool {
        if rule.percent >= 100 { return true }
        if rule.percent <= 0 { return false }
        return Int.random(in: 0..<100, using: &generator) < rule.percent
    }

    /// The file-type bits of `kind` (`regularFile`, `directory`, ...), nil for an unknown kind.
    public static func fileTypeBits(_ kind: String) -> mode_t? {
        switch kind {
        case "namedPipe": return S_IFIFO
        case "charDevice": return S_IFCHR
        case "blockDevice": return S_IFBLK
        case "directory": return S_IFDIR
        case "regularFile": return S_IFREG
        case "symlink": return S_IFLNK
        case "socket": return S_IFSOCK
        default: return nil
        }
    }

    /// Replaces the fields `override` sets; the others stay as they are.
    public static func apply(_ override: IOChaosSpec.AttrOverride, to attributes: inout stat) {
        if let ino = override.ino { attributes.st_ino = ino_t(truncatingIfNeeded: ino) }
        if let size = override.size { attributes.st_size = off_t(size) }
        if let blocks = override.blocks { attributes.st_blocks = blkcnt_t(blocks) }
        if let atime = override.atime { attributes.st_atim = timespec(tv_sec: Int(atime.sec), tv_nsec: Int(atime.nsec)) }
        if let mtime = override.mtime { attributes.st_mtim = timespec(tv_sec: Int(mtime.sec), tv_nsec: Int(mtime.nsec)) }
        if let ctime = override.ctime { attributes.st_ctim = timespec(tv_sec: Int(ctime.sec), tv_nsec: Int(ctime.nsec)) }
        if let kind = override.kind, let bits = fileTypeBits(kind) {
            attributes.st_mode = (attributes.st_mode & ~S_IFMT) | bits
        }
        if let perm = override.perm {
            attributes.st_mode = (attributes.st_mode & S_IFMT) | (mode_t(truncatingIfNeeded: perm) & 0o7777)
        }
        if let nlink = override.nlink { attributes.st_nlink = nlink_t(UInt32(bitPattern: nlink)) }
        if let uid = override.uid { attributes.st_uid = uid_t(bitPattern: uid) }
        if let gid = override.gid { attributes.st_gid = gid_t(bitPattern: gid) }
        if let rdev = override.rdev { attributes.st_rdev = dev_t(UInt32(bitPattern: rdev)) }
    }

    /// Overwrites 1 to `maxOccurrences` segments of `buffer`, each 1 to
    /// `maxLength` bytes at a random place, with zeros or random bytes (as
    /// toda does). A mistake missing either bound, or an empty buffer, changes nothing.
    public static func apply<Generator: RandomNumberGenerator>(_ mistake: IOChaosSpec.Mistake,
                                                              to buffer: UnsafeMutableRawBufferPointer,
                                                              using generator: inout Generator) -> [Range<Int>] {
        guard let maxOccurrences = mistake.maxOccurrences, maxOccurrences >= 1,
              let maxLength = mistake.maxLength, maxLength >= 1, buffer.count > 0 else { return [] }
        let occurrences = Int.random(in: 1...Int(clamping: maxOccurrences), using: &generator)
        var segments: [Range<Int>] = []
        for _ in 0..<occurrences {
            let start = Int.random(in: 0..<buffer.count, using: &generator)
            let length = Int.random(in: 1...min(Int(clamping: maxLength), buffer.count - start), using: &generator)
            let segment = start..<(start + length)
            switch mistake.filling ?? .zero {
            case .zero:
                for index in segment { buffer[index] = 0 }
            case .random:
                var index = segment.lowerBound
                while index < segment.upperBound {
                    var word = generator.next()
                    for _ in 0..<min(8, segment.upperBound - index) {
                        buffer[index] = UInt8(truncatingIfNeeded: word)
                        word >>= 8
                        index += 1
                    }
                }
            }
            segments.append(segment)
        }
        return segments
    }
}
