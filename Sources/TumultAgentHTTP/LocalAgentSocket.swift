import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TumultAgent

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

    /// The application serving `agent` on `path`; nil when another agent
    /// already answers there (its CLI handoffs stay with it). A socket file
    /// left by a process that died is removed first.
    public static func application(agent: any HostAgent, path: String, logger: Logger) -> (any Service)? {
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
        return Application(router: router, server: .http1(),
                           configuration: .init(address: .unixDomainSocket(path: path), serverName: "tumult-agent"),
                           onServerRunning: { _ in _ = chmod(path, 0o600) },
                           logger: logger)
    }
}
