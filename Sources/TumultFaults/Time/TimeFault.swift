import Foundation
import TumultModel

/// One clock skew on the processes of one target (TimeChaos): every clock
/// in `clocks` reads `offsetNanoseconds` later (earlier when negative) in
/// every thread of every process the target names, and in the children
/// they fork while it holds.
public struct TimeFault: Codable, Sendable, Hashable {
    public var target: ProcessTarget
    public var offsetNanoseconds: Int64
    public var clocks: [ClockID]
    /// Also the descendants the target's processes have now (a container's
    /// main process stands for the container, as in Chaos Mesh).
    public var includeDescendants: Bool

    public init(target: ProcessTarget, offsetNanoseconds: Int64, clocks: [ClockID] = [.realtime],
                includeDescendants: Bool = false) {
        self.target = target
        self.offsetNanoseconds = offsetNanoseconds
        self.clocks = clocks
        self.includeDescendants = includeDescendants
    }

    /// `-10m0s CLOCK_REALTIME`.
    public var summary: String {
        "\(GoDuration(nanoseconds: offsetNanoseconds).description) \(clocks.map(\.rawValue).joined(separator: ","))"
    }
}
