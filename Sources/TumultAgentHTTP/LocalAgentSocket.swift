import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TumultAgent
import TumultHandoff

/// The agent protocol on a Unix socket in the host's home
/// (`$TUMULT_HOME/agent.sock`): how `tumult attack` and `tumult recover`
/// hand their work to the running `tumult server` or `tumult daemon`, whose
/// journal it is, instead of opening the journal and the kernel interfaces
/// in a new process for one change. No token and no TLS: the socket is the
/// owner's alone (mode 0600 in a 0700 home), as the journal is.
public enum LocalAgentSocket {
    /// The socket's path in `home`; nil when it would not fit in a
    /// `sockaddr_un`, where the CLI works in process instead.
    public static func path(home: URL) -> String? { LocalAgentClient.socketPath(home: home) }

    /// Runs a command line handed over by `tumult` (the front program) with
    /// the agent: what it printed and its status, or nil to decline it
    /// untouched. The parser lives in the CLI; the server and the daemon pass it in.
    public typealias CommandLines = @Sendable (_ arguments: [String], _ agent: any HostAgent) async -> CommandHandoff.Reply?

    /// The application serving `agent` on `path` (and, with `commands`, the
    /// command handoff); nil when another agent already answers there (its
    /// CLI handoffs stay with it). A socket file left by a process that
    /// died is removed first.
    public static func application(agent: any HostAgent, path: String, logger: Logger,
                                   commands: CommandLines? = nil) -> (any Service)? {
        if FileManager.default.fileExists(atPath: path) {
            if (try? LocalAgentConnection(path: path, timeout: 1)) != nil {
                logger.warning("another agent serves the local socket; this one does not", metadata: ["path": "\(path)"])
                return nil
            }
            unlink(path)
        }
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: AgentApplicationErrorMiddleware())
        AgentRoutes(agent: agent).register(on: router)
        if let commands {
            // Outside the agent protocol's group: no version check, a command
            // line means the same to any build, which parses it itself.
            router.post(RouterPath(CommandHandoff.target)) { request, _ -> Response in
                let lines = try await AgentReply.decode(CommandLineRequest.self, from: request, limit: AgentRoutes.bodyLimit)
                guard let reply = await commands(lines.arguments, agent) else {
                    return Response(status: .init(code: CommandHandoff.declined))
                }
                var fields = HTTPFields()
                for (name, value) in reply.fields {
                    if let name = HTTPFields.Element.Name(name) { fields[name] = value }
                }
                fields[.contentType] = "application/octet-stream"
                return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
            }
        }
        return Application(router: router, server: .http1(),
                           configuration: .init(address: .unixDomainSocket(path: path), serverName: "tumult-agent"),
                           onServerRunning: { _ in _ = chmod(path, 0o600) },
                           logger: logger)
    }
}

/// The handoff's request: the command line without the program's name.
struct CommandLineRequest: Decodable {
    var arguments: [String]
}
