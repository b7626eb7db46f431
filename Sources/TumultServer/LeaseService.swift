import Foundation
import Logging
import ServiceLifecycle
import TumultAgent
import TumultController

/// The server's leases on its daemons (`FleetLeases`) as a service; at the
/// end it closes the daemons' clients.
final class LeaseService: Service, Sendable {
    let leases: FleetLeases
    let connections: FleetConnections

    init(fleet: AgentFleet, controller: String, seconds: Double, connections: FleetConnections, logger: Logger) {
        leases = FleetLeases(fleet: fleet, controller: controller, seconds: seconds, logger: logger)
        self.connections = connections
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown { await self.leases.run() }
        // A clean stop releases nothing: SIGTERM recovers experiments
        // through the controller, and what is left must stay covered.
        try? await connections.shutdown()
    }
}
