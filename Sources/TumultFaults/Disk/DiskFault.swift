/// One disk fault on one filesystem, named by a directory on it: fill it
/// (`chaosd attack disk fill`) or load it with reads or writes
/// (`chaosd attack disk add-payload`).
public struct DiskFault: Codable, Sendable, Hashable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        case fill, payload
    }

    public enum Mode: String, Codable, Sendable, CaseIterable {
        case read, write
    }

    public var action: Action
    /// An absolute path to an existing directory; the files go there.
    public var directory: String
    /// fill: bytes to add; payload: bytes each process reads or writes per pass.
    public var size: UInt64?
    /// fill: fill the filesystem up to this percentage (0-100) of its total size.
    public var percent: Double?
    /// fill: reserve the space with fallocate, writing zeros only when that fails.
    public var fillByFallocate = true
    /// payload: what the processes do.
    public var mode: Mode = .write
    /// payload: how many processes do it at once.
    public var processes = 1

    public init(action: Action, directory: String) {
        self.action = action
        self.directory = directory
    }

    /// A one-line account for lists and logs: `fill 50% under /tmp`.
    public var summary: String {
        var parts = [action.rawValue]
        if action == .payload { parts.append(mode.rawValue) }
        if let percent { parts.append("up to \(percent.rounded() == percent ? String(Int(percent)) : String(percent))%") }
        if let size { parts.append("\(size) bytes" + (action == .payload ? " × \(processes)" : "")) }
        parts.append("under \(directory)")
        return parts.joined(separator: " ")
    }
}
