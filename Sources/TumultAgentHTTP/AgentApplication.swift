import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import TumultAgent

/// The application `tumult daemon` runs: the agent protocol and chaosd's
/// API over `agent`, over mutual TLS (or plain HTTP on loopback). Tests
/// call it too, with port 0; `onServerRunning` gets the port bound.
public func buildAgentApplication(agent: any HostAgent, configuration: AgentServerConfiguration,
                                  logger: Logger,
                                  onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
throws -> some ApplicationProtocol {
    try configuration.validate()
    let router = Router(context: BasicRequestContext.self)
    // First, so that it also answers paths no route takes.
    router.add(middleware: AgentApplicationErrorMiddleware())
    AgentRoutes(agent: agent, token: configuration.token).register(on: router)
    ChaosdRoutes(agent: agent).register(on: router)

    let address = BindAddress.hostname(configuration.host, port: configuration.port)
    let running: @Sendable (any Channel) async -> Void = { channel in
        await onServerRunning(channel.localAddress?.port ?? configuration.port)
    }
    if let tls = configuration.tls {
        return Application(router: router, server: try .tls(.http1(), tlsConfiguration: tls.serverConfiguration()),
                           configuration: .init(address: address, serverName: "tumult-agent"),
                           onServerRunning: running, logger: logger)
    }
    return Application(router: router, server: .http1(),
                       configuration: .init(address: address, serverName: "tumult-agent"),
                       onServerRunning: running, logger: logger)
}

/// What escapes the routes of the daemon's application: under
/// `/agent/v1` an `AgentError` (paths no route takes), elsewhere chaosd's
/// error reply, and gin's 404 text for chaosd paths it does not serve.
struct AgentApplicationErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError where error.status == .notFound || error.status == .methodNotAllowed {
            if Self.isAgentPath(request.uri.path) {
                return AgentReply.error(AgentError(.notFound, "no agent route \(request.method) \(request.uri.path)"))
            }
            return ChaosdErrorReply.notFound()
        } catch {
            let agentError = AgentError.wrapping(error)
            if agentError.code == .failed {
                context.logger.error("chaosd call failed", metadata: [
                    "http.path": "\(request.uri.path)", "error.message": "\(agentError.message)",
                ])
            }
            if Self.isAgentPath(request.uri.path) { return AgentReply.error(agentError) }
            return ChaosdErrorReply.response(for: agentError)
        }
    }

    static func isAgentPath(_ path: String) -> Bool {
        path == AgentProtocol.pathPrefix || path.hasPrefix(AgentProtocol.pathPrefix + "/")
    }
}
