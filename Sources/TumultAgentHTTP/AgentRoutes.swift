import Foundation
import Hummingbird
import TumultAgent

/// The agent protocol served over HTTP: one route per `HostAgent` call
/// under `AgentProtocol.pathPrefix`, bodies and replies as the wire types
/// in `AgentJSON`. `tumult daemon` serves it for its host; the controller
/// reaches it with `RemoteHostAgent`.
///
/// Every route checks the bearer token (when one is set) and the caller's
/// protocol version first, and answers failures as a JSON `AgentError`
/// with its status, so a remote caller sees what an in-process one would.
public struct AgentRoutes: Sendable {
    /// `inject` and `reconfigure` carry a whole document and its peers.
    public static let injectBodyLimit = 8 << 20
    /// Every other body: ids, queries, a chaosd attack.
    public static let bodyLimit = 1 << 20

    public let agent: any HostAgent
    /// Required as `Authorization: Bearer TOKEN` when set and not empty.
    let token: String?

    public init(agent: any HostAgent, token: String? = nil) {
        self.agent = agent
        self.token = token
    }

    public func register<Context: RequestContext>(on router: some RouterMethods<Context>) {
        let agent = agent
        let routes = router.group(RouterPath(AgentProtocol.pathPrefix))
            .add(middleware: AgentGuardMiddleware<Context>(token: token))

        routes.get(RouterPath(AgentPath.status)) { _, _ in
            try AgentReply.json(try await agent.status())
        }
        routes.get(RouterPath(AgentPath.pods)) { _, _ in
            try AgentReply.json(try await agent.pods())
        }
        routes.post(RouterPath(AgentPath.inject)) { request, _ in
            let injection = try await AgentReply.decode(InjectionRequest.self, from: request, limit: Self.injectBodyLimit)
            return try AgentReply.json(try await agent.inject(injection))
        }
        routes.post(RouterPath(AgentPath.recover)) { request, _ in
            let attacks = try await AgentReply.decode([AttackID].self, from: request, limit: Self.bodyLimit)
            try await agent.recover(attacks)
            return try AgentReply.json(EmptyReply())
        }
        routes.post(RouterPath(AgentPath.reconfigure)) { request, _ in
            let reconfiguration = try await AgentReply.decode(ReconfigureRequest.self, from: request, limit: Self.injectBodyLimit)
            try await agent.reconfigure(reconfiguration)
            return try AgentReply.json(EmptyReply())
        }
        routes.post(RouterPath(AgentPath.heal)) { request, _ in
            let attacks = try await AgentReply.decode([AttackID].self, from: request, limit: Self.bodyLimit)
            return try AgentReply.json(try await agent.heal(attacks))
        }
        routes.post(RouterPath(AgentPath.attacks)) { request, _ in
            let query = try await AgentReply.decode(AttackQuery.self, from: request, limit: Self.bodyLimit)
            return try AgentReply.json(try await agent.attacks(query))
        }
        routes.post(RouterPath(AgentPath.orphans)) { request, _ in
            let orphans = try await AgentReply.decode(OrphansRequest.self, from: request, limit: Self.bodyLimit)
            let count = try await agent.recoverOrphans(controller: orphans.controller, keeping: Set(orphans.keeping))
            return try AgentReply.json(CountReply(count: count))
        }
        routes.post(RouterPath(AgentPath.halt)) { request, _ in
            let halt = try await AgentReply.decode(HaltRequest.self, from: request, limit: Self.bodyLimit)
            return try AgentReply.json(CountReply(count: try await agent.setHalted(halt.halted)))
        }
        routes.get(RouterPath(AgentPath.census)) { _, _ in
            try AgentReply.json(try await agent.census())
        }
        routes.post(RouterPath(AgentPath.lease)) { request, _ in
            let lease = try await AgentReply.decode(Lease.self, from: request, limit: Self.bodyLimit)
            return try AgentReply.json(try await agent.renewLease(lease))
        }
        routes.post(RouterPath(AgentPath.task)) { request, _ in
            let task = try await AgentReply.decode(TaskRequest.self, from: request, limit: Self.bodyLimit)
            return try AgentReply.json(try await agent.runTask(task))
        }
        routes.post(RouterPath(AgentPath.cancelTask)) { request, _ in
            let cancel = try await AgentReply.decode(CancelTaskRequest.self, from: request, limit: Self.bodyLimit)
            try await agent.cancelTask(cancel.id)
            return try AgentReply.json(EmptyReply())
        }
        routes.post(RouterPath(AgentPath.attack)) { request, _ in
            let attack = try await AgentReply.decode(DirectAttack.self, from: request, limit: Self.bodyLimit)
            return try AgentReply.json(try await agent.attack(attack))
        }
        routes.get(RouterPath(AgentPath.direct)) { _, _ in
            try AgentReply.json(try await agent.directAttacks())
        }
        routes.post(RouterPath(AgentPath.prepared)) { request, _ in
            let prepared = try await AgentReply.decode(PreparedAttack.self, from: request, limit: Self.bodyLimit)
            return try AgentReply.json(try await agent.attack(prepared: prepared))
        }
        routes.post(RouterPath(AgentPath.recoverAttacks)) { request, _ in
            let recovery = try await AgentReply.decode(AttackRecovery.self, from: request, limit: Self.bodyLimit)
            return try AgentReply.json(try await agent.recover(recovery))
        }
    }
}
