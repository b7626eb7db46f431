import Foundation
import NIOSSL
import Synchronization
import TumultAgent
import TumultAgentHTTP

/// How this controller reaches remote daemons: HTTPS with the fleet CA and
/// its client certificate, and the daemons' bearer token. Plain HTTP only
/// to a daemon on loopback (`tumult daemon --insecure`).
final class FleetConnections: Sendable {
    private let tls: TLSConfiguration?
    private let token: String?
    private let agents = Mutex<[RemoteHostAgent]>([])

    init(_ configuration: FleetConfiguration) throws {
        tls = try configuration.tls?.clientConfiguration()
        token = configuration.token
    }

    /// Makes the agent of a machine from its address.
    var connector: @Sendable (Machine) -> any HostAgent {
        { [self] machine in
            let agent = RemoteHostAgent(machine: machine, token: token, tls: machine.address.hasPrefix("https") ? tls : nil)
            agents.withLock { $0.append(agent) }
            return agent
        }
    }

    /// Closes every client made.
    func shutdown() async throws {
        for agent in agents.withLock({ $0 }) { try? await agent.shutdown() }
    }
}
