import Foundation

/// An attack `tumult attack` has already built and checked: the family
/// (`network` ...), the typed fault as the journal keeps it (JSON), and
/// the journal's words for it. The CLI hands it to the host's running
/// agent over its local socket, so that the agent's warm process makes
/// the change and keeps the journal entry, instead of a new process
/// opening the journal and the kernel interfaces for one change.
public struct PreparedAttack: Sendable, Hashable, Codable {
    public var family: String
    public var action: String
    public var target: String
    /// The fault as JSON, decoded by the family's injector.
    public var fault: String

    public init(family: String, action: String, target: String, fault: String) {
        self.family = family
        self.action = action
        self.target = target
        self.fault = fault
    }
}

/// `tumult recover UID|--all` handed to the agent: a uid or a unique
/// prefix of one, or every attack not recovered yet.
public struct AttackRecovery: Sendable, Hashable, Codable {
    public var uid: String?
    public var all: Bool

    public init(uid: String?, all: Bool) {
        self.uid = uid
        self.all = all
    }

    /// What was recovered, and what could not be, with why.
    public struct Outcome: Sendable, Hashable, Codable {
        public var recovered: [String]
        public var failures: [String: String]

        public init(recovered: [String], failures: [String: String]) {
            self.recovered = recovered
            self.failures = failures
        }
    }
}
