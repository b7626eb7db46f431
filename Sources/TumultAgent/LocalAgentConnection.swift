import Foundation
import TumultHandoff

/// One exchange with the host's agent over its Unix socket, as JSON: the
/// CLI's in-process handoff (`tumult-cli attack` when the front did not
/// hand the whole command line over). The socket work is the front's
/// (`UnixSocketExchange`), so both speak to the agent the same way.
public final class LocalAgentConnection {
    private let exchange: UnixSocketExchange

    /// Connects to the socket at `path`; throws when no agent listens there.
    public init(path: String, timeout: Double) throws {
        do {
            exchange = try UnixSocketExchange(path: path, timeout: timeout)
        } catch {
            throw AgentError(.unreachable, "\(error)")
        }
    }

    /// `POST path` with a JSON body; the status and the body of the answer.
    /// The connection is closed after (one exchange per connection).
    public func post(_ path: String, json body: Data) throws -> (status: Int, body: Data) {
        do {
            let answer = try exchange.post(path, fields: [("Content-Type", "application/json"),
                                                          (AgentHeaderName.version, String(AgentProtocol.version))],
                                           body: Array(body))
            return (answer.status, Data(answer.body))
        } catch {
            throw AgentError(.unreachable, "\(error)")
        }
    }
}

/// The version header's name (the HTTP layer has its own copy as `AgentHeader`).
enum AgentHeaderName {
    static let version = "Tumult-Agent-Version"
}

/// The host's running agent as `tumult attack` and `tumult recover` reach
/// it: nil from `connect` when none listens, and the CLI works in process.
public struct LocalAgentClient: Sendable {
    public let path: String

    /// The agent's socket in `home` (`$TUMULT_HOME/agent.sock`); nil when
    /// that path would not fit in a `sockaddr_un` (108 bytes).
    public static func socketPath(home: URL) -> String? {
        CommandHandoff.socketPath(home: home.path)
    }

    /// The agent on `path` if one answers there now. The socket must be
    /// owned by this user (root's agent for root): in a home others can
    /// write to, a socket someone else made would otherwise receive the
    /// attacks and answer for them.
    public static func connect(path: String?) -> LocalAgentClient? {
        guard let path, CommandHandoff.isOwnSocket(path), (try? LocalAgentConnection(path: path, timeout: 1)) != nil else { return nil }
        return LocalAgentClient(path: path)
    }

    public func attack(_ prepared: PreparedAttack) throws -> AttackID {
        try call("prepared", prepared, as: AttackID.self)
    }

    public func recover(_ recovery: AttackRecovery) throws -> AttackRecovery.Outcome {
        try call("recover-attacks", recovery, as: AttackRecovery.Outcome.self)
    }

    /// Generous: an injection with a userspace engine waits for it to be ready.
    private func call<Reply: Decodable>(_ route: String, _ body: some Encodable, as _: Reply.Type) throws -> Reply {
        let connection = try LocalAgentConnection(path: path, timeout: 60)
        let answer = try connection.post(AgentProtocol.pathPrefix + "/" + route, json: try JSONEncoder().encode(body))
        guard answer.status == 200 else {
            if let error = try? JSONDecoder().decode(AgentError.self, from: answer.body) { throw error }
            throw AgentError(.unreachable, "the agent on \(path) answered HTTP \(answer.status)")
        }
        return try JSONDecoder().decode(Reply.self, from: answer.body)
    }
}
