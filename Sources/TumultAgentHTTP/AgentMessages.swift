import TumultAgent

/// The bodies of the agent routes whose calls take or return more than
/// one wire type: both ends of the protocol live in this module, so these
/// stay internal to it.
/// `cancelTask`'s body.
struct CancelTaskRequest: Codable, Sendable {
    var id: String
}

struct OrphansRequest: Codable, Sendable {
    var controller: String
    var keeping: [String]
}

struct HaltRequest: Codable, Sendable {
    var halted: Bool
}

/// How many attacks a call recovered.
struct CountReply: Codable, Sendable {
    var count: Int
}

/// The reply of calls that return nothing: `{}`.
struct EmptyReply: Codable, Sendable {}

/// The agent routes' paths under `AgentProtocol.pathPrefix`.
enum AgentPath {
    static let status = "status"
    static let pods = "pods"
    static let inject = "inject"
    static let recover = "recover"
    static let reconfigure = "reconfigure"
    static let heal = "heal"
    static let attacks = "attacks"
    static let orphans = "orphans"
    static let halt = "halt"
    static let census = "census"
    static let lease = "lease"
    static let attack = "attack"
    static let direct = "direct"
    static let task = "task"
    static let cancelTask = "task/cancel"
    static let prepared = "prepared"
    static let recoverAttacks = "recover-attacks"
}

/// The header every agent call carries, naming the protocol version it speaks.
public enum AgentHeader {
    public static let version = "Tumult-Agent-Version"
}
