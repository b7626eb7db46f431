import TumultModel

/// One IOChaos rule as Tumult's file system applies it: which operations
/// on which files, how often, and what happens to them.
public struct IORule: Codable, Sendable, Hashable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        case latency, fault, attrOverride, mistake
    }

    public var action: Action
    /// A glob (fnmatch without FNM_PATHNAME, so `*` also matches `/`, as
    /// Chaos Mesh's glob does) over the file's full path as the target sees
    /// it (`/data/db/x.db`); nil: every file on the volume.
    public var path: String?
    /// The FUSE operations affected, lowercased (`write`, `read`, ...); empty: all.
    public var methods: [String]
    /// Percent of the matching operations affected (0–100).
    public var percent: Int
    /// action latency: how long each affected operation waits first.
    public var delayNanoseconds: Int64?
    /// action fault: the error returned instead of doing the operation.
    public var errno: Int32?
    /// action attrOverride: the attributes reported instead of the real ones.
    public var attr: IOChaosSpec.AttrOverride?
    /// action mistake: how read and written data is corrupted.
    public var mistake: IOChaosSpec.Mistake?

    public init(action: Action, path: String? = nil, methods: [String] = [], percent: Int = 100,
                delayNanoseconds: Int64? = nil, errno: Int32? = nil, attr: IOChaosSpec.AttrOverride? = nil,
                mistake: IOChaosSpec.Mistake? = nil) {
        self.action = action
        self.path = path
        self.methods = methods.map { $0.lowercased() }
        self.percent = percent
        self.delayNanoseconds = delayNanoseconds
        self.errno = errno
        self.attr = attr
        self.mistake = mistake
    }
}
