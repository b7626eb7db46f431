import Foundation

/// One file-system fault (IOChaos): Tumult's FUSE file system mounted over
/// `volumePath` in the mount namespace of process `pid`, passing every
/// operation through to the directory underneath and applying `rules`.
public struct IOFault: Codable, Sendable, Hashable {
    /// The process whose mount namespace holds the volume (a container's
    /// main process stands for the container).
    public var pid: Int32
    /// The mount point of the volume, as the target sees it.
    public var volumePath: String
    public var rules: [IORule]

    public init(pid: Int32, volumePath: String, rules: [IORule]) {
        self.pid = pid
        self.volumePath = volumePath
        self.rules = rules
    }

    /// `latency 100ms on write of *.db (50%)`.
    public var summary: String {
        rules.map { rule in
            var text = rule.action.rawValue
            if let delay = rule.delayNanoseconds { text += " \(Double(delay) / 1e6)ms" }
            if let errno = rule.errno { text += " errno \(errno)" }
            text += " on " + (rule.methods.isEmpty ? "every operation" : rule.methods.joined(separator: ","))
            if let path = rule.path { text += " of \(path)" }
            if rule.percent != 100 { text += " (\(rule.percent)%)" }
            return text
        }.joined(separator: "; ")
    }
}
