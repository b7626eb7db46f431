/// A host agent that keeps its own watch: its dead-man's switch (faults of
/// controllers whose lease ran out are recovered) and the liveness of the
/// attacks made outside experiments. `tumult daemon` and `tumult server`
/// run a round every couple of seconds and report what it found.
public protocol HostWatching: HostAgent {
    func watchOnce() async -> [HostWatchReport]
}

/// Something one round of a host's watch found.
public struct HostWatchReport: Sendable, Hashable, Codable {
    /// `FaultLost`, `FaultRestored`, `FaultNotRestored`, `LeaseExpired`.
    public var reason: String
    public var message: String
    public var warning: Bool
    /// The attack concerned, if any.
    public var attack: HostAttack?
    /// For `FaultLost`: whether it was restored (metrics count both).
    public var restored: Bool?

    public init(reason: String, message: String, warning: Bool, attack: HostAttack? = nil, restored: Bool? = nil) {
        self.reason = reason
        self.message = message
        self.warning = warning
        self.attack = attack
        self.restored = restored
    }
}
