import Foundation

/// The cgroup freezer: v1 `freezer.state`, v2 `cgroup.freeze`/`cgroup.events`.
extension Cgroup {
    public enum FreezerState: String, Sendable {
        case thawed = "THAWED", freezing = "FREEZING", frozen = "FROZEN"
    }

    /// Whether the cgroup's processes are frozen (or on their way); nil when
    /// the cgroup has no freezer files (the root, or a vanished cgroup).
    public var freezerState: FreezerState? {
        if hierarchy.version == 1 {
            return read("freezer.state").flatMap { FreezerState(rawValue: $0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        guard let requested = read("cgroup.freeze"), let events = read("cgroup.events") else { return nil }
        if events.split(separator: "\n").contains("frozen 1") { return .frozen }
        return requested.trimmingCharacters(in: .whitespacesAndNewlines) == "1" ? .freezing : .thawed
    }

    /// Whether this cgroup itself was asked to freeze (not merely an ancestor).
    public var isFreezeRequested: Bool {
        if hierarchy.version == 1 {
            return read("freezer.self_freezing")?.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
        }
        return read("cgroup.freeze")?.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    /// Freezes or thaws the cgroup and everything below it.
    public func setFrozen(_ frozen: Bool) throws {
        if hierarchy.version == 1 {
            try write("freezer.state", frozen ? "FROZEN" : "THAWED")
        } else {
            try write("cgroup.freeze", frozen ? "1" : "0")
        }
    }
}
