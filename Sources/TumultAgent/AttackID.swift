/// An attack on one host: the host's machine name and the uid its journal
/// gives the attack. Text form `UID@MACHINE`; a bare uid (records written
/// before there was more than one host) is an attack of the local host.
public struct AttackID: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// The machine whose agent holds the attack; empty: this controller's local host.
    public var machine: String
    public var uid: String

    public init(machine: String, uid: String) {
        self.machine = machine
        self.uid = uid
    }

    /// Parses `UID@MACHINE` or a bare `UID`.
    public init(_ text: String) {
        if let at = text.lastIndex(of: "@") {
            uid = String(text[..<at])
            machine = String(text[text.index(after: at)...])
        } else {
            uid = text
            machine = ""
        }
    }

    public var description: String { machine.isEmpty ? uid : "\(uid)@\(machine)" }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func < (lhs: AttackID, rhs: AttackID) -> Bool { lhs.description < rhs.description }
}

/// Who injected an attack, journaled with it: the controller that asked,
/// the experiment and the target. A dead-man's switch recovers by the
/// controller; a restarted controller finds its experiments' attacks by uid.
public struct AttackOwner: Hashable, Sendable, Codable {
    /// The controller's stable id (`tumult server`'s home keeps it).
    public var controller: String
    /// The experiment's uid.
    public var experiment: String
    /// The target's id: `NAMESPACE/POD` for pods, the machine's name for machines.
    public var target: String

    public init(controller: String, experiment: String, target: String) {
        self.controller = controller
        self.experiment = experiment
        self.target = target
    }
}
